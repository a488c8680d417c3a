"""float32 → bfloat16 / float16 by integer operations (generate/narrow.py): bit for bit
what ml_dtypes and NumPy give, for every kind of float32 — ties, subnormals, ±0,
overflow, ±Inf and NaN (those blocks go to the libraries)."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import library_codes
from initgen.generate import narrow

LIBRARY = narrow.NARROW  # rounded by ml_dtypes and NumPy: helpers.library_codes


def convert(x: np.ndarray, dtype: str) -> np.ndarray:
    codes = np.empty(x.size, dtype=np.uint16)
    narrow.to_narrow(x.astype(np.float32), codes, dtype)  # a copy: work is overwritten
    return codes


def sweep() -> np.ndarray:
    """Every 4099th float32 bit pattern (all signs, exponents and NaNs), every tie of
    both formats around a few exponents, and the edges of their ranges."""
    bits = np.arange(0, 2**32, 4099, dtype=np.uint64).astype(np.uint32)
    mant = np.arange(0, 1 << 12, dtype=np.uint32)
    ties = []
    for e in (1, 100, 102, 103, 110, 112, 113, 127, 142, 143, 254):
        base = np.uint32(e << 23)
        ties += [base | (mant << 12), base | (mant << 12) | 0x8000, base | (mant << 12) | 0x1000]
    edges = np.array(
        [
            0,
            1,
            0x7F7FFFFF,
            0x7F800000,
            0x7F800001,
            0x7FC00000,
            0x477FE000,
            0x477FF000,
            0x477FEFFF,
            0x33000000,
            0x33000001,
            0x387FFFFF,
            0x38800000,
        ],
        dtype=np.uint32,
    )
    out = np.concatenate([bits, *ties, edges])
    return np.concatenate([out, out | 0x80000000]).view(np.float32)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("block", [1 << 16, 4096])
def test_every_kind_of_float32_converts_as_the_library_does(dtype, block, monkeypatch):
    monkeypatch.setattr(narrow, "BLOCK", block)  # small blocks: special values in few of them
    x = sweep()
    assert np.array_equal(convert(x, dtype), library_codes(x, dtype))
    finite = x[np.isfinite(x) & (np.abs(x) <= 65504)]  # all on the fast path for float16 too
    assert np.array_equal(convert(finite, dtype), library_codes(finite, dtype))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(width=32, allow_nan=True, allow_infinity=True), min_size=1, max_size=300))
def test_any_values_convert_as_the_library_does(values):
    x = np.array(values, dtype=np.float32)
    for dtype in LIBRARY:
        assert np.array_equal(convert(x, dtype), library_codes(x, dtype))


def test_the_fast_path_is_taken_for_ordinary_weights(monkeypatch):
    """The library is only the fallback: a normal block never looks up its dtype."""
    x = (np.random.default_rng(0).standard_normal(70_000) * 0.02).astype(np.float32)

    def refuse(*a, **k):
        raise AssertionError("library conversion used")

    monkeypatch.setattr(narrow, "np_dtype", refuse)
    for dtype in LIBRARY:
        codes = np.empty(x.size, dtype=np.uint16)
        narrow.to_narrow(x.copy(), codes, dtype)
    monkeypatch.undo()
    for dtype in LIBRARY:
        assert np.array_equal(convert(x, dtype), library_codes(x, dtype))


def test_writing_bfloat16_needs_no_ml_dtypes_and_its_largest_values_are_ml_dtypes():
    """ml_dtypes takes most of a second to import: making a bfloat16 file does not
    import it (writers get the bits), and the table of largest values that replaces
    its finfo agrees with it."""
    import subprocess
    import sys

    from initgen.dtypes import DTYPES, VIEWED_LARGEST

    for name, top in VIEWED_LARGEST.items():
        assert float(ml_dtypes.finfo(DTYPES[name].np).max) == top
    code = (
        "import sys\nfrom initgen import build_plan, load_spec, write\n"
        "spec = load_spec('s.yaml', text='initgen: 1\\ndtype: bfloat16\\n"
        "layers: [{name: fc, type: dense, in: 300, out: 200}]')\n"
        "write(build_plan(spec), sys.argv[1], threads=2)\n"
        "assert 'ml_dtypes' not in sys.modules, 'ml_dtypes was imported'\n"
    )
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.executable, "-c", code, f"{d}/w.safetensors"], check=True)
