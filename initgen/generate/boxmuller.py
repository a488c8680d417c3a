"""Box-Muller pairs: the normal values of the stream contract (sampling.py states it).

Each 64-bit word (two for float64) gives one pair of values, z[0] and z[1], made as a
(2, pairs) array: contiguous, so scaling and rounding run at full speed, and
interleaved into value order only at the end (:func:`interleave`, or
``narrow.pack_pairs`` straight into 16-bit codes).
"""

from __future__ import annotations

import numpy as np

from .exactmath import Consts, Scratch, const, consts, log_into, scratch, sin_quarter_into

_U64 = np.uint64
# float32 fields of each word (constants as 0-d arrays: see exactmath)
_SHIFT_ANGLE, _SHIFT_U1 = const(16, np.uint64), const(24, np.uint64)  # bits 16..39, then 40..63
_FIELD = const(0xFFFFFF, np.uint32)
_UNIT, _HALF = const(2.0**-24, np.float32), const(0.5, np.float32)
_TOP32, _ONE32 = const(31, np.uint32), const(1, np.uint32)  # sign bits
_TOP64, _ONE64 = const(63, np.uint64), const(1, np.uint64)


def _magnitudes(bg: np.random.PCG64, pairs: int, c: Consts, S: Scratch) -> tuple[np.ndarray, np.ndarray]:
    """Box-Muller without the signs: a (2, pairs) array of |z| (−0 where r = 0), and
    the words whose bits 0 and 1 are the signs of z[0] and z[1] (uint64 for float64,
    the low 32 bits of each word otherwise)."""
    if c.is64:
        w = bg.random_raw(2 * pairs).reshape(pairs, 2)
        a = S.get("nrm_a", pairs, np.uint64)
        u1 = S.get("nrm_u1", pairs, c.dt)
        np.right_shift(w[:, 0], _U64(11), out=a)
        np.add(a, 0.5, out=u1, dtype=np.float64, casting="unsafe")  # k exact, + ½ rounded
        u1 *= 2.0**-53
        ang = w[:, 1]
        np.right_shift(ang, _U64(11), out=a)
        t = S.get("nrm_t", 2 * pairs, c.dt)
        np.multiply(a, 2.0**-53, out=t[:pairs], dtype=np.float64, casting="unsafe")
        low: np.ndarray = ang
    else:
        # 24-bit fields go through uint32 (a truncating copy, well defined) and are
        # converted from int32 by plain casts: SIMD, far faster than from uint64 or
        # inside a mixed-type operation, and exact either way. Strided views of the
        # words would be slower still.
        v = bg.random_raw(pairs)  # a fresh array, shifted in place once copied from
        low = S.get("nrm_low", pairs, np.uint32)
        np.copyto(low, v, casting="unsafe")  # the low 32 bits of each word
        k = S.get("nrm_k", pairs, np.uint32)
        t = S.get("nrm_t", 2 * pairs, c.dt)
        np.right_shift(v, _SHIFT_ANGLE, v)
        np.copyto(k, v, casting="unsafe")  # modulo 2³²
        np.bitwise_and(k, _FIELD, k)
        np.copyto(t[:pairs], k.view(np.int32), casting="unsafe")
        np.multiply(t[:pairs], _UNIT, t[:pairs])
        np.right_shift(v, _SHIFT_U1, v)
        np.copyto(k, v, casting="unsafe")
        u1 = S.get("nrm_u1", pairs, c.dt)
        np.copyto(u1, k.view(np.int32), casting="unsafe")
        np.add(u1, _HALF, u1)
        np.multiply(u1, _UNIT, u1)
    r = log_into(u1, c, S)
    np.multiply(r, c.minus_two, r)
    np.sqrt(r, r)
    np.subtract(c.one, t[:pairs], t[pairs:])  # cos(πx/2) = sin(π(1−x)/2); 1−x is exact
    z = sin_quarter_into(t, c, S).reshape(2, pairs)
    np.multiply(z, r, z)
    return z, low


def _normal_pairs(bg: np.random.PCG64, pairs: int, c: Consts, S: Scratch) -> np.ndarray:
    """Box-Muller: a (2, pairs) array of standard normal values, z[0] and z[1] of each pair."""
    z, low = _magnitudes(bg, pairs, c, S)
    utype, top, one = (np.uint64, _TOP64, _ONE64) if c.is64 else (np.uint32, _TOP32, _ONE32)
    zi: np.ndarray = z.view(utype)
    sb = S.get("nrm_sb", pairs, utype)
    np.left_shift(low, top, sb)  # bit 0 → sign of z[0]
    np.bitwise_xor(zi[0], sb, zi[0])
    np.right_shift(low, one, sb)
    np.left_shift(sb, top, sb)  # bit 1 → sign of z[1]
    np.bitwise_xor(zi[1], sb, zi[1])
    return z


def normal_pairs(bg: np.random.PCG64, n: int, std: float | None, mean: float, dt: np.dtype) -> np.ndarray:
    """The next ``n`` normal values, z·std + mean (raw z when ``std`` is None), as a
    (2, ⌈n/2⌉) array: value 2j is ``[0, j]``, value 2j+1 is ``[1, j]`` (for odd ``n``
    the last one is not a value). A scratch buffer, valid until the next call."""
    c = consts(dt)
    z = _normal_pairs(bg, (n + 1) // 2, c, scratch())
    if std is not None:
        np.multiply(z, const(std, c.dt), z)  # contiguous: far faster than writing z.T scaled
        np.add(z, const(mean, c.dt), z)
    return z


def interleave(z: np.ndarray, o: np.ndarray) -> None:
    """``o[:]`` = the values of :func:`normal_pairs`' ``z`` in order (two strided copies)."""
    n, pairs = o.size, z.shape[1]
    full = (
        o.reshape(pairs, 2) if n % 2 == 0 else scratch().get("nrm_odd", 2 * pairs, z.dtype).reshape(pairs, 2)
    )
    full[:, 0] = z[0]
    full[:, 1] = z[1]
    if n % 2:
        o[:] = full.reshape(-1)[:n]


def normal_magnitudes(bg: np.random.PCG64, n: int, std: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`normal_pairs` (float32, mean +0, ``std`` > 0) without the signs: the
    (2, ⌈n/2⌉) magnitudes |z·std| and the pairs' sign bits (bit 0: value 2j, bit 1:
    value 2j+1). A magnitude ±0 (−0 where r = 0) is the value +0, which the mean
    +0 makes of ±0; any other value is its magnitude with its sign bit, bit for
    bit, as rounding is symmetric: z·std = ±(|z|·std).
    """
    c = consts(np.dtype(np.float32))
    z, low = _magnitudes(bg, (n + 1) // 2, c, scratch())
    np.multiply(z, const(std, c.dt), z)
    return z, low


def spare(pairs: int) -> tuple[np.ndarray, np.ndarray]:
    """Two of the sampler's float32 working buffers, free once a block's values are
    made and still in cache: the angles' (2, ``pairs``) and a ``pairs`` row, as
    uint32. Packing them into codes there instead of in buffers of its own keeps a
    block's working set smaller (measured: about 2 % of a bfloat16 block's time)."""
    S = scratch()
    return (
        S.get("nrm_t", 2 * pairs, np.float32).view(np.uint32).reshape(2, pairs),
        S.get("nrm_k", pairs, np.uint32),
    )
