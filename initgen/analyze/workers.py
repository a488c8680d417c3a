"""Run a reduction over batches of chunks on every core: in forked processes, in
threads, or in this thread; results come back in batch order whichever way.

Processes, not threads, for memory-mapped safetensors: ``np.bincount`` (the heart
of the narrow-type reduction) holds the GIL, so two threads reduce no faster than
one. Each forked worker takes the index of its next batch from a shared pipe of
4-byte tokens (so a worker slowed by other programs simply does fewer batches),
reduces it with its own view of the inherited memory map, and sends the pickled
result back on its own pipe. A failure in a worker is sent back and raised here.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from .. import interrupt
from ..errors import InitgenError
from ..threads import fork, forkable, portable_error, read_frames, send

B = TypeVar("B")
R = TypeVar("R")


def run_batches(
    fn: Callable[[B], R],
    batches: Sequence[B],
    workers: int,
    *,
    processes: bool = False,
    done: Callable[[B], None] | None = None,
) -> list[R]:
    """``[fn(b) for b in batches]`` on ``workers`` workers; ``done(b)`` after each."""
    workers = min(workers, len(batches))
    if workers <= 1:
        out = []
        for b in batches:
            interrupt.check()
            out.append(fn(b))
            if done:
                done(b)
        return out
    if processes and forkable():
        return _forked(fn, batches, workers, done)
    with ThreadPoolExecutor(workers) as pool:
        out = []
        for b, r in zip(batches, pool.map(fn, batches)):
            out.append(r)
            if done:
                done(b)
        return out


def _forked(
    fn: Callable[[B], R], batches: Sequence[B], workers: int, done: Callable[[B], None] | None
) -> list[R]:
    tasks_r, tasks_w = os.pipe()
    children: dict[int, int] = {}  # pid → read end of its result pipe
    results: dict[int, Any] = {}
    try:
        for _ in range(workers):
            r, w = os.pipe()
            pid = fork()
            if pid == 0:  # pragma: no cover - runs in the child, which never returns
                os.close(tasks_w)
                os.close(r)
                for fd in children.values():
                    os.close(fd)
                _child(fn, batches, tasks_r, w)
            os.close(w)
            children[pid] = r
        os.close(tasks_r)
        feeder = threading.Thread(target=_feed, args=(tasks_w, len(batches)), daemon=True)
        feeder.start()
        _collect(children, results, batches, done)
    finally:
        for pid in children:
            try:
                if len(results) < len(batches):  # an error or an interrupt: stop the rest
                    os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        for fd in children.values():
            os.close(fd)
    return [results[i] for i in range(len(batches))]


def _feed(fd: int, n: int) -> None:
    """Hand out batch indices, one atomic 4-byte write each; EOF when all are out."""
    try:
        for i in range(n):
            os.write(fd, struct.pack("<I", i))
    except OSError:  # every worker is gone (an error): nothing left to feed
        pass
    finally:
        os.close(fd)


def _child(fn: Callable[[Any], Any], batches: Sequence[Any], tasks: int, w: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    code = 0
    try:
        while len(token := os.read(tasks, 4)) == 4:
            (i,) = struct.unpack("<I", token)
            send(w, pickle.dumps((i, fn(batches[i])), protocol=pickle.HIGHEST_PROTOCOL))
    except BaseException as e:
        code = 1
        try:
            send(w, pickle.dumps((-1, portable_error(e))))
        except OSError:
            pass
    finally:
        os._exit(code)


def _collect(
    children: dict[int, int],
    results: dict[int, Any],
    batches: Sequence[Any],
    done: Callable[[Any], None] | None,
) -> None:
    def frame(fd: int, payload: bytes) -> None:
        i, result = pickle.loads(payload)
        if i < 0:
            raise result
        results[i] = result
        if done:
            done(batches[i])

    read_frames(children.values(), frame)
    if len(results) < len(batches):
        raise InitgenError("a statistics worker process ended abnormally (killed? out of memory?)")
