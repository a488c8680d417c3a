"""Direct I/O for writers that write large chunks at known offsets (safetensors).

Written through the page cache, a multi-gigabyte file costs a kernel copy and a
newly allocated cache page for every 4 KiB, then background writeback, and the
writer is throttled once dirty pages pile up; on a small machine that work competes
with generation for the same cores and its cost swings from run to run. With
``O_DIRECT`` the device reads the bytes straight from the chunk's buffer.

``O_DIRECT`` needs the file offset, the length and the buffer address aligned.
Tensors start at arbitrary offsets, so each chunk is split: the aligned interior goes
through the direct descriptor, the partial blocks at either end through the ordinary
one. The alignment is the larger of 4 KiB, the memory page and the file system's
block size, so a page-cache page (or block) is only ever written one way, which
keeps the two paths coherent. The engine places each chunk in memory so that its
address and its file offset agree modulo :data:`exactmath.PLACE`, a multiple of any
such alignment (:meth:`exactmath.Scratch.get`'s ``residue``); a chunk not placed so
(a whole-tensor scheme's array) is written the ordinary way.

Where the file system refuses ``O_DIRECT`` (at open, or with ``EINVAL`` or
``EOPNOTSUPP`` on a write: tmpfs on older kernels, some network and FUSE file
systems), or wants an alignment over :data:`exactmath.PLACE`, everything is written
the ordinary way; the bytes are the same either way.
"""

from __future__ import annotations

import errno
import mmap
import os

import numpy as np

from ..generate.exactmath import PLACE

MIN_DIRECT = 1 << 16  # smaller interiors are not worth a device round trip each
REFUSED = (errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP)


def alignment(fd: int) -> int:
    """Offsets, lengths and addresses of direct writes to ``fd`` are multiples of this."""
    return max(4096, mmap.PAGESIZE, os.fstat(fd).st_blksize)


def open_direct(path: os.PathLike[str] | str) -> int | None:
    """A second, write-only ``O_DIRECT`` descriptor on ``path``, or None if that is
    refused for any reason (the ordinary descriptor is there to fall back on)."""
    flag = getattr(os, "O_DIRECT", 0)
    if not flag:
        return None
    try:
        fd = os.open(path, os.O_WRONLY | flag)
    except OSError:  # EINVAL on tmpfs, EACCES when a umask left the new file read-only, ...
        return None
    align = alignment(fd)
    if align > PLACE or PLACE % align:
        os.close(fd)
        return None
    return fd


def pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    while data.nbytes:
        n = os.pwrite(fd, data, offset)
        data, offset = data[n:], offset + n


class SplitWriter:
    """Writes byte views at offsets: aligned interiors direct, the rest buffered.

    Safe to share between threads and forked processes; a process whose direct
    write is refused falls back to ordinary writes for the rest of its run.
    """

    def __init__(self, fd: int, direct_fd: int | None) -> None:
        self.fd = fd
        self.direct_fd = direct_fd
        self.align = alignment(direct_fd) if direct_fd is not None else PLACE
        self._fds = [fd] if direct_fd is None else [fd, direct_fd]
        self.direct_bytes = 0  # written through direct_fd by this process (for tests, bench)

    def write(self, data: memoryview, offset: int) -> None:
        n, dfd, align = data.nbytes, self.direct_fd, self.align  # read once: other threads may reset it
        if dfd is not None and n >= MIN_DIRECT:
            lo = -offset % align  # bytes before the first aligned block
            hi = lo + (n - lo) // align * align
            addr = np.frombuffer(data, dtype=np.uint8).ctypes.data
            if hi - lo >= MIN_DIRECT and (addr + lo) % align == 0:
                try:
                    pwrite_all(dfd, data[lo:hi], offset + lo)
                except OSError as e:
                    if e.errno not in REFUSED:
                        raise
                    self.direct_fd = None  # refused here: write the ordinary way from now on
                    pwrite_all(self.fd, data, offset)
                    return
                self.direct_bytes += hi - lo
                pwrite_all(self.fd, data[:lo], offset)
                pwrite_all(self.fd, data[hi:], offset + hi)
                return
        pwrite_all(self.fd, data, offset)

    def close(self) -> None:
        self.direct_fd = None
        for fd in self._fds:
            os.close(fd)
        self._fds = []
