"""Value counts → statistics: how ``initgen stats`` turns counted codes into numbers.

A tensor of 16 bits or fewer per value has at most 65,536 distinct values, so the
count of each bit pattern (a *code*) describes it completely: count, mean, std,
min, max, zeros, NaN/Inf, the histogram and every quantile follow exactly from the
:func:`exact_table` of its dtype (each code's value) and the counts.

float32 and wider are counted by *bucket*: the top 16 bits of the value as float32
(sign, exponent and 7 mantissa bits), :func:`coarse_table`. A bucket spans values
that agree to 8 significant bits, so a quantile read from bucket counts (the
bucket's midpoint, kept inside [min, max]) is within 2⁻⁸·|q| of the exact one (and
within 2⁻¹³⁴ for |q| < 2⁻¹²⁶); min, max, mean and std of those types come from the
values themselves (:mod:`.reduce`), not from buckets.

Quantiles are the inverted CDF (NumPy's ``method="inverted_cdf"``): the k-th
smallest finite value, k = max(1, ⌈n·p⌉), with n·p computed exactly from p as a
fraction.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .moments import HIST_BINS

# (JSON key, p as numerator/denominator): exact fractions, so ⌈n·p⌉ has no rounding
QUANTILES: tuple[tuple[str, int, int], ...] = (
    ("p0.1", 1, 1000),
    ("p1", 1, 100),
    ("p50", 1, 2),
    ("p99", 99, 100),
    ("p99.9", 999, 1000),
)
F32_MAX = float(np.finfo(np.float32).max)
TABLE_DTYPES = (
    "float16",
    "bfloat16",
    "float8_e4m3fn",
    "float8_e5m2",
    "int16",
    "uint16",
    "int8",
    "uint8",
    "bool",
)


@dataclass(frozen=True)
class Table:
    values: np.ndarray  # float64 value of each code (NaN for NaN codes and non-finite buckets)
    order: np.ndarray  # the codes of finite values, by increasing value
    exact: bool  # values are the codes' own values (else bucket midpoints)


def _table(values: np.ndarray, exact: bool) -> Table:
    fin = np.flatnonzero(np.isfinite(values))
    order = fin[np.argsort(values[fin], kind="stable")]
    values.flags.writeable = False
    return Table(values, order, exact)


@functools.cache
def exact_table(dtype: str) -> Table:
    """Each code's value for a dtype of 16 bits or fewer (bool as its byte), decoded
    from the bits (tests check them against ml_dtypes, which is slow to import)."""
    return _table(decode(dtype, np.arange(1 << 16 if dtype in WIDTH16 else 1 << 8)), True)


WIDTH16 = ("float16", "bfloat16", "int16", "uint16")


def decode(dtype: str, codes: np.ndarray) -> np.ndarray:
    """The float64 values of bit patterns ``codes`` of a dtype of 16 bits or fewer."""
    c = codes.astype(np.uint32)
    with np.errstate(invalid="ignore"):  # the NaN codes
        if dtype == "bfloat16":  # the top half of a float32
            return (c << 16).view(np.float32).astype(np.float64)
        if dtype == "float8_e5m2":  # the top half of a float16
            return (c << 8).astype(np.uint16).view(np.float16).astype(np.float64)
        if dtype == "float8_e4m3fn":  # 1 sign, 4 exponent (bias 7), 3 mantissa bits; no Inf
            e, m = (c >> 3) & 15, (c & 7).astype(np.float64)
            mag = np.where(e == 0, m * 2.0**-9, (8 + m) * np.exp2(e.astype(np.float64) - 10))
            mag[(c & 0x7F) == 0x7F] = np.nan
            return np.where(c & 0x80, -mag, mag)
    if dtype == "bool":
        return c.astype(np.float64)
    return codes.astype(np.uint16 if dtype in WIDTH16 else np.uint8).view(dtype).astype(np.float64)


@functools.cache
def coarse_table() -> Table:
    """Each float32 bucket's midpoint: the mean of its least and greatest value."""
    first = np.arange(1 << 16, dtype=np.uint32) << 16
    with np.errstate(invalid="ignore"):  # the NaN buckets
        lo = first.view(np.float32).astype(np.float64)
        hi = (first | 0xFFFF).view(np.float32).astype(np.float64)
        return _table(lo / 2 + hi / 2, False)


