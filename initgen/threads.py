"""Workers: how many to use by default, how a worker process is forked, and how it
talks to its parent: length-prefixed frames on a pipe, read by :func:`read_frames`."""

from __future__ import annotations

import os
import pickle
import select
import struct
import sys
from collections.abc import Callable, Iterable

from . import interrupt

MAX_THREADS = 256  # each worker holds pipes, and select() takes descriptors below 1024


def default_threads() -> int:
    """The cores this process may run on (its affinity), at least 1 and at most
    MAX_THREADS."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return min(max(1, cores), MAX_THREADS)


def fork() -> int:
    """``os.fork()``, without Python 3.12+'s warning about forking a process that has
    threads: initgen's children use none of the parent's locks."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()


def forkable() -> bool:
    """fork is safe enough here on Linux only (macOS frameworks object to it)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def send(fd: int, payload: bytes) -> None:
    """Write ``payload`` to pipe ``fd`` as one frame: its 8-byte length, then it."""
    data = memoryview(struct.pack("<Q", len(payload)) + payload)
    while data:
        data = data[os.write(fd, data) :]


def portable_error(e: BaseException) -> BaseException:
    """``e`` where it survives pickling (to be sent to the parent), else a RuntimeError
    of its text."""
    try:
        pickle.loads(pickle.dumps(e))
        return e
    except Exception:
        return RuntimeError(f"{type(e).__name__}: {e}")


def read_frames(
    fds: Iterable[int], on_frame: Callable[[int, bytes], None], on_close: Callable[[int], None] | None = None
) -> None:
    """Read frames (:func:`send`) from every pipe in ``fds`` until all are closed:
    ``on_frame(fd, payload)`` for each, ``on_close(fd)`` as each closes. The waits
    are timed, so Ctrl-C gets through (``interrupt.check``)."""
    bufs = {fd: bytearray() for fd in fds}
    while bufs:
        ready, _, _ = select.select(list(bufs), [], [], 0.2)
        interrupt.check()
        for fd in ready:
            data = os.read(fd, 1 << 20)
            if not data:
                del bufs[fd]
                if on_close:
                    on_close(fd)
                continue
            buf = bufs[fd]
            buf += data
            while len(buf) >= 8:
                (n,) = struct.unpack("<Q", buf[:8])
                if len(buf) < 8 + n:
                    break
                payload = bytes(buf[8 : 8 + n])
                del buf[: 8 + n]
                on_frame(fd, payload)
