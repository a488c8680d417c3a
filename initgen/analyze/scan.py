"""One pass over every chunk of a file's tensors, in workers, merged in chunk order.

Each tensor is cut into chunks of ``CHUNK_VALUES`` values (the unit of work and of
memory: a chunk's mapped pages are released once it is done); small tensors are
batched together. :mod:`.reduce` reduces each chunk by the width of its dtype;
memory-mapped safetensors files of ``FORK_BYTES`` or more go to forked worker
processes (:mod:`.workers`), others to threads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from ..readers import TensorInfo, WeightFile
from ..threads import default_threads
from .moments import Partial
from .reduce import Part, reduce_chunk
from .tables import TABLE_DTYPES
from .workers import run_batches

CHUNK_VALUES = 1 << 22  # values per unit of work and of mapped memory (16 MB of float32)
FORK_BYTES = 64 << 20  # smaller files: threads (forking workers would cost more than it saves)


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
