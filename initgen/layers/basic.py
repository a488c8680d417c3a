"""Layer types other than the sequence layers: one row each (name → keys → tensors).

A row lists the type's own keys with their kinds and defaults, and a function from
the checked keys to :class:`TensorDecl` s. Names and axis order follow the layout:
torch names (``weight``/``bias``) and ``[out, in, *k]``, or Keras names
(``kernel``/``bias``) and ``[*k, in, out]``. Recurrent and attention layers live in
:mod:`.sequence` and are rows of the same table (:data:`initgen.layers.LAYER_TYPES`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..schemes.fans import (
    FAN_CONVENTIONS,
    Fans,
    compute_fans,
    conv_fans,
    conv_transpose_fans,
    conv_transpose_shape,
    embedding_fans,
)
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


def _dense(a: Mapping[str, Any], layout: str) -> list[TensorDecl]:
    fans = Fans(a["in"], a["out"])
    shape = (a["out"], a["in"]) if layout == "torch" else (a["in"], a["out"])
    return [TensorDecl(weight_key(layout), shape, fans=fans), *bias_decls(a, a["out"], fans=fans)]


def _embedding(a: Mapping[str, Any], layout: str) -> list[TensorDecl]:
    key = "weight" if layout == "torch" else "embeddings"
    return [TensorDecl(key, (a["num"], a["dim"]), fans=embedding_fans(a["num"], a["dim"]))]


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


def _batchnorm(a: Mapping[str, Any], layout: str) -> list[TensorDecl]:
    """torch BatchNorm: weight 1, bias 0, running_mean 0, running_var 1 and an int64
    scalar num_batches_tracked 0; Keras: gamma, beta, moving_mean, moving_variance."""
    c = (a["dim"],)
    torch = layout == "torch"
    out: list[TensorDecl] = []
    if a["affine"]:
        out += [
            TensorDecl("weight" if torch else "gamma", c, "norm"),
            TensorDecl("bias" if torch else "beta", c, "bias"),
        ]
    if a["running_stats"]:
        out += [
            TensorDecl("running_mean" if torch else "moving_mean", c, "fixed", default="zeros"),
            TensorDecl("running_var" if torch else "moving_variance", c, "fixed", default="ones"),
        ]
        if torch:
            out.append(TensorDecl("num_batches_tracked", (), "fixed", default="zeros", dtype="int64"))
    return out


def _kernel(a: Mapping[str, Any], n: int) -> tuple[int, ...]:
    k = a["kernel"]
    if not isinstance(k, list):
        return (k,) * n
    if len(k) != n:
        raise LayerValueError("kernel", f"a {n}-d kernel needs {n} sizes (or one number), got {len(k)}")
    return tuple(k)


def _groups(a: Mapping[str, Any]) -> int:
    g = a["groups"]
    for key in ("in", "out"):
        if a[key] % g:
            raise LayerValueError("groups", f"groups={g} must divide {key}={a[key]}")
    return g


def _conv(n: int, transposed: bool) -> Callable[[Mapping[str, Any], str], list[TensorDecl]]:
    """torch Conv{n}d weight [out, in/g, *k]; ConvTranspose{n}d weight [in, out/g, *k].
    Keras kernels: [*k, in/g, out] and (transposed) [*k, out/g, in]; JAX/Flax: [*k, in/g, out]
    for both.

    A convolution's fans are fan_in = in/g·∏k, fan_out = out·∏k in every framework; a
    transposed convolution's follow ``fan_convention`` (initgen.fans.conv_transpose_fans)."""

    def make(a: Mapping[str, Any], layout: str) -> list[TensorDecl]:
        k, g = _kernel(a, n), _groups(a)
        if transposed:
            shape = conv_transpose_shape(a["in"], a["out"], k, g, layout)
            fans = conv_transpose_fans(a["in"], a["out"], k, g, a["fan_convention"])
        else:
            shape = (a["out"], a["in"] // g, *k) if layout == "torch" else (*k, a["in"] // g, a["out"])
            fans = conv_fans(a["in"], a["out"], k, g)
        return [TensorDecl(weight_key(layout), shape, fans=fans), *bias_decls(a, a["out"], fans=fans)]

    return make


def _tensor(a: Mapping[str, Any], layout: str) -> list[TensorDecl]:
    shape = tuple(a["shape"])
    fans = None
    if a["fan_in"] is not None or a["fan_out"] is not None:
        for key in ("fan_in", "fan_out"):
            if a[key] is not None and a[key] <= 0:
                raise LayerValueError(key, f"expected a positive number, got {a[key]!r}")
        fans = Fans(a["fan_in"] or a["fan_out"], a["fan_out"] or a["fan_in"])
    elif a["in_axis"] is not None or a["out_axis"] is not None:
        rank = max(len(shape), 1)
        for key in ("in_axis", "out_axis"):
            ax = a[key]
            if ax is not None and (not float(ax).is_integer() or not -rank <= ax < rank):
                raise LayerValueError(
                    key,
                    f"must be a whole number within the tensor's rank "
                    f"{rank} (-{rank}..{rank - 1}), got {ax!r}",
                )
        fans = compute_fans(
            shape,
            -2 if a["in_axis"] is None else int(a["in_axis"]),
            -1 if a["out_axis"] is None else int(a["out_axis"]),
        )
    return [TensorDecl("", shape, fans=fans, full_name=True)]


def _conv_row(n: int, transposed: bool) -> LayerType:
    keys = {"in": DIM, "out": DIM, "kernel": DIMS, "groups": DIM, "bias": BOOL}
    defaults: dict[str, Any] = {"groups": 1, "bias": True}
    if transposed:
        return LayerType(
            f"conv_transpose{n}d",
            f"{n}-d transposed convolution: weight "
            "[in, out/groups, *k] (torch) / kernel [*k, out/groups, in] (keras); "
            "fan_convention: initgen (connectivity) or torch (swapped fans)",
            {**keys, "fan_convention": CHOICE},
            {**defaults, "fan_convention": "initgen"},
            _conv(n, True),
            choices={"fan_convention": FAN_CONVENTIONS},
        )
    return LayerType(
        f"conv{n}d",
        f"{n}-d convolution: weight [out, in/groups, *k] (torch) / "
        "kernel [*k, in/groups, out] (keras); kernel is a size or a list",
        keys,
        defaults,
        _conv(n, False),
    )


BASIC_TYPES: list[LayerType] = [
    LayerType(
        "dense",
        "fully connected: weight [out, in] (torch) / kernel [in, out]",
        {"in": DIM, "out": DIM, "bias": BOOL},
        {"bias": True},
        _dense,
    ),
    *(_conv_row(n, t) for t in (False, True) for n in (1, 2, 3)),
    LayerType(
        "embedding",
        "lookup table: weight [num, dim]; torch's default N(0, 1)",
        {"num": DIM, "dim": DIM},
        {},
        _embedding,
        default_init={"scheme": "normal", "std": 1.0},
    ),
    LayerType(
        "layernorm", "layer norm: weight 1, bias 0", {"dim": DIMS, "bias": BOOL}, {"bias": True}, _layernorm
    ),
    LayerType("rmsnorm", "RMS norm: weight 1", {"dim": DIMS}, {}, _rmsnorm),
    LayerType(
        "batchnorm",
        "batch norm: weight 1, bias 0, running_mean 0, running_var 1, num_batches_tracked 0 (int64, torch)",
        {"dim": DIM, "affine": BOOL, "running_stats": BOOL},
        {"affine": True, "running_stats": True},
        _batchnorm,
    ),
]
TENSOR_TYPE = LayerType(
    "tensor",
    "any tensor: shape, with fan_in/fan_out or in_axis/out_axis",
    {"shape": INTS, "fan_in": NUMBER, "fan_out": NUMBER, "in_axis": NUMBER, "out_axis": NUMBER},
    {"fan_in": None, "fan_out": None, "in_axis": None, "out_axis": None},
    _tensor,
)
