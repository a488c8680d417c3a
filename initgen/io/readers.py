"""Readers for any weight file: safetensors (by memory map), HDF5, sharded sets.

A reader lists tensors (name, shape, dtype) and hands out flat ranges of a
tensor's values (``values(name, start, count)``), so statistics, verification and
diffs never need a whole tensor in memory. ``release`` tells the reader a range is
done with: the safetensors reader then drops those pages from the process
(``MADV_DONTNEED``), so reading a 4 GB file by memory map does not leave 4 GB
resident. Every problem with a file is a :class:`FileFormatError` naming it.
"""

from __future__ import annotations

import json
import math
import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import FileFormatError

# safetensors dtype code → (NumPy dtype name, module that defines it)
ST_DTYPES: dict[str, tuple[str, str]] = {
    "F64": ("float64", "numpy"), "F32": ("float32", "numpy"), "F16": ("float16", "numpy"),
    "BF16": ("bfloat16", "ml_dtypes"), "F8_E4M3": ("float8_e4m3fn", "ml_dtypes"),
    "F8_E5M2": ("float8_e5m2", "ml_dtypes"),
    "I64": ("int64", "numpy"), "I32": ("int32", "numpy"), "I16": ("int16", "numpy"),
    "I8": ("int8", "numpy"), "U64": ("uint64", "numpy"), "U32": ("uint32", "numpy"),
    "U16": ("uint16", "numpy"), "U8": ("uint8", "numpy"), "BOOL": ("bool", "numpy"),
}
DTYPE_NAMES = {name for name, _ in ST_DTYPES.values()}
MAX_HEADER = 100 * 1024 * 1024  # the safetensors library's own limit
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def np_dtype(name: str, module: str = "numpy") -> np.dtype:
    """The NumPy dtype of a dtype name (bfloat16 and float8 come from ml_dtypes)."""
    if name in ("bfloat16", "float8_e4m3fn", "float8_e5m2"):
        import ml_dtypes

        return np.dtype(getattr(ml_dtypes, name))
    return np.dtype(name)


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    dtype: str

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.numel * np_dtype(self.dtype).itemsize


