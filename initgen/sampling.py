"""Deterministic, vectorized samplers: the same bits on every CPU and NumPy version.

The stream contract (``STREAM_VERSION``; see README "File contract"):

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
import math
from collections.abc import Callable, Mapping

import numpy as np

STREAM_VERSION = "initgen-stream-1"
CHUNK = 1 << 20  # values per chunk: one independent stream each
BLOCK = 1 << 16  # values per block: a cache-sized unit of work inside a chunk

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


# --- exactly rounded elementary functions ------------------------------------------


class _Consts:
    def __init__(self, dt: type[np.floating]) -> None:
        self.dt = dt
        self.is64 = dt is np.float64
        if self.is64:
            self.itype: type[np.signedinteger] = np.int64
            self.log_off, self.log_mid, self.mant_mask, self.bias, self.mbits = (
                0x3FF0000000000000 - 0x3FE6A09E667F3BCD, 0x3FE6A09E667F3BCD, (1 << 52) - 1, 0x3FF, 52)
            log_terms, sin_terms = 12, 12
        else:
            self.itype = np.int32
            self.log_off, self.log_mid, self.mant_mask, self.bias, self.mbits = (
                0x3F800000 - 0x3F3504F3, 0x3F3504F3, (1 << 23) - 1, 0x7F, 23)
            log_terms, sin_terms = 5, 7
        # ln(m) = 2·atanh(s) = s·(2 + 2s²/3 + 2s⁴/5 + ...), s = (m-1)/(m+1)
        self.log_c = [dt(2.0 / (2 * k + 1)) for k in range(log_terms)]
        # sin(t) = t·(1 - t²/3! + t⁴/5! - ...)
        self.sin_c = [dt((-1) ** k / math.factorial(2 * k + 1)) for k in range(sin_terms)]
        self.ln2 = dt(math.log(2.0))
        self.half_pi = dt(math.pi / 2)


_F32, _F64 = _Consts(np.float32), _Consts(np.float64)


def _consts(dt: np.dtype) -> _Consts:
    return _F64 if dt == np.float64 else _F32


def _horner(x: np.ndarray, coeffs: list) -> np.ndarray:
    """Σ coeffs[k]·x^k, in place of a fresh buffer, by Horner's rule."""
    p = np.full(x.shape, coeffs[-1], dtype=x.dtype)
    for c in reversed(coeffs[:-1]):
        p *= x
        p += c
    return p


def _log(u: np.ndarray, c: _Consts) -> np.ndarray:
    """Natural log of positive finite ``u`` (normal numbers) from exact operations."""
    ix = u.view(c.itype) + c.itype(c.log_off)
    e = (ix >> c.mbits) - c.itype(c.bias)
    ix &= c.itype(c.mant_mask)
    ix += c.itype(c.log_mid)
    f = ix.view(c.dt) - c.dt(1)  # m - 1, m in [√½, √2)
    s = f / (f + c.dt(2))
    p = _horner(s * s, c.log_c)
    p *= s
    p += e.astype(c.dt) * c.ln2
    return p


def _sin_quarter(x: np.ndarray, c: _Consts) -> np.ndarray:
    """sin(π/2 · x) for x in [0, 1]."""
    t = x * c.half_pi
    p = _horner(t * t, c.sin_c)
    p *= t
    return p


# --- raw words → values --------------------------------------------------------------

_U64 = np.uint64


