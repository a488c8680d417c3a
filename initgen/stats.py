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
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .io.readers import TensorInfo, WeightFile, np_dtype, open_weights

CHUNK_VALUES = 1 << 22  # values per unit of work and of mapped memory (16 MB of float32)
BLOCK = 1 << 15  # values per float64 block: 256 KB, stays in cache between the reductions
HIST_BINS = 32
NARROW = ("bfloat16", "float8_e4m3fn", "float8_e5m2")  # ml_dtypes: widen to float32 first


@dataclass
class Partial:
    """Accumulated statistics of part of a tensor (one chunk, or a merge of chunks)."""

    n: int = 0  # finite values
    mean: float = 0.0
    m2: float = 0.0
    zeros: int = 0
    nan: int = 0
    posinf: int = 0
    neginf: int = 0
    hist: np.ndarray = field(default_factory=lambda: np.zeros(HIST_BINS, dtype=np.int64))

    def merge(self, o: Partial) -> Partial:
        """Chan et al.'s update: combine (n, mean, M2) of two disjoint parts."""
        n = self.n + o.n
        if n:
            d = o.mean - self.mean
            self.mean += d * o.n / n
            self.m2 += o.m2 + d * d * self.n * o.n / n
        self.n = n
        self.zeros += o.zeros
        self.nan += o.nan
        self.posinf += o.posinf
        self.neginf += o.neginf
        self.hist += o.hist
        return self


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
            "initgen": {k[len("initgen."):]: v for k, v in self.metadata.items()
                        if k.startswith("initgen.") and k not in ("initgen.tensors", "initgen.stream_doc")},
            "totals": {"tensors": len(self.tensors), "params": self.params, "bytes": self.nbytes,
                       "dtypes": self.dtypes(), "nan": sum(t.nan for t in self.tensors),
                       "inf": sum(t.inf for t in self.tensors)},
            "tensors": [asdict(t) for t in self.tensors],
        }


def _work(x: np.ndarray) -> np.ndarray:
    """A block as a dtype NumPy reduces fast (ml_dtypes' own loops are slow)."""
    if x.dtype.name in NARROW:
        return x.astype(np.float32)
    if x.dtype.kind == "b":
        return x.view(np.uint8)
    return x


def _finite_range(x: np.ndarray) -> tuple[float, float]:
    """(min, max) of the finite values of a chunk; (inf, -inf) if there are none."""
    lo, hi = math.inf, -math.inf
    for s in range(0, x.size, 8 * BLOCK):
        b = _work(x[s : s + 8 * BLOCK])
        blo, bhi = float(np.fmin.reduce(b)), float(np.fmax.reduce(b))  # fmin/fmax skip NaN
        if not (math.isfinite(blo) and math.isfinite(bhi)):
            f = b[np.isfinite(b)]
            if not f.size:
                continue
            blo, bhi = float(f.min()), float(f.max())
        lo, hi = min(lo, blo), max(hi, bhi)
    return lo, hi


