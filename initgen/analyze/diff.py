"""`initgen diff A B`: what differs between two weight files.

Tensors only in one file, shape or dtype changes, and for tensors in both: whether
their bytes are identical (compared chunk by chunk, in bounded memory) and how
their statistics moved (B − A). Two files are the same when every tensor is in
both with the same shape, dtype and bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..paths import PathLike
from ..readers import WeightFile, open_weights
from ..storage import StorageOptions
from .scan import CHUNK_VALUES
from .stats import FileStats, TensorStats, read_stats

STAT_KEYS = ("mean", "std", "min", "max", "absmax")


@dataclass
class TensorDiff:
    name: str
    change: str  # only in A | only in B | shape | dtype | values | same
    a: TensorStats | None
    b: TensorStats | None

    def delta(self, key: str) -> float | None:
        va = getattr(self.a, key) if self.a else None
        vb = getattr(self.b, key) if self.b else None
        return vb - va if va is not None and vb is not None else None

    def to_json(self) -> dict[str, Any]:
        side = lambda t: (
            None
            if t is None
            else {
                "shape": t.shape,
                "dtype": t.dtype,
                **{k: getattr(t, k) for k in STAT_KEYS},
            }
        )
        return {
            "name": self.name,
            "change": self.change,
            "a": side(self.a),
            "b": side(self.b),
            "delta": {k: self.delta(k) for k in STAT_KEYS},
        }


@dataclass
class FileDiff:
    a: FileStats
    b: FileStats
    tensors: list[TensorDiff]

    @property
    def same(self) -> bool:
        return all(t.change == "same" for t in self.tensors)

    def count(self, change: str) -> int:
        return sum(t.change == change for t in self.tensors)

    def to_json(self) -> dict[str, Any]:
        return {
            "a": self.a.file,
            "b": self.b.file,
            "same": self.same,
            "summary": {c: self.count(c) for c in CHANGES},
            "tensors": [t.to_json() for t in self.tensors],
        }


CHANGES = ("only in A", "only in B", "shape", "dtype", "values", "same")


def same_bytes(wa: WeightFile, wb: WeightFile, name: str) -> bool:
    n = wa.info(name).numel
    for s in range(0, n, CHUNK_VALUES):
        k = min(CHUNK_VALUES, n - s)
        try:
            x, y = wa.values(name, s, k), wb.values(name, s, k)
            if x.dtype.byteorder != y.dtype.byteorder:
                y = y.astype(x.dtype)
            if not np.array_equal(
                np.ascontiguousarray(x).view(np.uint8), np.ascontiguousarray(y).view(np.uint8)
            ):
                return False
        finally:
            wa.release(name, s, k)
            wb.release(name, s, k)
    return True


def diff_files(
    a: PathLike, b: PathLike, *, threads: int | None = None, storage_options: StorageOptions | None = None
) -> FileDiff:
    """Compare two weight files of any supported formats, tensor by tensor.

    Args:
        a, b: weight files (safetensors, HDF5, or sharded checkpoints).
        threads: worker threads for the statistics (default: all cores).
        storage_options: fsspec options for ``a`` or ``b`` given as URLs (``s3://…``).

    Returns:
        A :class:`FileDiff`: tensors only in one file, shape or dtype changes, whether
        the bytes are identical, and how the statistics moved (B − A).

    Raises:
        FileFormatError: either file cannot be read.
    """
    opts = storage_options
    sa, sb = (
        read_stats(a, threads=threads, storage_options=opts),
        read_stats(b, threads=threads, storage_options=opts),
    )
    ta, tb = {t.name: t for t in sa.tensors}, {t.name: t for t in sb.tensors}
    out = []
    with open_weights(a, opts) as wa, open_weights(b, opts) as wb:
        for name in [*ta, *(n for n in tb if n not in ta)]:
            x, y = ta.get(name), tb.get(name)
            if y is None:
                change = "only in A"
            elif x is None:
                change = "only in B"
            elif x.shape != y.shape:
                change = "shape"
            elif x.dtype != y.dtype:
                change = "dtype"
            else:
                change = "same" if same_bytes(wa, wb, name) else "values"
            out.append(TensorDiff(name, change, x, y))
    return FileDiff(sa, sb, out)


def diff_view(d: FileDiff, fmt: str, show_same: bool = False) -> str | None:
    from ..report import render, shape_text

    def shape(t: TensorStats | None) -> str:
        return "-" if t is None else shape_text(t.shape)

    def arrow(x: str, y: str) -> str:
        return x if x == y else f"{x} → {y}"

    rows = []
    for t in d.tensors:
        if t.change == "same" and not show_same:
            continue
        ratio = t.b.std / t.a.std if t.a and t.b and t.a.std and t.b.std is not None else None
        rows.append(
            [
                t.name,
                t.change,
                arrow(shape(t.a), shape(t.b)),
                arrow(t.a.dtype if t.a else "-", t.b.dtype if t.b else "-"),
                t.delta("mean"),
                t.delta("std"),
                ratio,
                t.delta("min"),
                t.delta("max"),
            ]
        )
    summary = ", ".join(f"{d.count(c)} {c}" for c in CHANGES if d.count(c))
    footer = [f"{len(d.tensors)} tensors", summary, "", "", "", "", "", "", ""]
    from ..report import finite_json

    return render(
        f"{d.a.file} → {d.b.file}",
        ["tensor", "change", "shape", "dtype", "Δmean", "Δstd", "std B/A", "Δmin", "Δmax"],
        rows,
        fmt,
        finite_json(d.to_json()),
        footer,
    )