def uniform01(bg: np.random.PCG64, n: int, dt: np.dtype) -> np.ndarray:
    """``n`` values uniform on [0, 1) in working precision ``dt``."""
    if dt == np.float64:
        w = bg.random_raw(n)
        return (w >> _U64(11)).astype(np.int64).astype(np.float64) * (2.0**-53)
    w = bg.random_raw((n + 1) // 2)
    halves = (w.view(np.uint32) >> np.uint32(8)).astype(np.int32)  # 24-bit, exact in float32
    out = halves.astype(np.float32)[:n]
    out *= np.float32(2.0**-24)
    return out


def std_normal(bg: np.random.PCG64, n: int, dt: np.dtype) -> np.ndarray:
    """``n`` standard normal values (Box-Muller, exact operations only)."""
    c = _consts(dt)
    pairs = (n + 1) // 2
    if c.is64:
        w = bg.random_raw(2 * pairs).reshape(pairs, 2)
        k = (w[:, 0] >> _U64(11)).astype(np.int64)
        v = w[:, 1]
        u1 = k.astype(np.float64)
        u1 += 0.5
        u1 *= 2.0**-53
        x = (v >> _U64(11)).astype(np.int64).astype(np.float64) * (2.0**-53)
        signs = v.astype(np.uint64) & _U64(3)
        sign_shift = _U64(63)
        utype: type = np.uint64
    else:
        v = bg.random_raw(pairs)
        u1 = (v >> _U64(40)).astype(np.int32).astype(np.float32)
        u1 += np.float32(0.5)
        u1 *= np.float32(2.0**-24)
        x = ((v >> _U64(16)).astype(np.uint32) & np.uint32(0xFFFFFF)).astype(np.int32).astype(np.float32)
        x *= np.float32(2.0**-24)
        signs = v.astype(np.uint32) & np.uint32(3)
        sign_shift = np.uint32(31)
        utype = np.uint32
    r = _log(u1, c)
    r *= c.dt(-2)
    np.sqrt(r, out=r)
    t = np.empty(2 * pairs, dtype=c.dt)
    t[:pairs] = x
    np.subtract(c.dt(1), x, out=t[pairs:])  # cos(πx/2) = sin(π(1-x)/2); 1-x is exact
    z = _sin_quarter(t, c).reshape(2, pairs)
    z *= r
    zi = z.view(utype)
    zi[0] ^= (signs & utype(1)) << sign_shift
    zi[1] ^= (signs >> utype(1)) << sign_shift
    return z.T.reshape(-1)[:n]


# --- distributions over a chunk ------------------------------------------------------


def _blocks(n: int) -> range:
    return range(0, n, BLOCK)


def _chunk_uniform(bg: np.random.PCG64, n: int, p: Mapping[str, float], dt: np.dtype) -> np.ndarray:
    out = np.empty(n, dtype=dt)
    lo, width = dt.type(p["low"]), dt.type(p["high"] - p["low"])
    for s in _blocks(n):
        m = min(BLOCK, n - s)
        u = uniform01(bg, m, dt)
        u *= width
        u += lo
        out[s : s + m] = u
    return out


def _chunk_normal(bg: np.random.PCG64, n: int, p: Mapping[str, float], dt: np.dtype) -> np.ndarray:
    out = np.empty(n, dtype=dt)
    mean, std = dt.type(p["mean"]), dt.type(p["std"])
    for s in _blocks(n):
        m = min(BLOCK, n - s)
        z = std_normal(bg, m, dt)
        z *= std
        z += mean
        out[s : s + m] = z
    return out


def _chunk_truncated(bg: np.random.PCG64, n: int, p: Mapping[str, float], dt: np.dtype) -> np.ndarray:
    """N(mean, std²) on [a, b] by rejection: each block's rejects are redrawn, in
    index order, from the values drawn next, until none is left."""
    out = np.empty(n, dtype=dt)
    mean, std, a, b = (dt.type(p[k]) for k in ("mean", "std", "a", "b"))
    for s in _blocks(n):
        m = min(BLOCK, n - s)
        x = std_normal(bg, m, dt)
        x *= std
        x += mean
        bad = np.flatnonzero((x < a) | (x > b))
        while bad.size:
            y = std_normal(bg, bad.size, dt)
            y *= std
            y += mean
            x[bad] = y
            bad = bad[(y < a) | (y > b)]
        out[s : s + m] = x
    return out


def _chunk_constant(bg: np.random.PCG64, n: int, p: Mapping[str, float], dt: np.dtype) -> np.ndarray:
    return np.full(n, p["value"], dtype=dt)


ChunkSampler = Callable[[np.random.PCG64, int, Mapping[str, float], np.dtype], np.ndarray]

CHUNK_SAMPLERS: dict[str, ChunkSampler] = {
    "uniform": _chunk_uniform,
    "normal": _chunk_normal,
    "truncated_normal": _chunk_truncated,
    "constant": _chunk_constant,
}

# Kinds that need no random bits: the engine skips making a stream for them.
CONSTANT_KINDS = frozenset({"constant"})


def work_dtype(out_dtype: np.dtype) -> np.dtype:
    """float64 outputs are made in float64, everything else in float32."""
    return np.dtype(np.float64) if out_dtype == np.float64 else np.dtype(np.float32)


def sample_chunk(kind: str, params: Mapping[str, float], seed: int, name: str, chunk: int,
                 n: int, dt: np.dtype) -> np.ndarray:
    """Values of chunk ``chunk`` (``n`` values) of an element-wise tensor."""
    sampler = CHUNK_SAMPLERS[kind]
    bg = None if kind in CONSTANT_KINDS else chunk_stream(seed, name, chunk)
    return sampler(bg, n, params, dt)  # type: ignore[arg-type]


def sample_elementwise(kind: str, params: Mapping[str, float], seed: int, name: str,
                       size: int, dt: np.dtype) -> np.ndarray:
    """A whole element-wise tensor, chunk by chunk (for whole-tensor schemes' input)."""
    out = np.empty(size, dtype=dt)
    for i, s in enumerate(range(0, size, CHUNK)):
        m = min(CHUNK, size - s)
        out[s : s + m] = sample_chunk(kind, params, seed, name, i, m, dt)
    return out
