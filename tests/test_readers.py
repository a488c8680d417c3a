"""Readers: HDF5 layouts (initgen, Keras 3, legacy Keras, chunked/compressed),
sharded safetensors sets, and one-line errors for every kind of broken input."""

from __future__ import annotations

import json
import struct

import h5py
import ml_dtypes
import numpy as np
import pytest
from safetensors.numpy import save_file

from helpers import assert_matches, reference
from initgen.analyze.stats import read_stats
from initgen.readers import hdf5 as h5reader
from initgen.readers import open_weights


def stats_by_name(path) -> dict:
    return {t["name"]: t for t in read_stats(path).to_json()["tensors"]}


def test_keras3_weights_h5_layout(tmp_path):
    r = np.random.default_rng(0)
    kernel, bias = r.normal(0, 0.05, (784, 64)).astype(np.float32), np.zeros(64, np.float32)
    with h5py.File(tmp_path / "m.weights.h5", "w") as f:
        f.attrs["keras_version"] = "3.3.3"
        f.create_group("layers/dense/vars").create_dataset("0", data=kernel)
        f["layers/dense/vars"].create_dataset("1", data=bias)
        f.create_group("layers/dropout/vars")
        f.create_group("optimizer/vars").create_dataset("0", data=np.int64(7))
    got = stats_by_name(tmp_path / "m.weights.h5")
    assert set(got) == {"layers.dense.vars.0", "layers.dense.vars.1", "optimizer.vars.0"}
    assert_matches(got["layers.dense.vars.0"], reference(kernel))
    assert_matches(got["layers.dense.vars.1"], reference(bias))
    assert got["optimizer.vars.0"]["shape"] == [] and got["optimizer.vars.0"]["mean"] == 7


def test_legacy_keras_h5_layout_big_endian_chunked_and_strings(tmp_path, monkeypatch):
    monkeypatch.setattr(h5reader, "READ_LIMIT", 5)  # force reads of parts of rows
    r = np.random.default_rng(1)
    kernel = r.normal(0, 0.1, (3, 3, 8, 16)).astype(">f4")
    gz = r.uniform(-1, 1, (10, 13)).astype(np.float64)
    with h5py.File(tmp_path / "m.h5", "w") as f:
        g = f.create_group("model_weights/conv2d/conv2d")
        g.create_dataset("kernel:0", data=kernel)
        g.create_dataset("bias:0", data=gz, chunks=(3, 4), compression="gzip")
        f["model_weights"].attrs["layer_names"] = [b"conv2d"]
        f.create_dataset("model_config_text", data=b"{json}")  # not numeric: not a tensor
        f["strings"] = np.array([b"a", b"b"])
    got = stats_by_name(tmp_path / "m.h5")
    assert set(got) == {"model_weights.conv2d.conv2d.kernel:0", "model_weights.conv2d.conv2d.bias:0"}
    assert_matches(got["model_weights.conv2d.conv2d.kernel:0"], reference(kernel))
    assert_matches(got["model_weights.conv2d.conv2d.bias:0"], reference(gz))
    with open_weights(tmp_path / "m.h5") as wf:  # flat ranges across rows of a chunked set
        name = "model_weights.conv2d.conv2d.bias:0"
        for start, count in [(0, 130), (7, 20), (12, 1), (129, 1), (5, 0)]:
            assert np.array_equal(wf.values(name, start, count), gz.reshape(-1)[start : start + count])


@pytest.mark.parametrize("dtype", ["bfloat16", "float8_e4m3fn", "float8_e5m2"])
def test_narrow_floats_stored_as_raw_bits_in_hdf5(tmp_path, dtype):
    """initgen's HDF5 convention for types HDF5 lacks: uint bits + attribute dtype."""
    npdt = np.dtype(getattr(ml_dtypes, dtype))
    a = np.random.default_rng(2).normal(0, 0.3, (40, 30)).astype(npdt)
    with h5py.File(tmp_path / "n.h5", "w") as f:
        ds = f.create_dataset("blk/0/w", data=a.view(f"<u{npdt.itemsize}"))
        ds.attrs["dtype"] = dtype
        f.create_dataset("raw", data=a.view(f"<u{npdt.itemsize}"))  # no attribute: stays uint
    got = stats_by_name(tmp_path / "n.h5")
    assert got["blk.0.w"]["dtype"] == dtype
    assert_matches(got["blk.0.w"], reference(a))
    assert got["raw"]["dtype"] == f"uint{8 * npdt.itemsize}"


