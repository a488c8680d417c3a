"""One chunk of values → a :class:`Part`: the reduction ``initgen stats`` runs per chunk,
chosen by the width of the dtype.

* 16 bits or fewer (float16, bfloat16, float8, int8/16, uint8/16, bool): one
  ``np.bincount`` over the raw bits, the count of every code; nothing else is
  needed (:mod:`.tables` turns counts into exact statistics). 8-bit values are
  counted in pairs — a 65,536-bin count of each 16-bit pair, folded into its two
  bytes — which halves the calls per value.
* float32, float64 and the wide integers: per cache-sized block, min and max, the
  count of zeros, the sum (float64) and the sum of squares about the block's own
  mean (a corrected two-pass sum: no cancellation however far the values are from
  zero), merged with Chan's update; and the count of each float32 top-16-bit bucket,
  for quantiles and the histogram. NaN and ±Inf are counted apart and left out of
  everything else.
"""

from __future__ import annotations

import math
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


def reduce_chunk(x: np.ndarray, dtype: str) -> Part:
    """The :class:`Part` of ``x``, values of a tensor of dtype ``dtype``."""
    if not x.dtype.isnative:  # HDF5 may store big-endian: codes are of native values
        x = x.astype(x.dtype.newbyteorder("="))
    if dtype in TABLE_DTYPES:
        return Part(*_sparse(count_codes(x)))
    return _wide(x)


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


def _wide(x: np.ndarray) -> Part:
    out = Partial()
    acc = np.zeros(1 << 16, dtype=np.int64)
    m = min(SUB, x.size)
    d = np.empty(min(BLOCK, m))
    top = np.empty(m, dtype=np.uint16)
    with np.errstate(over="ignore", invalid="ignore"):  # huge values: an inf std, not a warning
        for s in range(0, x.size, SUB):
            sup = x[s : s + SUB]
            if sup.dtype.kind != "f":
                sup = sup.astype(np.float64)
            fill = 0
            for t in range(0, sup.size, BLOCK):
                part, fin = _block(sup[t : t + BLOCK], d)
                out.merge(part)
                k = fin.size
                if k:
                    f32 = fin if fin.dtype == np.float32 else np.clip(fin, -F32_MAX, F32_MAX).astype(np.float32)
                    np.right_shift(f32.view(np.uint32), 16, out=top[fill : fill + k], casting="unsafe")
                    fill += k
            c = np.bincount(top[:fill])
            acc[: c.size] += c
    return Part(*_sparse(acc), out)


def _block(b: np.ndarray, d: np.ndarray) -> tuple[Partial, np.ndarray]:
    """The Partial of one block, and its finite values."""
    p = Partial()
    lo, hi = float(np.min(b)), float(np.max(b))  # NaN or ±Inf shows here
    if not (math.isfinite(lo) and math.isfinite(hi)):  # rare: set non-finite values aside
        fin = np.isfinite(b)
        p.nan = int(np.count_nonzero(np.isnan(b)))
        p.inf = b.size - p.nan - int(np.count_nonzero(fin))
        b = b[fin]
        if not b.size:
            return p, b
        lo, hi = float(np.min(b)), float(np.max(b))
    k = b.size
    w = d[:k]
    np.copyto(w, b)
    p.n, p.mean = k, float(np.add.reduce(w)) / k  # pairwise sum
    np.subtract(w, p.mean, out=w)
    c = float(np.add.reduce(w))  # Σ(x − mean): 0 but for rounding; corrects M2 for it
    p.m2 = max(float(np.einsum("i,i->", w, w)) - c * c / k, 0.0)
    p.zeros = int(np.count_nonzero(b == 0))
    p.lo, p.hi = lo, hi
    return p, b
