"""Layer types: the table from a layer's ``type`` to its keys and the tensors it makes.

:mod:`.base` defines what a row is, :mod:`.basic` and :mod:`.sequence` hold the rows.
To add a layer type, add a row there (a name, its keys with kinds and defaults, and a
function from the checked keys to :class:`TensorDecl` s) and a test row.
"""

from __future__ import annotations

from .base import (
    BOOL,
    CHOICE,
    DIM,
    DIMS,
    INTS,
    NUMBER,
    LayerType,
    LayerValueError,
    TensorDecl,
    bias_decls,
    weight_key,
)
from .basic import BASIC_TYPES, TENSOR_TYPE
from .sequence import SEQ_TYPES

__all__ = [
    "BOOL",
    "CHOICE",
    "DIM",
    "DIMS",
    "INTS",
    "LAYER_TYPES",
    "NUMBER",
    "LayerType",
    "LayerValueError",
    "TensorDecl",
    "bias_decls",
    "weight_key",
]

LAYER_TYPES: dict[str, LayerType] = {t.name: t for t in (*BASIC_TYPES, *SEQ_TYPES, TENSOR_TYPE)}