def _moments(x: np.ndarray, lo: float, hi: float) -> Partial:
    """One chunk's Partial, given the tensor's finite [lo, hi]."""
    out = Partial()
    if hi < lo:  # no finite value at all
        fx = _work(x)
        out.nan = int(np.count_nonzero(np.isnan(fx))) if fx.dtype.kind == "f" else 0
        out.posinf = int(np.count_nonzero(fx == np.inf)) if fx.dtype.kind == "f" else 0
        out.neginf = int(np.count_nonzero(fx == -np.inf)) if fx.dtype.kind == "f" else 0
        return out
    shift = lo + (hi - lo) / 2  # sums about a point inside [lo, hi]: no catastrophic cancellation
    width = hi - lo
    m = min(BLOCK, x.size)  # small tensors: small buffers (many tensors are biases)
    buf, sq = np.empty(m), np.empty(m)
    idx = np.empty(m, dtype=np.intp)
    for s in range(0, x.size, BLOCK):
        b = _work(x[s : s + BLOCK])
        k = b.size
        d, q, ix = buf[:k], sq[:k], idx[:k]
        np.subtract(b, shift, out=d, dtype=np.float64)
        s1 = float(np.add.reduce(d))
        if not math.isfinite(s1):  # rare: NaN/Inf in this block (or an overflowing sum)
            fin = np.isfinite(b)
            out.nan += int(np.count_nonzero(np.isnan(b)))
            out.posinf += int(np.count_nonzero(b == np.inf))
            out.neginf += int(np.count_nonzero(b == -np.inf))
            b = b[fin]
            k = b.size
            if not k:
                continue
            d, q, ix = buf[:k], sq[:k], idx[:k]
            np.subtract(b, shift, out=d, dtype=np.float64)
            s1 = float(np.add.reduce(d))
        np.multiply(d, d, out=q)
        s2 = float(np.add.reduce(q))
        bmean = s1 / k
        part = Partial(k, shift + bmean, max(s2 - s1 * bmean, 0.0))
        part.zeros = int(np.count_nonzero(b == 0))
        # np.histogram's index formula: ((v - first_edge) / (last - first)) * bins
        if width > 0:
            np.subtract(b, lo, out=q, dtype=np.float64)
            np.divide(q, width, out=q)
            np.multiply(q, HIST_BINS, out=q)
            np.copyto(ix, q, casting="unsafe")  # truncation = floor: q ≥ 0
            h = np.bincount(ix, minlength=HIST_BINS + 1)
            h[HIST_BINS - 1] += h[HIST_BINS]  # v = max lands on index HIST_BINS: last bin
            part.hist = h[:HIST_BINS]
        else:  # a single value: the middle bin, so it draws as one centred bar
            part.hist[HIST_BINS // 2] = k
        out.merge(part)
    return out


def default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


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


def scan(wf: WeightFile, tensors: list[TensorInfo], threads: int | None = None,
         progress: Callable[[int], None] | None = None) -> dict[str, tuple[float, float, Partial]]:
    """(min, max, Partial) of each tensor of ``wf``, with ``threads`` workers."""
    batches = _batches(tensors)

    def pass1(batch: list[Item]) -> list[tuple[float, float]]:
        out = []
        for name, s, k in batch:
            try:
                out.append(_finite_range(wf.values(name, s, k)))
            finally:
                wf.release(name, s, k)
        return out

    ranges: dict[str, tuple[float, float]] = {t.name: (math.inf, -math.inf) for t in tensors}

    def pass2(batch: list[Item]) -> list[Partial]:
        out = []
        for name, s, k in batch:
            try:
                out.append(_moments(wf.values(name, s, k), *ranges[name]))
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


def tensor_stats(info: TensorInfo, lo: float, hi: float, p: Partial,
                 rec: dict[str, Any] | None = None) -> TensorStats:
    rec = rec or {}
    dist = rec.get("dist") if isinstance(rec.get("dist"), dict) else {}
    has = p.n > 0
    return TensorStats(
        info.name, list(info.shape), info.dtype, info.numel,
        info.numel * np_dtype(info.dtype).itemsize,
        p.mean if has else None, math.sqrt(p.m2 / p.n) if has else None,
        lo if has else None, hi if has else None, max(abs(lo), abs(hi)) if has else None,
        p.zeros / p.n if has else None, p.nan, p.posinf + p.neginf,
        {"min": lo, "max": hi, "counts": [int(c) for c in p.hist]} if has else None,
        rec.get("scheme"), dist.get("mean"), dist.get("std"), dist.get("kind"),
    )


def read_stats(path: str | Path, *, threads: int | None = None, tensors: Sequence[str] = (),
               progress: Callable[[int, int], None] | None = None) -> FileStats:
    """Statistics of every tensor in a weight file, or of those matching any of the
    ``tensors`` globs (``h.*.attn.*``); ``progress(done, total)`` counts values."""
    from .errors import UsageError, suggest

    with open_weights(path) as wf:
        infos = [t for t in wf.tensors
                 if not tensors or any(fnmatch.fnmatchcase(t.name, g) for g in tensors)]
        if tensors and not infos:
            names = [t.name for t in wf.tensors]
            hint = suggest(tensors[0], names)
            raise UsageError(f"{path}: no tensor matches --tensors {' '.join(map(repr, tensors))}"
                             + (f"; {hint}" if hint else f" ({len(names)} tensors in the file)"))
        recorded = recorded_plans(wf.metadata)
        if progress:
            total, done = sum(i.numel for i in infos), 0
            report = progress

            def progress(k: int) -> None:  # type: ignore[no-redef]
                nonlocal done
                done += k
                report(done, total)
        found = scan(wf, infos, threads, progress)
        out = [tensor_stats(i, *found[i.name], recorded.get(i.name)) for i in infos]
        return FileStats(str(path), wf.format, out, wf.metadata)


def recorded_plans(meta: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Per-tensor plans recorded by initgen (``initgen.tensors``), if the file has them."""
    try:
        value = json.loads(meta.get("initgen.tensors", "{}"))
        return value if isinstance(value, dict) else {}
    except json.JSONDecodeError:
        return {}
