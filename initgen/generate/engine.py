"""Chunked, seeded, parallel generation: every task of a list of tensors, handed to a sink.

Two ways to hand values to a writer:

* unordered sinks (safetensors: ``os.pwrite`` at an offset) are called by a
  writer thread of the worker that made the chunk, straight from its reusable
  buffer, while the worker makes its next chunk (:mod:`.worker`); memory is a few
  chunk buffers per worker whatever the model size. For safetensors the workers are
  forked processes (:mod:`.processes`: no GIL between them), else threads;
* ordered sinks (HDF5) are called from the calling thread in task order, with a
  bounded window of chunks in flight.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from .. import interrupt
from ..plan import TensorPlan
from ..threads import default_threads, forkable
from . import processes as forked
from .tasks import Added, Place, Sink, Task, make_chunk, task_list, work_list
from .worker import run_worker, wait_all


def generate(
    tensors: list[TensorPlan],
    seed: int,
    sink: Sink,
    threads: int | None = None,
    progress: Added | None = None,
    *,
    ordered: bool = False,
    processes: bool = False,
    place: Place | None = None,
    file_order: bool = False,
    raw: bool = False,
) -> None:
    """Make every tensor and pass each chunk to ``sink(tensor, start, values)``.

    ``ordered=False``: ``sink`` is called from worker threads, in any order, with
    views of reused buffers (it must copy or write them before returning).
    ``processes=True`` (with ``ordered=False``): the workers are forked processes
    (:mod:`.processes`), for sinks whose only effect is on a file descriptor.
    ``ordered=True``: ``sink`` is called from this thread, for each tensor in
    element order; with ``file_order`` the tensors come in file order too (a byte
    stream: object storage), else whole-tensor tasks first.
    ``place`` (unordered only): where in memory a chunk's values should start, as an
    address residue (see ``make_chunk``); the sink's direct I/O needs it.
    ``raw``: bfloat16 values as their uint16 bits (for sinks that write bytes).
    """
    threads = threads or default_threads()
    if ordered:
        _generate_ordered(tensors, seed, sink, threads, progress, file_order, raw)
    elif processes and threads > 1 and forkable():
        forked.run(work_list(tensors), seed, sink, threads, progress, place, raw)
    else:
        _generate_unordered(tensors, seed, sink, threads, progress, place, raw)


def _generate_unordered(
    tensors: list[TensorPlan],
    seed: int,
    sink: Sink,
    threads: int,
    progress: Added | None,
    place: Place | None = None,
    raw: bool = False,
) -> None:
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
            run_worker(next_task, seed, sink, progress, place, raw)
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
        pool = [
            threading.Thread(target=worker, args=(ev,), name=f"initgen-{i}", daemon=True)
            for i, ev in enumerate(finished)
        ]
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


def _generate_ordered(
    tensors: list[TensorPlan],
    seed: int,
    sink: Sink,
    threads: int,
    progress: Added | None,
    file_order: bool = False,
    raw: bool = False,
) -> None:
    # each tensor's chunks stay in element order
    work = task_list(tensors) if file_order else work_list(tensors)
    if threads == 1:
        for t, chunk, count, start in work:
            _emit(sink, progress, t, start, make_chunk(t, seed, chunk, count, raw=raw))
        return
    window = 2 * threads
    with ThreadPoolExecutor(threads, thread_name_prefix="initgen") as pool:
        inflight: deque[tuple[TensorPlan, int, Future[np.ndarray]]] = deque()
        try:
            for t, chunk, count, start in work:
                inflight.append((t, start, pool.submit(make_chunk, t, seed, chunk, count, raw=raw)))
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


def _emit(sink: Sink, progress: Added | None, t: TensorPlan, start: int, values: np.ndarray) -> None:
    interrupt.check()
    sink(t, start, values)
    if progress:
        progress(values.nbytes)
