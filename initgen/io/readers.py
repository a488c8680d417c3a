"""Readers for any weight file: safetensors (by memory map) and HDF5.

A reader lists tensors (name, shape, dtype) and yields each tensor's values in
chunks, so statistics never need a whole tensor in memory. Every problem with the
file is a :class:`FileFormatError` naming the file.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import FileFormatError

# safetensors dtype code → (NumPy dtype name, module)
ST_DTYPES: dict[str, tuple[str, str]] = {
    "F64": ("float64", "numpy"), "F32": ("float32", "numpy"), "F16": ("float16", "numpy"),
    "BF16": ("bfloat16", "ml_dtypes"), "F8_E4M3": ("float8_e4m3fn", "ml_dtypes"),
    "F8_E5M2": ("float8_e5m2", "ml_dtypes"),
    "I64": ("int64", "numpy"), "I32": ("int32", "numpy"), "I16": ("int16", "numpy"),
    "I8": ("int8", "numpy"), "U64": ("uint64", "numpy"), "U32": ("uint32", "numpy"),
    "U16": ("uint16", "numpy"), "U8": ("uint8", "numpy"), "BOOL": ("bool", "numpy"),
}
MAX_HEADER = 100 * 1024 * 1024  # the safetensors library's own limit


def np_dtype(name: str, module: str = "numpy") -> np.dtype:
    if module == "numpy" and name != "bfloat16" and not name.startswith("float8"):
        return np.dtype(name)
    import ml_dtypes

    return np.dtype(getattr(ml_dtypes, name))


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    dtype: str

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


class WeightFile:
    """Common interface of the readers."""

    path: Path
    format: str
    tensors: list[TensorInfo]
    metadata: dict[str, str]

    def chunks(self, name: str, max_values: int) -> Iterator[np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def read(self, name: str) -> np.ndarray:
        """A whole tensor (for verify/diff of small tensors and tests)."""
        info = next(t for t in self.tensors if t.name == name)
        parts = list(self.chunks(name, max(info.numel, 1)))
        return (np.concatenate(parts) if parts else np.empty(0)).reshape(info.shape)

    def close(self) -> None:
        pass

    def __enter__(self) -> WeightFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SafetensorsFile(WeightFile):
    format = "safetensors"

    def __init__(self, path: Path) -> None:
        self.path = path
        size = path.stat().st_size

        def bad(msg: str) -> FileFormatError:
            return FileFormatError(f"{path}: not a valid safetensors file: {msg}")

        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise bad("shorter than the 8-byte header length")
            (n,) = struct.unpack("<Q", head)
            if n > MAX_HEADER:
                raise bad(f"header length {n} is over the {MAX_HEADER}-byte limit")
            if 8 + n > size:
                raise bad(f"header length {n} runs past the end of the file ({size} bytes)")
            raw = f.read(n)
        try:
            header = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise bad(f"header is not JSON ({e})") from None
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
                shape = tuple(int(s) for s in shape)
                begin, end = int(begin), int(end)
            except (KeyError, TypeError, ValueError):
                raise bad(f"entry for tensor '{name}' is malformed") from None
            if code not in ST_DTYPES:
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
                raise bad(f"tensors '{k1}' and '{k2}' overlap")
        self._mm = np.memmap(path, dtype=np.uint8, mode="r") if size else None

    def chunks(self, name: str, max_values: int) -> Iterator[np.ndarray]:
        begin, end, dt = self.spans[name]
        if end == begin or self._mm is None:
            return
        data = self._mm[self.data_start + begin : self.data_start + end].view(dt)
        for s in range(0, data.size, max_values):
            yield data[s : s + max_values]

    def close(self) -> None:
        self._mm = None


class HDF5File(WeightFile):
    format = "hdf5"

    def __init__(self, path: Path) -> None:
        import h5py

        self.path = path
        try:
            self.f = h5py.File(path, "r")
        except OSError as e:
            raise FileFormatError(f"{path}: not a readable HDF5 file: {e}") from None
        self.metadata = {k: _text(v) for k, v in self.f.attrs.items()}
        self.tensors, self.dsets = [], {}

        def visit(name: str, obj: object) -> None:
            if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "fiub":
                tname = name.replace("/", ".")
                declared = obj.attrs.get("dtype")
                dtype = _text(declared) if declared is not None else obj.dtype.name
                self.tensors.append(TensorInfo(tname, tuple(obj.shape), dtype))
                self.dsets[tname] = obj

        self.f.visititems(visit)

    def chunks(self, name: str, max_values: int) -> Iterator[np.ndarray]:
        ds = self.dsets[name]
        info = next(t for t in self.tensors if t.name == name)
        view = np_dtype(info.dtype) if info.dtype != ds.dtype.name else None
        if not ds.shape:
            yield np.asarray(ds[()]).reshape(1)
            return
        row = max(math.prod(ds.shape[1:]), 1)
        rows = max(1, max_values // row)
        for r in range(0, ds.shape[0], rows):
            block = ds[r : r + rows].reshape(-1)
            yield block.view(view) if view is not None else block

    def close(self) -> None:
        self.f.close()


def _text(v: object) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def open_weights(path: str | Path) -> WeightFile:
    """Open a safetensors or HDF5 file, telling them apart by content."""
    path = Path(path)
    if not path.exists():
        raise FileFormatError(f"{path}: no such file")
    if path.is_dir():
        raise FileFormatError(f"{path}: is a directory")
    with open(path, "rb") as f:
        magic = f.read(8)
    if magic == b"\x89HDF\r\n\x1a\n":
        return HDF5File(path)
    if path.suffix.lower() in (".h5", ".hdf5", ".keras"):
        raise FileFormatError(f"{path}: not an HDF5 file (no HDF5 signature)")
    return SafetensorsFile(path)
