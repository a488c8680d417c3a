"""Streaming per-tensor statistics over any supported file, in bounded memory.

Each tensor is cut into chunks of ``CHUNK_VALUES`` values (the unit of work for
``threads`` and of memory: a chunk's mapped pages are released once it is done),
and each chunk into cache-sized blocks of ``BLOCK`` values converted to float64.
Two passes per chunk: the first finds the finite min and max (in the file's own
dtype, cheap), the second accumulates count, mean and M2 (Chan's parallel update
of per-block sums taken about a shift inside [min, max], so no cancellation), the
zeros, NaN and ±Inf counts and a histogram of ``HIST_BINS`` equal bins over
[min, max] — which is why min and max must be known first. Partial results are
merged in chunk order, so the numbers do not depend on the thread count.

Value statistics (mean, std, min, max, abs-max, histogram) are over the finite
values; NaN and ±Inf are counted apart. std is the population std (divide by n).
"""

from __future__ import annotations

import fnmatch
import json
import math
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..paths import PathLike
from ..progress import Counter, Progress
from ..readers import TensorInfo, WeightFile, open_weights
from ..storage import StorageOptions
from ..threads import default_threads
from .moments import HIST_BINS, Partial, finite_range, moments

__all__ = ["HIST_BINS", "FileStats", "TensorStats", "default_threads", "read_stats", "recorded_plans"]

CHUNK_VALUES = 1 << 22  # values per unit of work and of mapped memory (16 MB of float32)


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


@dataclass
class FileStats:
    file: str
    format: str
    tensors: list[TensorStats]
    metadata: dict[str, str]

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


def scan(
    wf: WeightFile,
    tensors: list[TensorInfo],
    threads: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, tuple[float, float, Partial]]:
    """(min, max, Partial) of each tensor of ``wf``, with ``threads`` workers."""
    batches = _batches(tensors)

    def pass1(batch: list[Item]) -> list[tuple[float, float]]:
        out = []
        for name, s, k in batch:
            try:
                out.append(finite_range(wf.values(name, s, k)))
            finally:
                wf.release(name, s, k)
        return out

    ranges: dict[str, tuple[float, float]] = {t.name: (math.inf, -math.inf) for t in tensors}

    def pass2(batch: list[Item]) -> list[Partial]:
        out = []
        for name, s, k in batch:
            try:
                out.append(moments(wf.values(name, s, k), *ranges[name]))
            finally:
                wf.release(name, s, k)
        return out

    workers = threads or default_threads()
    with ThreadPoolExecutor(workers) if workers > 1 and len(batches) > 1 else _Serial() as pool:
        for batch, found in zip(batches, pool.map(pass1, batches)):
            for (name, _, _), (lo, hi) in zip(batch, found):
                rlo, rhi = ranges[name]
                ranges[name] = (min(lo, rlo), max(hi, rhi))
        parts: dict[str, Partial] = {t.name: Partial() for t in tensors}
        for batch, found in zip(batches, pool.map(pass2, batches)):
            for (name, _, k), part in zip(batch, found):
                parts[name].merge(part)  # in chunk order: the same sums for any thread count
                if progress:
                    progress(k)
    return {t.name: (*ranges[t.name], parts[t.name]) for t in tensors}


class _Serial:
    """The part of an executor ``scan`` uses, in this thread (threads=1)."""

    def __enter__(self) -> _Serial:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterable[Any]:
        return map(fn, items)


def tensor_stats(
    info: TensorInfo, lo: float, hi: float, p: Partial, rec: dict[str, Any] | None = None
) -> TensorStats:
    rec = rec or {}
    dist: dict[str, Any] = rec["dist"] if isinstance(rec.get("dist"), dict) else {}
    has = p.n > 0
    return TensorStats(
        info.name,
        list(info.shape),
        info.dtype,
        info.numel,
        info.nbytes,
        p.mean if has else None,
        math.sqrt(p.m2 / p.n) if has else None,
        lo if has else None,
        hi if has else None,
        max(abs(lo), abs(hi)) if has else None,
        p.zeros / p.n if has else None,
        p.nan,
        p.posinf + p.neginf,
        {"min": lo, "max": hi, "counts": [int(c) for c in p.hist]} if has else None,
        rec.get("scheme"),
        _recorded_number(dist.get("mean")),
        _recorded_number(dist.get("std"), nonnegative=True),
        dist.get("kind"),
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
        return FileStats(str(path), wf.format, out, wf.metadata)


def recorded_plans(meta: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Per-tensor plans recorded by initgen (``initgen.tensors``), if the file has them."""
    try:
        value = json.loads(meta.get("initgen.tensors", "{}"))
        return value if isinstance(value, dict) else {}
    except json.JSONDecodeError:
        return {}
