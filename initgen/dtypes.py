"""The one dtype table: every dtype initgen writes or reads, one row each.

A row gives the name (NumPy's, or ml_dtypes' for bfloat16 and float8), the
safetensors code, the byte width, where the NumPy type lives, and two flags:

- ``weight``: a spec may choose it (``dtype:``, ``--dtype``); integer and bool rows
  exist for buffers a layer pins (batch norm's ``num_batches_tracked``) and for
  reading other tools' files.
- ``viewed``: HDF5 has no such type, so it is stored as unsigned integers of the same
  width with a ``dtype`` attribute naming the real type (bfloat16, float8).

NumPy is imported on first use of :attr:`DType.np`, so the table is cheap to import.

>>> DTYPES["bfloat16"].st_code, DTYPES["bfloat16"].itemsize, DTYPES["bfloat16"].viewed
('BF16', 2, True)
>>> BY_ST_CODE["F8_E4M3"].name
'float8_e4m3fn'
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class DType:
    name: str
    st_code: str  # the safetensors dtype string
    itemsize: int
    module: str  # where the NumPy type lives: numpy or ml_dtypes
    weight: bool = False  # a spec may choose it

    @cached_property
    def np(self) -> np.dtype:
        import numpy as np

        if self.module == "numpy":
            return np.dtype(self.name)
        import ml_dtypes

        return np.dtype(getattr(ml_dtypes, self.name))

    @property
    def viewed(self) -> bool:
        """HDF5 has no bfloat16/float8: those are stored as raw bytes plus an attribute."""
        return self.module == "ml_dtypes"

    @property
    def integer(self) -> bool:
        return self.st_code[0] in "IU" or self.st_code == "BOOL"


DTYPES: dict[str, DType] = {
    d.name: d
    for d in (
        DType("float64", "F64", 8, "numpy", weight=True),
        DType("float32", "F32", 4, "numpy", weight=True),
        DType("float16", "F16", 2, "numpy", weight=True),
        DType("bfloat16", "BF16", 2, "ml_dtypes", weight=True),
        DType("float8_e4m3fn", "F8_E4M3", 1, "ml_dtypes", weight=True),
        DType("float8_e5m2", "F8_E5M2", 1, "ml_dtypes", weight=True),
        DType("int64", "I64", 8, "numpy"),
        DType("int32", "I32", 4, "numpy"),
        DType("int16", "I16", 2, "numpy"),
        DType("int8", "I8", 1, "numpy"),
        DType("uint64", "U64", 8, "numpy"),
        DType("uint32", "U32", 4, "numpy"),
        DType("uint16", "U16", 2, "numpy"),
        DType("uint8", "U8", 1, "numpy"),
        DType("bool", "BOOL", 1, "numpy"),
    )
}
WEIGHT_DTYPES: tuple[str, ...] = tuple(name for name, d in DTYPES.items() if d.weight)
BY_ST_CODE: dict[str, DType] = {d.st_code: d for d in DTYPES.values()}


def np_dtype(name: str) -> np.dtype:
    """The NumPy dtype of a name: a row's (bfloat16 and float8 come from ml_dtypes), or
    NumPy's own for types only other tools write (an HDF5 float128)."""
    if name in DTYPES:
        return DTYPES[name].np
    import numpy as np

    return np.dtype(name)


VIEWED_LARGEST = {"bfloat16": 3.3895313892515355e38, "float8_e4m3fn": 448.0, "float8_e5m2": 57344.0}


def largest(name: str) -> float:
    """The largest finite value of a dtype."""
    import numpy as np

    d = DTYPES[name]
    if d.integer:
        return float(np.iinfo(d.np).max)
    if d.viewed:  # without ml_dtypes, slow to import (tests check these against it)
        return VIEWED_LARGEST[name]
    return float(np.finfo(d.np).max)
