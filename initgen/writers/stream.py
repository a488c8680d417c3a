"""A safetensors file as an ordered byte stream, cut into numbered parts for an upload.

initgen knows every shape before it makes a value, so the header is written first
and the tensors' bytes follow in file order (the engine's ``file_order``). The
stream is cut at fixed offsets: part ``k`` (numbered from 1) is bytes
``[(k−1)·P, k·P)`` of the file, so every part but the last is exactly ``P`` bytes
(≥ S3's 5 MiB minimum) and the parts do not depend on how chunks fall. Full parts
go to a small pool of upload threads while the engine makes the next values;
memory is the part being filled plus at most ``uploaders + 1`` parts on their way,
whatever the file's size. The bytes are :class:`~.safetensors.SafetensorsWriter`'s
exactly (same header, same values).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait

import numpy as np

from .. import interrupt
from ..plan import TensorPlan
from .safetensors import build_header
from .uploads import Upload

MIB = 1 << 20
MIN_PART = 5 * MIB  # S3's smallest part but the last
MAX_PARTS = 10_000  # S3's most parts in one upload
PART_SIZE = 8 * MIB  # measured as fast as larger parts against a local S3 server, less memory


def part_size(total: int, preferred: int = PART_SIZE) -> int:
    """Bytes per part for an object of ``total`` bytes: ``preferred``, raised (in whole
    MiB) so that the object needs at most 10,000 parts.

    >>> part_size(4 * 2**30) // 2**20, part_size(100 * 10**9) // 2**20
    (8, 10)
    """
    need = -(-total // MAX_PARTS)
    return max(preferred, MIN_PART, -(-need // MIB) * MIB)


class StreamWriter:
    """Writes one safetensors file's bytes, in order, to an :class:`Upload` in parts."""

    ordered = True  # the engine calls write() from one thread, each tensor in element order
    file_order = True  # ... and the tensors in file order: this is a byte stream

    def __init__(
        self,
        upload: Upload,
        tensors: list[TensorPlan],
        metadata: Mapping[str, str],
        part: int | None = None,
        uploaders: int = 2,
    ) -> None:
        header, self.offsets = build_header(tensors, metadata)
        self.size = len(header) + sum(t.nbytes for t in tensors)
        self.upload = upload
        self.part = part or part_size(self.size)
        self.buf = bytearray(self.part)
        self.fill = 0  # bytes in buf
        self.pos = 0  # bytes of the file handed to write so far
        self.number = 1  # the part being filled
        self.uploaders = uploaders if upload.concurrent else 1
        self.pool = ThreadPoolExecutor(self.uploaders, thread_name_prefix="initgen-upload")
        self.slots = threading.Semaphore(self.uploaders + 1)
        self.futures: list[Future[None]] = []
        self._append(memoryview(header))

    def write(self, t: TensorPlan, start: int, values: np.ndarray) -> None:
        offset = self.offsets[t.name] + start * values.dtype.itemsize
        if offset != self.pos:
            raise AssertionError(f"stream out of order at {t.name}[{start}]: {offset} != {self.pos}")
        self._append(np.ascontiguousarray(values).view(np.uint8).data)

    def _append(self, data: memoryview) -> None:
        while data.nbytes:
            n = min(self.part - self.fill, data.nbytes)
            self.buf[self.fill : self.fill + n] = data[:n]
            self.fill += n
            self.pos += n
            data = data[n:]
            if self.fill == self.part and self.pos < self.size:
                self._send()

    def _send(self) -> None:
        """Hand the filled part to an upload thread; wait while too many are on their way."""
        while not self.slots.acquire(timeout=0.2):  # a timed wait lets Ctrl-C and SIGTERM in
            interrupt.check()
            self._raise_failed()
        self._raise_failed()
        body, number = bytes(self.buf[: self.fill]), self.number
        self.fill, self.number = 0, number + 1

        def put() -> None:
            try:
                self.upload.put(number, body)
            finally:
                self.slots.release()

        self.futures.append(self.pool.submit(put))

    def _raise_failed(self) -> None:
        done = [f for f in self.futures if f.done()]
        for f in done:
            f.result()  # an upload's error surfaces here, in the calling thread
        self.futures = [f for f in self.futures if not f.done()]

    def close(self) -> None:
        """The engine is done (or failed): nothing to do until :meth:`finish` or :meth:`abort`."""

    def finish(self) -> None:
        """Send the last part and wait for every part to be uploaded (not yet visible)."""
        if self.pos != self.size:
            raise AssertionError(f"stream ended at {self.pos} of {self.size} bytes")
        self._send()
        while wait(self.futures, timeout=0.2).not_done:
            interrupt.check()
        self._raise_failed()
        self.pool.shutdown()

    def abort(self) -> None:
        """Drop queued parts, wait for those on their way, abort the upload."""
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.upload.abort()
