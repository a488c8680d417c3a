"""The stream contract, checked against an independent reading of docs/file-contract.md,
and the samplers' distributions, checked with tolerances derived from the sample size."""

from __future__ import annotations

import hashlib
import math
import struct

import numpy as np
import pytest

from helpers import sample_chunk
from initgen.generate.sampling import BLOCK, CHUNK, fill_chunk, name_words

N = 1 << 20  # values per statistical test: one chunk


def reference_stream(seed: int, name: str, chunk: int) -> np.random.PCG64:
    """The contract in a few lines: SHA-256 of the name, four big-endian words, chunk."""
    words = struct.unpack(">4I", hashlib.sha256(name.encode("utf-8")).digest()[:16])
    return np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(*words, chunk)))


def test_name_words_are_the_sha256_prefix():
    assert name_words("model.layers.0.mlp.up_proj.weight") == struct.unpack(
        ">4I", hashlib.sha256(b"model.layers.0.mlp.up_proj.weight").digest()[:16]
    )


@pytest.mark.parametrize("n", [N, 12345, 1])
def test_uniform_float32_follows_the_contract(n):
    low, high = -0.3, 0.2
    w = reference_stream(9, "w", 3).random_raw((n + 1) // 2)
    halves = np.stack([w & 0xFFFFFFFF, w >> 32], axis=1).reshape(-1)[:n]  # low half first
    u = (halves >> 8).astype(np.float32) * np.float32(2.0**-24)
    expect = u * np.float32(high - low) + np.float32(low)
    got = sample_chunk("uniform", {"low": low, "high": high}, 9, "w", 3, n, np.dtype(np.float32))
    assert got.tobytes() == expect.tobytes()


def test_uniform_float64_follows_the_contract():
    w = reference_stream(9, "w", 0).random_raw(N)
    expect = (w >> 11).astype(np.float64) * 2.0**-53 * 0.5 + (-0.25)
    got = sample_chunk("uniform", {"low": -0.25, "high": 0.25}, 9, "w", 0, N, np.dtype(np.float64))
    assert got.tobytes() == expect.tobytes()


def _box_muller_reference(seed: int, name: str, chunk: int, n: int, is64: bool) -> np.ndarray:
    """Box-Muller from the documented bit layout, with the C library's log/sin/cos."""
    bg = reference_stream(seed, name, chunk)
    pairs = (n + 1) // 2
    if is64:
        w = bg.random_raw(2 * pairs).reshape(pairs, 2)
        u1 = ((w[:, 0] >> 11).astype(np.float64) + 0.5) * 2.0**-53
        x = (w[:, 1] >> 11).astype(np.float64) * 2.0**-53
        signs = w[:, 1] & 3
    else:
        w = bg.random_raw(pairs)
        # (k + ½) is rounded to float32, as the contract computes it in float32
        u1 = ((w >> 40).astype(np.float32) + np.float32(0.5)).astype(np.float64) * 2.0**-24
        x = ((w >> 16) & 0xFFFFFF).astype(np.float64) * 2.0**-24
        signs = w & 3
    r = np.array([math.sqrt(-2 * math.log(v)) for v in u1])
    z0 = r * np.array([math.sin(math.pi / 2 * v) for v in x])
    # cos(πx/2) as sin(π(1−x)/2): libm's cos near π/2 loses the relative accuracy
    z1 = r * np.array([math.sin(math.pi / 2 * (1 - v)) for v in x])
    z0[(signs & 1) == 1] *= -1
    z1[(signs & 2) == 2] *= -1
    return np.stack([z0, z1], axis=1).reshape(-1)[:n]


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("n", [20_001, 2])
def test_normal_follows_the_contract(dt, n):
    """Polynomial ln/sin against libm: within 4 units of rounding (measured: < 3)."""
    rel = 4 * np.finfo(dt).eps
    ref = _box_muller_reference(5, "layer.w", 2, n, dt is np.float64)
    got = sample_chunk("normal", {"mean": 0.0, "std": 1.0}, 5, "layer.w", 2, n, np.dtype(dt))
    assert np.array_equal(np.signbit(got), np.signbit(ref))
    err = np.abs(got.astype(np.float64) - ref)
    assert (err <= rel * np.abs(ref) + 1e-300).all(), err.max()


def _phi_cdf(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_normal_moments_and_cdf(dt):
    mean, std = 0.5, 2.0
    v = sample_chunk("normal", {"mean": mean, "std": std}, 1, "n", 0, N, np.dtype(dt)).astype(np.float64)
    z = (v - mean) / std
    assert abs(z.mean()) < 6 / math.sqrt(N)
    assert abs(z.var() - 1) < 6 * math.sqrt(2 / N)
    assert abs((z**4).mean() - 3) < 6 * math.sqrt(96 / N)  # var of z⁴ is 105 − 9 = 96
    for c in (-3.0, -2.0, -1.0, -0.3, 0.0, 0.7, 1.5, 2.5):
        p = _phi_cdf(c)
        assert abs((z < c).mean() - p) < 6 * math.sqrt(p * (1 - p) / N), c


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_uniform_moments_and_bounds(dt):
    lo, hi = -0.1, 0.3
    v = sample_chunk("uniform", {"low": lo, "high": hi}, 2, "u", 0, N, np.dtype(dt)).astype(np.float64)
    assert v.min() >= lo and v.max() < hi
    width = hi - lo
    assert abs(v.mean() - (lo + hi) / 2) < 6 * width / math.sqrt(12 * N)
    # var of (U − m)² for a uniform of width w is w⁴/180
    assert abs(v.var() - width**2 / 12) < 6 * width**2 / math.sqrt(180 * N)
    for q in (0.1, 0.5, 0.9):
        assert abs((v < lo + q * width).mean() - q) < 6 * math.sqrt(q * (1 - q) / N)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("mean, std, a, b", [(0.0, 1.0, -2.0, 2.0), (0.1, 0.3, -0.2, 0.9)])
def test_truncated_normal_bounds_and_moments(dt, mean, std, a, b):
    p = {"mean": mean, "std": std, "a": a, "b": b}
    v = sample_chunk("truncated_normal", p, 3, "t", 0, N, np.dtype(dt)).astype(np.float64)
    assert v.min() >= a and v.max() <= b
    al, be = (a - mean) / std, (b - mean) / std
    pdf = [math.exp(-x * x / 2) / math.sqrt(2 * math.pi) for x in (al, be)]
    mass = _phi_cdf(be) - _phi_cdf(al)
    m = mean + std * (pdf[0] - pdf[1]) / mass  # the published truncated-normal moments
    var = std**2 * (1 + (al * pdf[0] - be * pdf[1]) / mass - ((pdf[0] - pdf[1]) / mass) ** 2)
    assert abs(v.mean() - m) < 6 * math.sqrt(var / N)
    assert abs(v.var() / var - 1) < 6 * math.sqrt(2 / N)


def test_chunks_are_independent_streams_and_blocks_continue_the_stream():
    a = sample_chunk("normal", {"mean": 0.0, "std": 1.0}, 0, "x", 0, 2 * BLOCK, np.dtype(np.float32))
    b = sample_chunk("normal", {"mean": 0.0, "std": 1.0}, 0, "x", 1, 2 * BLOCK, np.dtype(np.float32))
    assert not np.array_equal(a, b)
    # the second block of a chunk is what the stream gives after the first block
    short = sample_chunk("normal", {"mean": 0.0, "std": 1.0}, 0, "x", 0, BLOCK, np.dtype(np.float32))
    assert a[:BLOCK].tobytes() == short.tobytes()
    assert abs(np.corrcoef(a, b)[0, 1]) < 6 / math.sqrt(a.size)


def test_fill_chunk_reuses_the_buffer_it_is_given():
    buf = np.empty(1000, dtype=np.float32)
    assert fill_chunk("normal", {"mean": 0.0, "std": 1.0}, 0, "x", 0, buf) is buf
    assert CHUNK % BLOCK == 0 and BLOCK % 2 == 0  # blocks keep the pairs of Box-Muller whole
