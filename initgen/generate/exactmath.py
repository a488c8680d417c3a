"""ln and sin from exactly rounded operations only, over NumPy arrays in place.

NumPy's ``np.log``/``np.sin`` dispatch to SIMD kernels chosen per CPU and give
different bits on different machines; these use only integer operations, bit
reinterpretation, ``+ − × ÷`` and constants rounded once, each an IEEE operation
in the working precision, so they give the same bits everywhere. They are accurate
to a few units in the last place (docs/file-contract.md §1.3 states them exactly).

Work happens in per-thread scratch buffers reused from block to block. A block is a
few dozen NumPy calls, and a call's own cost (not its loop) was about 8 % of a
block's time: the hot functions here and in ``boxmuller`` pass their output
positionally and their constants as 0-d arrays (:func:`const`), which roughly
halves it (a NumPy scalar or a Python number is converted on every call).
"""

from __future__ import annotations

import math
import threading

import numpy as np


def const(value: float, dt: type | np.dtype) -> np.ndarray:
    """``value`` rounded once to ``dt``, as a 0-d array: the cheapest constant to
    hand a ufunc (the same bits as the scalar ``dt(value)``)."""
    return np.array(value, dtype=dt)


class Consts:
    def __init__(self, dt: type[np.floating]) -> None:
        self.dt = dt
        self.is64 = dt is np.float64
        if self.is64:
            self.itype: type[np.signedinteger] = np.int64
            self.log_off, self.log_mid, self.mant_mask, self.bias, self.mbits = (
                0x3FF0000000000000 - 0x3FE6A09E667F3BCD,
                0x3FE6A09E667F3BCD,
                (1 << 52) - 1,
                0x3FF,
                52,
            )
            log_terms, sin_terms = 12, 12
        else:
            self.itype = np.int32
            self.log_off, self.log_mid, self.mant_mask, self.bias, self.mbits = (
                0x3F800000 - 0x3F3504F3,
                0x3F3504F3,
                (1 << 23) - 1,
                0x7F,
                23,
            )
            log_terms, sin_terms = 5, 7
        # ln(m) = 2·atanh(s) = s·(2 + 2s²/3 + 2s⁴/5 + ...), s = (m-1)/(m+1)
        self.log_c = [const(2.0 / (2 * k + 1), dt) for k in range(log_terms)]
        # sin(t) = t·(1 - t²/3! + t⁴/5! - ...)
        self.sin_c = [const((-1) ** k / math.factorial(2 * k + 1), dt) for k in range(sin_terms)]
        self.ln2 = const(math.log(2.0), dt)
        self.half_pi = const(math.pi / 2, dt)
        self.one, self.two, self.minus_two = const(1, dt), const(2, dt), const(-2, dt)
        # the log's integer steps; the exponent's bias comes off with the offset
        self.i_off = const(self.log_off - (self.bias << self.mbits), self.itype)
        self.i_mbits = const(self.mbits, self.itype)
        self.i_mask = const(self.mant_mask, self.itype)
        self.i_mid = const(self.log_mid, self.itype)


F32, F64 = Consts(np.float32), Consts(np.float64)


def consts(dt: np.dtype) -> Consts:
    return F64 if dt == np.float64 else F32


# Scratch.get(residue=...) places buffers modulo this: a multiple of every direct
# I/O alignment writers/direct.py uses (those over it turn direct I/O off). The slack
# before a placed buffer is never touched, so it costs address space, not memory.
PLACE = 1 << 20


