"""16-bit chunks (generate/tasks.narrow_chunk): made in float32 a piece at a time and
rounded on their bits, normal values still in Box-Muller's pair layout,
where they can as magnitudes and sign bits. Every path gives the bits that rounding
the float32 chunk with ml_dtypes / NumPy gives."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import platform
import struct

import numpy as np
import pytest

from helpers import library_codes, sample_chunk
from initgen.generate import boxmuller, narrow
from initgen.generate.exactmath import PLACE, Scratch
from initgen.generate.sampling import CHUNK, WORK_BLOCK, chunk_stream
from initgen.generate.tasks import make_chunk, zero_row
from initgen.plan import TensorPlan
from initgen.schemes.dists import constant, normal, truncated, uniform

LIBRARY = narrow.NARROW  # rounded by ml_dtypes and NumPy: helpers.library_codes
DISTS = {
    "normal 0, 0.02 (signs apart)": normal(0.0, 0.02),
    "normal 0.5, 0.02 (pairs)": normal(0.5, 0.02),
    "normal -0.0, 1 (pairs: -0 + -0 is -0)": normal(-0.0, 1.0),
    "normal 0, 1e-6 (float16 subnormals)": normal(0.0, 1e-6),
    "normal 0, 1e-40 (float32 subnormals)": normal(0.0, 1e-40),
    "normal 0, 1e-27 (bfloat16 split: smallest std)": normal(0.0, 1e-27),
    "normal 0, 3e4 (float16 overflows: the library)": normal(0.0, 3e4),
    "normal 1e30, 1e29 (bfloat16 only in range)": normal(1e30, 1e29),
    "uniform": uniform(-0.3, 0.1),
    "truncated": truncated(0.0, 0.5, -1.0, 1.0),
    "constant": constant(-1.5),
}


def tensor(dtype: str, dist, shape=(3 * WORK_BLOCK + 5,)) -> TensorPlan:
    return TensorPlan("w", shape, dtype, "normal", {}, dist, 1.0, 1.0)


def expected(t: TensorPlan, chunk: int, count: int) -> bytes:
    f32 = sample_chunk(t.dist.kind, t.dist.params, 7, t.name, chunk, count, np.dtype(np.float32))
    if "zero_row" in t.dist.params:
        zero_row(f32, int(t.dist.params["zero_row"]), t.shape, chunk * CHUNK)
    return library_codes(f32, t.dtype).tobytes()


@pytest.mark.parametrize("dtype", sorted(LIBRARY))
@pytest.mark.parametrize("name", sorted(DISTS))
def test_every_kind_rounds_as_the_library_does(dtype, name):
    """Odd counts over several pieces, fresh arrays and reused buffers."""
    t = tensor(dtype, DISTS[name])
    for count in (t.numel, 7, 1):
        want = expected(t, 0, count)
        assert make_chunk(t, 7, 0, count).tobytes() == want
        assert make_chunk(t, 7, 0, count, Scratch(), raw=True).tobytes() == want


@pytest.mark.parametrize("dtype", sorted(LIBRARY))
@pytest.mark.parametrize("residue", [0, 2, 6])
def test_placed_buffers_at_any_even_residue(dtype, residue):
    """Codes placed for direct I/O at 2 mod 4 bytes are not 32-bit aligned: pairs go
    through a word buffer, with the same bits."""
    t = tensor(dtype, normal(0.0, 0.02), (CHUNK + 3,))
    b = Scratch()
    for chunk, count in ((0, CHUNK), (1, 3)):
        got = make_chunk(t, 7, chunk, count, b, residue)
        assert got.ctypes.data % PLACE == residue
        assert got.tobytes() == expected(t, chunk, count)


@pytest.mark.parametrize("dtype", sorted(LIBRARY))
def test_a_padding_row_is_plus_zero(dtype):
    d = normal(0.0, 0.02)
    t = tensor(dtype, type(d)(d.kind, {**d.params, "zero_row": 3}, d.mean, d.std), (40, 1000))
    got = make_chunk(t, 7, 0, t.numel)
    assert got.tobytes() == expected(t, 0, t.numel)
    assert not got.view(np.uint16).reshape(40, 1000)[3].any()


class Words:
    """A bit generator that hands out given words: Box-Muller's rare edges on demand."""

    def __init__(self, words: np.ndarray) -> None:
        self.words = words

    def random_raw(self, n: int) -> np.ndarray:
        out, self.words = self.words[:n].copy(), self.words[n:]
        return out


