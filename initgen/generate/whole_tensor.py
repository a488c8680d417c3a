"""Whole-tensor schemes: values that depend on the whole tensor at once.

They are built from the same deterministic streams as element-wise schemes (the
Gaussian matrix of ``orthogonal`` and the values of ``sparse`` are exactly what
``normal`` would give the tensor), and use no BLAS/LAPACK: the QR factorisation is a
Gram-Schmidt written with element-wise products and ``np.add.reduce``, which give the
same bits on every CPU (BLAS kernels do not; see docs/file-contract.md, 1.2).

Layouts: torch's definitions read the output axis as the first ("rows"); for
keras/jax kernels (``last_axis_out = 1``) the output axis is the last, so each scheme
applies torch's definition to the tensor with that axis moved first (what Keras'
``Orthogonal`` does too). A layer thus gets the same structure in either layout.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from .sampling import chunk_stream, sample_elementwise

MASK_SALT = 1  # sparse: the zero mask's stream, apart from the values' streams


def orthonormal_columns(a: np.ndarray) -> np.ndarray:
    """Q of the QR factorisation of ``a`` (rows ≥ cols) with diag(R) > 0.

    Classical Gram-Schmidt applied twice ("CGS2", numerically as orthogonal as
    Householder). Positive diag(R) is the sign fix torch and JAX apply to the
    LAPACK result, so Q is the unique one with that property.
    """
    rows, cols = a.shape
    qt = np.empty((cols, rows), dtype=np.float64)  # Q transposed: q_j contiguous
    buf = np.empty((cols, rows), dtype=np.float64)  # products, reused: no allocation per step
    for j in range(cols):
        v = a[:, j].astype(np.float64)
        for _ in range(2):
            if j:
                blk = buf[:j]
                np.multiply(qt[:j], v, out=blk)
                r = np.add.reduce(blk, axis=1)
                np.multiply(qt[:j], r[:, None], out=blk)
                v -= np.add.reduce(blk, axis=0)
        norm = math.sqrt(float(np.add.reduce(v * v)))
        if norm == 0.0:  # probability zero for a Gaussian matrix; keep Q defined
            v = np.zeros(rows)
            v[j % rows] = 1.0
            norm = 1.0
        qt[j] = v / norm
    return qt.T


def _rows_cols(shape: tuple[int, ...], last_axis_out: float) -> tuple[int, int]:
    """torch's matrix view: (output axis, everything else flattened)."""
    rows = shape[-1] if last_axis_out else shape[0]
    return rows, math.prod(shape) // rows if rows else 0


def _orthogonal(
    p: Mapping[str, float], seed: int, name: str, shape: tuple[int, ...], dt: np.dtype
) -> np.ndarray:
    last = p.get("last_axis_out", 0.0)
    rows, cols = _rows_cols(shape, last)
    g = sample_elementwise("normal", {"mean": 0.0, "std": 1.0}, seed, name, rows * cols, np.dtype(np.float64))
    if last:  # keras: the tensor is [rest, out]; orthogonalise its transpose's rows
        m = g.reshape(cols, rows).T
    else:
        m = g.reshape(rows, cols)
    # blocks > 1: recurrent gate blocks, each an equal slice of the output axis made
    # orthogonal on its own (torch's gate weights stacked along rows).
    blocks = int(p.get("blocks", 1))
    q = np.concatenate([_orthogonal_rows(b) for b in np.split(m, blocks, axis=0)], axis=0)
    q *= p["gain"]
    out = q.T if last else q
    return np.ascontiguousarray(out).astype(dt).reshape(shape)


def _orthogonal_rows(m: np.ndarray) -> np.ndarray:
    rows, cols = m.shape
    return orthonormal_columns(m.T).T if rows < cols else orthonormal_columns(m)


def _constant_slice(
    p: Mapping[str, float], seed: int, name: str, shape: tuple[int, ...], dt: np.dtype
) -> np.ndarray:
    """``value`` everywhere but ``inside`` on flat indices [start, stop): an LSTM's
    forget-gate bias of 1."""
    out = np.full(math.prod(shape), p["value"], dtype=dt)
    out[int(p["start"]) : int(p["stop"])] = p["inside"]
    return out.reshape(shape)


def _identity(
    p: Mapping[str, float], seed: int, name: str, shape: tuple[int, ...], dt: np.dtype
) -> np.ndarray:
    out = np.zeros(shape, dtype=dt)
    k = np.arange(min(shape))
    out[k, k] = p["gain"]
    return out


def _dirac(p: Mapping[str, float], seed: int, name: str, shape: tuple[int, ...], dt: np.dtype) -> np.ndarray:
    """torch's ``dirac_(groups)``: w[g·(out/groups) + d, d, centre] = gain."""
    last = p.get("last_axis_out", 0.0)
    groups = int(p["groups"])
    out = np.zeros(shape, dtype=dt)
    # torch's view [out, in/groups, *k]: keras kernels are [*k, in/groups, out]
    view = np.moveaxis(out, (-1, -2), (0, 1)) if last else out
    per_group = view.shape[0] // groups
    d = np.arange(min(per_group, view.shape[1]))
    centre = tuple(s // 2 for s in view.shape[2:])
    for g in range(groups):
        at = (g * per_group + d, d, *centre)
        view[at] = p["gain"]
    return out


def _sparse(p: Mapping[str, float], seed: int, name: str, shape: tuple[int, ...], dt: np.dtype) -> np.ndarray:
    """torch's ``sparse_``: N(0, std²), then ``zeros`` entries of each column set to 0.

    The rows zeroed in column j are the first ``zeros`` of a stable argsort of
    ``rows`` raw 64-bit keys drawn for that column, in column order, from the
    tensor's mask stream (a uniformly random subset, like torch's ``randperm``).
    """
    last = p.get("last_axis_out", 0.0)
    rows, cols = _rows_cols(shape, last)
    values = sample_elementwise(
        "normal", {"mean": 0.0, "std": p["std"]}, seed, name, rows * cols, dt
    ).reshape(shape)
    view = values.T if last else values  # [rows, cols] in torch's orientation
    zeros = int(p["zeros"])
    if zeros == 0 or rows == 0:
        return values
    bg = chunk_stream(seed, name, 0, salt=MASK_SALT)
    step = max(1, (1 << 20) // rows)  # columns per block of keys: bounded memory
    for c0 in range(0, cols, step):
        c1 = min(cols, c0 + step)
        keys = bg.random_raw((c1 - c0) * rows).reshape(c1 - c0, rows)
        picked = np.argsort(keys, axis=1, kind="stable")[:, :zeros]  # [cols in block, zeros]
        view[picked, np.arange(c0, c1)[:, None]] = 0
    return values


WholeSampler = Callable[[Mapping[str, float], int, str, tuple[int, ...], np.dtype], np.ndarray]

WHOLE_SAMPLERS: dict[str, WholeSampler] = {
    "orthogonal": _orthogonal,
    "identity": _identity,
    "dirac": _dirac,
    "sparse": _sparse,
    "constant_slice": _constant_slice,
}
