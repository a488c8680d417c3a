"""End to end: the shipped MLP spec → safetensors and HDF5 files others can read."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file

from helpers import SPECS

MLP = SPECS / "mlp-mnist.yaml"
EXPECTED_SHAPES = {
    "fc1.weight": (256, 784),
    "fc1.bias": (256,),
    "fc2.weight": (256, 256),
    "fc2.bias": (256,),
    "fc3.weight": (10, 256),
    "fc3.bias": (10,),
}


@pytest.fixture
def mlp_files(cli, tmp_path: Path) -> tuple[Path, Path]:
    st, h5 = tmp_path / "w.safetensors", tmp_path / "w.h5"
    assert cli("make", MLP, "-o", st, "-q").exit_code == 0
    assert cli("make", MLP, "-o", h5, "-q").exit_code == 0
    return st, h5


def test_safetensors_has_torch_names_shapes_and_metadata(mlp_files):
    st, _ = mlp_files
    tensors = load_file(st)
    assert {k: v.shape for k, v in tensors.items()} == EXPECTED_SHAPES
    assert all(v.dtype == np.float32 for v in tensors.values())
    with safe_open(st, "np") as f:
        meta = f.metadata()
    assert meta["format"] == "pt"
    assert meta["initgen.seed"] == "0"
    recorded = json.loads(meta["initgen.tensors"])
    assert recorded["fc1.weight"]["scheme"] == "he_normal"
    assert recorded["fc3.weight"]["scheme"] == "glorot_uniform"
    assert recorded["fc1.bias"]["scheme"] == "zeros"


def test_weights_follow_the_activation_rules(mlp_files):
    tensors = load_file(mlp_files[0])
    # relu → He normal: std √(2/fan_in); 200k values → relative std error ≈ 0.16%.
    w1 = tensors["fc1.weight"].astype(np.float64)
    assert abs(w1.std() / np.sqrt(2 / 784) - 1) < 6 * np.sqrt(1 / (2 * w1.size))
    # softmax → Glorot uniform: bound √(6/(fan_in+fan_out)) reached but not passed.
    w3 = tensors["fc3.weight"]
    bound = np.sqrt(6 / (256 + 10))
    assert np.abs(w3).max() <= bound and np.abs(w3).max() > 0.95 * bound
    assert not tensors["fc1.bias"].any()


def test_hdf5_holds_the_same_tensors_and_values(mlp_files):
    st, h5 = mlp_files
    tensors = load_file(st)
    with h5py.File(h5, "r") as f:
        names = set()
        f.visititems(lambda n, o: names.add(n.replace("/", ".")) if isinstance(o, h5py.Dataset) else None)
        assert names == set(EXPECTED_SHAPES)
        for name, value in tensors.items():
            np.testing.assert_array_equal(f["/" + name.replace(".", "/")][()], value)
        assert f.attrs["initgen.seed"] == "0"


def test_seed_changes_values_and_same_seed_repeats_bytes(cli, tmp_path):
    a, b, c = (tmp_path / f"{n}.safetensors" for n in "abc")
    cli("make", MLP, "-o", a, "-q")
    cli("make", MLP, "-o", b, "-q")
    cli("make", MLP, "-o", c, "-q", "--seed", "1")
    assert a.read_bytes() == b.read_bytes()
    assert load_file(a)["fc1.weight"].tobytes() != load_file(c)["fc1.weight"].tobytes()


@pytest.mark.parametrize("dtype", ["float64", "float16", "bfloat16"])
def test_dtype_option(cli, tmp_path, dtype):
    out = tmp_path / "w.safetensors"
    assert cli("make", MLP, "-o", out, "-q", "--dtype", dtype).exit_code == 0
    raw = out.read_bytes()
    header = json.loads(raw[8 : 8 + int.from_bytes(raw[:8], "little")])
    codes = {"float64": "F64", "float16": "F16", "bfloat16": "BF16"}
    assert {v["dtype"] for k, v in header.items() if k != "__metadata__"} == {codes[dtype]}


def test_existing_output_is_kept_without_force(cli, tmp_path):
    out = tmp_path / "w.safetensors"
    out.write_bytes(b"precious")
    r = cli("make", MLP, "-o", out)
    assert r.exit_code == 2
    assert r.output == f"error: {out}: already exists; use --force to replace it\n"
    assert out.read_bytes() == b"precious"
    assert cli("make", MLP, "-o", out, "--force", "-q").exit_code == 0
    assert set(load_file(out)) == set(EXPECTED_SHAPES)
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]


def test_misspelled_key_exits_2_with_location_and_suggestion(cli, write_spec, tmp_path):
    spec = write_spec(
        "initgen: 1\nlayers:\n  - name: fc1\n    type: dense\n    in: 4\n    out: 2\n    activaton: relu\n"
    )
    out = tmp_path / "w.safetensors"
    r = cli("make", spec, "-o", out)
    assert r.exit_code == 2
    assert r.output == (
        f"error: {spec}:7: layers[0].activaton: unknown key 'activaton' in a dense layer; allowed: "
        "activation, bias, dtype, in, init, layout, name, names, negative_slope, out or type; "
        "did you mean 'activation'?\n"
    )
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [spec]


def test_misspelled_scheme_parameter(cli, write_spec):
    spec = write_spec(
        "initgen: 1\n"
        "layers:\n"
        "  - {name: fc, type: dense, in: 4, out: 2,\n"
        "     init: {scheme: variance_scaling, mode: fan_inn}}\n"
    )
    r = cli("validate", spec)
    assert r.exit_code == 2
    assert r.output == (
        f"error: {spec}:4: layers[0].init.mode: 'fan_inn' is not one of fan_avg, fan_in or "
        "fan_out; did you mean 'fan_in'?\n"
    )
