"""Deterministic, vectorized samplers: the same bits on every CPU and NumPy version.

The stream contract (``STREAM_VERSION``; exactly as docs/file-contract.md states it):

* A tensor's values are cut into chunks of ``CHUNK`` values (row-major order).
  Chunk ``i`` of tensor ``name`` draws from ``PCG64(SeedSequence(seed,
  spawn_key=(*w, i)))`` where ``w`` are the first four big-endian 32-bit words of
  SHA-256(UTF-8 name). Only ``PCG64.random_raw`` is used: NumPy keeps raw bit
  generator output stable across versions (NEP 19), but not ``Generator`` methods.
* Raw 64-bit words become values through initgen's own transforms built from
  exactly rounded operations (integer ops, + − × ÷, sqrt). No ``np.log``/``np.sin``
  (SIMD-dispatched, CPU-dependent bits) and no BLAS/LAPACK.
* Inside a chunk values are made in blocks of ``BLOCK`` values, each block drawing
  next from the chunk's stream (rejection redraws directly after their block).

Transforms (``float32`` work precision for outputs of 32 bits or fewer, ``float64``
for float64 outputs):

* uniform [0, 1): float32 takes the top 24 bits of each 32-bit half of a word (two
  values per word); float64 takes the top 53 bits of a word.
* standard normal: Box-Muller. float32: one word per pair of values — bits 40..63
  give u1 = (k + ½)·2⁻²⁴, bits 16..39 an angle fraction x, bits 0 and 1 the two
  signs; r = √(−2 ln u1), values (±r·sin(πx/2), ±r·cos(πx/2)). float64: two words per
  pair (53-bit u1 from the first, angle and signs from the second). ln and sin are
  polynomials evaluated in the working precision (ln: frexp-style reduction to
  [√½, √2) and the atanh series; sin: Taylor series on [0, π/2]).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping

import numpy as np

from .boxmuller import interleave, normal_magnitudes, normal_pairs
from .exactmath import scratch

STREAM_VERSION = "initgen-stream-1"
CHUNK = 1 << 20  # values per chunk: one independent stream each
BLOCK = 1 << 16  # values per block: a cache-sized unit of work inside a chunk
# uniform and normal blocks map word j to values 2j, 2j+1 whatever the block size, so
# they may work in larger (even) pieces with the same bits: fewer NumPy calls per
# value, i.e. less time holding the GIL between the GIL-free loops of other threads.
WORK_BLOCK = 1 << 17

STREAM_DOC = (
    f"{STREAM_VERSION}: PCG64(SeedSequence(seed, spawn_key=(sha256(name)[0:16] as 4 big-endian "
    f"u32, chunk))).random_raw; chunk={CHUNK} values, block={BLOCK}; initgen transforms "
    "(uniform: top 24/53 bits; normal: Box-Muller with polynomial ln/sin)"
)


def name_words(name: str) -> tuple[int, ...]:
    """Four 32-bit words of SHA-256 of the name: a stable, unsalted key."""
    d = hashlib.sha256(name.encode("utf-8")).digest()
    return tuple(int.from_bytes(d[i : i + 4], "big") for i in range(0, 16, 4))


def chunk_stream(seed: int, name: str, chunk: int, salt: int = 0) -> np.random.PCG64:
    """The bit generator of chunk ``chunk`` of tensor ``name``.

    ``salt`` separates extra streams of one tensor (e.g. a sparse mask) from its values.
    """
    key = (*name_words(name), chunk) if salt == 0 else (*name_words(name), chunk, salt)
    return np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key))


# --- raw words → values --------------------------------------------------------------

_U64 = np.uint64


def _uniform_block(bg: np.random.PCG64, o: np.ndarray, scale: float, lo: float) -> None:
    """``o[:] = lo + k·scale`` where k are the top 24 (53) bits and scale = width·2⁻²⁴ (2⁻⁵³).

    Multiplying by width·2⁻ᵇ in one step gives the same bits as (k·2⁻ᵇ)·width:
    scaling by a power of two is exact, so both round the same real number.
    """
    n = o.size
    S = scratch()
    if o.dtype == np.float64:
        w = bg.random_raw(n)
        w >>= _U64(11)
        np.multiply(w, scale, out=o, dtype=np.float64, casting="unsafe")  # k < 2⁵³: exact
    else:
        w = bg.random_raw((n + 1) // 2)
        h = S.get("uni_h", 2 * w.size, np.uint32)
        np.right_shift(w.view(np.uint32), np.uint32(8), out=h)  # low half first (little-endian)
        np.multiply(h[:n], np.float32(scale), out=o, dtype=np.float32, casting="unsafe")
    if lo != 0.0:  # x + 0 would only turn −0 into +0; k·scale is never −0
        o += o.dtype.type(lo)


def _normal_block(bg: np.random.PCG64, o: np.ndarray, std: float | None, mean: float) -> None:
    """Fill ``o`` with z·std + mean (raw z when ``std`` is None), values in pair order."""
    interleave(normal_pairs(bg, o.size, std, mean, o.dtype), o)


def std_normal(bg: np.random.PCG64, n: int, dt: np.dtype) -> np.ndarray:
    """``n`` standard normal values (Box-Muller, exact operations only)."""
    out = np.empty(n, dtype=dt)
    _normal_block(bg, out, None, 0.0)
    return out


# --- distributions over a chunk ------------------------------------------------------


def _blocks(n: int) -> range:
    return range(0, n, BLOCK)


def _fill_uniform(bg: np.random.PCG64, out: np.ndarray, p: Mapping[str, float]) -> None:
    bits = 53 if out.dtype == np.float64 else 24
    scale = float(out.dtype.type(p["high"] - p["low"])) * 2.0**-bits
    for s in range(0, out.size, WORK_BLOCK):
        _uniform_block(bg, out[s : s + WORK_BLOCK], scale, float(out.dtype.type(p["low"])))


def _fill_normal(bg: np.random.PCG64, out: np.ndarray, p: Mapping[str, float]) -> None:
    for s in range(0, out.size, WORK_BLOCK):
        _normal_block(bg, out[s : s + WORK_BLOCK], p["std"], p["mean"])


def _fill_truncated(bg: np.random.PCG64, out: np.ndarray, p: Mapping[str, float]) -> None:
    """N(mean, std²) on [a, b] by rejection: each block's rejects are redrawn, in
    index order, from the values drawn next, until none is left."""
    dt = out.dtype
    mean, std, a, b = (dt.type(p[k]) for k in ("mean", "std", "a", "b"))
    for s in _blocks(out.size):
        x = out[s : s + BLOCK]
        _normal_block(bg, x, p["std"], p["mean"])
        bad = np.flatnonzero((x < a) | (x > b))
        while bad.size:
            y = std_normal(bg, bad.size, dt)
            y *= std
            y += mean
            x[bad] = y
            bad = bad[(y < a) | (y > b)]


def _fill_constant(bg: np.random.PCG64 | None, out: np.ndarray, p: Mapping[str, float]) -> None:
    out.fill(p["value"])


ChunkSampler = Callable[[np.random.PCG64, np.ndarray, Mapping[str, float]], None]

# kind → function filling a chunk (its work-dtype buffer) from the chunk's stream.
CHUNK_SAMPLERS: dict[str, ChunkSampler] = {
    "uniform": _fill_uniform,
    "normal": _fill_normal,
    "truncated_normal": _fill_truncated,
    "constant": _fill_constant,
}

# Kinds that need no random bits: the engine skips making a stream for them.
CONSTANT_KINDS = frozenset({"constant"})


def work_dtype(out_dtype: np.dtype) -> np.dtype:
    """float64 outputs are made in float64, everything else in float32."""
    return np.dtype(np.float64) if out_dtype == np.float64 else np.dtype(np.float32)


def fill_chunk(
    kind: str, params: Mapping[str, float], seed: int, name: str, chunk: int, out: np.ndarray
) -> np.ndarray:
    """Fill ``out`` (work dtype) with the values of chunk ``chunk`` of a tensor."""
    bg = None if kind in CONSTANT_KINDS else chunk_stream(seed, name, chunk)
    CHUNK_SAMPLERS[kind](bg, out, params)  # type: ignore[arg-type]
    return out


def fill_pieces(
    kind: str,
    params: Mapping[str, float],
    seed: int,
    name: str,
    chunk: int,
    count: int,
    work: np.ndarray,
    done: Callable[[np.ndarray, int], None],
) -> None:
    """The ``count`` values :func:`fill_chunk` makes, ``WORK_BLOCK`` at a time in
    ``work`` (float32, at least ``min(count, WORK_BLOCK)`` values): ``done(piece,
    start)`` gets each piece while it is still in cache. The same values: every
    sampler draws its stream in order, and a piece of a multiple of ``BLOCK``
    values ends where a block ends (rejection redraws included)."""
    bg = None if kind in CONSTANT_KINDS else chunk_stream(seed, name, chunk)
    fill = CHUNK_SAMPLERS[kind]
    for s in range(0, count, WORK_BLOCK):
        piece = work[: min(WORK_BLOCK, count - s)]
        fill(bg, piece, params)  # type: ignore[arg-type]
        done(piece, s)


def fill_normal_pairs(
    params: Mapping[str, float],
    seed: int,
    name: str,
    chunk: int,
    count: int,
    done: Callable[[np.ndarray, np.ndarray | None, int, int], None],
    signs_apart: bool = False,
) -> None:
    """The ``count`` values of chunk ``chunk`` of a normal tensor (float32),
    ``WORK_BLOCK`` at a time as Box-Muller pairs: ``done(z, None, start, n)`` gets each
    piece of ``n`` values as :func:`boxmuller.normal_pairs` gives them, or with
    ``signs_apart`` (mean +0, std > 0) ``done(magnitudes, sign_bits, start, n)`` as
    :func:`boxmuller.normal_magnitudes` gives them. The same values as
    :func:`fill_chunk` (``_fill_normal`` draws the same pieces)."""
    bg = chunk_stream(seed, name, chunk)
    f32 = np.dtype(np.float32)
    for s in range(0, count, WORK_BLOCK):
        n = min(WORK_BLOCK, count - s)
        if signs_apart:
            done(*normal_magnitudes(bg, n, params["std"]), s, n)
        else:
            done(normal_pairs(bg, n, params["std"], params["mean"], f32), None, s, n)


def sample_elementwise(
    kind: str, params: Mapping[str, float], seed: int, name: str, size: int, dt: np.dtype
) -> np.ndarray:
    """A whole element-wise tensor, chunk by chunk (for whole-tensor schemes' input)."""
    out = np.empty(size, dtype=dt)
    for i, s in enumerate(range(0, size, CHUNK)):
        fill_chunk(kind, params, seed, name, i, out[s : s + CHUNK])
    return out
