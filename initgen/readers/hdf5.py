"""HDF5 reader: every numeric dataset in any nesting of groups is a tensor.

Names are dataset paths with ``/`` turned into ``.``, so initgen's ``/fc1/weight``
reads back as ``fc1.weight``, a Keras 3 ``.weights.h5`` gives
``layers.dense.vars.0`` and a legacy Keras ``.h5`` gives
``model_weights.dense.dense.kernel:0``. HDF5 has no bfloat16 or float8 type;
initgen stores those as raw unsigned integers with a ``dtype`` attribute naming
the real type (Keras 3 stores bfloat16 as a 2-byte opaque type with the same
attribute), and the reader views the bits as that type again.

Contiguous, unfiltered datasets (what initgen and Keras write) are read by memory
map at their file offset, like safetensors; chunked or compressed ones through
h5py in bounded hyperslabs.
"""

from __future__ import annotations

import math
import mmap
from pathlib import Path
from typing import Any

import numpy as np

from ..dtypes import DTYPES
from ..errors import FileFormatError
from .base import TensorInfo, WeightFile
from .probe import probe_hdf5

READ_LIMIT = 1 << 22  # values per h5py read when a dataset cannot be mapped
# A dataset may declare far more values than the file holds (chunks never written read
# as the fill value). Past 1 GiB, more than gzip's best ratio on zeros (~1030:1) is
# refused rather than read for hours.
MAX_RATIO, MAX_RATIO_FROM = 1100, 1 << 30
H5_ERRORS = (OSError, KeyError, RuntimeError, ValueError, TypeError, IndexError)


class HDF5File(WeightFile):
    format = "hdf5"

    def __init__(self, path: Path) -> None:
        import h5py

        self.path = path
        probe_hdf5(path)  # the HDF5 library can hang or crash on a corrupt file: try it in a child first
        try:
            self.f = h5py.File(path, "r")
        except OSError as e:
            raise FileFormatError(f"{path}: not a readable HDF5 file: {_line(e)}") from None
        self.tensors: list[TensorInfo] = []
        self.dsets: dict[str, Any] = {}  # h5py datasets
        self.views: dict[str, np.dtype] = {}
        self.offsets: dict[str, int | None] = {}
        try:
            self.metadata = {_text(k): _text(v) for k, v in self.f.attrs.items()}  # a name may be bytes
            self.f.visititems(self._visit)
        except H5_ERRORS as e:  # h5py reports corrupt structures as any of these
            self.f.close()
            raise FileFormatError(f"{path}: not a valid HDF5 file: {_line(e)}") from None
        self._mm: mmap.mmap | None = None
        if self.offsets:
            with open(path, "rb") as fh:
                self._mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)

    def _visit(self, name: str, obj: object) -> None:
        import h5py

        if not isinstance(obj, h5py.Dataset) or obj.dtype.kind not in "fiubV" or obj.shape is None:
            return  # not numbers, or a null dataspace (no values at all)
        tname = name.replace("/", ".")
        declared = _text(obj.attrs["dtype"]) if "dtype" in obj.attrs else None
        dtype = obj.dtype.name
        row = DTYPES.get(declared) if isinstance(declared, str) else None
        viewed = row is not None and row.viewed and obj.dtype.itemsize == row.itemsize
        if obj.dtype.kind == "V" and not (viewed and obj.dtype.fields is None):
            return  # opaque or compound data that is no known number type
        if row is not None and viewed and obj.dtype.kind in "uV":  # Keras: bfloat16 as 2-byte opaque
            dtype = row.name
            self.views[tname] = row.np
        self.tensors.append(TensorInfo(tname, tuple(obj.shape), dtype))
        self.dsets[tname] = obj
        try:
            offset = obj.id.get_offset()
        except (OSError, RuntimeError):
            offset = None
        declared = obj.size * obj.dtype.itemsize
        if declared > MAX_RATIO_FROM and declared > MAX_RATIO * obj.id.get_storage_size():
            raise FileFormatError(
                f"{self.path}: dataset '{name}' declares {declared:,} bytes but the file stores "
                f"{obj.id.get_storage_size():,} of them (unwritten or impossibly compressed chunks); "
                "refusing to read it"
            )
        if offset is not None and obj.chunks is None and obj.compression is None and obj.size:
            end = offset + obj.size * obj.dtype.itemsize
            if end > self.path.stat().st_size:
                raise FileFormatError(
                    f"{self.path}: not a valid HDF5 file: dataset '{name}' runs past the end of the file"
                )
            self.offsets[tname] = offset

    def values(self, name: str, start: int, count: int) -> np.ndarray:
        ds = self.dsets[name]
        if name in self.offsets and self._mm is not None:
            data = np.frombuffer(
                self._mm, dtype=ds.dtype, count=count, offset=self.offsets[name] + start * ds.dtype.itemsize
            )
        else:
            try:
                data = _read_flat(ds, start, start + count)
            except H5_ERRORS as e:
                raise FileFormatError(f"{self.path}: cannot read dataset '{ds.name}': {_line(e)}") from None
        view = self.views.get(name)
        return data.view(view) if view is not None else data

    def release(self, name: str, start: int, count: int) -> None:
        if name not in self.offsets or self._mm is None or count == 0:
            return
        size = self.dsets[name].dtype.itemsize
        lo = self.offsets[name] + start * size
        hi = lo + count * size
        lo -= lo % mmap.PAGESIZE
        if hasattr(mmap, "MADV_DONTNEED"):  # not on Windows: pages then stay until close
            self._mm.madvise(mmap.MADV_DONTNEED, lo, hi - lo)

    def close(self) -> None:
        self._mm = None
        self.f.close()


def _read_flat(ds: object, start: int, stop: int, prefix: tuple[int, ...] = ()) -> np.ndarray:
    """Flat values ``start..stop`` of ``ds[prefix]`` in row-major order, reading about
    ``READ_LIMIT`` values at a time: blocks of whole rows, or parts of one huge row."""
    if stop <= start:
        return np.empty(0, dtype=ds.dtype)  # type: ignore[attr-defined]
    shape = ds.shape[len(prefix) :]  # type: ignore[attr-defined]
    if not shape:
        return np.asarray(ds[prefix]).reshape(1)  # type: ignore[index]
    row = max(math.prod(shape[1:]), 1)
    r0, r1 = start // row, -(-stop // row)
    parts = []
    if len(shape) == 1 or row <= READ_LIMIT:
        step = max(1, READ_LIMIT // row)
        for r in range(r0, r1, step):
            rows = (*prefix, slice(r, min(r + step, r1)))
            parts.append(np.asarray(ds[rows]).reshape(-1))  # type: ignore[index]
        flat = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return flat[start - r0 * row : stop - r0 * row]
    for r in range(r0, r1):
        a, b = max(start, r * row) - r * row, min(stop, (r + 1) * row) - r * row
        parts.append(_read_flat(ds, a, b, (*prefix, r)))
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _line(e: BaseException) -> str:
    """h5py's message for a corrupt file, on one line."""
    return " ".join(str(e).split()) or type(e).__name__


def _text(v: object) -> str:
    return v.decode(errors="replace") if isinstance(v, bytes) else str(v)