class Scratch:
    """Per-thread block buffers, reused for every block (no allocation per block)."""

    def __init__(self) -> None:
        self.bufs: dict[tuple[str, str, str], np.ndarray] = {}
        self.hot: dict[tuple[str, object], np.ndarray] = {}  # (key, dt as given) → buffer: no dtype work

    def get(self, key: str, n: int, dt: type | np.dtype, residue: int | None = None) -> np.ndarray:
        """``n`` values of ``dt``; with ``residue``, placed so that the address of the
        first one ≡ ``residue`` modulo :data:`PLACE` (a multiple of the itemsize), as
        direct I/O at a file offset with that residue needs."""
        if residue is not None:
            return self._placed(key, n, np.dtype(dt), residue)
        buf = self.hot.get((key, dt))  # called thousands of times a second: skip np.dtype()
        if buf is not None and buf.size >= n:
            return buf[:n]
        d = np.dtype(dt)
        k = (key, d.str, d.name)  # a str alone may not tell ml_dtypes' void-backed types apart
        buf = self.bufs.get(k)
        if buf is None or buf.size < n:
            buf = self.bufs[k] = np.empty(max(n, 1 << 16), dtype=d)  # at least a block: few regrowths
            self.hot.clear()  # no other spelling of the dtype keeps the old buffer
        self.hot[(key, dt)] = buf
        return buf[:n]

    def _placed(self, key: str, n: int, dt: np.dtype, residue: int) -> np.ndarray:
        if residue % dt.itemsize:
            raise ValueError(f"residue {residue} is not a multiple of the itemsize {dt.itemsize}")
        size = n * dt.itemsize
        k = (key, "placed", "")
        raw = self.bufs.get(k)
        if raw is None or raw.size < size + PLACE:
            raw = self.bufs[k] = np.empty(max(size, 1 << 18) + PLACE, dtype=np.uint8)
        shift = (
            residue - raw.ctypes.data
        ) % PLACE  # NumPy aligns raw to ≥ 16 bytes: a multiple of the itemsize
        return raw[shift : shift + size].view(dt)


_local = threading.local()


def scratch() -> Scratch:
    s = getattr(_local, "scratch", None)
    if s is None:
        s = _local.scratch = Scratch()
    return s


def horner(x: np.ndarray, coeffs: list[np.ndarray], p: np.ndarray) -> np.ndarray:
    """Σ coeffs[k]·x^k into ``p`` by Horner's rule (first step c[-1]·x + c[-2])."""
    np.multiply(x, coeffs[-1], p)
    np.add(p, coeffs[-2], p)
    for c in reversed(coeffs[:-2]):
        np.multiply(p, x, p)
        np.add(p, c, p)
    return p


def log_into(u: np.ndarray, c: Consts, S: Scratch) -> np.ndarray:
    """ln(u) for positive normal ``u`` from exact operations; ``u`` is overwritten.

    m·2^e with m in [√½, √2): ln u = e·ln2 + 2·atanh(s), s = (m−1)/(m+1).
    """
    n = u.size
    ix = u.view(c.itype)
    np.add(ix, c.i_off, ix)  # the offset, less the exponent's bias:
    e = S.get("log_e", n, c.itype)
    np.right_shift(ix, c.i_mbits, e)  # an arithmetic shift floors, so e comes out unbiased
    np.bitwise_and(ix, c.i_mask, ix)
    np.add(ix, c.i_mid, ix)
    f = ix.view(c.dt)
    np.subtract(f, c.one, f)  # m − 1
    s2 = S.get("log_s2", n, c.dt)
    np.add(f, c.two, s2)
    np.divide(f, s2, f)  # s
    np.multiply(f, f, s2)
    p = horner(s2, c.log_c, S.get("log_p", n, c.dt))
    np.multiply(p, f, p)
    np.copyto(s2, e, casting="unsafe")  # e exact in dt; a plain cast, then × ln2, is faster
    np.multiply(s2, c.ln2, s2)  # than one mixed-type multiplication, and rounds the same product once
    np.add(p, s2, p)
    return p


def sin_quarter_into(t: np.ndarray, c: Consts, S: Scratch) -> np.ndarray:
    """sin(π/2 · x) for x in [0, 1] given in ``t`` (overwritten)."""
    np.multiply(t, c.half_pi, t)
    t2 = S.get("sin_t2", t.size, c.dt)
    np.multiply(t, t, t2)
    p = horner(t2, c.sin_c, S.get("sin_p", t.size, c.dt))
    np.multiply(p, t, p)
    return p
