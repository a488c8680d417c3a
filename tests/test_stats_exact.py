"""The reductions behind `initgen stats`, tested on every dtype against independent
computations: exact rational moments, sorted order statistics (the inverted CDF) and
NumPy's own quantiles, with NaN, ±Inf, subnormals, ±0 and all-equal tensors."""

from __future__ import annotations

import math
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file

from helpers import LEVELS, assert_matches, order_statistics, reference
from initgen.analyze import reduce as reduce_mod
from initgen.analyze import scan as scan_mod
from initgen.analyze import stats as stats_mod
from initgen.analyze.grouping import group_stats
from initgen.analyze.tables import TABLE_DTYPES, decode
from initgen.readers import TensorInfo, WeightFile

NP = {
    "float64": np.float64,
    "float32": np.float32,
    "float16": np.float16,
    "bfloat16": ml_dtypes.bfloat16,
    "float8_e4m3fn": ml_dtypes.float8_e4m3fn,
    "float8_e5m2": ml_dtypes.float8_e5m2,
    "int64": np.int64,
    "int32": np.int32,
    "int16": np.int16,
    "int8": np.int8,
    "uint64": np.uint64,
    "uint32": np.uint32,
    "uint16": np.uint16,
    "uint8": np.uint8,
    "bool": np.bool_,
}


class Memory(WeightFile):
    """Arrays in memory as a weight file: the reductions without the file."""

    format = "memory"

    def __init__(self, arrays: dict[str, tuple[str, np.ndarray]]) -> None:
        self.arrays = {k: a.reshape(-1) for k, (_, a) in arrays.items()}
        self.tensors = [TensorInfo(k, a.shape, d) for k, (d, a) in arrays.items()]
        self.metadata = {}

    def values(self, name: str, start: int, count: int) -> np.ndarray:
        return self.arrays[name][start : start + count]


def stats_of(arrays: dict[str, tuple[str, np.ndarray]], threads: int = 1) -> stats_mod.FileStats:
    wf = Memory(arrays)
    found = scan_mod.scan(wf, wf.tensors, threads)
    out = [stats_mod.tensor_stats(i, *found[i.name]) for i in wf.tensors]
    return stats_mod.FileStats("memory", "memory", out, {}, {k: (c, n) for k, (c, n, _) in found.items()})


@pytest.fixture(autouse=True)
def small_units(monkeypatch):
    """Many chunks, blocks and bincount calls even for small arrays."""
    monkeypatch.setattr(scan_mod, "CHUNK_VALUES", 700)
    monkeypatch.setattr(reduce_mod, "BLOCK", 64)
    monkeypatch.setattr(reduce_mod, "SUB", 192)


def exact_moments(fin: np.ndarray) -> tuple[float, float]:
    """Mean and population std of the finite values, from exact rational sums."""
    xs = [Fraction(float(v)) for v in fin]
    mean = sum(xs, Fraction(0)) / len(xs)
    var = sum(((x - mean) ** 2 for x in xs), Fraction(0)) / len(xs)
    return float(mean), math.sqrt(var)


def check(t: stats_mod.TensorStats, a: np.ndarray) -> None:
    d = vars(t)
    ref = reference(a)
    if "mean" not in ref:
        assert t.mean is None and t.quantiles is None
        return
    assert_matches(d, ref)  # counts, extremes, zeros, histogram, quantiles
    mean, std = exact_moments(ref["values"])
    if t.dtype in TABLE_DTYPES:  # from exact counts: to the last few bits
        assert t.mean == pytest.approx(mean, rel=4e-16, abs=1e-300)
        assert t.std == pytest.approx(std, rel=1e-14, abs=1e-300)
    else:  # float32 and wider: 1e-9 relative (the mean: relative to its spread too), or
        # float64's spacing near 0 where that is larger
        tiny = 4 * np.finfo(np.float64).smallest_subnormal
        assert abs(t.mean - mean) <= max(1e-9 * (abs(mean) + std), tiny)
        assert t.std == pytest.approx(std, rel=1e-9, abs=1e-300)


