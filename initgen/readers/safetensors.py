"""The safetensors reader: the whole header validated when opened, values by memory map."""

from __future__ import annotations

import itertools
import json
import math
import mmap
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..dtypes import BY_ST_CODE
from ..errors import FileFormatError
from .base import TensorInfo, WeightFile

MAX_HEADER = 100 * 1024 * 1024  # the safetensors library's own limit


class SafetensorsFile(WeightFile):
    """A safetensors file, validated completely when opened, read by memory map."""

    format = "safetensors"

    def __init__(self, path: Path) -> None:
        self.path = path
        size = path.stat().st_size
        with open(path, "rb") as f:

            def read(offset: int, n: int) -> bytes:
                f.seek(offset)
                return f.read(n)

            self._parse(str(path), size, read)
        self._mm: mmap.mmap | None = None
        if any(e > b for b, e, _ in self.spans.values()):
            with open(path, "rb") as f:
                self._mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)

    def _parse(self, path: str, size: int, read: Callable[[int, int], bytes]) -> None:
        """Read and validate the header (``read(offset, n)`` gives the file's bytes)."""

        def bad(msg: str) -> FileFormatError:
            return FileFormatError(f"{path}: not a valid safetensors file: {msg}")

        head = read(0, 9)
        if len(head) < 8:
            raise bad(f"{size} bytes is shorter than the 8-byte header length")
        (n,) = struct.unpack("<Q", head[:8])
        if head[8:9] != b"{":  # a safetensors header is a JSON object
            raise FileFormatError(
                f"{path}: not a safetensors or HDF5 file (no HDF5 signature and no safetensors JSON header)"
            )
        if n > MAX_HEADER:
            raise bad(f"header length {n} is over the {MAX_HEADER}-byte limit")
        if 8 + n > size:
            raise bad(f"header length {n} runs past the end of the file ({size} bytes)")
        raw = read(8, n)
        try:
            header = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise bad(f"header is not valid JSON ({e})") from None
        if not isinstance(header, dict):
            raise bad("header is not a JSON object")
        meta = header.pop("__metadata__", None) or {}
        if not isinstance(meta, dict):
            raise bad("__metadata__ is not an object")
        self.metadata = {str(k): str(v) for k, v in meta.items()}
        self.data_start = 8 + n
        data_size = size - self.data_start
        self.tensors, self.spans = [], {}
        for name, entry in header.items():
            try:
                code, shape, (begin, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
                if not (
                    isinstance(code, str)
                    and isinstance(shape, list)
                    and all(type(v) is int for v in (*shape, begin, end))
                ):
                    raise TypeError
                shape = tuple(shape)
            except (KeyError, TypeError, ValueError):
                raise bad(f"entry for tensor '{name}' is malformed") from None
            if not isinstance(code, str) or code not in BY_ST_CODE:  # a list is not hashable
                raise bad(f"tensor '{name}' has unknown dtype '{code}'")
            row = BY_ST_CODE[code]  # NumPy type resolved on use: ml_dtypes is slow to import
            if any(s < 0 for s in shape) or not 0 <= begin <= end <= data_size:
                raise bad(
                    f"tensor '{name}' has offsets [{begin}, {end}] outside the data ({data_size} bytes)"
                )
            if (end - begin) != math.prod(shape) * row.itemsize:
                raise bad(f"tensor '{name}' has {end - begin} bytes for shape {list(shape)} of {code}")
            self.tensors.append(TensorInfo(name, shape, row.name))
            self.spans[name] = (begin, end, row)
        spans = sorted((b, e, k) for k, (b, e, _) in self.spans.items() if e > b)
        for (_b1, e1, k1), (b2, _, k2) in itertools.pairwise(spans):
            if b2 < e1:
                raise bad(f"tensors '{k1}' and '{k2}' overlap (bytes {b2}..{e1})")

    def values(self, name: str, start: int, count: int) -> np.ndarray:
        return self._read(name, start, count, self.spans[name][2].np)

    def raw(self, name: str, start: int, count: int) -> np.ndarray:
        row = self.spans[name][2]
        return self._read(name, start, count, np.dtype(f"<u{row.itemsize}") if row.viewed else row.np)

    def _read(self, name: str, start: int, count: int, dt: np.dtype) -> np.ndarray:
        if count == 0 or self._mm is None:
            return np.empty(0, dtype=dt)
        offset = self.data_start + self.spans[name][0] + start * dt.itemsize
        return np.frombuffer(self._mm, dtype=dt, count=count, offset=offset)

    def release(self, name: str, start: int, count: int) -> None:
        if self._mm is None or count == 0:
            return
        begin, _, row = self.spans[name]
        lo = self.data_start + begin + start * row.itemsize
        hi = lo + count * row.itemsize
        lo -= lo % mmap.PAGESIZE  # madvise wants a page-aligned start
        if hasattr(mmap, "MADV_DONTNEED"):  # not on Windows: pages then stay until close
            self._mm.madvise(mmap.MADV_DONTNEED, lo, hi - lo)

    def close(self) -> None:
        # Views handed out may still exist; dropping the reference lets them keep
        # the map alive until they go, instead of raising BufferError here.
        self._mm = None
