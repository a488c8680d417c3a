"""One generating worker: its loop (:func:`run_worker`), and its write-behind, so that
chunk i is written while chunk i+1 is made.

A direct-I/O write blocks its caller until the device has the bytes (a few
milliseconds per 4 MiB chunk), and a buffered write spends that time copying into the
page cache. Each worker (thread or forked process) therefore hands its chunks to one
writer thread of its own and goes on generating into another set of buffers. The
writer spends its time in system calls that release the GIL, so the two overlap even
in one process. Four buffer sets (16 MiB of float32 per worker) absorb the device's
latency swings: with two, a worker measurably waited for free buffers (the 4.4 GB
model took 4.0-4.2 s on 2 cores against 3.6-3.7 s with three to six).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import interrupt
from .exactmath import Scratch
from .tasks import Added, Place, Sink, Task, make_chunk


class WriteBehind:
    """``buffers()`` → make a chunk in them → ``put(...)``; ``close()`` at the end.

    Whole-tensor tasks return fresh arrays, not views of the buffer sets: call
    :meth:`drain` before making one, so that a worker holds one at a time.
    """

    def __init__(self, sink: Sink, done: Callable[[int], None] | None = None, depth: int = 4) -> None:
        self.sink, self.done = sink, done
        self.free: queue.Queue[Scratch] = queue.Queue()
        for _ in range(depth):
            self.free.put(Scratch())
        self.todo: queue.Queue[tuple[Scratch, Any, int, np.ndarray] | None] = queue.Queue()
        self.error: BaseException | None = None
        self.stop = False
        self.finished = threading.Event()  # set when the writer will touch nothing more
        self.thread = threading.Thread(target=self._run, name="initgen-writer", daemon=True)
        self.thread.start()

    def buffers(self) -> Scratch:
        """A buffer set no pending write uses (waits for one)."""
        while True:
            self._raise()
            try:
                return self.free.get(timeout=0.2)
            except queue.Empty:  # a timed wait lets signals in
                interrupt.check()

    def put(self, buffers: Scratch, t: Any, start: int, values: np.ndarray) -> None:
        """Queue ``values`` (a view of ``buffers``) for ``sink(t, start, values)``."""
        self._raise()
        self.todo.put((buffers, t, start, values))

    def drain(self) -> None:
        """Wait until every queued chunk is written (and let go of)."""
        self.todo.join()
        self._raise()

    def close(self) -> None:
        """Wait until every queued chunk is written; raise the writer's error, if any."""
        self._join()
        self._raise()

    def abandon(self) -> None:
        """Drop the queued chunks and wait for the write in progress: after this, the
        writer touches nothing."""
        self.stop = True
        self._join()

    def _join(self) -> None:
        wait_all([self.finished], before=lambda: self.todo.put(None), meanwhile=self._stop)

    def _stop(self) -> None:
        self.stop = True

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            self.finished.set()

    def _loop(self) -> None:
        while (item := self.todo.get()) is not None:
            buffers, t, start, values = item
            if self.error is None and not self.stop:
                try:
                    self.sink(t, start, values)
                    if self.done:
                        self.done(values.nbytes)
                except BaseException as e:
                    self.error = e
            del item, values  # a whole tensor must not stay alive while the next is awaited
            self.free.put(buffers)
            self.todo.task_done()
        self.todo.task_done()


def wait_all(
    finished: list[threading.Event],
    before: Callable[[], None] | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> None:
    """Wait until every event is set (each thread sets its own as it ends), whatever is
    raised meanwhile (Ctrl-C, a SIGTERM's exception): the first such exception is
    raised once they are, so no thread touches the output after the caller cleans up.
    ``before`` runs first (and again after an interruption), ``meanwhile`` on each
    interruption.

    Events, not ``Thread.join``: on Python 3.11 a join interrupted by a signal
    handler's exception can mark a running thread as ended, and later joins return
    while it still writes."""
    pending: BaseException | None = None
    while True:
        try:
            if before:
                before()
            for ev in finished:
                while not ev.wait(0.2):
                    pass
            break
        except BaseException as e:
            pending = pending or e
            if meanwhile:
                meanwhile()
    if pending is not None:
        raise pending


def run_worker(
    next_task: Callable[[], Task | None],
    seed: int,
    sink: Sink,
    done: Added | None = None,
    place: Place | None = None,
    raw: bool = False,
) -> None:
    """One worker's loop: make each task ``next_task()`` gives until None, while a
    writer thread of its own passes the previous chunks to ``sink`` (then ``done``)."""
    writer = WriteBehind(sink, done)
    try:
        while (task := next_task()) is not None:
            t, chunk, count, start = task
            buffers = writer.buffers()
            if chunk < 0:
                writer.drain()  # a whole tensor: the previous one is written and let go first
            values = make_chunk(t, seed, chunk, count, buffers, place(t, start) if place else None, raw=raw)
            writer.put(buffers, t, start, values)
            del values
        writer.close()
    except BaseException:
        writer.abandon()  # the writer touches nothing once this returns
        raise