class WeightFile:
    """Common interface of the readers."""

    path: Path
    format: str
    tensors: list[TensorInfo]
    metadata: dict[str, str]

    def info(self, name: str) -> TensorInfo:
        return self._by_name()[name]

    def _by_name(self) -> dict[str, TensorInfo]:
        cache = getattr(self, "_index", None)
        if cache is None or len(cache) != len(self.tensors):
            cache = self._index = {t.name: t for t in self.tensors}
        return cache

    def values(self, name: str, start: int, count: int) -> np.ndarray:  # pragma: no cover
        """Values ``start .. start+count`` of tensor ``name`` in row-major order, flat."""
        raise NotImplementedError

    def release(self, name: str, start: int, count: int) -> None:
        """A range returned by ``values`` is no longer needed (frees mapped pages)."""

    def chunks(self, name: str, max_values: int) -> Iterator[np.ndarray]:
        n = self.info(name).numel
        for s in range(0, n, max_values):
            k = min(max_values, n - s)
            yield self.values(name, s, k)
            self.release(name, s, k)

    def read(self, name: str) -> np.ndarray:
        """A whole tensor (for small tensors and tests)."""
        info = self.info(name)
        return np.array(self.values(name, 0, info.numel)).reshape(info.shape)

    def close(self) -> None:
        pass

    def __enter__(self) -> WeightFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SafetensorsFile(WeightFile):
    """A safetensors file, validated completely when opened, read by memory map."""

    format = "safetensors"

    def __init__(self, path: Path) -> None:
        self.path = path
        size = path.stat().st_size

        def bad(msg: str) -> FileFormatError:
            return FileFormatError(f"{path}: not a valid safetensors file: {msg}")

        with open(path, "rb") as f:
            head = f.read(9)
            if len(head) < 8:
                raise bad(f"{size} bytes is shorter than the 8-byte header length")
            (n,) = struct.unpack("<Q", head[:8])
            if head[8:9] != b"{":  # a safetensors header is a JSON object
                raise FileFormatError(f"{path}: not a safetensors or HDF5 file "
                                      "(no HDF5 signature and no safetensors JSON header)")
            if n > MAX_HEADER:
                raise bad(f"header length {n} is over the {MAX_HEADER}-byte limit")
            if 8 + n > size:
                raise bad(f"header length {n} runs past the end of the file ({size} bytes)")
            f.seek(8)
            raw = f.read(n)
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
                if not (isinstance(code, str) and isinstance(shape, list)
                        and all(type(v) is int for v in (*shape, begin, end))):
                    raise TypeError
                shape = tuple(shape)
            except (KeyError, TypeError, ValueError):
                raise bad(f"entry for tensor '{name}' is malformed") from None
            if not isinstance(code, str) or code not in ST_DTYPES:  # a list is not hashable
                raise bad(f"tensor '{name}' has unknown dtype '{code}'")
            dt = np_dtype(*ST_DTYPES[code])
            if any(s < 0 for s in shape) or not 0 <= begin <= end <= data_size:
                raise bad(f"tensor '{name}' has offsets [{begin}, {end}] outside the data "
                          f"({data_size} bytes)")
            if (end - begin) != math.prod(shape) * dt.itemsize:
                raise bad(f"tensor '{name}' has {end - begin} bytes for shape {list(shape)} of {code}")
            self.tensors.append(TensorInfo(name, shape, ST_DTYPES[code][0]))
            self.spans[name] = (begin, end, dt)
        spans = sorted((b, e, k) for k, (b, e, _) in self.spans.items() if e > b)
        for (b1, e1, k1), (b2, _, k2) in zip(spans, spans[1:]):
            if b2 < e1:
                raise bad(f"tensors '{k1}' and '{k2}' overlap (bytes {b2}..{e1})")
        self._mm: mmap.mmap | None = None
        if any(e > b for b, e, _ in self.spans.values()):
            with open(path, "rb") as f:
                self._mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)

    def values(self, name: str, start: int, count: int) -> np.ndarray:
        begin, _, dt = self.spans[name]
        if count == 0 or self._mm is None:
            return np.empty(0, dtype=dt)
        offset = self.data_start + begin + start * dt.itemsize
        return np.frombuffer(self._mm, dtype=dt, count=count, offset=offset)

    def release(self, name: str, start: int, count: int) -> None:
        if self._mm is None or count == 0:
            return
        begin, _, dt = self.spans[name]
        lo = self.data_start + begin + start * dt.itemsize
        hi = lo + count * dt.itemsize
        lo -= lo % mmap.PAGESIZE  # madvise wants a page-aligned start
        if hasattr(mmap, "MADV_DONTNEED"):  # not on Windows: pages then stay until close
            self._mm.madvise(mmap.MADV_DONTNEED, lo, hi - lo)

    def close(self) -> None:
        # Views handed out may still exist; dropping the reference lets them keep
        # the map alive until they go, instead of raising BufferError here.
        self._mm = None


def open_weights(path: str | Path) -> WeightFile:
    """Open a safetensors file, an HDF5 file, or a sharded safetensors set (its
    ``*.safetensors.index.json`` or the directory holding it), by content."""
    path = Path(path)
    if not path.exists():
        raise FileFormatError(f"{path}: no such file or directory")
    if path.is_dir() or path.name.endswith(".index.json"):
        from .sharded import ShardedFile

        return ShardedFile.open(path)
    with open(path, "rb") as f:
        magic = f.read(8)
    if magic == HDF5_MAGIC:
        from .h5reader import HDF5File

        return HDF5File(path)
    if path.suffix.lower() in (".h5", ".hdf5", ".keras") and not magic.startswith(b"PK"):
        raise FileFormatError(f"{path}: not an HDF5 file (no HDF5 signature)")
    if magic.startswith(b"PK"):
        raise FileFormatError(f"{path}: is a zip archive (a .keras or torch file?); "
                              "initgen reads safetensors and HDF5 (.h5, .weights.h5)")
    return SafetensorsFile(path)
