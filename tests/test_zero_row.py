"""`zero_row`: one row of an element-wise tensor set to 0 after drawing (an embedding's
padding_idx, as torch and Transformers leave it); every other value is unchanged."""

from __future__ import annotations

import math

import numpy as np
import pytest

import initgen
from initgen.errors import SpecError
from initgen.generate.sampling import CHUNK

DIM = 300
ROWS = 2 * CHUNK // DIM + 3  # three chunks
ACROSS = CHUNK // DIM  # this row starts in chunk 0 and ends in chunk 1 (CHUNK is not a multiple of DIM)


def tensor(init: str, rows: int = ROWS, dim: int = DIM, dtype: str = "float32") -> initgen.TensorPlan:
    text = f"initgen: 1\ndtype: {dtype}\nlayers: [{{name: emb, type: embedding, num: {rows}, dim: {dim}, init: {init}}}]"
    return initgen.build_plan(initgen.load_spec("s.yaml", text=text)).tensors[0]


@pytest.mark.parametrize("row", [0, ACROSS, ROWS - 1])
@pytest.mark.parametrize("scheme", ["{scheme: normal, std: 0.02", "{scheme: uniform, low: -1, high: 1"])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_only_that_row_changes(row, scheme, dtype):
    assert CHUNK % DIM  # else no row would straddle two chunks
    plain = initgen.make_tensor(tensor(scheme + "}", dtype=dtype), 0)
    padded = initgen.make_tensor(tensor(scheme + f", zero_row: {row}}}", dtype=dtype), 0)
    assert not padded[row].any()
    others = np.ones(ROWS, dtype=bool)
    others[row] = False
    assert np.array_equal(plain[others].view(np.uint8), padded[others].view(np.uint8))


def test_the_expected_moments_are_the_mixture_s():
    t = tensor("{scheme: normal, mean: 0.5, std: 2, zero_row: 3}", rows=4, dim=2)
    f = 1 / 4  # one row of four is zeros
    mean = (1 - f) * 0.5
    assert t.dist.mean == pytest.approx(mean)
    assert t.dist.std == pytest.approx(math.sqrt((1 - f) * (4 + 0.25) - mean**2))


def test_a_file_with_a_zero_row_verifies_and_records_it(tmp_path):
    t = tensor("{scheme: normal, std: 0.02, zero_row: 7}", rows=100, dim=8)
    plan = initgen.Plan("p", 0, [t])
    out = initgen.write(plan, tmp_path / "w.safetensors")
    assert initgen.verify(out).tensors == 1
    stats = initgen.read_stats(out).tensors[0]
    assert stats.zero_fraction == pytest.approx(8 / 800)


@pytest.mark.parametrize(
    "init, message",
    [
        ("{scheme: normal, std: 1, zero_row: 10}", r"zero_row: 10 is not a row of this tensor \(0 … 9\)"),
        ("{scheme: normal, std: 1, zero_row: -1}", r"zero_row: -1 is not a row of this tensor"),
        ("{scheme: normal, std: 1, zero_row: 1.5}", r"zero_row: expected a whole number, got 1.5"),
        ("{scheme: orthogonal, zero_row: 1}", r"unknown parameter 'zero_row' for scheme orthogonal"),
    ],
)
def test_bad_rows_and_whole_tensor_schemes_are_spec_errors(init, message):
    with pytest.raises(SpecError, match=message):
        tensor(init, rows=10, dim=4)
