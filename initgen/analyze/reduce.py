"""One chunk of values → a :class:`Part`: the reduction ``initgen stats`` runs per chunk,
chosen by the width of the dtype.

* 16 bits or fewer (float16, bfloat16, float8, int8/16, uint8/16, bool): one
  ``np.bincount`` over the raw bits, the count of every code; nothing else is
  needed (:mod:`.tables` turns counts into exact statistics). 8-bit values are
  counted in pairs — a 65,536-bin count of each 16-bit pair, folded into its two
  bytes — which halves the calls per value.
* float32, float64 and the wide integers: per cache-sized block, min and max, and
  in float64 the sum and sum of squares about a shift (the tensor's first value, so
  near the mean; a block whose mean turns out far from it, relative to its spread,
  is summed again about its own mean), so there is no cancellation however far the
  values are from zero; blocks merge with Chan's update, their means kept relative
  to the shift (so merging loses nothing to the size of the mean). Per ``SUB`` values, one
  ``np.bincount`` of the float32 top-16-bit buckets (for float32 the high half of
  each value, read in place), for quantiles and the histogram; the bucket of ±0
  tells whether zeros need counting at all. NaN and ±Inf are counted apart and
  left out of everything else.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np

from .moments import Partial
from .tables import TABLE_DTYPES

BLOCK = 1 << 16  # values per float64 block: stays in cache between its reductions
SUB = 1 << 18  # values per np.bincount call (its output and temporaries stay small)
F32_MAX = float(np.finfo(np.float32).max)


@dataclass
class Part:
    """The reduction of one chunk: which codes (buckets) occur and how often, and for
    float32 and wider the moments of the values."""

    codes: np.ndarray
    counts: np.ndarray
    moments: Partial | None = None

    def add_to(self, dense: np.ndarray) -> None:
        dense[self.codes] += self.counts  # codes are distinct: a plain fancy add is exact


def reduce_chunk(x: np.ndarray, dtype: str, shift: float = 0.0) -> Part:
    """The :class:`Part` of ``x``, values of a tensor of dtype ``dtype``; for float32
    and wider its moments are about ``shift`` (their ``mean`` is the mean − shift)."""
    if not x.dtype.isnative:  # HDF5 may store big-endian: codes are of native values
        x = x.astype(x.dtype.newbyteorder("="))
    if dtype in TABLE_DTYPES:
        return Part(*_sparse(count_codes(x)))
    return _wide(x, shift)


def _sparse(dense: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    codes = np.flatnonzero(dense)
    return codes.astype(np.uint16), dense[codes]


def count_codes(x: np.ndarray) -> np.ndarray:
    """How often each bit pattern occurs in ``x`` (1 or 2 bytes per value)."""
    if x.dtype.itemsize == 2:
        return _bincount(x.view(np.uint16), 1 << 16)
    raw = x.view(np.uint8)
    even = raw.size - raw.size % 2
    pairs = _bincount(raw[:even].view(np.uint16), 1 << 16).reshape(256, 256)
    out = pairs.sum(axis=0) + pairs.sum(axis=1)  # low byte + high byte of each pair
    if even < raw.size:
        out[raw[-1]] += 1
    return out


def _bincount(raw: np.ndarray, size: int) -> np.ndarray:
    acc = np.zeros(size, dtype=np.int64)
    for s in range(0, raw.size, SUB):
        c = np.bincount(raw[s : s + SUB])  # no minlength: sized to the largest code present
        acc[: c.size] += c
    return acc


NONFINITE = np.r_[0x7F80:0x8000, 0xFF80:0x10000]  # float32 buckets holding only NaN and ±Inf
FAR = 1e3  # a block's sums about a shift this many variances from its mean are redone


def _wide(x: np.ndarray, shift: float) -> Part:
    out = Partial()
    acc = np.zeros(1 << 16, dtype=np.int64)
    d = np.empty(min(BLOCK, x.size))
    with np.errstate(over="ignore", invalid="ignore"):  # huge values: an inf std, not a warning
        for s in range(0, x.size, SUB):
            sup = x[s : s + SUB]
            if sup.dtype.kind != "f":
                sup = sup.astype(np.float64)
            c = _count_buckets(sup, acc)
            for t in range(0, sup.size, BLOCK):
                out.merge(_block(sup[t : t + BLOCK], d, shift))
            if c[0] or (c.size > 0x8000 and c[0x8000]):  # ±0 or tiny values: count the zeros
                out.zeros += int(np.count_nonzero(sup == 0))
    acc[NONFINITE] = 0  # NaN and ±Inf are counted apart
    return Part(*_sparse(acc), out)


def _count_buckets(sup: np.ndarray, acc: np.ndarray) -> np.ndarray:
    """Add the count of each float32 top-16-bit bucket of ``sup`` to ``acc``."""
    if sup.dtype == np.float32:  # the high half of each value, read in place
        top = sup.view(np.uint16)[1::2] if sys.byteorder == "little" else sup.view(np.uint16)[::2]
    else:  # float64 (and wider): rounded to float32, beyond its range in the extreme buckets
        f32 = np.clip(sup, -F32_MAX, F32_MAX).astype(np.float32)
        f32[np.isinf(sup)] = np.inf
        top = (f32.view(np.uint32) >> 16).astype(np.uint16)
    c = np.bincount(top)  # no minlength: sized to the largest bucket present
    acc[: c.size] += c
    return c


def _block(b: np.ndarray, d: np.ndarray, shift: float) -> Partial:
    """The Partial of one block, its mean taken about ``shift``."""
    p = Partial()
    lo, hi = float(np.minimum.reduce(b)), float(np.maximum.reduce(b))  # NaN or ±Inf shows here
    if not (math.isfinite(lo) and math.isfinite(hi)):  # rare: set non-finite values aside
        fin = np.isfinite(b)
        p.nan = int(np.count_nonzero(np.isnan(b)))
        p.inf = b.size - p.nan - int(np.count_nonzero(fin))
        b = b[fin]
        if not b.size:
            return p
        lo, hi = float(np.min(b)), float(np.max(b))
    k = b.size
    w = d[:k]
    base = shift  # sums about the tensor's first value: near the mean, so one pass suffices
    np.copyto(w, b)  # to float64, then in place: faster than a casting subtract
    w -= base
    s1 = float(np.add.reduce(w))  # pairwise
    if not math.isfinite(s1):  # differences beyond float64 (values near ±1.8e308): about the middle
        base = lo / 2 + hi / 2
        np.subtract(b, base, out=w, dtype=np.float64)
        s1 = float(np.add.reduce(w))
    s2 = float(np.einsum("i,i->", w, w))
    dm = s1 / k
    m2 = s2 - s1 * dm
    if dm * dm * k > FAR * m2:  # the shift was far from this block's mean: again about the mean
        np.subtract(w, dm, out=w)
        c = float(np.add.reduce(w))
        m2 = float(np.einsum("i,i->", w, w)) - c * c / k
        dm += c / k
    p.n, p.mean, p.m2 = k, (base - shift) + dm, max(m2, 0.0)
    p.lo, p.hi = lo, hi
    return p
