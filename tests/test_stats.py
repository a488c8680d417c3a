"""`initgen stats` on foreign files (written with safetensors.numpy and h5py, not
initgen's writers), compared with statistics NumPy computes here independently."""

from __future__ import annotations

import json
import math

import ml_dtypes
import numpy as np
import pytest
from safetensors.numpy import save_file

from helpers import assert_matches, reference
from initgen.analyze import reduce as reduce_mod
from initgen.analyze import scan as scan_mod
from initgen.analyze import stats as stats_mod
from initgen.analyze.tables import TABLE_DTYPES

# Every dtype the safetensors format defines: (NumPy dtype, a generator of test values).
DTYPES = {
    "float64": (np.float64, lambda r, n: r.normal(0.5, 2.0, n)),
    "float32": (np.float32, lambda r, n: r.normal(0, 0.02, n)),
    "float16": (np.float16, lambda r, n: r.normal(0, 0.1, n)),
    "bfloat16": (ml_dtypes.bfloat16, lambda r, n: r.normal(0, 0.05, n)),
    "float8_e4m3fn": (ml_dtypes.float8_e4m3fn, lambda r, n: r.normal(0, 0.05, n)),
    "float8_e5m2": (ml_dtypes.float8_e5m2, lambda r, n: r.normal(0, 0.5, n)),
    "int64": (np.int64, lambda r, n: r.integers(-(10**6), 10**6, n)),
    "int32": (np.int32, lambda r, n: r.integers(-1000, 1000, n)),
    "int16": (np.int16, lambda r, n: r.integers(-300, 300, n)),
    "int8": (np.int8, lambda r, n: r.integers(-128, 128, n)),
    "uint64": (np.uint64, lambda r, n: r.integers(0, 10**9, n)),
    "uint32": (np.uint32, lambda r, n: r.integers(0, 10**6, n)),
    "uint16": (np.uint16, lambda r, n: r.integers(0, 60000, n)),
    "uint8": (np.uint8, lambda r, n: r.integers(0, 256, n)),
    "bool": (np.bool_, lambda r, n: r.random(n) < 0.3),
}


@pytest.fixture
def stats_json(cli):
    def run(path, *args) -> dict:
        r = cli("stats", path, "--format", "json", *args)
        assert r.exit_code == 0, r.output
        return json.loads(r.stdout)

    return run


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_safetensors_dtype_matches_numpy(tmp_path, stats_json, dtype):
    npdt, gen = DTYPES[dtype]
    r = np.random.default_rng(list(DTYPES).index(dtype))
    tensors = {
        "w.2d": gen(r, 3000).astype(npdt).reshape(60, 50),
        "v": gen(r, 7).astype(npdt),
        "empty": np.zeros((0, 4), dtype=npdt),
        "scalar": np.asarray(gen(r, 1)[0]).astype(npdt),
    }
    save_file(tensors, str(tmp_path / "f.safetensors"))
    data = stats_json(tmp_path / "f.safetensors")
    got = {t["name"]: t for t in data["tensors"]}
    assert set(got) == set(tensors)
    for name, a in tensors.items():
        assert got[name]["dtype"] == dtype and got[name]["shape"] == list(a.shape)
        if dtype in TABLE_DTYPES and name == "w.2d":  # ordinary data: numpy's histogram too
            x = a.astype(np.float64).reshape(-1)
            assert got[name]["hist"]["counts"] == np.histogram(x, 32, (x.min(), x.max()))[0].tolist()
        assert got[name]["bytes"] == a.nbytes
        assert_matches(got[name], reference(a))
    assert data["totals"]["params"] == sum(a.size for a in tensors.values())
    assert data["totals"]["bytes"] == sum(a.nbytes for a in tensors.values())
    assert data["totals"]["dtypes"] == {dtype: 4}


def test_nan_inf_and_zeros_are_counted_apart(tmp_path, stats_json):
    a = np.random.default_rng(1).normal(0, 1, 10_000).astype(np.float32)
    a[[3, 500, 9000]] = np.nan
    a[[7, 8]] = np.inf
    a[11] = -np.inf
    a[100:150] = 0.0
    a[200] = -0.0
    save_file({"x": a, "allnan": np.full(5, np.nan, dtype=np.float32)}, str(tmp_path / "f.safetensors"))
    got = {t["name"]: t for t in stats_json(tmp_path / "f.safetensors")["tensors"]}
    assert_matches(got["x"], reference(a))
    assert got["x"]["nan"] == 3 and got["x"]["inf"] == 3
    assert got["x"]["zero_fraction"] == 51 / (10_000 - 6)
    assert got["allnan"]["nan"] == 5 and got["allnan"]["mean"] is None


