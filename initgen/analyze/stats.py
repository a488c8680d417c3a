"""Streaming per-tensor statistics over any supported file, in bounded memory.

Each tensor is cut into chunks of ``CHUNK_VALUES`` values (the unit of work for
``threads`` and of memory: a chunk's mapped pages are released once it is done).
One pass over each chunk reduces it by the width of its dtype (:mod:`.reduce`):
the count of every code for types of 16 bits or fewer, from which :mod:`.tables`
derives every statistic exactly; moments, extremes and float32 bucket counts for
wider types. Partial results are merged in chunk order (counts are integers), so
the numbers do not depend on the thread count. Memory-mapped safetensors files are
reduced in forked worker processes (:mod:`.workers`), others in threads.

Value statistics (mean, std, min, max, abs-max, histogram, quantiles) are over the
finite values; NaN and ±Inf are counted apart. std is the population std (divide by n).
"""

from __future__ import annotations

import fnmatch
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..paths import PathLike
from ..progress import Counter, Progress
from ..readers import TensorInfo, open_weights
from ..storage import StorageOptions
from ..threads import default_threads
from .moments import HIST_BINS, Partial
from .scan import scan
from .tables import TABLE_DTYPES, coarse_table, exact_table, summarize

__all__ = ["HIST_BINS", "FileStats", "TensorStats", "default_threads", "read_stats", "recorded_plans"]


@dataclass
class TensorStats:
    name: str
    shape: list[int]
    dtype: str
    count: int  # all values, finite or not
    bytes: int
    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    absmax: float | None
    zero_fraction: float | None
    nan: int
    inf: int
    hist: dict[str, Any] | None  # {"min", "max", "counts"}: HIST_BINS equal bins over [min, max]
    scheme: str | None = None
    expected_mean: float | None = None
    expected_std: float | None = None
    kind: str | None = None  # the recorded distribution's sampler kind
    quantiles: dict[str, float] | None = None  # {"p0.1", "p1", "p50", "p99", "p99.9"}: inverted CDF


@dataclass
class FileStats:
    file: str
    format: str
    tensors: list[TensorStats]
    metadata: dict[str, str]
    # each tensor's counted codes (buckets for float32 and wider): (codes, counts)
    tables: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)

    @property
    def params(self) -> int:
        return sum(t.count for t in self.tensors)

    @property
    def nbytes(self) -> int:
        return sum(t.bytes for t in self.tensors)

    def dtypes(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.tensors:
            out[t.dtype] = out.get(t.dtype, 0) + 1
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    def to_json(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {
            "file": self.file,
            "format": self.format,
            "initgen": {
                k[len("initgen.") :]: v
                for k, v in self.metadata.items()
                if k.startswith("initgen.") and k not in ("initgen.tensors", "initgen.stream_doc")
            },
            "totals": {
                "tensors": len(self.tensors),
                "params": self.params,
                "bytes": self.nbytes,
                "dtypes": self.dtypes(),
                "nan": sum(t.nan for t in self.tensors),
                "inf": sum(t.inf for t in self.tensors),
            },
            "tensors": [asdict(t) for t in self.tensors],
        }


def tensor_stats(
    info: TensorInfo,
    codes: np.ndarray,
    counts: np.ndarray,
    p: Partial | None,
    rec: dict[str, Any] | None = None,
) -> TensorStats:
    rec = rec or {}
    dist: dict[str, Any] = rec["dist"] if isinstance(rec.get("dist"), dict) else {}
    table = exact_table(info.dtype) if info.dtype in TABLE_DTYPES else coarse_table()
    dense = np.zeros(table.values.size, dtype=np.int64)
    dense[codes] = counts
    if p is None:  # a table type: counts tell everything
        s = summarize(table, dense)
        p = Partial(s.n, s.mean, s.m2, s.zeros, s.nan, s.inf, s.lo, s.hi)
    else:
        s = summarize(table, dense, p.lo, p.hi)
    has = p.n > 0
    return TensorStats(
        info.name,
        list(info.shape),
        info.dtype,
        info.numel,
        info.nbytes,
        p.mean if has else None,
        math.sqrt(p.m2 / p.n) if has else None,
        p.lo if has else None,
        p.hi if has else None,
        max(abs(p.lo), abs(p.hi)) if has else None,
        p.zeros / p.n if has else None,
        p.nan,
        p.inf,
        {"min": p.lo, "max": p.hi, "counts": s.hist} if has else None,
        rec.get("scheme"),
        _recorded_number(dist.get("mean")),
        _recorded_number(dist.get("std"), nonnegative=True),
        dist.get("kind"),
        s.quantiles if has else None,
    )


def _recorded_number(v: Any, nonnegative: bool = False) -> float | None:
    """A recorded expectation if it is a finite real number (metadata may be edited or
    corrupt: anything else counts as not recorded)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return None if nonnegative and v < 0 else float(v)


def read_stats(
    path: PathLike,
    *,
    threads: int | None = None,
    tensors: Sequence[str] = (),
    progress: Progress | None = None,
    storage_options: StorageOptions | None = None,
) -> FileStats:
    """Statistics of every tensor in a weight file.

    Args:
        path: a safetensors file, an HDF5 file, or a sharded checkpoint (its index or
            directory).
        threads: worker threads (default: all cores); the results do not depend on it.
        tensors: only the tensors matching any of these globs (``h.*.attn.*``).
        progress: called with ``(values done, values total)``.
        storage_options: fsspec options when ``path`` is a URL (``s3://…``).

    Returns:
        A :class:`FileStats` with one :class:`TensorStats` per tensor.

    Raises:
        FileFormatError: the file cannot be read.
        UsageError: no tensor matches ``tensors``.
    """
    from ..errors import UsageError, suggest

    with open_weights(path, storage_options) as wf:
        infos = [t for t in wf.tensors if not tensors or any(fnmatch.fnmatchcase(t.name, g) for g in tensors)]
        if tensors and not infos:
            names = [t.name for t in wf.tensors]
            hint = suggest(tensors[0], names)
            raise UsageError(
                f"{path}: no tensor matches --tensors {' '.join(map(repr, tensors))}"
                + (f"; {hint}" if hint else f" ({len(names)} tensors in the file)")
            )
        recorded = recorded_plans(wf.metadata)
        add = Counter(sum(i.numel for i in infos), progress).add if progress else None
        found = scan(wf, infos, threads, add)
        out = [tensor_stats(i, *found[i.name], recorded.get(i.name)) for i in infos]
        tables = {name: (codes, counts) for name, (codes, counts, _) in found.items()}
        return FileStats(str(path), wf.format, out, wf.metadata, tables)


def recorded_plans(meta: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Per-tensor plans recorded by initgen (``initgen.tensors``), if the file has them."""
    try:
        value = json.loads(meta.get("initgen.tensors", "{}"))
        return value if isinstance(value, dict) else {}
    except json.JSONDecodeError:
        return {}