def edge_words() -> np.ndarray:
    """u1 = 1 (r = 0: both values ±0), angle 0 (z[0] = ±0), both together, the largest
    and smallest r and angle, with every pair of sign bits; then random words."""
    top, angle = [0xFFFFFF, 0xFFFFFE, 0, 1, 0x800000], [0, 1, 0xFFFFFF, 0x123456]
    words = [(k << 40) | (a << 16) | s for k in top for a in angle for s in range(4)]
    rest = chunk_stream(3, "edges", 0).random_raw(4096 - len(words))
    return np.concatenate([np.array(words, dtype=np.uint64), rest])


@pytest.mark.parametrize("std", [0.02, 1.0, 3e-8, 1e-27])
def test_magnitudes_and_signs_give_the_signed_values(std):
    """z·std + 0 from whole pairs equals the magnitudes with their signs put back;
    where the value is ±0 it is +0, and its code carries no sign."""
    n = 2 * edge_words().size
    z = boxmuller.normal_pairs(Words(edge_words()), n, std, 0.0, np.dtype(np.float32)).copy()
    mag, signs = boxmuller.normal_magnitudes(Words(edge_words()), n, std)
    signed = np.where(mag == 0, np.float32(0), np.where(np.stack([signs & 1, signs & 2]) != 0, -mag, mag))
    assert signed.tobytes() == z.tobytes()
    assert (z == 0).any() and not np.signbit(z[z == 0]).any()  # the edges were reached
    codes = np.empty(n, dtype=np.uint16)
    for dtype in narrow.NARROW:
        narrow.pack_pairs(mag.copy(), codes, dtype, signs)
        assert np.array_equal(codes, library_codes(z.T.reshape(-1), dtype))


