"""Worker processes for writers that write by offset (safetensors).

Why processes and not threads: a chunk is a few dozen NumPy calls, and between them
a thread holds the GIL. With two threads on two cores that costs a third of the
second core; when other programs compete for the cores it is worse — a thread
descheduled while holding the GIL stalls the other, and two threads measured slower
than one. Forked workers share nothing but the output file descriptor and a task
counter, so they scale like separate programs.

Each worker takes the next task from a shared counter, makes it, writes it with the
writer's ``write`` (``os.pwrite`` on the inherited descriptor) and reports the bytes
done on a pipe. A failure is sent back pickled and raised in the parent; if the
parent is interrupted it kills the workers and waits for them before returning, so
no worker touches the file after the caller cleans up.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import sys
from collections.abc import Callable
from typing import Any

from .. import interrupt
from ..errors import OutputError
from ..threads import fork
from .worker import run_worker


def available() -> bool:
    """fork is safe enough here on Linux only (macOS frameworks object to it)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def run(
    work: list[tuple[Any, int, int, int]],
    seed: int,
    sink: Callable[..., None],
    workers: int,
    progress: Callable[[int], None] | None,
    place: Callable[[Any, int], int] | None = None,
    raw: bool = False,
) -> None:
    """Make every task of ``work`` in ``workers`` forked processes."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    counter = ctx.RawValue("q", 0)
    lock = ctx.Lock()
    children: dict[int, int] = {}  # pid → read end of its pipe
    try:
        for _ in range(workers):
            r, w = os.pipe()
            pid = fork()
            if pid == 0:  # pragma: no cover - runs in the child, which never returns
                os.close(r)
                _child(work, seed, sink, place, counter, lock, w, raw)
            os.close(w)
            children[pid] = r
        error = _collect(children, progress)
    except BaseException:
        _stop_others(children)
        raise
    finally:
        statuses = _reap(children)
    if error is not None:
        raise error
    for status in statuses.values():
        if status:
            raise OutputError(
                f"a worker process ended abnormally ({_describe(status)}); no output was written"
            )


def _child(
    work: list,
    seed: int,
    sink: Callable[..., None],
    place: Callable[[Any, int], int] | None,
    counter: Any,
    lock: Any,
    w: int,
    raw: bool = False,
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides
    signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def next_task() -> Any:
        with lock:
            i = counter.value
            counter.value = i + 1
        return work[i] if i < len(work) else None

    code = 0
    try:
        # the worker's writer thread writes and reports each chunk while the next is made
        progress = lambda nbytes: _send(w, b"P", struct.pack("<Q", nbytes))
        run_worker(next_task, seed, sink, progress, place, raw)
    except BaseException as e:
        try:
            payload = pickle.dumps(e)
            pickle.loads(payload)
        except Exception:
            payload = pickle.dumps(RuntimeError(f"{type(e).__name__}: {e}"))
        try:
            _send(w, b"E", payload)
        except OSError:
            pass
        code = 1
    finally:
        os._exit(code)


def _send(fd: int, kind: bytes, payload: bytes) -> None:
    data = memoryview(kind + struct.pack("<Q", len(payload)) + payload)
    while data:
        data = data[os.write(fd, data) :]


def _collect(children: dict[int, int], progress: Callable[[int], None] | None) -> BaseException | None:
    """Read every worker's reports until all pipes close; the first error, if any."""
    bufs = {fd: bytearray() for fd in children.values()}
    pids = {fd: pid for pid, fd in children.items()}
    error: BaseException | None = None
    while bufs:
        ready, _, _ = select.select(list(bufs), [], [], 0.2)  # a timed wait lets signals in
        interrupt.check()
        for fd in ready:
            data = os.read(fd, 1 << 16)
            if not data:
                del bufs[fd]
                # A worker killed from outside (the OOM killer) may die holding the task
                # lock, and the others would wait on it forever: stop them all.
                _, status = os.waitpid(pids[fd], 0)  # its pipe closed: it is exiting
                if os.WIFSIGNALED(status) and error is None:
                    error = OutputError(
                        f"a worker process ended abnormally ({_describe(status)}); no output was written"
                    )
                    _stop_others(children)
                continue
            buf = bufs[fd]
            buf += data
            while len(buf) >= 9:
                (n,) = struct.unpack("<Q", buf[1:9])
                if len(buf) < 9 + n:
                    break
                kind, payload = bytes(buf[:1]), bytes(buf[9 : 9 + n])
                del buf[: 9 + n]
                if kind == b"P":
                    if progress:
                        progress(struct.unpack("<Q", payload)[0])
                elif error is None:
                    error = pickle.loads(payload)
                    _stop_others(children)
    return error


def _stop_others(children: dict[int, int]) -> None:
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _reap(children: dict[int, int]) -> dict[int, int]:
    statuses = {}
    for pid, fd in children.items():
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except ChildProcessError:
                status = 0
                break
            except KeyboardInterrupt:  # keep waiting: the file must be quiet before cleanup
                continue
        statuses[pid] = status
        try:
            os.close(fd)
        except OSError:
            pass
    return statuses


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return f"killed by {signal.Signals(sig).name}" + (" — out of memory?" if sig == 9 else "")
    return f"exit status {os.WEXITSTATUS(status)}"
