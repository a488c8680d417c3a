"""What every layer type is made of: the kinds of its keys, :class:`TensorDecl` (one
tensor a layer makes, before its scheme is chosen) and :class:`LayerType` (one row of
the layer table: the type's keys and the function from them to its tensors).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..schemes.dists import Dist
from ..schemes.fans import Fans

# Kinds of a layer key's value; checked by spec.model before a row's function runs.
DIM, DIMS, BOOL, NUMBER, INTS, CHOICE = "dim", "dims", "bool", "number", "ints", "choice"


class LayerValueError(ValueError):
    """A layer's keys are individually valid but inconsistent (``key`` names the culprit)."""

    def __init__(self, key: str | None, message: str) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class TensorDecl:
    """One tensor a layer makes, before its scheme is chosen.

    ``role`` picks the default scheme: ``weight`` (a plain ``init``, the activation
    rule or the type's default), ``bias`` (zeros), ``norm`` (ones), ``recurrent`` or
    ``fixed`` (``default``); a per-tensor ``init`` may name a role.
    ``fans`` defaults to the layout's fans of ``shape``. ``dtype`` pins the tensor's
    dtype whatever the layer's (an integer counter); ``blocks`` > 1 splits a
    whole-tensor scheme into that many equal gate blocks along the output axis;
    ``block_fans`` lists the fans of each projection a fused tensor stacks; ``preset``
    is a (label, distribution) used unless the spec gives this tensor an init.
    """

    key: str
    shape: tuple[int, ...]
    role: str = "weight"
    fans: Fans | None = None
    default: str | Mapping[str, Any] | None = None
    full_name: bool = False  # the layer's name alone is the tensor's name
    dtype: str | None = None
    blocks: int = 1
    block_fans: tuple[Fans, ...] = ()
    preset: tuple[str, Dist] | None = None


@dataclass(frozen=True)
class LayerType:
    name: str
    doc: str
    keys: Mapping[str, str]  # key → kind
    defaults: Mapping[str, Any]  # optional keys → default (missing: required)
    tensors: Callable[[Mapping[str, Any], str], list[TensorDecl]]
    default_init: str | Mapping[str, Any] = "glorot_uniform"
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # CHOICE keys' words


def bias_decls(
    a: Mapping[str, Any], size: int, key: str = "bias", fans: Fans | None = None
) -> list[TensorDecl]:
    """A bias of ``size`` if the layer has one. It carries its weight's ``fans`` so
    that fan-based schemes (torch_default: U(±1/√fan_in)) see the weight's fan_in,
    as torch does."""
    return [TensorDecl(key, (size,), "bias", fans=fans)] if a["bias"] else []


def weight_key(layout: str) -> str:
    return "weight" if layout == "torch" else "kernel"