@pytest.mark.parametrize("dtype", sorted(LIBRARY))
def test_pairs_of_every_kind_of_in_range_value_pack_as_the_library_does(dtype):
    """Ties, subnormals, ±0 and the edges of the range, in both rows of a pair,
    through the signed pairs and (float16) the magnitudes with sign bits."""
    rng = np.random.default_rng(0)
    mant = np.arange(1 << 12, dtype=np.uint32)
    exps = [0, 1, 100, 102, 103, 110, 112, 113, 127, 142] if dtype == "float16" else [0, 1, 100, 127, 200]
    bits = np.concatenate(
        [(np.uint32(e << 23) | (mant << 12) | v) for e in exps for v in (0, 0x8000, 0x1000)]
    )
    if dtype == "float16":
        bits = np.concatenate([bits, np.array([0x477FE000, 0x477FEFFF, 0x387FFFFF, 0x38800000], np.uint32)])
        bits = bits[bits <= 0x477FEFFF]  # in range: below the midpoint of 65504 and Inf
    bits = rng.permutation(np.concatenate([bits, bits[:1] * 0]))[: bits.size // 2 * 2]
    signs = rng.integers(0, 4, bits.size // 2, dtype=np.uint32)
    mag = bits.view(np.float32).reshape(2, -1)
    sign_rows = np.stack([signs & 1, signs & 2]) != 0
    values = np.where(mag == 0, np.float32(0), np.where(sign_rows, -mag, mag))
    want = library_codes(values.T.reshape(-1), dtype)
    # bfloat16 takes magnitudes that are normal or 0 (signs_apart), float16 any; both
    # take a 0 only where the first of its pair is 0 too, as the sampler makes them
    apart = (bits < 1 << 23) & (bits != 0) if dtype == "bfloat16" else np.zeros(bits.size, bool)
    apart.reshape(2, -1)[1] |= (bits.reshape(2, -1)[1] == 0) & (bits.reshape(2, -1)[0] != 0)
    for n in (bits.size, bits.size - 1):
        codes = np.empty(n, dtype=np.uint16)
        narrow.pack_pairs(values.copy(), codes, dtype)
        assert np.array_equal(codes, want[:n])
        narrow.pack_pairs(np.where(apart.reshape(2, -1), 1, mag), codes, dtype, signs)
        ok = ~apart.reshape(2, -1).T.reshape(-1)[:n]
        assert np.array_equal(codes[ok], want[:n][ok])


def test_the_bfloat16_split_rounds_every_normal_float32_as_the_library_does():
    """Every mantissa at the smallest normal exponent, at 1 and at the largest the
    split is used for (the split is the same at every exponent in between: scaling by
    a power of two changes no rounding while nothing is subnormal or infinite), and
    +0 and −0 (to +0)."""
    mant = np.arange(1 << 23, dtype=np.uint32)
    top = int(np.float32(narrow.SPLIT_STD[1] * narrow.NORMAL_REACH).view(np.uint32)) >> 23
    bits = np.concatenate([(np.uint32(e << 23) | mant) for e in (1, 127, top)] + [np.uint32([0, 1 << 31])])
    y = bits.view(np.float32).reshape(2, -1)
    codes = np.empty(bits.size, dtype=np.uint16)
    narrow.pack_pairs(y.copy(), codes, "bfloat16", np.zeros(y.shape[1], np.uint32))
    want = library_codes(np.abs(y).T.reshape(-1), "bfloat16")
    want[np.abs(y).T.reshape(-1) == 0] = 0
    assert np.array_equal(codes, want)


def test_the_float16_floored_split_rounds_every_float32_as_numpy_does():
    """Every mantissa at exponents where the split behaves differently: float32's
    subnormals, the smallest magnitude that rounds up from 0 (2⁻²⁵), float16's
    smallest normal 2⁻¹⁴ (where the floor 1 gives way to y·(2¹³ + 1)), the binade
    above (the plain split, the same at every exponent up to the last) and the
    last, up to 65504; and +0 and −0 (to +0)."""
    mant = np.arange(1 << 23, dtype=np.uint32)
    parts = [(np.uint32(e << 23) | mant) for e in (0, 102, 113, 114)]
    parts.append(np.arange(142 << 23, narrow.F16_MAX_BITS + 1, dtype=np.uint32))
    bits = np.concatenate([np.uint32([0, 1 << 31]), *parts])
    bits = bits if bits.size % 2 == 0 else np.append(bits, np.float32(1).view(np.uint32))
    y = bits.view(np.float32).reshape(2, -1)
    codes = np.empty(bits.size, dtype=np.uint16)
    narrow.pack_pairs(y.copy(), codes, "float16", np.zeros(y.shape[1], np.uint32))
    want = library_codes(np.abs(y).T.reshape(-1), "float16")
    assert np.array_equal(codes, want)


def test_float16_codes_without_subnormal_arithmetic_are_those_of_the_scaling():
    """Where a thread flushes subnormal results to zero, h·2⁻¹¹² is made by normal
    arithmetic instead: the same bits for every float16 value h from 0 to 65504 and
    for 2¹⁶ (Inf)."""
    codes = np.arange(0x7C01, dtype=np.uint32)
    h = codes.astype(np.uint16).view(np.float16).astype(np.float32)
    h[-1] = 2.0**16  # Inf's code: the split gives 2¹⁶ for 65520 and up
    narrow._float16_shift_flushed(h)
    assert np.array_equal(h.view(np.uint32), codes << 13)


@contextlib.contextmanager
def flushing_subnormals():
    """This thread's SSE unit set to flush subnormal results (and inputs) to zero, as
    code built with -ffast-math or torch.set_flush_denormal(True) leaves it: MXCSR's
    FTZ and DAZ bits, through glibc's x86-64 fenv_t (MXCSR at byte 28)."""
    if platform.machine() not in ("x86_64", "AMD64") or not ctypes.util.find_library("m"):
        pytest.skip("sets x86-64 MXCSR through glibc")
    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    saved = ctypes.create_string_buffer(32)
    assert libm.fegetenv(saved) == 0
    flush = bytearray(saved.raw)
    struct.pack_into("<I", flush, 28, struct.unpack_from("<I", flush, 28)[0] | 0x8040)
    assert libm.fesetenv(ctypes.create_string_buffer(bytes(flush), 32)) == 0
    try:
        yield
    finally:
        libm.fesetenv(saved)


@pytest.mark.parametrize("name", ["normal 0, 0.02 (signs apart)", "normal 0, 1e-6 (float16 subnormals)"])
def test_float16_is_the_same_where_the_cpu_flushes_subnormals(name):
    t = tensor("float16", DISTS[name])
    want = expected(t, 0, t.numel)
    x = np.arange(0x33000000, 0x38800000, 97, dtype=np.uint32).view(np.float32)  # 2⁻²⁵ to 2⁻¹⁴
    x = np.concatenate([x, -x])
    want_x = library_codes(x, "float16")
    with flushing_subnormals():
        assert not (np.float32(2**-126) * np.float32(0.5))  # subnormal results are flushed
        got, got_x = make_chunk(t, 7, 0, t.numel).tobytes(), convert(x)
    assert got == want
    assert np.array_equal(got_x, want_x)


def convert(x: np.ndarray) -> np.ndarray:
    codes = np.empty(x.size, dtype=np.uint16)
    narrow.to_narrow(x.copy(), codes, "float16", True)
    return codes


def test_only_values_that_stay_in_range_skip_the_checks():
    assert narrow.in_range("normal", {"mean": 0.0, "std": 0.02}, "float16")
    assert not narrow.in_range("normal", {"mean": 0.0, "std": 2e4}, "float16")
    assert narrow.in_range("normal", {"mean": 0.0, "std": 1e30}, "bfloat16")
    assert not narrow.in_range("normal", {"mean": float("nan"), "std": 1.0}, "bfloat16")
    assert not narrow.in_range("normal", {"mean": 0.0, "std": 1e38}, "bfloat16")  # float32 overflows
    assert not narrow.in_range("uniform", {"low": -1e39, "high": 1e39}, "bfloat16")
    assert narrow.in_range("truncated_normal", {"mean": 0.0, "std": 1e6, "a": -2.0, "b": 2.0}, "float16")
    assert not narrow.in_range("uniform", {"low": -7e4, "high": 0.0}, "float16")
    for dtype in narrow.NARROW:
        assert narrow.signs_apart({"mean": 0.0, "std": 0.02}, dtype)
        assert not narrow.signs_apart({"mean": -0.0, "std": 0.02}, dtype)
        assert not narrow.signs_apart({"mean": 0.1, "std": 0.02}, dtype)
        assert not narrow.signs_apart({"mean": 0.0, "std": -0.02}, dtype)
        # every nonzero magnitude normal (none 0 but where the sampler's is) and
        # (bfloat16's split) far from overflow
        assert not narrow.signs_apart({"mean": 0.0, "std": 1e-40}, dtype)
    assert not narrow.signs_apart({"mean": 0.0, "std": 1e33}, "bfloat16")


def test_scratch_gives_one_buffer_per_key_and_dtype_however_the_dtype_is_spelled():
    """Lookups are cached by the dtype as given; after a buffer grows, every spelling
    gets the grown one (two spellings never hold two buffers for one key)."""
    b = Scratch()
    small = b.get("k", 10, np.float32)
    assert b.get("k", 10, np.dtype(np.float32)).ctypes.data == small.ctypes.data
    grown = b.get("k", 1 << 17, np.dtype("float32"))
    assert grown.ctypes.data != small.ctypes.data
    assert b.get("k", 10, np.float32).ctypes.data == grown.ctypes.data
    assert b.get("k", 10, np.uint32).ctypes.data != grown.ctypes.data  # another dtype, another buffer


def test_the_normal_sampler_reaches_no_further_than_narrow_assumes():
    """in_range bounds |z| by NORMAL_REACH: checked over every one of the 2²⁴ values
    of u1 (r) and of the angle (the sine), as boxmuller computes them."""
    from initgen.generate.exactmath import F32, log_into, sin_quarter_into

    k = np.arange(1 << 24, dtype=np.int32)
    u1 = (k.astype(np.float32) + np.float32(0.5)) * np.float32(2.0**-24)
    r = log_into(u1, F32, Scratch())
    r *= np.float32(-2)
    r_max = float(np.sqrt(r).max())
    x = k.astype(np.float32) * np.float32(2.0**-24)
    sin_max = float(sin_quarter_into(np.concatenate([x, np.float32(1) - x]), F32, Scratch()).max())
    assert 5.88 < r_max < 5.89 and 1.0 <= sin_max <= 1.0 + 2.0**-22
    assert r_max * sin_max * (1 + 2.0**-22) < narrow.NORMAL_REACH


def test_the_normal_sampler_has_no_nonzero_value_nearer_zero_than_narrow_assumes():
    """bfloat16's split needs every nonzero |z|·std normal: |z| ≥ NORMAL_FLOOR over
    every one of the 2²⁴ values of u1 (r) and of the angle (the sine)."""
    from initgen.generate.exactmath import F32, log_into, sin_quarter_into

    k = np.arange(1 << 24, dtype=np.int32)
    r = log_into((k.astype(np.float32) + np.float32(0.5)) * np.float32(2.0**-24), F32, Scratch())
    r = np.sqrt(r * np.float32(-2))
    x = k.astype(np.float32) * np.float32(2.0**-24)
    sines = sin_quarter_into(np.concatenate([x, np.float32(1) - x]), F32, Scratch())
    r_min, sin_min = float(r[r != 0].min()), float(sines[sines != 0].min())
    assert (r == 0).sum() == 1 and (sines == 0).sum() == 1  # u1 = 1 and angle 0: z = ±0
    assert r_min * sin_min * (1 - 2.0**-22) > narrow.NORMAL_FLOOR
    assert narrow.SPLIT_STD[0] * narrow.NORMAL_FLOOR * (1 - 2.0**-22) >= 2.0**-126
    assert narrow.SPLIT_STD[1] * narrow.NORMAL_REACH * (2**16 + 1) < np.finfo(np.float32).max
