"""Chunked, seeded, threaded generation.

Each tensor is cut into chunks of ``sampling.CHUNK`` values; each chunk is one task
and draws from its own stream, so a task's values do not depend on which thread
runs it, in what order, or what else is made. Whole-tensor schemes (orthogonal, ...)
are one task holding that tensor.

Two ways to hand values to a writer:

* unordered sinks (safetensors: ``os.pwrite`` at an offset) are called by a
  writer thread of the worker that made the chunk, straight from its reusable
  buffer, while the worker makes its next chunk (``behind.py``); memory is a few
  chunk buffers per worker whatever the model size. For safetensors the workers are
  forked processes (``procs.py``: no GIL between them), else threads;
* ordered sinks (HDF5) are called from the calling thread in task order, with a
  bounded window of chunks in flight.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from . import interrupt
from .behind import WriteBehind, wait_all
from .cpus import default_threads
from .dtypes import DTYPES
from .exactmath import Scratch
from .plan import TensorPlan
from .sampling import CHUNK, CHUNK_SAMPLERS, fill_chunk, work_dtype
from .whole import WHOLE_SAMPLERS

Sink = Callable[[TensorPlan, int, np.ndarray], None]
Place = Callable[[TensorPlan, int], int]  # (tensor, first element) → wanted address residue
Task = tuple[TensorPlan, int, int, int]  # (tensor, chunk index, value count, first element)
Progress = Callable[[int], None]


def tasks(t: TensorPlan) -> Iterator[tuple[int, int]]:
    """(chunk index, value count) of each task of tensor ``t``; chunk −1 = whole tensor."""
    if t.dist.kind in WHOLE_SAMPLERS:
        yield -1, t.numel
        return
    for i, start in enumerate(range(0, t.numel, CHUNK)):
        yield i, min(CHUNK, t.numel - start)


def make_chunk(t: TensorPlan, seed: int, chunk: int, count: int,
               buffers: Scratch | None = None, residue: int | None = None) -> np.ndarray:
    """Values of one task, flat, in the tensor's output dtype.

    With ``buffers`` the result is a view of a reused buffer, valid until the next
    call with the same buffers; without, a fresh array. With ``buffers`` and
    ``residue``, a chunk's result starts at an address ≡ ``residue`` modulo
    ``exactmath.PLACE`` (for direct I/O; whole-tensor results are not placed).
    """
    out = DTYPES[t.dtype].np
    wdt = work_dtype(out)
    if chunk < 0:
        values = WHOLE_SAMPLERS[t.dist.kind](t.dist.params, seed, t.name, t.shape, wdt).reshape(-1)
        return values if values.dtype == out else values.astype(out)
    if t.dist.kind not in CHUNK_SAMPLERS:
        raise AssertionError(f"no sampler for {t.dist.kind}")
    same = wdt == out
    work = (buffers.get("chunk", count, wdt, residue if same else None) if buffers
            else np.empty(count, dtype=wdt))
    fill_chunk(t.dist.kind, t.dist.params, seed, t.name, chunk, work)
    if same:
        return work
    res = buffers.get("out", count, out, residue) if buffers else np.empty(count, dtype=out)
    np.copyto(res, work, casting="unsafe")  # round to nearest even (ml_dtypes for bf16/fp8)
    return res


def make_tensor(t: TensorPlan, seed: int) -> np.ndarray:
    """One whole tensor, exactly as it appears in a file made from its plan."""
    out = np.empty(t.numel, dtype=DTYPES[t.dtype].np)
    start = 0
    for chunk, count in tasks(t):
        out[start : start + count] = make_chunk(t, seed, chunk, count)
        start += count
    return out.reshape(t.shape)


def task_list(tensors: list[TensorPlan]) -> list[Task]:
    """Every task as (tensor, chunk, count, first element), in file order."""
    work = []
    for t in tensors:
        start = 0
        for chunk, count in tasks(t):
            work.append((t, chunk, count, start))
            start += count
    return work


def work_list(tensors: list[TensorPlan]) -> list[Task]:
    """:func:`task_list`, whole tensors first.

    Whole-tensor tasks are slow and single-threaded; starting them first lets the
    other threads fill in with chunks instead of waiting on one at the end.
    """
    return sorted(task_list(tensors), key=lambda w: w[1] >= 0)


def run_worker(next_task: Callable[[], Task | None], seed: int, sink: Sink,
               done: Progress | None = None, place: Place | None = None) -> None:
    """One worker's loop: make each task ``next_task()`` gives until None, while a
    writer thread of its own passes the previous chunks to ``sink`` (then ``done``)."""
    writer = WriteBehind(sink, done)
    try:
        while (task := next_task()) is not None:
            t, chunk, count, start = task
            buffers = writer.buffers()
            if chunk < 0:
                writer.drain()  # a whole tensor: the previous one is written and let go first
            values = make_chunk(t, seed, chunk, count, buffers, place(t, start) if place else None)
            writer.put(buffers, t, start, values)
            del values
        writer.close()
    except BaseException:
        writer.abandon()  # the writer touches nothing once this returns
        raise


def generate(tensors: list[TensorPlan], seed: int, sink: Sink, threads: int | None = None,
             progress: Progress | None = None, *, ordered: bool = False,
             processes: bool = False, place: Place | None = None) -> None:
    """Make every tensor and pass each chunk to ``sink(tensor, start, values)``.

    ``ordered=False``: ``sink`` is called from worker threads, in any order, with
    views of reused buffers (it must copy or write them before returning).
    ``processes=True`` (with ``ordered=False``): the workers are forked processes
    (``procs.py``), for sinks whose only effect is on a file descriptor.
    ``ordered=True``: ``sink`` is called from this thread, for each tensor in
    element order.
    ``place`` (unordered only): where in memory a chunk's values should start, as an
    address residue (see ``make_chunk``); the sink's direct I/O needs it.
    """
    from . import procs

    threads = threads or default_threads()
    if ordered:
        _generate_ordered(tensors, seed, sink, threads, progress)
    elif processes and threads > 1 and procs.available():
        procs.run(work_list(tensors), seed, sink, threads, progress, place)
    else:
        _generate_unordered(tensors, seed, sink, threads, progress, place)


def _generate_unordered(tensors: list[TensorPlan], seed: int, sink: Sink, threads: int,
                        progress: Progress | None, place: Place | None = None) -> None:
    work = iter(work_list(tensors))
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []

    def next_task() -> Task | None:
        if stop.is_set():
            return None
        interrupt.check()
        with lock:
            return next(work, None)

    def worker(finished: threading.Event | None = None) -> None:
        try:
            run_worker(next_task, seed, sink, progress, place)
        except BaseException as e:  # reported by the calling thread
            errors.append(e)
            stop.set()
        finally:
            if finished:
                finished.set()

    if threads == 1:
        worker()
    else:
        finished = [threading.Event() for _ in range(threads)]
        pool = [threading.Thread(target=worker, args=(ev,), name=f"initgen-{i}", daemon=True)
                for i, ev in enumerate(finished)]
        for th in pool:
            th.start()
        try:
            for ev in finished:
                while not ev.wait(0.2):  # a timed wait lets Ctrl-C and SIGTERM in
                    interrupt.check()
        finally:
            stop.set()
            wait_all(finished)  # no worker may touch the file once we return; they stop within a chunk
    if errors:
        raise errors[0]


def _generate_ordered(tensors: list[TensorPlan], seed: int, sink: Sink, threads: int,
                      progress: Progress | None) -> None:
    work = work_list(tensors)  # each tensor's chunks stay in element order
    if threads == 1:
        for t, chunk, count, start in work:
            _emit(sink, progress, t, start, make_chunk(t, seed, chunk, count))
        return
    window = 2 * threads
    with ThreadPoolExecutor(threads, thread_name_prefix="initgen") as pool:
        inflight: deque[tuple[TensorPlan, int, Future[np.ndarray]]] = deque()
        try:
            for t, chunk, count, start in work:
                inflight.append((t, start, pool.submit(make_chunk, t, seed, chunk, count)))
                if len(inflight) >= window:
                    t0, s0, fut = inflight.popleft()
                    _emit(sink, progress, t0, s0, fut.result())
            while inflight:
                t0, s0, fut = inflight.popleft()
                _emit(sink, progress, t0, s0, fut.result())
        except BaseException:
            for _, _, fut in inflight:
                fut.cancel()
            raise


def _emit(sink: Sink, progress: Progress | None, t: TensorPlan, start: int, values: np.ndarray) -> None:
    interrupt.check()
    sink(t, start, values)
    if progress:
        progress(values.nbytes)