def bits_strategy(dtype: str) -> st.SearchStrategy[np.ndarray]:
    """Arrays of any bit patterns (NaN, ±Inf, subnormals, ±0 included), or of one
    repeated value, or floats near a large offset (cancellation)."""
    npdt = np.dtype(NP[dtype])
    size = st.integers(1, 2000)
    if dtype in ("float32", "float64"):
        width = 32 if dtype == "float32" else 64
        anyfloat = st.floats(width=width, min_value=-(2.0**100), max_value=2.0**100) | st.sampled_from(
            [math.nan, math.inf, -math.inf, 0.0, -0.0, 5e-324 if width == 64 else 1e-45]
        )
        values = st.lists(anyfloat, min_size=1, max_size=400).map(lambda v: np.array(v, dtype=npdt))
        offset = st.tuples(size, st.floats(-1e6, 1e6), st.floats(1e-6, 1.0), st.integers(0, 99)).map(
            lambda a: (a[1] + a[2] * np.random.default_rng(a[3]).standard_normal(a[0])).astype(npdt)
        )
        strategy = values | offset
    else:
        bits = 8 * npdt.itemsize
        raw = st.lists(st.integers(0, 2**bits - 1), min_size=1, max_size=400)
        utype = np.dtype(f"u{npdt.itemsize}")
        if dtype == "bool":
            strategy = st.lists(st.booleans(), min_size=1, max_size=400).map(lambda v: np.array(v))
        elif bits > 16:  # wide integers: any values NumPy holds
            info = np.iinfo(npdt)
            strategy = st.lists(st.integers(int(info.min), int(info.max)), min_size=1, max_size=400).map(
                lambda v: np.array(v, dtype=npdt)
            )
        else:
            strategy = raw.map(lambda v: np.array(v, dtype=utype).view(npdt))
    same = st.tuples(size, strategy).map(lambda a: np.repeat(a[1][:1], a[0]))
    return strategy | same


@pytest.mark.parametrize("dtype", list(NP))
def test_every_dtype_with_special_values_matches_exact_computation(dtype):
    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(bits_strategy(dtype), bits_strategy(dtype))
    def run(a, b):
        fs = stats_of({"a": (dtype, a), "b": (dtype, b)})
        check(fs.tensors[0], a)
        check(fs.tensors[1], b)

    run()


@pytest.mark.parametrize("dtype", [d for d in NP if d in TABLE_DTYPES and d != "bool"])
def test_value_tables_decode_as_ml_dtypes_and_numpy(dtype):
    n = 1 << (8 * np.dtype(NP[dtype]).itemsize)
    codes = np.arange(n, dtype=f"u{np.dtype(NP[dtype]).itemsize}")
    with np.errstate(invalid="ignore"):
        want = codes.view(NP[dtype]).astype(np.float64)
    got = decode(dtype, np.arange(n))
    assert np.array_equal(got, want, equal_nan=True)
    assert np.array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("n", [1000, 2000, 4000, 1])
def test_quantiles_are_numpys_inverted_cdf(n):
    x = (np.random.default_rng(n).standard_normal(n) * 0.05).astype(ml_dtypes.bfloat16)
    (t,) = stats_of({"x": ("bfloat16", x)}).tensors
    want = np.quantile(x.astype(np.float64), [a / b for a, b in LEVELS.values()], method="inverted_cdf")
    assert list(t.quantiles.values()) == want.tolist()


def test_float32_quantiles_stay_within_the_stated_bound_and_hit_the_extremes():
    x = np.random.default_rng(1).standard_normal(100_001).astype(np.float32) * np.float32(3.0)
    (t,) = stats_of({"x": ("float32", x)}).tensors
    exact = order_statistics(x.astype(np.float64))
    for key, q in exact.items():
        assert abs(t.quantiles[key] - q) <= 2**-8 * abs(q), key
    (one,) = stats_of({"x": ("float32", x[:5])}).tensors  # p0.1 and p1 are then the minimum
    assert one.quantiles["p0.1"] == one.quantiles["p1"] == float(x[:5].min())
    assert one.quantiles["p99.9"] == float(x[:5].max())


