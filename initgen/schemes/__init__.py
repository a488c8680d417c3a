"""Initialization schemes: fans (:mod:`.fans`), distributions (:mod:`.dists`), gains and
activation rules (:mod:`.gains`), and the scheme table (:mod:`.table` defines a row,
:mod:`.catalog` holds the rows). To add a scheme, add a row to the catalog and a test row.
"""

from __future__ import annotations

from .catalog import ALIASES, ALL_NAMES, SCHEMES, get_scheme
from .dists import TRUNC_STD_2, WHOLE_KINDS, Dist, normal, uniform
from .table import REQUIRED, Context, Param, Scheme

__all__ = [
    "ALIASES",
    "ALL_NAMES",
    "REQUIRED",
    "SCHEMES",
    "TRUNC_STD_2",
    "WHOLE_KINDS",
    "Context",
    "Dist",
    "Param",
    "Scheme",
    "get_scheme",
    "normal",
    "uniform",
]