def test_initgen_hdf5_and_safetensors_give_the_same_stats(cli, tmp_path):
    from helpers import SPECS

    for dtype in ("bfloat16", "float8_e4m3fn"):
        st, h5 = tmp_path / f"{dtype}.safetensors", tmp_path / f"{dtype}.h5"
        for out in (st, h5):
            cli("make", SPECS / "mlp-mnist.yaml", "-o", out, "--dtype", dtype, "-q")
        a, b = read_stats(st).to_json(), read_stats(h5).to_json()
        assert a["tensors"] == b["tensors"]


def write_shards(tmp_path, index_name="model.safetensors.index.json"):
    r = np.random.default_rng(3)
    parts = [
        {"a.weight": r.normal(0, 1, (20, 5)).astype(np.float32), "a.bias": np.zeros(5, np.float32)},
        {"b.weight": r.normal(0, 2, (7, 3)).astype(ml_dtypes.bfloat16)},
    ]
    wmap = {}
    for i, p in enumerate(parts):
        name = f"model-{i + 1:05d}-of-00002.safetensors"
        save_file(p, str(tmp_path / name), metadata={"format": "pt"})
        wmap.update({k: name for k in p})
    (tmp_path / index_name).write_text(json.dumps({"metadata": {"total_size": 1}, "weight_map": wmap}))
    return {k: v for p in parts for k, v in p.items()}, wmap


@pytest.mark.parametrize("how", ["index", "directory"])
def test_sharded_set_reads_as_one_file(tmp_path, how):
    tensors, _ = write_shards(tmp_path)
    path = tmp_path / "model.safetensors.index.json" if how == "index" else tmp_path
    fs = read_stats(path)
    assert fs.format == "safetensors-sharded"
    got = {t["name"]: t for t in fs.to_json()["tensors"]}
    assert set(got) == set(tensors)
    for name, a in tensors.items():
        assert_matches(got[name], reference(a))


def header_file(path, header: dict, data: bytes = b"", length: int | None = None) -> None:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw) if length is None else length) + raw + data)


