"""Whole-tensor schemes: exact structure, written out here from torch's definitions.

orthogonal: QᵀQ = gain²·I (or QQᵀ when rows < cols) to float tolerance, and Q is the
sign-fixed QR factor of the tensor's own Gaussian matrix (R = QᵀG upper triangular
with a positive diagonal); identity, dirac and sparse: exact values and positions.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from helpers import (
    SEED,
    assert_features_reached_numpy,
    run_in_child,
    whole_hashes,
)
from helpers import make_scheme_tensor as make
from initgen.errors import SpecError
from initgen.generate.sampling import chunk_stream


def torch_matrix(x: np.ndarray, layout: str) -> np.ndarray:
    """torch's view: rows = output axis (first in torch, last in keras), rest flattened."""
    return x.reshape(x.shape[0], -1) if layout == "torch" else x.reshape(-1, x.shape[-1]).T


ORTHO = [  # (shape, layout, gain)
    ((64, 32), "torch", 1.0),
    ((32, 64), "torch", 1.0),
    ((48, 48), "torch", 2.0),
    ((16, 8, 3, 3), "torch", 1.0),  # rank 4, rows 16 < cols 72
    ((96, 4, 3), "torch", 0.5),  # rank 3, rows 96 > cols 12
    ((3, 3, 8, 16), "keras", 1.0),  # keras conv2d kernel: rows (out) 16 < 72
    ((5, 40, 12), "keras", 1.0),  # keras conv1d kernel: rows 12 < 200
    ((8, 2, 2, 2, 2), "torch", 1.0),  # rank 5
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape,layout,g", ORTHO, ids=[f"{s}-{lay}" for s, lay, _ in ORTHO])
def test_orthogonal_is_orthogonal(shape, layout, g, dtype):
    q = torch_matrix(make("orthogonal", shape, {"gain": g}, layout, dtype), layout).astype(np.float64)
    rows, cols = q.shape
    gram = q @ q.T if rows <= cols else q.T @ q
    tol = 1e-12 if dtype == "float64" else 20 * np.finfo(np.float32).eps * math.sqrt(max(rows, cols))
    np.testing.assert_allclose(gram, g * g * np.eye(min(rows, cols)), atol=tol * g * g, rtol=0)


@pytest.mark.parametrize("shape,layout", [((40, 24), "torch"), ((24, 40), "torch"), ((3, 3, 4, 10), "keras")])
def test_orthogonal_is_the_sign_fixed_qr_of_its_gaussian(shape, layout):
    q = torch_matrix(make("orthogonal", shape, layout=layout), layout)
    # the Gaussian matrix is exactly the normal(0, 1) tensor of the same name and seed
    gauss = torch_matrix(make("normal", shape, {"std": 1.0, "mean": 0.0}, layout), layout)
    if q.shape[0] < q.shape[1]:  # torch factors the transpose when rows < cols
        q, gauss = q.T, gauss.T
    r = q.T @ gauss
    np.testing.assert_allclose(np.tril(r, -1), 0, atol=1e-10)
    assert np.all(np.diag(r) > 0)
    np.testing.assert_allclose(q @ r, gauss, atol=1e-10)


def test_orthogonal_needs_rank_2():
    with pytest.raises(SpecError, match="rank 2 or more"):
        make("orthogonal", (8,))


@pytest.mark.parametrize("shape", [(5, 5), (3, 7), (7, 3)])
@pytest.mark.parametrize("layout", ["torch", "keras"])
def test_identity_is_torchs_eye(shape, layout):
    np.testing.assert_array_equal(make("identity", shape, layout=layout), np.eye(*shape))
    np.testing.assert_array_equal(make("identity", shape, {"gain": 0.5}, layout), 0.5 * np.eye(*shape))


def torch_dirac(shape: tuple[int, ...], groups: int) -> np.ndarray:
    """torch.nn.init.dirac_ on a [out, in/groups, *k] weight, loop for loop."""
    w = np.zeros(shape)
    per_group = shape[0] // groups
    for g in range(groups):
        for d in range(min(per_group, shape[1])):
            w[(g * per_group + d, d, *(s // 2 for s in shape[2:]))] = 1
    return w


DIRAC = [
    ((6, 6, 3), 1),
    ((8, 4, 3, 3), 1),
    ((4, 8, 3, 5), 1),
    ((12, 2, 3, 3), 3),
    ((6, 3, 2, 3, 3), 2),
    ((16, 1, 3, 3), 16),
]


@pytest.mark.parametrize("shape,groups", DIRAC, ids=[str(d) for d in DIRAC])
def test_dirac_matches_torch_and_keras_transposes(shape, groups):
    want = torch_dirac(shape, groups)
    np.testing.assert_array_equal(make("dirac", shape, {"groups": groups}), want)
    # keras kernels are [*k, in/groups, out]: the same weight with its axes reversed in pairs
    keras_want = np.moveaxis(want, (0, 1), (-1, -2))
    got = make("dirac", keras_want.shape, {"groups": groups}, "keras")
    np.testing.assert_array_equal(got, keras_want)


def mask_of(name: str, rows: int, cols: int, zeros: int, seed: int = SEED) -> np.ndarray:
    """The documented mask: per column, the first `zeros` of a stable argsort of raw keys."""
    keys = chunk_stream(seed, name, 0, salt=1).random_raw(rows * cols).reshape(cols, rows)
    mask = np.zeros((rows, cols), dtype=bool)
    for j in range(cols):
        mask[np.argsort(keys[j], kind="stable")[:zeros], j] = True
    return mask


@pytest.mark.parametrize(
    "rows,cols,sparsity,layout",
    [
        (100, 30, 0.1, "torch"),
        (64, 64, 0.5, "torch"),
        (7, 200, 0.3, "torch"),
        (50, 20, 0.0, "torch"),
        (10, 5, 1.0, "torch"),
        (40, 90, 0.25, "keras"),
    ],
)
def test_sparse_zeros_per_column_exactly(rows, cols, sparsity, layout):
    zeros = math.ceil(sparsity * rows)  # torch: int(math.ceil(sparsity * rows))
    shape = (rows, cols) if layout == "torch" else (cols, rows)
    x = make("sparse", shape, {"sparsity": sparsity, "std": 0.5}, layout, "float32")
    values = make("normal", shape, {"std": 0.5, "mean": 0.0}, layout, "float32")
    x, values = torch_matrix(x, layout), torch_matrix(values, layout)
    mask = mask_of("w", rows, cols, zeros)
    assert np.all(mask.sum(axis=0) == zeros)
    assert np.all(x[mask] == 0)
    np.testing.assert_array_equal(x[~mask], values[~mask])


def test_sparse_mask_is_uniform_over_rows():
    rows, cols, zeros = 20, 4000, 5
    mask = mask_of("w", rows, cols, zeros)
    x = make("sparse", (rows, cols), {"sparsity": zeros / rows})
    assert np.array_equal(x == 0, mask)
    # each row is zeroed in Binomial(cols, zeros/rows) columns
    p = zeros / rows
    counts = mask.sum(axis=1)
    assert np.all(np.abs(counts - cols * p) < 6 * math.sqrt(cols * p * (1 - p)))


@pytest.mark.parametrize(
    "scheme,shape,args",
    [
        ("orthogonal", (30, 50), {}),
        ("sparse", (30, 50), {"sparsity": 0.2}),
        ("dirac", (4, 4, 3), {}),
        ("identity", (4, 6), {}),
    ],
)
def test_whole_tensor_values_depend_on_seed_and_name_only(scheme, shape, args):
    a = make(scheme, shape, args, dtype="float32")
    assert np.array_equal(a, make(scheme, shape, args, dtype="float32"))
    if scheme in ("orthogonal", "sparse"):
        assert not np.array_equal(a, make(scheme, shape, args, dtype="float32", seed=SEED + 1))
        assert not np.array_equal(a, make(scheme, shape, args, dtype="float32", name="v"))


@pytest.mark.parametrize(
    "env",
    [
        {"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR", "OPENBLAS_CORETYPE": "Haswell"},
        {"NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR", "OPENBLAS_CORETYPE": "Prescott"},
    ],
    ids=["avx2", "x86-64-v2"],
)
def test_whole_tensor_bits_do_not_depend_on_cpu_features(env):
    """The same bits when NumPy and OpenBLAS pick the kernels of older CPUs
    (docs/file-contract.md, 1.4)."""
    script = "from helpers import numpy_cpu_features, whole_hashes; print(numpy_cpu_features()); print(whole_hashes(), end='')"
    features, _, hashes = run_in_child(script, env).partition("\n")
    assert_features_reached_numpy(env, features)
    assert hashes == whole_hashes()