@pytest.mark.parametrize(("threads", "forked"), [(1, False), (3, False), (3, True)])
def test_chunked_streaming_matches_whole_array(tmp_path, monkeypatch, threads, forked):
    """Many chunks, blocks and bincount calls (sizes forced small), merged in order:
    the same numbers as the one-shot reference, for any thread count, in threads or
    in forked worker processes."""
    monkeypatch.setattr(scan_mod, "CHUNK_VALUES", 1000)
    monkeypatch.setattr(scan_mod, "FORK_BYTES", 0 if forked else 1 << 40)
    monkeypatch.setattr(reduce_mod, "BLOCK", 96)
    monkeypatch.setattr(reduce_mod, "SUB", 288)
    r = np.random.default_rng(2)
    a = (r.normal(3.0, 0.01, 12_345)).astype(np.float32)  # large mean, small std: cancellation test
    b = r.uniform(-1, 1, (37, 41)).astype(np.float16)
    c = r.normal(0, 0.1, 3001).astype(ml_dtypes.float8_e4m3fn)  # odd: 8-bit pairs and a last byte
    save_file({"a": a, "b": b, "c": c}, str(tmp_path / "f.safetensors"))
    fs = stats_mod.read_stats(tmp_path / "f.safetensors", threads=threads)
    for t, arr in zip(fs.tensors, (a, b, c)):
        d = vars(t) | {"counts": None}
        assert_matches(d, reference(arr))
    one = stats_mod.read_stats(tmp_path / "f.safetensors", threads=1).to_json()
    assert fs.to_json() == one


def test_tensors_glob_filters_and_unknown_glob_is_usage_error(tmp_path, stats_json, cli):
    save_file(
        {
            "h.0.attn.w": np.ones(4, np.float32),
            "h.1.attn.w": np.ones(4, np.float32),
            "h.0.mlp.w": np.ones(4, np.float32),
        },
        str(tmp_path / "f.safetensors"),
    )
    names = [t["name"] for t in stats_json(tmp_path / "f.safetensors", "--tensors", "h.*.attn.*")["tensors"]]
    assert names == ["h.0.attn.w", "h.1.attn.w"]
    r = cli("stats", tmp_path / "f.safetensors", "--tensors", "h.0.atn.w")
    assert r.exit_code == 2
    assert r.output == (
        f"error: {tmp_path / 'f.safetensors'}: no tensor matches --tensors "
        "'h.0.atn.w'; did you mean 'h.0.attn.w'?\n"
    )


def test_group_aggregates_by_layer_pattern(tmp_path, stats_json):
    r = np.random.default_rng(3)
    blocks = {f"h.{i}.attn.c_attn.weight": r.normal(i, 1 + i, 500).astype(np.float32) for i in range(12)}
    save_file(
        {**blocks, "wte.weight": r.normal(0, 1, 100).astype(np.float32)}, str(tmp_path / "f.safetensors")
    )
    data = stats_json(tmp_path / "f.safetensors", "--group")
    groups = {g["pattern"]: g for g in data["groups"]}
    assert set(groups) == {"h.*.attn.c_attn.weight", "wte.weight"}
    g = groups["h.*.attn.c_attn.weight"]
    assert g["members"] == 12 and g["count"] == 6000
    ref = reference(np.concatenate(list(blocks.values())))
    assert g["min"] == ref["min"] and g["max"] == ref["max"]
    assert g["mean"] == pytest.approx(ref["mean"], rel=1e-12)
    assert g["std"] == pytest.approx(ref["std"], rel=1e-12)
    assert sum(g["hist"]["counts"]) == 6000
    assert len(data["tensors"]) == 13  # JSON always lists every tensor


