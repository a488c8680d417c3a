"""Output dtypes: one row each (name → NumPy dtype, safetensors code, HDF5 storage)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class DType:
    name: str
    st_code: str  # the safetensors dtype string
    itemsize: int
    module: str  # where the NumPy type lives: numpy or ml_dtypes

    @cached_property
    def np(self) -> np.dtype:
        if self.module == "numpy":
            return np.dtype(self.name)
        import ml_dtypes

        return np.dtype(getattr(ml_dtypes, self.name))

    @property
    def native_hdf5(self) -> bool:
        """HDF5 has no bfloat16/float8: those are stored as raw bytes plus an attribute."""
        return self.module == "numpy"


DTYPES: dict[str, DType] = {
    d.name: d
    for d in (
        DType("float64", "F64", 8, "numpy"),
        DType("float32", "F32", 4, "numpy"),
        DType("float16", "F16", 2, "numpy"),
        DType("bfloat16", "BF16", 2, "ml_dtypes"),
        DType("float8_e4m3fn", "F8_E4M3", 1, "ml_dtypes"),
        DType("float8_e5m2", "F8_E5M2", 1, "ml_dtypes"),
        # Not a weight dtype: only for integer buffers a layer pins (batch norm's
        # num_batches_tracked), made from constants.
        DType("int64", "I64", 8, "numpy"),
    )
}