def corrupt(tmp_path, kind: str):
    """(path, the message after 'error: PATH: ') for each kind of broken input."""
    p = tmp_path / "w.safetensors"
    f32 = {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}
    if kind == "truncated":
        save_file({"w": np.ones(100, np.float32)}, str(p))
        p.write_bytes(p.read_bytes()[:-200])
        return p, "not a valid safetensors file: tensor 'w' has offsets [0, 400] outside the data (200 bytes)"
    if kind == "header past end":
        header_file(p, {"w": f32}, length=10_000)
        return p, (
            "not a valid safetensors file: header length 10000 runs past the end of the file "
            f"({8 + len(json.dumps({'w': f32}))} bytes)"
        )
    if kind == "bad json":
        p.write_bytes(struct.pack("<Q", 11) + b'{"w": [1, 2')
        return p, (
            "not a valid safetensors file: header is not valid JSON (Expecting ',' delimiter: "
            "line 1 column 12 (char 11))"
        )
    if kind == "overlap":
        header_file(p, {"a": f32, "b": {**f32, "data_offsets": [8, 24]}}, bytes(24))
        return p, "not a valid safetensors file: tensors 'a' and 'b' overlap (bytes 8..16)"
    if kind == "out of range":
        header_file(p, {"a": {**f32, "data_offsets": [16, 32]}}, bytes(16))
        return p, "not a valid safetensors file: tensor 'a' has offsets [16, 32] outside the data (16 bytes)"
    if kind == "wrong size":
        header_file(p, {"a": {**f32, "shape": [5]}}, bytes(16))
        return p, "not a valid safetensors file: tensor 'a' has 16 bytes for shape [5] of F32"
    if kind == "unknown dtype":
        header_file(p, {"a": {**f32, "dtype": "F4"}}, bytes(16))
        return p, "not a valid safetensors file: tensor 'a' has unknown dtype 'F4'"
    if kind == "malformed entry":
        header_file(p, {"a": {"dtype": "F32", "shape": [4]}}, bytes(16))
        return p, "not a valid safetensors file: entry for tensor 'a' is malformed"
    if kind == "not weights":
        p = tmp_path / "notes.txt"
        p.write_text("just some text, long enough to have a header length\n")
        return p, "not a safetensors or HDF5 file (no HDF5 signature and no safetensors JSON header)"
    if kind == "empty":
        p.write_bytes(b"")
        return p, "not a valid safetensors file: 0 bytes is shorter than the 8-byte header length"
    if kind == "h5 without signature":
        p = tmp_path / "w.h5"
        p.write_bytes(b"\0" * 64)
        return p, "not an HDF5 file (no HDF5 signature)"
    if kind == "directory without index":
        d = tmp_path / "ckpt"
        d.mkdir()
        save_file({"w": np.ones(2, np.float32)}, str(d / "model-00001-of-00002.safetensors"))
        return d, (
            "is a directory without a model.safetensors or model.safetensors.index.json "
            "(give a weight file, or a checkpoint directory)"
        )
    if kind == "zip archive":
        import zipfile

        p = tmp_path / "model.keras"
        with zipfile.ZipFile(p, "w") as z:
            z.writestr("config.json", "{}")
        return p, (
            "is a zip archive (a .keras or torch file?); initgen reads safetensors and HDF5 "
            "(.h5, .weights.h5)"
        )
    if kind == "missing":
        return tmp_path / "nope.safetensors", "no such file or directory"
    if kind == "shard missing":
        _, wmap = write_shards(tmp_path)
        (tmp_path / "model-00002-of-00002.safetensors").unlink()
        return (
            tmp_path / "model.safetensors.index.json",
            "not a valid safetensors index: shard 'model-00002-of-00002.safetensors' does not exist",
        )
    if kind == "index lists absent tensor":
        _, wmap = write_shards(tmp_path)
        wmap["c.weight"] = "model-00001-of-00002.safetensors"
        (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": wmap}))
        return (
            tmp_path / "model.safetensors.index.json",
            "not a valid safetensors index: tensor "
            "'c.weight' is listed for 'model-00001-of-00002.safetensors' but that shard does not hold it",
        )
    raise AssertionError(kind)


CORRUPT = [
    "truncated",
    "header past end",
    "bad json",
    "overlap",
    "out of range",
    "wrong size",
    "unknown dtype",
    "malformed entry",
    "not weights",
    "empty",
    "h5 without signature",
    "directory without index",
    "zip archive",
    "missing",
    "shard missing",
    "index lists absent tensor",
]


@pytest.mark.parametrize("kind", CORRUPT)
@pytest.mark.parametrize("command", ["stats", "verify"])
def test_broken_input_is_one_line_error_exit_1(tmp_path, kind, command):
    from click.testing import CliRunner

    from initgen.cli import main

    path, message = corrupt(tmp_path, kind)
    r = CliRunner().invoke(main, [command, str(path)])
    assert r.exit_code == 1
    assert r.output == f"error: {path}: {message}\n"
    assert r.exception is None or isinstance(r.exception, SystemExit)


def test_truncated_hdf5_is_one_line_error(tmp_path, cli):
    with h5py.File(tmp_path / "w.h5", "w") as f:
        f["w"] = np.ones((100, 100))
    (tmp_path / "w.h5").write_bytes((tmp_path / "w.h5").read_bytes()[:5000])
    r = cli("stats", tmp_path / "w.h5")
    assert r.exit_code == 1
    assert r.output.startswith(f"error: {tmp_path / 'w.h5'}: ")
    assert r.output.count("\n") == 1 and "Traceback" not in r.output


def test_hdf5_declaring_far_more_than_it_stores_is_refused(tmp_path, cli):
    with h5py.File(tmp_path / "w.h5", "w") as f:
        f.create_dataset("g/big", shape=(10**6, 10**4), dtype="f4", chunks=(1, 1024))
        f["small"] = np.ones(3)
    r = cli("stats", tmp_path / "w.h5")
    assert r.exit_code == 1
    assert r.output == (
        f"error: {tmp_path / 'w.h5'}: dataset 'g/big' declares 40,000,000,000 bytes "
        "but the file stores 0 of them (unwritten or impossibly compressed chunks); "
        "refusing to read it\n"
    )


def test_malformed_header_values_are_rejected(tmp_path, cli):
    p = tmp_path / "w.safetensors"
    for entry in (
        {"dtype": ["F32"], "shape": [4], "data_offsets": [0, 16]},
        {"dtype": "F32", "shape": [4.0], "data_offsets": [0, 16]},
        {"dtype": "F32", "shape": [4], "data_offsets": [0, "16"]},
    ):
        header_file(p, {"a": entry}, bytes(16))
        r = cli("stats", p)
        assert r.exit_code == 1
        assert r.output == f"error: {p}: not a valid safetensors file: entry for tensor 'a' is malformed\n"


def test_hdf5_null_dataspace_dataset_is_skipped(tmp_path, cli):
    """A dataset with no dataspace holds no values: the other tensors are still read."""
    import h5py

    path = tmp_path / "f.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("empty", dtype="f4")  # shape None: a null dataspace
        f["w"] = np.arange(6, dtype=np.float32).reshape(2, 3)
    r = cli("stats", path, "--format", "json")
    assert r.exit_code == 0, r.output
    assert [t["name"] for t in json.loads(r.stdout)["tensors"]] == ["w"]
