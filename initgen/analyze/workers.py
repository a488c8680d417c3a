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
import select
import signal
import struct
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from .. import interrupt
from ..errors import InitgenError
from ..threads import fork

B = TypeVar("B")
R = TypeVar("R")


def forkable() -> bool:
    """fork is safe enough here on Linux only (macOS frameworks object to it)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


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
            _send(w, pickle.dumps((i, fn(batches[i])), protocol=pickle.HIGHEST_PROTOCOL))
    except BaseException as e:
        code = 1
        try:
            payload = pickle.dumps((-1, e))
            pickle.loads(payload)
        except Exception:
            payload = pickle.dumps((-1, RuntimeError(f"{type(e).__name__}: {e}")))
        try:
            _send(w, payload)
        except OSError:
            pass
    finally:
        os._exit(code)


def _send(fd: int, payload: bytes) -> None:
    data = memoryview(struct.pack("<Q", len(payload)) + payload)
    while data:
        data = data[os.write(fd, data) :]


def _collect(
    children: dict[int, int],
    results: dict[int, Any],
    batches: Sequence[Any],
    done: Callable[[Any], None] | None,
) -> None:
    bufs = {fd: bytearray() for fd in children.values()}
    while bufs:
        ready, _, _ = select.select(list(bufs), [], [], 0.2)  # a timed wait lets signals in
        interrupt.check()
        for fd in ready:
            data = os.read(fd, 1 << 20)
            if not data:
                del bufs[fd]
                continue
            buf = bufs[fd]
            buf += data
            while len(buf) >= 8:
                (n,) = struct.unpack("<Q", buf[:8])
                if len(buf) < 8 + n:
                    break
                i, result = pickle.loads(bytes(buf[8 : 8 + n]))
                del buf[: 8 + n]
                if i < 0:
                    raise result
                results[i] = result
                if done:
                    done(batches[i])
    if len(results) < len(batches):
        raise InitgenError("a statistics worker process ended abnormally (killed? out of memory?)")
