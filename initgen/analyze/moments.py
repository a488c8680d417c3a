"""Statistics of one chunk of values: the reductions behind ``initgen stats``.

A chunk is reduced in cache-sized blocks of ``BLOCK`` values converted to float64:
first its finite min and max (:func:`finite_range`, in the file's own dtype, cheap),
then — given the tensor's [min, max] — count, mean and M2 (sums about a shift inside
[min, max], so no cancellation), the zeros, NaN and ±Inf counts and a histogram of
``HIST_BINS`` equal bins (:func:`moments`). :class:`Partial` results merge with Chan
et al.'s update, in any grouping, to the statistics of a whole tensor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

BLOCK = 1 << 15  # values per float64 block: 256 KB, stays in cache between the reductions
HIST_BINS = 32
NARROW = ("bfloat16", "float8_e4m3fn", "float8_e5m2")  # ml_dtypes: widen to float32 first


@dataclass
class Partial:
    """Accumulated statistics of part of a tensor (one chunk, or a merge of chunks)."""

    n: int = 0  # finite values
    mean: float = 0.0
    m2: float = 0.0
    zeros: int = 0
    nan: int = 0
    posinf: int = 0
    neginf: int = 0
    hist: np.ndarray = field(default_factory=lambda: np.zeros(HIST_BINS, dtype=np.int64))

    def merge(self, o: Partial) -> Partial:
        """Chan et al.'s update: combine (n, mean, M2) of two disjoint parts."""
        n = self.n + o.n
        if n:
            d = o.mean - self.mean
            self.mean += d * o.n / n
            self.m2 += o.m2 + d * d * self.n * o.n / n
        self.n = n
        self.zeros += o.zeros
        self.nan += o.nan
        self.posinf += o.posinf
        self.neginf += o.neginf
        self.hist += o.hist
        return self


def _work(x: np.ndarray) -> np.ndarray:
    """A block as a dtype NumPy reduces fast (ml_dtypes' own loops are slow)."""
    if x.dtype.name in NARROW:
        return x.astype(np.float32)
    if x.dtype.kind == "b":
        return x.view(np.uint8)
    return x


def finite_range(x: np.ndarray) -> tuple[float, float]:
    """(min, max) of the finite values of a chunk; (inf, -inf) if there are none."""
    lo, hi = math.inf, -math.inf
    for s in range(0, x.size, 8 * BLOCK):
        b = _work(x[s : s + 8 * BLOCK])
        blo, bhi = float(np.fmin.reduce(b)), float(np.fmax.reduce(b))  # fmin/fmax skip NaN
        if not (math.isfinite(blo) and math.isfinite(bhi)):
            f = b[np.isfinite(b)]
            if not f.size:
                continue
            blo, bhi = float(f.min()), float(f.max())
        lo, hi = min(lo, blo), max(hi, bhi)
    return lo, hi


def moments(x: np.ndarray, lo: float, hi: float) -> Partial:
    """One chunk's Partial, given the tensor's finite [lo, hi]."""
    out = Partial()
    if hi < lo:  # no finite value at all
        fx = _work(x)
        out.nan = int(np.count_nonzero(np.isnan(fx))) if fx.dtype.kind == "f" else 0
        out.posinf = int(np.count_nonzero(fx == np.inf)) if fx.dtype.kind == "f" else 0
        out.neginf = int(np.count_nonzero(fx == -np.inf)) if fx.dtype.kind == "f" else 0
        return out
    # Halves, so that neither overflows even when hi - lo would (values near ±1.8e308).
    shift = lo / 2 + hi / 2  # sums about a point inside [lo, hi]: no catastrophic cancellation
    half_width = hi / 2 - lo / 2
    with np.errstate(over="ignore", invalid="ignore"):  # huge values: an inf std, not a warning
        _accumulate(x, lo, shift, half_width, out)
    return out


def _accumulate(x: np.ndarray, lo: float, shift: float, half_width: float, out: Partial) -> None:
    m = min(BLOCK, x.size)  # small tensors: small buffers (many tensors are biases)
    buf, sq = np.empty(m), np.empty(m)
    idx = np.empty(m, dtype=np.intp)
    for s in range(0, x.size, BLOCK):
        b = _work(x[s : s + BLOCK])
        k = b.size
        d, q, ix = buf[:k], sq[:k], idx[:k]
        np.subtract(b, shift, out=d, dtype=np.float64)
        s1 = float(np.add.reduce(d))
        if not math.isfinite(s1):  # rare: NaN/Inf in this block (or an overflowing sum)
            fin = np.isfinite(b)
            out.nan += int(np.count_nonzero(np.isnan(b)))
            out.posinf += int(np.count_nonzero(b == np.inf))
            out.neginf += int(np.count_nonzero(b == -np.inf))
            b = b[fin]
            k = b.size
            if not k:
                continue
            d, q, ix = buf[:k], sq[:k], idx[:k]
            np.subtract(b, shift, out=d, dtype=np.float64)
            s1 = float(np.add.reduce(d))
        np.multiply(d, d, out=q)
        s2 = float(np.add.reduce(q))
        bmean = s1 / k
        part = Partial(k, shift + bmean, max(s2 - s1 * bmean, 0.0))
        part.zeros = int(np.count_nonzero(b == 0))
        # np.histogram's index formula: ((v - first_edge) / (last - first)) * bins, with
        # both differences halved (exact: a power of two) so that they stay finite
        if half_width > 0:
            np.multiply(b, 0.5, out=q, dtype=np.float64)
            np.subtract(q, lo / 2, out=q)
            np.divide(q, half_width, out=q)
            np.multiply(q, HIST_BINS, out=q)
            np.copyto(ix, q, casting="unsafe")  # truncation = floor: q ≥ 0
            h = np.bincount(ix, minlength=HIST_BINS + 1)
            h[HIST_BINS - 1] += h[HIST_BINS]  # v = max lands on index HIST_BINS: last bin
            part.hist = h[:HIST_BINS]
        else:  # a single value: the middle bin, so it draws as one centred bar
            part.hist[HIST_BINS // 2] = k
        out.merge(part)
