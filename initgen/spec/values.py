"""Checking one value of a spec against its kind (a size, sizes, a flag, a number)."""

from __future__ import annotations

import math
from typing import Any

from ..layers import BOOL, DIM, DIMS, INTS, NUMBER
from .yamlpos import Path, Positions

MAX_DIM = 2**53  # every size exact as a float64; no tensor comes near


def int_value(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return None


def check_value(kind: str, v: Any, path: Path, pos: Positions) -> Any:
    """Check one layer key's value against its kind; return it normalized."""
    if kind == DIM:
        n = int_value(v)
        if n is None or n <= 0:
            raise pos.error(path, f"expected a positive whole number, got {v!r}")
        if n > MAX_DIM:
            raise pos.error(path, f"{v!r} is too large for a size (at most 2^53 = {MAX_DIM:,})")
        return n
    if kind in (DIMS, INTS):
        if kind == DIMS and not isinstance(v, list):
            return check_value(DIM, v, path, pos)
        if not isinstance(v, list) or (kind == DIMS and not v):
            raise pos.error(path, f"expected a list of positive whole numbers, got {v!r}")
        return [check_value(DIM, x, (*path, i), pos) for i, x in enumerate(v)]
    if kind == BOOL:
        if not isinstance(v, bool):
            raise pos.error(path, f"expected true or false, got {v!r}")
        return v
    if kind == NUMBER:
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise pos.error(path, f"expected a number, got {v!r}")
        return v
    raise AssertionError(kind)
