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
import signal
import struct
from collections.abc import Callable
from typing import Any

from ..errors import OutputError
from ..threads import fork, portable_error, read_frames, send
from .worker import run_worker


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
        progress = lambda nbytes: send(w, b"P" + struct.pack("<Q", nbytes))
        run_worker(next_task, seed, sink, progress, place, raw)
    except BaseException as e:
        try:
            send(w, b"E" + pickle.dumps(portable_error(e)))
        except OSError:
            pass
        code = 1
    finally:
        os._exit(code)


def _collect(children: dict[int, int], progress: Callable[[int], None] | None) -> BaseException | None:
    """Read every worker's reports until all pipes close; the first error, if any.
    A report is a frame: ``P`` and the bytes just written, or ``E`` and an error."""
    pids = {fd: pid for pid, fd in children.items()}
    error: BaseException | None = None

    def frame(fd: int, payload: bytes) -> None:
        nonlocal error
        if payload[:1] == b"P":
            if progress:
                progress(struct.unpack("<Q", payload[1:])[0])
        elif error is None:
            error = pickle.loads(payload[1:])
            _stop_others(children)

    def closed(fd: int) -> None:
        nonlocal error
        # A worker killed from outside (the OOM killer) may die holding the task
        # lock, and the others would wait on it forever: stop them all. One that
        # exits with a failure and reported none has not made all its tasks either.
        _, status = os.waitpid(pids[fd], 0)  # its pipe closed: it is exiting
        if status != 0 and error is None:
            error = OutputError(
                f"a worker process ended abnormally ({_describe(status)}); no output was written"
            )
            _stop_others(children)

    read_frames(children.values(), frame, closed)
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
