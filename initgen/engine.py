"""Chunked, seeded, threaded generation.

Each tensor is cut into chunks of ``sampling.CHUNK`` values; each chunk is one task
and draws from its own stream, so a task's values do not depend on which thread
runs it, in what order, or what else is made. Tasks run in a thread pool (NumPy
releases the GIL in its loops); results are handed to the sink in task order with a
bounded window, so memory holds at most ``window`` chunks whatever the model size.
Whole-tensor schemes (orthogonal, ...) are one task holding that tensor.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from .dtypes import DTYPES
from .plan import TensorPlan
from .sampling import CHUNK, CHUNK_SAMPLERS, sample_chunk, work_dtype
from .whole import WHOLE_SAMPLERS

Sink = Callable[[TensorPlan, int, np.ndarray], None]


def default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def tasks(t: TensorPlan) -> Iterator[tuple[int, int]]:
    """(chunk index, value count) of each task of tensor ``t``."""
    if t.dist.kind in WHOLE_SAMPLERS:
        yield -1, t.numel
        return
    for i, start in enumerate(range(0, t.numel, CHUNK)):
        yield i, min(CHUNK, t.numel - start)


def make_chunk(t: TensorPlan, seed: int, chunk: int, count: int) -> np.ndarray:
    """Values of one task, flat, in the tensor's output dtype."""
    out = DTYPES[t.dtype].np
    wdt = work_dtype(out)
    if chunk < 0:
        values = WHOLE_SAMPLERS[t.dist.kind](t.dist.params, seed, t.name, t.shape, wdt).reshape(-1)
    elif t.dist.kind in CHUNK_SAMPLERS:
        values = sample_chunk(t.dist.kind, t.dist.params, seed, t.name, chunk, count, wdt)
    else:
        raise AssertionError(f"no sampler for {t.dist.kind}")
    return values if values.dtype == out else values.astype(out)


def make_tensor(t: TensorPlan, seed: int) -> np.ndarray:
    """One whole tensor, exactly as it appears in a file made from its plan."""
    out = np.empty(t.numel, dtype=DTYPES[t.dtype].np)
    start = 0
    for chunk, count in tasks(t):
        out[start : start + count] = make_chunk(t, seed, chunk, count)
        start += count
    return out.reshape(t.shape)


def generate(tensors: list[TensorPlan], seed: int, sink: Sink, threads: int | None = None,
             progress: Callable[[int], None] | None = None) -> None:
    """Make every tensor and pass each chunk to ``sink(tensor, start, values)``.

    ``sink`` is called from this thread, for each tensor in element order.
    """
    threads = threads or default_threads()
    work = [(t, chunk, count, start)
            for t in tensors
            for (chunk, count), start in _with_starts(tasks(t))]
    if threads == 1:
        for t, chunk, count, start in work:
            values = make_chunk(t, seed, chunk, count)
            sink(t, start, values)
            if progress:
                progress(values.nbytes)
        return
    window = 2 * threads
    with ThreadPoolExecutor(threads, thread_name_prefix="initgen") as pool:
        inflight: deque[tuple[TensorPlan, int, Future[np.ndarray]]] = deque()
        try:
            for t, chunk, count, start in work:
                inflight.append((t, start, pool.submit(make_chunk, t, seed, chunk, count)))
                if len(inflight) >= window:
                    _drain_one(inflight, sink, progress)
            while inflight:
                _drain_one(inflight, sink, progress)
        except BaseException:
            for _, _, fut in inflight:
                fut.cancel()
            raise


def _with_starts(it: Iterator[tuple[int, int]]) -> Iterator[tuple[tuple[int, int], int]]:
    start = 0
    for chunk, count in it:
        yield (chunk, count), start
        start += count


def _drain_one(inflight: deque, sink: Sink, progress: Callable[[int], None] | None) -> None:
    t, start, fut = inflight.popleft()
    values = fut.result()
    sink(t, start, values)
    if progress:
        progress(values.nbytes)
