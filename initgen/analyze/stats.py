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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..paths import PathLike
from ..progress import Counter, Progress
from ..readers import TensorInfo, WeightFile, open_weights
from ..threads import default_threads
from .moments import HIST_BINS, Partial
from .reduce import Part, reduce_chunk
from .tables import TABLE_DTYPES, coarse_table, exact_table, summarize
from .workers import run_batches

__all__ = ["HIST_BINS", "FileStats", "TensorStats", "default_threads", "read_stats", "recorded_plans"]

CHUNK_VALUES = 1 << 22  # values per unit of work and of mapped memory (16 MB of float32)
FORK_BYTES = 64 << 20  # smaller files: threads (forking workers would cost more than it saves)


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


Item = tuple[str, int, int]  # (tensor, first value, count)


def _batches(tensors: Iterable[TensorInfo]) -> list[list[Item]]:
    """Units of work: each chunk of a large tensor alone, runs of small tensors
    together (a worker's per-task cost would dominate 10,000 biases otherwise)."""
    out: list[list[Item]] = []
    run: list[Item] = []
    size = 0
    for t in tensors:
        for s in range(0, t.numel, CHUNK_VALUES):
            k = min(CHUNK_VALUES, t.numel - s)
            if run and size + k > CHUNK_VALUES:
                out.append(run)
                run, size = [], 0
            run.append((t.name, s, k))
            size += k
    if run:
        out.append(run)
    return out


Scanned = tuple[np.ndarray, np.ndarray, Partial | None]  # codes, their counts, moments


def scan(
    wf: WeightFile,
    tensors: list[TensorInfo],
    threads: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Scanned]:
    """The counted codes and (float32 and wider) the moments of each tensor of ``wf``."""
    batches = _batches(tensors)
    dtypes = {t.name: t.dtype for t in tensors}
    shifts = {t.name: _first(wf, t) for t in tensors if t.dtype not in TABLE_DTYPES}

    def reduce(batch: list[Item]) -> list[Part]:
        out = []
        for name, s, k in batch:
            try:
                out.append(reduce_chunk(wf.raw(name, s, k), dtypes[name], shifts.get(name, 0.0)))
            finally:
                wf.release(name, s, k)
        return out

    forked = wf.format.startswith("safetensors") and sum(t.nbytes for t in tensors) >= FORK_BYTES
    done = (lambda batch: progress(sum(k for _, _, k in batch))) if progress else None
    found = run_batches(reduce, batches, threads or default_threads(), processes=forked, done=done)
    out: dict[str, Scanned] = {}
    dense: np.ndarray | None = None
    moments: Partial | None = None
    current = None
    for (name, _, _), part in (pair for batch, parts in zip(batches, found) for pair in zip(batch, parts)):
        if name != current:  # a tensor's chunks are consecutive: finish the previous one
            if current is not None and dense is not None:
                out[current] = _finish(dense, moments, shifts.get(current, 0.0))
            current, dense = name, np.zeros(1 << 16, dtype=np.int64)
            moments = Partial() if part.moments is not None else None
        assert dense is not None
        part.add_to(dense)
        if moments is not None and part.moments is not None:
            moments.merge(part.moments)  # in chunk order: the same sums for any thread count
    if current is not None and dense is not None:
        out[current] = _finish(dense, moments, shifts.get(current, 0.0))
    empty = np.zeros(0, dtype=np.int64)
    return {
        t.name: out.get(t.name, (empty, empty, None if t.dtype in TABLE_DTYPES else Partial()))
        for t in tensors
    }


def _first(wf: WeightFile, t: TensorInfo) -> float:
    """The shift wide tensors' sums are taken about: the first value, if finite and
    not so large that differences from it could overflow."""
    if not t.numel:
        return 0.0
    try:
        v = float(wf.raw(t.name, 0, 1)[0])
    finally:
        wf.release(t.name, 0, 1)
    return v if abs(v) < 1e150 else 0.0  # NaN and ±Inf fail the test too


def _finish(dense: np.ndarray, moments: Partial | None, shift: float) -> Scanned:
    codes = np.flatnonzero(dense)
    if moments is not None:
        moments.mean += shift  # the mean about the shift → the mean
    return codes, dense[codes], moments


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
) -> FileStats:
    """Statistics of every tensor in a weight file.

    Args:
        path: a safetensors file, an HDF5 file, or a sharded checkpoint (its index or
            directory).
        threads: worker threads (default: all cores); the results do not depend on it.
        tensors: only the tensors matching any of these globs (``h.*.attn.*``).
        progress: called with ``(values done, values total)``.

    Returns:
        A :class:`FileStats` with one :class:`TensorStats` per tensor.

    Raises:
        FileFormatError: the file cannot be read.
        UsageError: no tensor matches ``tensors``.
    """
    from ..errors import UsageError, suggest

    with open_weights(path) as wf:
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