@dataclass
class Summary:
    """What counts tell: everything for exact tables; the value-independent parts
    (histogram, quantiles) for buckets."""

    n: int  # finite values
    nan: int
    inf: int
    zeros: int
    lo: float
    hi: float
    mean: float
    m2: float
    hist: list[int]
    quantiles: dict[str, float]


def summarize(table: Table, counts: np.ndarray, lo: float | None = None, hi: float | None = None) -> Summary:
    """Statistics from dense ``counts`` (one per code of ``table``). For buckets,
    ``lo`` and ``hi`` are the exact finite min and max (found from the values)."""
    v = table.values
    finite_counts = counts[table.order]
    n = int(finite_counts.sum())
    nonfinite = np.flatnonzero(~np.isfinite(v) & (counts > 0))
    nan = int(counts[nonfinite[np.isnan(v[nonfinite])]].sum())
    inf = int(counts[nonfinite].sum()) - nan
    if n == 0:
        return Summary(0, nan, inf, 0, math.inf, -math.inf, 0.0, 0.0, [], {})
    present = table.order[finite_counts > 0]  # codes that occur, by value
    if table.exact:
        lo, hi = float(v[present[0]]), float(v[present[-1]])
    assert lo is not None and hi is not None
    vals, c = np.clip(v[present], lo, hi), counts[present]
    if not table.exact:  # float64 beyond float32's range was counted in its extreme buckets
        vals[(present == 0x7F7F) & (hi > F32_MAX)] = hi
        vals[(present == 0xFF7F) & (lo < -F32_MAX)] = lo
    mean = m2 = 0.0
    zeros = 0
    if table.exact:
        mean = math.fsum((c * vals).tolist()) / n  # each product exact: ≤ 11-bit values
        with np.errstate(over="ignore"):
            d = vals - mean
            m2 = float(np.add.reduce(c * d * d))  # positive terms, summed pairwise
        zeros = int(c[vals == 0].sum())
    return Summary(
        n, nan, inf, zeros, lo, hi, mean, m2, _hist(vals, c, lo, hi, n), _quantiles(table, counts, n, lo, hi)
    )


def _hist(vals: np.ndarray, c: np.ndarray, lo: float, hi: float, n: int) -> list[int]:
    """``HIST_BINS`` equal bins over [lo, hi], by np.histogram's index formula. Near
    ±1.8e308 both differences are halved (exact: a power of two) so that they stay
    finite; elsewhere not, since halving a subnormal range would round it to 0."""
    if hi <= lo:  # a single value: the middle bin, so it draws as one centred bar
        out = [0] * HIST_BINS
        out[HIST_BINS // 2] = n
        return out
    half = 0.5 if max(abs(lo), abs(hi)) > 1e307 else 1.0
    q = vals * half
    q -= lo * half
    q /= hi * half - lo * half
    q *= HIST_BINS
    ix = np.minimum(q.astype(np.intp), HIST_BINS - 1)  # truncation = floor: q ≥ 0; max: last bin
    return [int(k) for k in np.bincount(ix, weights=c, minlength=HIST_BINS)]


def _quantiles(table: Table, counts: np.ndarray, n: int, lo: float, hi: float) -> dict[str, float]:
    cum = np.cumsum(counts[table.order])
    out = {}
    for key, num, den in QUANTILES:
        k = max(1, -(-n * num // den))  # ⌈n·p⌉ in integers
        if not table.exact and k in (1, n):
            out[key] = lo if k == 1 else hi  # the extremes are known exactly
            continue
        code = int(table.order[int(np.searchsorted(cum, k))])
        v = float(table.values[code])
        if code in (0x7F7F, 0xFF7F) and not table.exact and max(-lo, hi) > F32_MAX:
            v = hi if code == 0x7F7F else lo  # float64 beyond float32's range
        out[key] = min(max(v, lo), hi)
    return out
