"""Layer types: one row each (name → its keys and the tensors it makes).

A row lists the type's own keys with their kinds and defaults, and a function from
the checked keys to :class:`TensorDecl` s. Names and axis order follow the layout:
torch names (``weight``/``bias``) and ``[out, in, *k]``, or Keras names
(``kernel``/``bias``) and ``[*k, in, out]``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..fans import Fans

# Kinds of a layer key's value; checked by spec.model before a row's function runs.
DIM, DIMS, BOOL, NUMBER, INTS = "dim", "dims", "bool", "number", "ints"


@dataclass(frozen=True)
class TensorDecl:
    """One tensor a layer makes, before its scheme is chosen.

    ``role`` picks the default scheme: ``weight`` (activation rule or the type's
    default), ``bias`` (zeros), ``norm`` (ones), or ``fixed`` (``default`` only).
    ``fans`` defaults to the layout's fans of ``shape``.
    """

    key: str
    shape: tuple[int, ...]
    role: str = "weight"
    fans: Fans | None = None
    default: str | Mapping[str, Any] | None = None
    full_name: bool = False  # the layer's name alone is the tensor's name


@dataclass(frozen=True)
class LayerType:
    name: str
    doc: str
    keys: Mapping[str, str]  # key → kind
    defaults: Mapping[str, Any]  # optional keys → default (missing: required)
    tensors: Callable[[Mapping[str, Any], str], list[TensorDecl]]
    default_init: str | Mapping[str, Any] = "glorot_uniform"
    kernel_names: Mapping[str, str] = field(default_factory=dict)


def _bias(a: Mapping[str, Any], size: int) -> list[TensorDecl]:
    return [TensorDecl("bias", (size,), "bias")] if a["bias"] else []


def _dense(a: Mapping[str, Any], layout: str) -> list[TensorDecl]:
    if layout == "torch":
        w = TensorDecl("weight", (a["out"], a["in"]))
    else:
        w = TensorDecl("kernel", (a["in"], a["out"]))
    return [w, *_bias(a, a["out"])]


def _embedding(a: Mapping[str, Any], layout: str) -> list[TensorDecl]:
    key = "weight" if layout == "torch" else "embeddings"
    # torch's fan rule for [num, dim]: fan_in = dim, fan_out = num.
    return [TensorDecl(key, (a["num"], a["dim"]), fans=Fans(a["dim"], a["num"]))]


def _norm_shape(a: Mapping[str, Any]) -> tuple[int, ...]:
    dim = a["dim"]
    return tuple(dim) if isinstance(dim, list) else (dim,)


def _layernorm(a: Mapping[str, Any], layout: str) -> list[TensorDecl]:
    shape = _norm_shape(a)
    w, b = ("weight", "bias") if layout == "torch" else ("gamma", "beta")
    out = [TensorDecl(w, shape, "norm")]
    if a["bias"]:
        out.append(TensorDecl(b, shape, "bias"))
    return out


def _rmsnorm(a: Mapping[str, Any], layout: str) -> list[TensorDecl]:
    return [TensorDecl("weight" if layout == "torch" else "gamma", _norm_shape(a), "norm")]


def _tensor(a: Mapping[str, Any], layout: str) -> list[TensorDecl]:
    shape = tuple(a["shape"])
    fans = None
    if a["fan_in"] is not None or a["fan_out"] is not None:
        fans = Fans(a["fan_in"] or a["fan_out"], a["fan_out"] or a["fan_in"])
    elif a["in_axis"] is not None or a["out_axis"] is not None:
        from ..fans import compute_fans

        rank = max(len(shape), 1)
        if not all(-rank <= ax < rank for ax in (a["in_axis"] or 0, a["out_axis"] or 0)):
            raise ValueError(f"in_axis/out_axis must be within the tensor's rank {rank}")
        fans = compute_fans(shape, -2 if a["in_axis"] is None else a["in_axis"],
                            -1 if a["out_axis"] is None else a["out_axis"])
    return [TensorDecl("", shape, fans=fans, full_name=True)]


LAYER_TYPES: dict[str, LayerType] = {
    t.name: t
    for t in (
        LayerType("dense", "fully connected: weight [out, in] (torch) / kernel [in, out]",
                  {"in": DIM, "out": DIM, "bias": BOOL}, {"bias": True}, _dense),
        LayerType("embedding", "lookup table: weight [num, dim]; torch's default N(0, 1)",
                  {"num": DIM, "dim": DIM}, {}, _embedding,
                  default_init={"scheme": "normal", "std": 1.0}),
        LayerType("layernorm", "layer norm: weight 1, bias 0",
                  {"dim": DIMS, "bias": BOOL}, {"bias": True}, _layernorm),
        LayerType("rmsnorm", "RMS norm: weight 1", {"dim": DIMS}, {}, _rmsnorm),
        LayerType("tensor", "any tensor: shape, with fan_in/fan_out or in_axis/out_axis",
                  {"shape": INTS, "fan_in": NUMBER, "fan_out": NUMBER, "in_axis": NUMBER,
                   "out_axis": NUMBER},
                  {"fan_in": None, "fan_out": None, "in_axis": None, "out_axis": None}, _tensor),
    )
}
