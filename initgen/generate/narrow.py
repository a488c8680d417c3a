"""float32 → bfloat16 or float16, rounded to nearest even by integer operations on
the bits and exactly rounded float32 operations: the same bits as ml_dtypes' and
NumPy's conversions, several times faster.

Both work in cache-sized blocks on the float32 working buffer (which they
overwrite) and write 16-bit codes straight into the output:

* bfloat16 is the top half of a float32: add 0x7FFF plus the lowest kept bit and
  keep the top 16 bits (carries round up into the exponent: overflow gives ±Inf,
  as it should; subnormals round the same way). A block holding a NaN (its maximum
  is NaN) is converted by ml_dtypes instead (its quiet-NaN bits are its own).
* float16: |x| is rounded on float16's grid by float32 operations (Veltkamp's
  split with a floor, :func:`_float16_split`: subnormals included, none apart),
  scaled by 2⁻¹¹², which makes its bits the code shifted by 13 (by normal
  arithmetic where the thread flushes subnormal results); then the sign. A
  block holding NaN, ±Inf or a value beyond float16's range (the largest |x| as
  bits, one integer maximum) is converted by NumPy.

Normal values come as Box-Muller pairs (``boxmuller.normal_pairs``): :func:`pack_pairs`
rounds both rows and writes each pair as one 32-bit word of two codes, so the
interleaving costs nothing (with mean +0, as magnitudes and sign bits:
:func:`signs_apart`; bfloat16 magnitudes are rounded by Veltkamp's split, three
float32 operations, float16's by the floored split). It skips the NaN and range
checks, so it is only for values :func:`in_range` vouches for.

``tests/test_narrow.py`` checks every result against ml_dtypes and NumPy, including
ties, subnormals, ±0, overflow, Inf and NaN.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ..dtypes import np_dtype
from .boxmuller import spare
from .exactmath import const, scratch

BLOCK = 1 << 17  # values per block: one piece of the samplers (sampling.WORK_BLOCK), fewer calls
F16_MAX_BITS = 0x477FE000  # 65504, float16's largest finite value, as float32 bits


NARROW = ("bfloat16", "float16")
# the smallest nonzero |z| of the normal sampler is r(u1 = 1 − 2⁻²³)·sin(π/2·2⁻²⁴)
# ≈ 4.6e-11 (r = 0 gives z = ±0): with std ≥ 1e-27 every nonzero |z|·std is a normal
# float32 (≥ 2⁻¹²⁶); with std ≤ 1e32, |z|·std·(2¹⁶ + 1) stays finite.
NORMAL_FLOOR = 4e-11
SPLIT_STD = (1e-27, 1e32)
# |z| of the normal sampler: r ≤ 5.8871 (u1 ≥ 2⁻²⁵) and the sine polynomial ≤ 1 + 2⁻²³
# (every one of the 2²⁴ values of each checked), so |z| < 5.89.
NORMAL_REACH = 6.0
LIMIT = {"float16": 60000.0, "bfloat16": 1e38}  # well inside 65504 / float32's 3.4e38
# the pack's constants, as 0-d arrays (cheaper to pass than scalars: see exactmath)
SIGN, HIGH = const(0x80000000, np.uint32), const(0xFFFF0000, np.uint32)
_1, _3, _13, _16 = (const(v, np.uint32) for v in (1, 3, 13, 16))
_BF16_BIAS = const(0x7FFF, np.uint32)
_SIGN_SPREAD, _SIGN_BITS = const(0x40008000, np.uint32), const(0x80008000, np.uint32)
_SPLIT16, _SPLIT13 = const(2**16 + 1, np.float32), const(2**13 + 1, np.float32)
_F16_SCALE = const(2.0**-112, np.float32)  # float16's exponent bias 15, float32's 127
_F16_NORMAL, _2P24 = const(2.0**-14, np.float32), const(2.0**24, np.float32)


def in_range(kind: str, params: Mapping[str, float], dtype: str) -> bool:
    """Whether every value of ``kind`` with ``params`` is finite and within
    ``dtype``'s range — never NaN, ±Inf or an overflow: then no block needs the
    libraries (nor their NaN bits)."""
    if not all(math.isfinite(v) for v in params.values()):
        return False
    if kind in ("normal", "truncated_normal"):
        reach = abs(params["mean"]) + NORMAL_REACH * abs(params["std"])
        if kind == "truncated_normal":
            reach = min(reach, max(abs(params["a"]), abs(params["b"])))
    elif kind == "uniform":
        reach = max(abs(params["low"]), abs(params["high"]))
    else:
        reach = abs(params.get("value", math.inf))  # constant; any other kind: unvouched
    return reach <= LIMIT[dtype]


def to_narrow(work: np.ndarray, codes: np.ndarray, dtype: str, checked: bool = False) -> None:
    """``codes[:]`` = the bits of ``work`` rounded to ``dtype`` ("bfloat16" or
    "float16"); ``work`` (float32) is overwritten, ``codes`` is uint16. ``checked``:
    :func:`in_range` vouches for the values, so no block looks for NaN or overflow."""
    convert = _bfloat16 if dtype == "bfloat16" else _float16
    for s in range(0, work.size, BLOCK):
        x, o = work[s : s + BLOCK], codes[s : s + BLOCK]
        # NaN (or for float16 Inf or overflow): the library's own bits, silently
        if not convert(x, o, checked):
            with np.errstate(over="ignore", invalid="ignore"):
                np.copyto(o.view(np_dtype(dtype)), x, casting="unsafe")


def _bfloat16(x: np.ndarray, o: np.ndarray, checked: bool) -> bool:
    """Round ``x`` into ``o``; False (``x`` untouched) where ``x`` holds a NaN."""
    if not checked and math.isnan(float(np.max(x))):  # NaN propagates through the maximum
        return False
    u = x.view(np.uint32)
    t = scratch().get("narrow_t", u.size, np.uint32)
    np.right_shift(u, 16, out=t)
    t &= 1  # the lowest bit kept: ties go to even
    u += t
    u += 0x7FFF
    np.right_shift(u, 16, out=o, casting="unsafe")
    return True


def _float16(x: np.ndarray, o: np.ndarray, checked: bool) -> bool:
    """Round ``x`` into ``o``; False (``x`` untouched) where some |x| > 65504 or is NaN."""
    S = scratch()
    u = x.view(np.uint32)
    t = S.get("narrow_t", u.size, np.uint32)
    sign = S.get("narrow_sign", u.size, np.uint32)
    np.right_shift(u, 16, out=sign)
    sign &= 0x8000
    u &= 0x7FFFFFFF  # |x|
    if not checked and int(np.max(u)) > F16_MAX_BITS:  # NaN's bits are above Inf's, above 65504's
        sign <<= 16
        u |= sign  # x as it was
        return False
    _float16_split(u, t)
    np.right_shift(t, _13, t)
    t |= sign
    np.copyto(o, t, casting="unsafe")
    return True


def signs_apart(params: Mapping[str, float], dtype: str) -> bool:
    """Whether normal values with ``params`` come as magnitudes and sign bits
    (``boxmuller.normal_magnitudes``) for ``dtype``: mean +0 and std > 0. Putting
    the signs back into the packed codes costs less than taking them off the floats
    and their rounding works on magnitudes anyway. bfloat16 rounds them by
    Veltkamp's split (:func:`_bfloat16_unsigned`), exact for normal float32 well below
    float32's maximum: every nonzero magnitude |z|·std must be one (``std`` between
    :data:`SPLIT_STD`'s bounds), which also makes a magnitude 0 only where the
    sampler's is (:func:`pack_pairs` looks for them in the first row only); other
    values go as signed pairs."""
    if not (params["mean"] == 0 and math.copysign(1.0, params["mean"]) > 0 and params["std"] > 0):
        return False
    return SPLIT_STD[0] <= params["std"] <= SPLIT_STD[1]


def pack_pairs(z: np.ndarray, codes: np.ndarray, dtype: str, signs: np.ndarray | None = None) -> None:
    """``codes[:]`` (uint16, ``n`` ≤ 2·pairs values) = the values of ``z`` (float32
    pairs as ``boxmuller.normal_pairs`` makes them, overwritten) rounded to ``dtype``,
    in value order. With ``signs``, ``z`` are magnitudes and ``signs``
    their sign bits, as ``boxmuller.normal_magnitudes`` gives them: a magnitude is
    ±0 only where the first of its pair is (r = 0 makes both 0, the angle 0 the
    first), so only that row is looked at for zeros, which keep no sign. Only for
    values :func:`in_range` vouches for.

    Each pair's two codes are made in a cache-resident scratch row each (value 2j
    in the low half of word j, value 2j+1 in the high half: little-endian) and the
    output is written once, by the OR that joins them.
    """
    n, pairs = codes.size, z.shape[1]
    u = z.view(np.uint32)
    S = scratch()
    t, s = spare(pairs)
    if signs is not None:
        zeros = (_float16_unsigned if dtype == "float16" else _bfloat16_unsigned)(u, t)
        _put_signs(t, signs, zeros, s)
    elif dtype == "bfloat16":
        _bfloat16_halves(u, t)
    else:
        _float16_halves(u, t)
    whole = n == 2 * pairs and codes.ctypes.data % 4 == 0
    words = codes.view(np.uint32) if whole else S.get("narrow_words", pairs, np.uint32)
    np.bitwise_or(t[0], t[1], words)
    if not whole:
        codes[:] = words.view(np.uint16)[:n]


def _bfloat16_halves(u: np.ndarray, t: np.ndarray) -> None:
    """``t[0]`` = the codes of ``u[0]`` (bits, overwritten), ``t[1]`` = those of
    ``u[1]`` shifted to the high half."""
    np.right_shift(u, _16, t)
    np.bitwise_and(t, _1, t)  # the lowest bit kept: ties go to even
    np.add(u, t, u)
    np.add(u, _BF16_BIAS, u)
    np.right_shift(u[0], _16, t[0])
    np.bitwise_and(u[1], HIGH, t[1])


def _float16_halves(u: np.ndarray, t: np.ndarray) -> None:
    """As :func:`_bfloat16_halves`, for float16 (``u`` becomes the magnitudes)."""
    sign = scratch().get("narrow_sign", u.size, np.uint32).reshape(u.shape)
    np.bitwise_and(u, SIGN, sign)
    np.bitwise_xor(u, sign, u)  # |x|
    _float16_split(u, t)
    np.right_shift(t[0], _13, t[0])
    np.left_shift(t[1], _3, t[1])
    np.right_shift(sign[0], _16, sign[0])
    np.bitwise_or(t[0], sign[0], t[0])  # value 2j: sign at bit 15
    np.bitwise_or(t[1], sign[1], t[1])  # value 2j+1: sign already at bit 31


def _float16_unsigned(u: np.ndarray, t: np.ndarray) -> np.ndarray | None:
    """The float16 halves of magnitudes ``u`` (bits, ≤ 65504, or ±0; overwritten),
    without signs; returns where ``u`` is ±0 (flat indices; None: nowhere; both
    rows are searched where the first holds a zero: see :func:`pack_pairs`)."""
    zeros = np.flatnonzero(u.view(np.float32) == 0) if int(u[0].view(np.int32).min()) <= 0 else None
    _float16_split(u, t)
    np.right_shift(t[0], _13, t[0])
    np.left_shift(t[1], _3, t[1])  # the high half
    return zeros


def _float16_split(u: np.ndarray, t: np.ndarray) -> None:
    """``t`` = the float16 codes of float32 magnitudes ``u`` (bits, ≤ 65504, or ±0;
    overwritten), shifted left by 13 (``u`` and ``t`` of one shape).

    Veltkamp's split with a floor: c = max(y·(2¹³ + 1), 1), h = c + (y − c) is y
    rounded to nearest even on float16's grid, 11 bits but never finer than 2⁻²⁴
    (below 2⁻¹³, c is 1, and y − 1 is rounded at 2⁻²⁴), which is where float16's
    subnormals are: no value needs finding and fixing (checked once for every
    float32 from 0 to 65504; the tests take every mantissa at the exponents where it
    behaves differently). h·2⁻¹¹² is exact and lines float32's exponent up with
    float16's (float16's subnormals with float32's), so its bits are the code
    shifted by 13. ±0 gives +0."""
    y, h = u.view(np.float32), t.view(np.float32)
    np.multiply(y, _SPLIT13, h)
    np.maximum(h, _ones(h.shape[-1]), out=h)  # an array: far faster than a constant here
    np.subtract(y, h, y)
    np.add(h, y, h)
    if np.multiply(_TINY, _F16_SCALE)[0]:
        np.multiply(h, _F16_SCALE, h)
    else:  # this thread flushes subnormal results to zero (FTZ: -ffast-math code, torch...)
        _float16_shift_flushed(h)


_TINY = np.array([2.0**-20], np.float32)  # × 2⁻¹¹² is subnormal: 0 where results are flushed


def _float16_shift_flushed(h: np.ndarray) -> None:
    """h·2⁻¹¹²'s bits for ``h`` on float16's grid, by normal arithmetic only: float16's
    normals by rebiasing the exponent, its subnormals (h = k·2⁻²⁴) as k << 13."""
    small = h < _F16_NORMAL
    codes = (np.minimum(h, _F16_NORMAL) * _2P24).astype(np.uint32) << 13
    bits = h.view(np.uint32)
    bits -= np.uint32(112 << 23)
    np.copyto(bits, codes, where=small)


_ONES = np.ones(0, np.float32)


def _ones(n: int) -> np.ndarray:
    """``n`` float32 ones (read only; shared, grown as needed)."""
    global _ONES
    if _ONES.size < n:
        _ONES = np.ones(max(n, BLOCK // 2), np.float32)
        _ONES.flags.writeable = False
    return _ONES[:n]


def _bfloat16_unsigned(u: np.ndarray, t: np.ndarray) -> np.ndarray | None:
    """As :func:`_float16_unsigned`, for bfloat16: Veltkamp's split h = c + (y − c),
    c = y·(2¹⁶ + 1), rounds a normal float32 y to its top 16 bits, to nearest even
    (checked for every one), one operation fewer than the integer rounding, and
    leaves the low half of h zero: row 1's bits are its high half as they are. For
    y = ±0 it gives +0."""
    y, h = u.view(np.float32), t.view(np.float32)
    np.multiply(y, _SPLIT16, h)
    np.subtract(y, h, y)
    np.add(h, y, h)
    np.right_shift(t[0], _16, t[0])
    return np.flatnonzero(t == 0) if int(t[0].min()) == 0 else None  # a magnitude is ≥ 2⁻¹²⁶ or 0


def _put_signs(t: np.ndarray, signs: np.ndarray, zeros: np.ndarray | None, s: np.ndarray) -> None:
    """Each pair's two sign bits moved to bits 15 and 31 of its word (in ``s``) in one
    multiplication, except where the value (flat index in ``zeros``) is 0 (the
    value +0 keeps no sign), and ORed into ``t[0]``."""
    np.bitwise_and(signs, _3, s)
    np.multiply(s, _SIGN_SPREAD, s)  # bit 0 → 15, bit 1 → 31 (and stray copies at 16 and 30,
    np.bitwise_and(s, _SIGN_BITS, s)  # masked)
    if zeros is not None and zeros.size:
        rows, cols = np.divmod(zeros, t.shape[1])
        # one row at a time: a pair may have both values zero (r = 0), and a fancy
        # in-place AND applies a repeated index once
        s[cols[rows == 0]] &= 0xFFFF7FFF
        s[cols[rows == 1]] &= 0x7FFFFFFF
    np.bitwise_or(t[0], s, t[0])