def test_large_models_are_summarized_unless_all(tmp_path, cli):
    save_file({f"layers.{i}.w": np.ones(2, np.float32) for i in range(100)}, str(tmp_path / "f.safetensors"))
    r = cli("stats", tmp_path / "f.safetensors", "--format", "csv")
    lines = r.stdout.splitlines()
    assert lines[1].startswith("layers.*.w,100 × 2,float32,1.0,0.0,")
    assert "100 tensors shown as 1 layer patterns; --all lists every tensor" in r.stderr
    r = cli("stats", tmp_path / "f.safetensors", "--format", "csv", "--all")
    assert len(r.stdout.splitlines()) == 101


def test_table_has_sparkline_and_totals(tmp_path, cli):
    save_file(
        {
            "w": np.random.default_rng(4).normal(0, 1, 10_000).astype(np.float32),
            "b": np.zeros(10, dtype=ml_dtypes.bfloat16),
        },
        str(tmp_path / "f.safetensors"),
    )
    out = cli("stats", tmp_path / "f.safetensors").stdout
    assert "█" in out and "▁" in out
    assert "2 tensors" in out and "10,010 params" in out and "float32×1, bfloat16×1" in out
    assert "40 KB" in out  # 40,020 bytes, to three significant digits
    md = cli("stats", tmp_path / "f.safetensors", "--format", "markdown").stdout
    assert md.splitlines()[2].startswith("| tensor | shape | dtype | mean | std |")


def test_names_with_bars_and_control_characters_keep_one_row_each(tmp_path, cli):
    names = ["a|b", "\x1b[31mred", "x\ny", "c\\|d"]
    save_file({n: np.ones(2, np.float32) for n in names}, str(tmp_path / "f.safetensors"))
    md = cli("stats", tmp_path / "f.safetensors", "--format", "markdown").stdout.splitlines()
    rows = md[4:8]  # markdown source: backslashes and bars escaped
    assert [line.split(" | ")[0] for line in rows] == [
        "| \\\\x1b[31mred",
        "| a\\|b",
        "| c\\\\\\|d",
        "| x\\\\ny",
    ]
    assert all(line.replace("\\\\", "").replace("\\|", "").count("|") == md[2].count("|") for line in rows)
    table = cli("stats", tmp_path / "f.safetensors").stdout
    assert "\\x1b[31mred" in table and "x\\ny" in table and "\x1b" not in table
    csv = cli("stats", tmp_path / "f.safetensors", "--format", "csv").stdout
    assert "\x1b[31mred" in csv and '"x\ny"' in csv  # data: the names as they are


def test_sparkline_scales_to_the_highest_bin():
    from initgen.report import sparkline

    assert sparkline({"counts": [0, 1, 8, 4] + [0] * 28}, width=32)[:4] == " ▁█▄"
    assert sparkline(None) == ""


def test_std_is_accurate_far_from_zero(tmp_path):
    """Sums about a shift inside [min, max]: a naive sum of squares would lose the
    1e-6 spread of values near 1e4 entirely."""
    a = (1e4 + np.random.default_rng(5).normal(0, 1e-3, 100_000)).astype(np.float64)
    save_file({"a": a}, str(tmp_path / "f.safetensors"))
    t = stats_mod.read_stats(tmp_path / "f.safetensors").tensors[0]
    assert math.isclose(t.std, a.std(), rel_tol=1e-9)


def test_values_near_the_float64_limit_give_stats_not_a_traceback(tmp_path, stats_json):
    """hi - lo overflows for ±1e308: the histogram works on halves; only the sum of
    squares may overflow (std "inf"), everything else matches NumPy."""
    a = np.array([1e308, -1e308, 1.0, 2.0])
    save_file({"a": a}, str(tmp_path / "f.safetensors"))
    (t,) = stats_json(tmp_path / "f.safetensors")["tensors"]
    assert (t["min"], t["max"], t["mean"]) == (-1e308, 1e308, 0.75)
    assert t["std"] == "inf"
    # np.histogram refuses this range; its index formula floor((v - lo) / (hi - lo) · 32)
    # puts -1e308 in bin 0, 1 and 2 in bin 16, and the maximum in the last bin.
    expected = np.zeros(32, dtype=int)
    expected[[0, 16, 16, 31]] += 1
    expected[16] = 2
    assert t["hist"]["counts"] == expected.tolist()
