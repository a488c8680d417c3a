"""What every reader is: a :class:`WeightFile` lists its tensors and hands out their values.

A reader lists tensors (name, shape, dtype) and hands out flat ranges of a
tensor's values (``values(name, start, count)``), so statistics, verification and
diffs never need a whole tensor in memory. ``release`` tells the reader a range is
done with: the safetensors reader then drops those pages from the process
(``MADV_DONTNEED``), so reading a 4 GB file by memory map does not leave 4 GB
resident. Every problem with a file is a :class:`FileFormatError` naming it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..dtypes import DTYPES


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
        row = DTYPES.get(self.dtype)  # other HDF5 types (float128) are NumPy's alone
        return self.numel * (row.itemsize if row else np.dtype(self.dtype).itemsize)


class WeightFile:
    """Common interface of the readers."""

    path: Path  # for object storage, the URL (a str)
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

    def raw(self, name: str, start: int, count: int) -> np.ndarray:
        """Like ``values``, but bfloat16 and float8 as unsigned integers of the same bits
        (reading them this way needs no ml_dtypes, which is slow to import)."""
        v = self.values(name, start, count)
        return v.view(f"u{v.dtype.itemsize}") if v.dtype.kind == "V" else v

    def release(self, name: str, start: int, count: int) -> None:
        """A range returned by ``values`` or ``raw`` is no longer needed (frees mapped pages)."""

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