@pytest.mark.parametrize("threads", [1, 2])
def test_group_quantiles_are_those_of_all_members_together(threads):
    r = np.random.default_rng(7)
    arrays = {
        f"h.{i}.w": ("bfloat16", (r.standard_normal(3000) * (i + 1)).astype(ml_dtypes.bfloat16))
        for i in range(4)
    }
    arrays["mixed.0.w"] = ("float32", r.standard_normal(100).astype(np.float32))
    arrays["mixed.1.w"] = ("float16", r.standard_normal(100).astype(np.float16))
    fs = stats_of(arrays, threads)
    groups = {g.stats.name: g.stats for g in group_stats(fs.tensors, fs.tables)}
    together = np.concatenate([a.astype(np.float64) for k, (_, a) in arrays.items() if k.startswith("h.")])
    assert groups["h.*.w"].quantiles == order_statistics(together)
    assert groups["h.*.w"].hist["counts"] == reference(together)["counts"].tolist()
    assert groups["mixed.*.w"].quantiles is None  # members of different dtypes: not merged
    assert sum(groups["mixed.*.w"].hist["counts"]) == 200


def test_forked_workers_give_the_same_numbers_and_report_errors(tmp_path, monkeypatch):
    monkeypatch.setattr(scan_mod, "FORK_BYTES", 0)
    r = np.random.default_rng(3)
    tensors = {
        "a": r.standard_normal(5000).astype(np.float32),
        "b": r.standard_normal(3000).astype(ml_dtypes.bfloat16),
        "c": r.standard_normal(2001).astype(ml_dtypes.float8_e5m2),
    }
    save_file(tensors, str(tmp_path / "f.safetensors"))
    forked = stats_mod.read_stats(tmp_path / "f.safetensors", threads=2).to_json()
    monkeypatch.setattr(scan_mod, "FORK_BYTES", 1 << 40)
    assert forked == stats_mod.read_stats(tmp_path / "f.safetensors", threads=1).to_json()

    def broken(*args):
        raise ValueError("broken reduction")

    monkeypatch.setattr(scan_mod, "FORK_BYTES", 0)
    monkeypatch.setattr(scan_mod, "reduce_chunk", broken)
    with pytest.raises(ValueError, match="broken reduction"):
        stats_mod.read_stats(tmp_path / "f.safetensors", threads=2)


def test_expect_rules_read_quantiles(tmp_path, cli):
    x = (np.random.default_rng(5).standard_normal(10_000) * 0.02).astype(np.float32)
    save_file({"w": x}, str(tmp_path / "f.safetensors"))
    ok = cli("stats", tmp_path / "f.safetensors", "--expect", "w:p99<0.1,p1>-0.1,p50=0±0.01")
    assert ok.exit_code == 0, ok.output
    bad = cli("stats", tmp_path / "f.safetensors", "--expect", "w:p99.9<0.01")
    assert bad.exit_code == 1
    assert "check failed: w: p99.9 0.06" in bad.stderr and "fails p99.9<0.01" in bad.stderr


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_range_of_one_subnormal_step_is_binned(dtype):
    """Found by the property test above: halving both differences rounded a range of
    one subnormal step to 0, a division by zero that failed the whole run. (Wide types
    bin values by their float32 bucket, so where in the range they land is not fixed.)"""
    tiny = np.finfo(dtype).smallest_subnormal
    t = stats_of({"a": (dtype, np.array([0.0, tiny, tiny], dtype=dtype))}).tensors[0]
    assert t.min == 0.0 and t.max == float(tiny)
    assert t.hist is not None and sum(t.hist["counts"]) == 3


def test_float64_subnormal_means_are_as_near_as_float64_can_be():
    """The mean of 5e-324 and 0 lies halfway between two float64 values: either
    answer is right (a case the property test above once drew)."""
    for vals in ([5e-324, 0.0], [0.0, 5e-324, 5e-324], [-5e-324, 1e-323, 0.0]):
        a = np.array(vals)
        check(stats_of({"b": ("float64", a)}).tensors[0], a)
