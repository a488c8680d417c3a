"""How each scheme resolves to a distribution: the functions behind the rows of
:mod:`.catalog`, each from ``(Context, arguments)`` to a :class:`~initgen.schemes.dists.Dist`.

Variance-scaling schemes are one function, :func:`scaled_fan`, specialised by rows
(Glorot = fan_avg, scale 1; He = fan_in, scale 2; LeCun = fan_in, scale 1), as in
``jax.nn.initializers``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..errors import SpecError, one_of
from .dists import (
    Dist,
    corrected_truncated,
    normal,
    point_mass,
    symmetric_uniform,
    truncated,
    truncated_at,
    uniform,
)
from .fans import Fans
from .gains import GAIN_NAMES, gain
from .table import Context, Param

# --- fan-scaled schemes ----------------------------------------------------------------

MODES = ("fan_in", "fan_out", "fan_avg")
DISTRIBUTIONS = ("truncated_normal", "normal", "untruncated_normal", "uniform")


def fan(fans: Fans, mode: str) -> float:
    n = {"fan_in": fans.fan_in, "fan_out": fans.fan_out, "fan_avg": fans.fan_avg}[mode]
    if n <= 0:
        raise SpecError(f"{mode} is 0 for this tensor; a fan-based scheme needs a positive fan")
    return n


def with_std(std: float, distribution: str) -> Dist:
    """The distribution with standard deviation ``std`` (truncated: Keras' corrected one)."""
    if distribution == "uniform":
        return symmetric_uniform(std)
    if distribution == "truncated_normal":
        return corrected_truncated(std)
    return normal(0.0, std)


def scaled_fan(scale: float, mode: str, distribution: str, fans: Fans) -> Dist:
    """σ² = scale / n (Keras / JAX ``VarianceScaling``)."""
    if scale <= 0:
        raise SpecError(f"scale must be positive, got {scale:g}")
    return with_std(math.sqrt(scale / fan(fans, mode)), distribution)


def gain_of(ctx: Context, value: Any) -> float:
    """A ``gain`` parameter: a number, a nonlinearity's name, or ``auto`` (the layer's)."""
    if isinstance(value, float):
        return value
    name = value if value != "auto" else (ctx.activation or "linear")
    if name not in GAIN_NAMES:
        raise SpecError(
            f"gain: auto: torch's calculate_gain has no entry for activation "
            f"'{name}'; give gain a number (known: {one_of(GAIN_NAMES)})"
        )
    return gain(name, ctx.negative_slope)


def dist_of(fixed: str, a: dict[str, Any]) -> str:
    return fixed if fixed == "uniform" else a["distribution"]


def glorot(fixed: str) -> Callable[[Context, dict[str, Any]], Dist]:
    def resolve(ctx: Context, a: dict[str, Any]) -> Dist:
        std = gain_of(ctx, a["gain"]) * math.sqrt(1.0 / fan(ctx.fans, "fan_avg"))
        return with_std(std, dist_of(fixed, a))

    return resolve


def he(fixed: str) -> Callable[[Context, dict[str, Any]], Dist]:
    def resolve(ctx: Context, a: dict[str, Any]) -> Dist:
        slope = a["negative_slope"]
        if slope is None and ctx.activation != "leaky_relu":
            slope = 0.0  # torch's a=0; a leaky_relu layer's own slope (default 0.01) otherwise
        g = gain(a["nonlinearity"], slope if slope is not None else ctx.negative_slope)
        return with_std(g / math.sqrt(fan(ctx.fans, a["mode"])), dist_of(fixed, a))

    return resolve


def lecun(fixed: str) -> Callable[[Context, dict[str, Any]], Dist]:
    return lambda ctx, a: scaled_fan(1.0, "fan_in", dist_of(fixed, a), ctx.fans)


def torch_default(ctx: Context, a: dict[str, Any]) -> Dist:
    # kaiming_uniform_(a=√5): gain √(2/(1+5)), bound √3·gain/√fan_in = 1/√fan_in.
    # Biases: torch uses the weight's fan_in, which a layer passes as the bias's fans.
    bound = 1.0 / math.sqrt(fan(ctx.fans, "fan_in"))
    return uniform(-bound, bound)


GAIN = Param(
    "gain",
    1.0,
    "a number, 'auto' (torch's calculate_gain of the layer's activation) or a nonlinearity name",
    kind=object,
)
NORMAL_DIST = Param(
    "distribution",
    "normal",
    "normal (torch) or truncated_normal (Keras/JAX: cut at 2σ', σ' = σ/0.87962566103423978)",
    choices=("normal", "truncated_normal"),
)
HE_PARAMS = (
    Param("mode", "fan_in", "which fan scales the variance", choices=("fan_in", "fan_out")),
    Param("negative_slope", None, "leaky ReLU slope a (default: the layer's if it is leaky_relu, else 0)"),
    Param(
        "nonlinearity",
        "leaky_relu",
        "torch's nonlinearity: gain = calculate_gain(it, slope)",
        choices=GAIN_NAMES,
    ),
)

# --- element-wise schemes with explicit numbers ----------------------------------------


def explicit_uniform(ctx: Context, a: dict[str, Any]) -> Dist:
    if not a["low"] <= a["high"]:
        raise SpecError(f"low must not exceed high, got low={a['low']:g}, high={a['high']:g}")
    return uniform(a["low"], a["high"])


def explicit_normal(ctx: Context, a: dict[str, Any]) -> Dist:
    if a["std"] < 0:
        raise SpecError(f"std must not be negative, got {a['std']:g}")
    return normal(a["mean"], a["std"])


def explicit_truncated_normal(ctx: Context, a: dict[str, Any]) -> Dist:
    mean, std = a["mean"], a["std"]
    if std <= 0:
        raise SpecError(f"std must be positive, got {std:g}")
    if (a["a"] is None) != (a["b"] is None):
        raise SpecError("give both a and b (absolute bounds), or neither (bounds at mean ± cut·std)")
    if a["a"] is None:
        if not a["cut"] > 0:
            raise SpecError(f"cut must be positive, got {a['cut']:g}")
        return truncated_at(std, a["cut"], mean)
    if not a["a"] < a["b"]:
        raise SpecError(f"a must be below b, got a={a['a']:g}, b={a['b']:g}")
    return truncated(mean, std, a["a"], a["b"])


# --- whole-tensor schemes (generate/whole_tensor.py) --------------------------------------------


def last_axis_out(ctx: Context) -> float:
    """1.0 when the output axis is last (keras/jax layouts), 0.0 when first (torch)."""
    return 0.0 if ctx.layout == "torch" else 1.0


def orthogonal(ctx: Context, a: dict[str, Any]) -> Dist:
    if len(ctx.shape) < 2:
        raise SpecError("orthogonal needs a tensor of rank 2 or more")
    g = gain_of(ctx, a["gain"])
    numel = math.prod(ctx.shape)
    rows = ctx.shape[-1] if last_axis_out(ctx) else ctx.shape[0]
    # min(rows, cols) orthonormal vectors: Σx² = min·g², so the RMS is |g|/√max(rows, cols).
    std = abs(g) / math.sqrt(max(rows, numel // rows)) if numel else 0.0
    return Dist("orthogonal", {"gain": g, "last_axis_out": last_axis_out(ctx)}, 0.0, std)


def identity(ctx: Context, a: dict[str, Any]) -> Dist:
    if len(ctx.shape) != 2:
        raise SpecError(f"identity needs a 2-D tensor, got shape {list(ctx.shape)}")
    g = gain_of(ctx, a["gain"])
    return point_mass("identity", {"gain": g}, g, min(ctx.shape), math.prod(ctx.shape))


def dirac(ctx: Context, a: dict[str, Any]) -> Dist:
    shape, groups = ctx.shape, a["groups"]
    if len(shape) < 3:
        raise SpecError(f"dirac needs a convolution kernel (rank 3 or more), got shape {list(shape)}")
    last = last_axis_out(ctx)
    out, in_per_group = (shape[-1], shape[-2]) if last else (shape[0], shape[1])
    if groups < 1 or out % groups:
        raise SpecError(f"groups={groups} must divide the {out} output channels")
    count = groups * min(out // groups, in_per_group)
    g = gain_of(ctx, a["gain"])
    return point_mass(
        "dirac", {"gain": g, "groups": groups, "last_axis_out": last}, g, count, math.prod(shape)
    )


def sparse(ctx: Context, a: dict[str, Any]) -> Dist:
    if len(ctx.shape) != 2:
        raise SpecError(f"sparse needs a 2-D tensor, got shape {list(ctx.shape)}")
    s, std = a["sparsity"], a["std"]
    if not 0 <= s <= 1:
        raise SpecError(f"sparsity must be within [0, 1], got {s:g}")
    if std < 0:
        raise SpecError(f"std must not be negative, got {std:g}")
    last = last_axis_out(ctx)
    rows = ctx.shape[-1] if last else ctx.shape[0]  # torch's rows: the output axis
    zeros = min(rows, math.ceil(s * rows))
    frac = (rows - zeros) / rows if rows else 0.0
    return Dist(
        "sparse",
        {"sparsity": s, "std": std, "zeros": zeros, "last_axis_out": last},
        0.0,
        std * math.sqrt(frac),
    )
