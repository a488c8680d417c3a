"""HDF5 writer: one dataset per tensor, dots in names becoming groups.

``fc1.weight`` is the dataset ``/fc1/weight``; the scheme, its distribution and the
fans are attributes of the dataset; seed, stream and version are attributes of the
file. HDF5 has no bfloat16 or float8 type: those are stored as their raw bits
(uint16 / uint8) with the attribute ``dtype`` naming the real type. No timestamps
are stored, so the same plan gives the same bytes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..dtypes import DTYPES
from ..errors import OutputError
from ..plan import TensorPlan
from .atomic import os_error


def dataset_path(name: str) -> str:
    return "/" + name.replace(".", "/")


def storage_dtype(dtype: str) -> np.dtype:
    d = DTYPES[dtype]
    return np.dtype(f"<u{d.itemsize}") if d.viewed else d.np


class HDF5Writer:
    """Writes one HDF5 file; ``write`` is called in element order for each tensor."""

    ordered = True  # rows are buffered per tensor, so chunks must come in order

    def __init__(self, path: Path, tensors: list[TensorPlan], metadata: Mapping[str, str]) -> None:
        import h5py

        self.path = path
        self.failed = False  # a write failed: close() keeps that error's message
        try:
            self.f = h5py.File(path, "w", track_order=False)
        except OSError as e:
            raise os_error(path, e) from None  # h5py's OSError carries the errno (EROFS, EACCES...)
        self.ds: dict[str, Any] = {}  # h5py datasets
        self.pending: dict[str, list[np.ndarray]] = {}
        try:
            for k, v in metadata.items():
                self.f.attrs[k] = v
            for t in tensors:
                self._create(t)
        except BaseException:
            self.f.close()  # no writer is returned, so nobody else would close it
            raise

    def _create(self, t: TensorPlan) -> None:
        try:
            ds = self.f.create_dataset(
                dataset_path(t.name), shape=t.shape, dtype=storage_dtype(t.dtype), track_times=False
            )
        except (ValueError, TypeError) as e:
            raise OutputError(f"{self.path}: cannot store tensor '{t.name}' in HDF5: {e}") from None
        ds.attrs["dtype"] = t.dtype
        self._record(ds, t)

    def _record(self, ds: Any, t: TensorPlan) -> None:
        """The tensor's plan as attributes of its dataset, which the writer then fills."""
        ds.attrs["scheme"] = t.scheme
        ds.attrs["dist"] = json.dumps(t.dist.to_json(), sort_keys=True)
        ds.attrs["fan_in"] = t.fan_in
        ds.attrs["fan_out"] = t.fan_out
        self.ds[t.name] = ds
        self.pending[t.name] = []

    def write(self, t: TensorPlan, start: int, values: np.ndarray) -> None:
        """Buffer values until whole rows (along axis 0) can be written."""
        ds = self.ds[t.name]
        values = values.view(ds.dtype) if values.dtype != ds.dtype else values
        if not t.shape:
            self._store(ds, (), values[0])
            return
        row = math.prod(t.shape[1:])
        buf = self.pending[t.name]
        buf.append(values)
        have = sum(b.size for b in buf)
        end = start + values.size
        first_missing = end - have  # element index where the buffer begins
        whole = (end // row) * row
        if whole <= first_missing:
            return
        flat = np.concatenate(buf) if len(buf) > 1 else buf[0]
        take = whole - first_missing
        r0, r1 = first_missing // row, whole // row
        self._store(ds, slice(r0, r1), flat[:take].reshape((r1 - r0, *t.shape[1:])))
        rest = flat[take:]
        self.pending[t.name] = [rest] if rest.size else []

    def _store(self, ds: object, where: object, values: np.ndarray) -> None:
        try:
            ds[where] = values  # type: ignore[index]
        except OSError as e:  # h5py reports ENOSPC/EFBIG as OSError with the errno
            self.failed = True
            raise os_error(self.path, e) from None

    def close(self) -> None:
        try:
            self.f.close()
        except (OSError, RuntimeError) as e:  # the final flush failed: disk full
            if not self.failed:  # else keep the first error's message
                raise os_error(self.path, e if isinstance(e, OSError) else OSError(str(e))) from None
