"""float32 → bfloat16 or float16, rounded to nearest even, by integer operations on
the bits: the same bits as ml_dtypes' and NumPy's conversions, several times faster.

Both work in cache-sized blocks on the float32 working buffer (which they
overwrite) and write 16-bit codes straight into the output:

* bfloat16 is the top half of a float32: add 0x7FFF plus the lowest kept bit and
  keep the top 16 bits (carries round up into the exponent: overflow gives ±Inf,
  as it should; subnormals round the same way). A block holding a NaN (its maximum
  is NaN) is converted by ml_dtypes instead (its quiet-NaN bits are its own).
* float16: for |x| ≥ 2⁻¹⁴ rebias the exponent, add 0xFFF plus the lowest kept bit
  and shift by 13; below, add 0.5 in float32 (rounding to nearest even, by the FPU,
  at float16's subnormal step 2⁻²⁴) and subtract its bits, for those values only;
  then the sign. A block holding NaN, ±Inf or a value beyond float16's range (the
  largest |x| as bits, one integer maximum) is converted by NumPy.

``tests/test_narrow.py`` checks every result against ml_dtypes and NumPy, including
ties, subnormals, ±0, overflow, Inf and NaN.
"""

from __future__ import annotations

import math

import numpy as np

from ..dtypes import np_dtype
from .exactmath import scratch

BLOCK = 1 << 17  # values per block: one piece of the samplers (sampling.WORK_BLOCK), fewer calls
F16_MAX_BITS = 0x477FE000  # 65504, float16's largest finite value, as float32 bits
F16_REBIAS = np.uint32((((15 - 127) << 23) + 0xFFF) % (1 << 32))  # exponent 127 → 15, rounding bias
F16_NORMAL = 113 << 23  # 2⁻¹⁴ as float32 bits: float16's smallest normal
HALF_BITS = np.uint32(0x3F000000)  # the bits of 0.5


NARROW = ("bfloat16", "float16")


def to_narrow(work: np.ndarray, codes: np.ndarray, dtype: str) -> None:
    """``codes[:]`` = the bits of ``work`` rounded to ``dtype`` ("bfloat16" or
    "float16"); ``work`` (float32) is overwritten, ``codes`` is uint16."""
    convert = _bfloat16 if dtype == "bfloat16" else _float16
    for s in range(0, work.size, BLOCK):
        x, o = work[s : s + BLOCK], codes[s : s + BLOCK]
        if not convert(x, o):  # NaN (or for float16 Inf or overflow): the library's own bits, silently
            with np.errstate(over="ignore", invalid="ignore"):
                np.copyto(o.view(np_dtype(dtype)), x, casting="unsafe")


def _bfloat16(x: np.ndarray, o: np.ndarray) -> bool:
    """Round ``x`` into ``o``; False (``x`` untouched) where ``x`` holds a NaN."""
    if math.isnan(float(np.max(x))):  # NaN propagates through the maximum
        return False
    u = x.view(np.uint32)
    t = scratch().get("narrow_t", u.size, np.uint32)
    np.right_shift(u, 16, out=t)
    t &= 1  # the lowest bit kept: ties go to even
    u += t
    u += 0x7FFF
    np.right_shift(u, 16, out=o, casting="unsafe")
    return True


def _float16(x: np.ndarray, o: np.ndarray) -> bool:
    """Round ``x`` into ``o``; False (``x`` untouched) where some |x| > 65504 or is NaN."""
    S = scratch()
    u = x.view(np.uint32)
    t = S.get("narrow_t", u.size, np.uint32)
    sign = S.get("narrow_sign", u.size, np.uint32)
    np.right_shift(u, 16, out=sign)
    sign &= 0x8000
    u &= 0x7FFFFFFF  # |x|
    if int(np.max(u)) > F16_MAX_BITS:  # NaN's bits are above Inf's, above 65504's
        sign <<= 16
        u |= sign  # x as it was
        return False
    np.right_shift(u, 13, out=t)
    t &= 1  # the lowest bit kept: ties go to even
    t += u
    t += F16_REBIAS  # wraps modulo 2³² for the small values, which are replaced below
    t >>= 13
    small = S.get("narrow_small", u.size, np.bool_)
    np.less(u, F16_NORMAL, out=small)
    idx = np.flatnonzero(small)
    if idx.size:
        f = u[idx].view(np.float32) + np.float32(0.5)  # the FPU rounds at 2⁻²⁴
        t[idx] = f.view(np.uint32) - HALF_BITS
    t |= sign
    np.copyto(o, t, casting="unsafe")
    return True
