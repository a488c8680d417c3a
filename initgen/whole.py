"""Whole-tensor schemes: values that depend on the whole tensor at once.

They are built from the same deterministic streams as element-wise schemes (the
Gaussian matrix of ``orthogonal`` is exactly what ``normal(0, 1)`` would give the
tensor), and use no BLAS/LAPACK: the QR factorisation is a Gram-Schmidt written
with element-wise products and ``np.add.reduce``, which give the same bits on every
CPU (BLAS kernels do not; see PERF.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from .sampling import sample_elementwise


def orthonormal_columns(a: np.ndarray) -> np.ndarray:
    """Q of the QR factorisation of ``a`` (rows ≥ cols) with diag(R) > 0.

    Classical Gram-Schmidt applied twice ("CGS2", numerically as orthogonal as
    Householder). Positive diag(R) is the sign fix torch and JAX apply to the
    LAPACK result, so Q is the unique one with that property.
    """
    rows, cols = a.shape
    qt = np.empty((cols, rows), dtype=np.float64)  # Q transposed: q_j contiguous
    for j in range(cols):
        v = a[:, j].astype(np.float64)
        for _ in range(2):
            if j:
                r = np.add.reduce(qt[:j] * v, axis=1)
                v -= np.add.reduce(qt[:j] * r[:, None], axis=0)
        norm = math.sqrt(float(np.add.reduce(v * v)))
        if norm == 0.0:  # probability zero for a Gaussian matrix; keep Q defined
            v = np.zeros(rows)
            v[j % rows] = 1.0
            norm = 1.0
        qt[j] = v / norm
    return qt.T


def _orthogonal(p: Mapping[str, float], seed: int, name: str, shape: tuple[int, ...],
                dt: np.dtype) -> np.ndarray:
    rows, cols = shape[0], math.prod(shape[1:])
    g = sample_elementwise("normal", {"mean": 0.0, "std": 1.0}, seed, name, rows * cols,
                           np.dtype(np.float64)).reshape(rows, cols)
    q = orthonormal_columns(g.T).T if rows < cols else orthonormal_columns(g)
    q *= p["gain"]
    return q.astype(dt).reshape(shape)


WholeSampler = Callable[[Mapping[str, float], int, str, tuple[int, ...], np.dtype], np.ndarray]

WHOLE_SAMPLERS: dict[str, WholeSampler] = {
    "orthogonal": _orthogonal,
}
