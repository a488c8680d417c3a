"""The scheme table: name → parameters, formula and the distribution it resolves to.

A scheme is a row of :data:`SCHEMES`. Resolving a scheme for one tensor (its shape,
fans, layout and the layer's activation) gives a :class:`~initgen.schemes.dists.Dist`: the
sampler kind and its exact parameters, plus the mean and std the values are expected
to have. The samplers (``initgen.generate``) only ever see a ``Dist``.

Variance-scaling schemes are one function, :func:`_scaled_fan`, specialised by rows
(Glorot = fan_avg, scale 1; He = fan_in, scale 2; LeCun = fan_in, scale 1), as in
``jax.nn.initializers``. Every scheme also takes ``scale:``, a multiplier on its
values (std, bounds, value, gain), e.g. GPT-2's residual projections
``{scheme: normal, std: 0.02, scale: ${1 / sqrt(2 * n_layer)}}``; the one exception is
``variance_scaling``, whose own ``scale`` is Keras' variance scale (σ² = scale/n).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..errors import SpecError, one_of, suggest
from .dists import (
    Dist,
    constant,
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
from .table import REQUIRED, Context, Param, Scheme

# --- fan-scaled schemes ----------------------------------------------------------------

MODES = ("fan_in", "fan_out", "fan_avg")
DISTRIBUTIONS = ("truncated_normal", "normal", "untruncated_normal", "uniform")


def _fan(fans: Fans, mode: str) -> float:
    n = {"fan_in": fans.fan_in, "fan_out": fans.fan_out, "fan_avg": fans.fan_avg}[mode]
    if n <= 0:
        raise SpecError(f"{mode} is 0 for this tensor; a fan-based scheme needs a positive fan")
    return n


def _with_std(std: float, distribution: str) -> Dist:
    """The distribution with standard deviation ``std`` (truncated: Keras' corrected one)."""
    if distribution == "uniform":
        return symmetric_uniform(std)
    if distribution == "truncated_normal":
        return corrected_truncated(std)
    return normal(0.0, std)


def _scaled_fan(scale: float, mode: str, distribution: str, fans: Fans) -> Dist:
    """σ² = scale / n (Keras / JAX ``VarianceScaling``)."""
    if scale <= 0:
        raise SpecError(f"scale must be positive, got {scale:g}")
    return _with_std(math.sqrt(scale / _fan(fans, mode)), distribution)


def _gain_of(ctx: Context, value: Any) -> float:
    """A ``gain`` parameter: a number, a nonlinearity's name, or ``auto`` (the layer's)."""
    if isinstance(value, float):
        return value
    name = value if value != "auto" else (ctx.activation or "linear")
    if name not in GAIN_NAMES:
        raise SpecError(f"gain: auto: torch's calculate_gain has no entry for activation "
                        f"'{name}'; give gain a number (known: {one_of(GAIN_NAMES)})")
    return gain(name, ctx.negative_slope)


def _dist_of(fixed: str, a: dict[str, Any]) -> str:
    return fixed if fixed == "uniform" else a["distribution"]


def _glorot(fixed: str) -> Callable[[Context, dict[str, Any]], Dist]:
    def resolve(ctx: Context, a: dict[str, Any]) -> Dist:
        std = _gain_of(ctx, a["gain"]) * math.sqrt(1.0 / _fan(ctx.fans, "fan_avg"))
        return _with_std(std, _dist_of(fixed, a))
    return resolve


def _he(fixed: str) -> Callable[[Context, dict[str, Any]], Dist]:
    def resolve(ctx: Context, a: dict[str, Any]) -> Dist:
        slope = a["negative_slope"]
        if slope is None and ctx.activation != "leaky_relu":
            slope = 0.0  # torch's a=0; a leaky_relu layer's own slope (default 0.01) otherwise
        g = gain(a["nonlinearity"], slope if slope is not None else ctx.negative_slope)
        return _with_std(g / math.sqrt(_fan(ctx.fans, a["mode"])), _dist_of(fixed, a))
    return resolve


def _lecun(fixed: str) -> Callable[[Context, dict[str, Any]], Dist]:
    return lambda ctx, a: _scaled_fan(1.0, "fan_in", _dist_of(fixed, a), ctx.fans)


def _torch_default(ctx: Context, a: dict[str, Any]) -> Dist:
    # kaiming_uniform_(a=√5): gain √(2/(1+5)), bound √3·gain/√fan_in = 1/√fan_in.
    # Biases: torch uses the weight's fan_in, which a layer passes as the bias's fans.
    bound = 1.0 / math.sqrt(_fan(ctx.fans, "fan_in"))
    return uniform(-bound, bound)


GAIN = Param("gain", 1.0, "a number, 'auto' (torch's calculate_gain of the layer's activation) "
             "or a nonlinearity name", kind=object)
NORMAL_DIST = Param("distribution", "normal", "normal (torch) or truncated_normal (Keras/JAX: "
                    "cut at 2σ', σ' = σ/0.87962566103423978)", choices=("normal", "truncated_normal"))
HE_PARAMS = (
    Param("mode", "fan_in", "which fan scales the variance", choices=("fan_in", "fan_out")),
    Param("negative_slope", None, "leaky ReLU slope a (default: the layer's if it is leaky_relu, else 0)"),
    Param("nonlinearity", "leaky_relu", "torch's nonlinearity: gain = calculate_gain(it, slope)",
          choices=GAIN_NAMES),
)

# --- element-wise schemes with explicit numbers ----------------------------------------


def _uniform(ctx: Context, a: dict[str, Any]) -> Dist:
    if not a["low"] <= a["high"]:
        raise SpecError(f"low must not exceed high, got low={a['low']:g}, high={a['high']:g}")
    return uniform(a["low"], a["high"])


def _normal(ctx: Context, a: dict[str, Any]) -> Dist:
    if a["std"] < 0:
        raise SpecError(f"std must not be negative, got {a['std']:g}")
    return normal(a["mean"], a["std"])


def _truncated_normal(ctx: Context, a: dict[str, Any]) -> Dist:
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


# --- whole-tensor schemes (whole.py) ---------------------------------------------------


def _last_axis_out(ctx: Context) -> float:
    """1.0 when the output axis is last (keras/jax layouts), 0.0 when first (torch)."""
    return 0.0 if ctx.layout == "torch" else 1.0


def _orthogonal(ctx: Context, a: dict[str, Any]) -> Dist:
    if len(ctx.shape) < 2:
        raise SpecError("orthogonal needs a tensor of rank 2 or more")
    g = _gain_of(ctx, a["gain"])
    numel = math.prod(ctx.shape)
    rows = ctx.shape[-1] if _last_axis_out(ctx) else ctx.shape[0]
    # min(rows, cols) orthonormal vectors: Σx² = min·g², so the RMS is |g|/√max(rows, cols).
    std = abs(g) / math.sqrt(max(rows, numel // rows)) if numel else 0.0
    return Dist("orthogonal", {"gain": g, "last_axis_out": _last_axis_out(ctx)}, 0.0, std)


def _identity(ctx: Context, a: dict[str, Any]) -> Dist:
    if len(ctx.shape) != 2:
        raise SpecError(f"identity needs a 2-D tensor, got shape {list(ctx.shape)}")
    g = _gain_of(ctx, a["gain"])
    return point_mass("identity", {"gain": g}, g, min(ctx.shape), math.prod(ctx.shape))


def _dirac(ctx: Context, a: dict[str, Any]) -> Dist:
    shape, groups = ctx.shape, a["groups"]
    if len(shape) < 3:
        raise SpecError(f"dirac needs a convolution kernel (rank 3 or more), got shape {list(shape)}")
    last = _last_axis_out(ctx)
    out, in_per_group = (shape[-1], shape[-2]) if last else (shape[0], shape[1])
    if groups < 1 or out % groups:
        raise SpecError(f"groups={groups} must divide the {out} output channels")
    count = groups * min(out // groups, in_per_group)
    g = _gain_of(ctx, a["gain"])
    return point_mass("dirac", {"gain": g, "groups": groups, "last_axis_out": last}, g, count,
                      math.prod(shape))


def _sparse(ctx: Context, a: dict[str, Any]) -> Dist:
    if len(ctx.shape) != 2:
        raise SpecError(f"sparse needs a 2-D tensor, got shape {list(ctx.shape)}")
    s, std = a["sparsity"], a["std"]
    if not 0 <= s <= 1:
        raise SpecError(f"sparsity must be within [0, 1], got {s:g}")
    if std < 0:
        raise SpecError(f"std must not be negative, got {std:g}")
    last = _last_axis_out(ctx)
    rows = ctx.shape[-1] if last else ctx.shape[0]  # torch's rows: the output axis
    zeros = min(rows, math.ceil(s * rows))
    frac = (rows - zeros) / rows if rows else 0.0
    return Dist("sparse", {"sparsity": s, "std": std, "zeros": zeros, "last_axis_out": last},
                0.0, std * math.sqrt(frac))


_SCHEME_LIST: list[Scheme] = [
    Scheme("zeros", "0", (), lambda c, a: constant(0.0), refs="torch zeros_ · Keras Zeros"),
    Scheme("ones", "1", (), lambda c, a: constant(1.0), refs="torch ones_ · Keras Ones"),
    Scheme("constant", "value", (Param("value", 0.0, "the value"),), lambda c, a: constant(a["value"]),
           refs="torch constant_ · Keras Constant"),
    Scheme("uniform", "U(low, high)",
           (Param("low", -0.05, "lower bound"), Param("high", 0.05, "upper bound")), _uniform,
           refs="Keras RandomUniform (±0.05) · torch uniform_ (default [0, 1))"),
    Scheme("normal", "N(mean, std²)",
           (Param("mean", 0.0, "mean"), Param("std", 0.05, "standard deviation")), _normal,
           refs="Keras RandomNormal (std 0.05) · torch normal_ (default std 1)"),
    Scheme("truncated_normal",
           "N(mean, std²) redrawn outside mean ± cut·std, or outside [a, b] if given (std not corrected)",
           (Param("mean", 0.0, "mean"), Param("std", 0.05, "std before truncation"),
            Param("cut", 2.0, "bounds at mean ± cut·std (Keras TruncatedNormal: 2)"),
            Param("a", None, "absolute lower bound (torch trunc_normal_)"),
            Param("b", None, "absolute upper bound (torch trunc_normal_)")),
           _truncated_normal,
           refs="Keras TruncatedNormal (std 0.05, cut 2) · torch trunc_normal_(std=1, a=-2, b=2)"),
    Scheme("glorot_uniform", "U(±gain·√(6/(fan_in+fan_out)))", (GAIN,), _glorot("uniform"),
           aliases=("xavier_uniform",), refs="torch xavier_uniform_ · Keras/JAX glorot_uniform"),
    Scheme("glorot_normal", "N(0, gain²·2/(fan_in+fan_out))", (GAIN, NORMAL_DIST), _glorot("normal"),
           aliases=("xavier_normal",),
           refs="torch xavier_normal_ · Keras/JAX glorot_normal = distribution: truncated_normal"),
    Scheme("he_uniform", "U(±gain·√(3/fan)), gain = calculate_gain(nonlinearity, slope)", HE_PARAMS,
           _he("uniform"), aliases=("kaiming_uniform",),
           refs="torch kaiming_uniform_ · Keras/JAX he_uniform"),
    Scheme("he_normal", "N(0, gain²/fan), gain = calculate_gain(nonlinearity, slope)",
           (*HE_PARAMS, NORMAL_DIST), _he("normal"), aliases=("kaiming_normal",),
           refs="torch kaiming_normal_ · Keras/JAX he_normal = distribution: truncated_normal"),
    Scheme("lecun_uniform", "U(±√(3/fan_in))", (), _lecun("uniform"), refs="Keras/JAX lecun_uniform"),
    Scheme("lecun_normal", "N(0, 1/fan_in)", (NORMAL_DIST,), _lecun("normal"),
           refs="Keras/JAX lecun_normal = distribution: truncated_normal"),
    Scheme("variance_scaling",
           "σ² = scale/n, n = fan_in, fan_out or fan_avg; uniform: U(±√(3σ²)); "
           "truncated_normal: cut at 2σ' with σ' = σ/0.87962566103423978",
           (Param("scale", 1.0, "variance scale (σ² = scale/n; not a value multiplier)"),
            Param("mode", "fan_in", "which fan", choices=MODES),
            Param("distribution", "truncated_normal", "sampling distribution "
                  "(normal and untruncated_normal are the same)", choices=DISTRIBUTIONS)),
           lambda c, a: _scaled_fan(a["scale"], a["mode"], a["distribution"], c.fans),
           refs="Keras VarianceScaling · jax.nn.initializers.variance_scaling"),
    Scheme("torch_default", "U(±1/√fan_in) (biases: the layer weight's fan_in)", (), _torch_default,
           refs="torch nn.Linear/ConvNd reset_parameters: kaiming_uniform_(a=√5), bias U(±1/√fan_in)"),
    Scheme("orthogonal", "QR of a Gaussian matrix (rows: output axis; rest flattened), signs fixed "
           "by diag(R), times gain", (GAIN,), _orthogonal, whole_tensor=True,
           refs="torch orthogonal_ · Keras/JAX orthogonal"),
    Scheme("identity", "gain on the diagonal of a 2-D tensor, 0 elsewhere", (GAIN,), _identity,
           aliases=("eye",), whole_tensor=True, refs="torch eye_ · Keras Identity"),
    Scheme("dirac", "gain at the kernel centre for channel d of each group (d < min(out/groups, "
           "in/groups)), 0 elsewhere",
           (Param("groups", 1, "the convolution's groups", kind=int), GAIN), _dirac,
           whole_tensor=True, refs="torch dirac_(groups)"),
    Scheme("sparse", "N(0, std²) with ceil(sparsity·rows) zeros in each column (rows: output axis)",
           (Param("sparsity", REQUIRED, "fraction of each column set to zero"),
            Param("std", 0.01, "std of the non-zero values")), _sparse,
           whole_tensor=True, refs="torch sparse_ (Martens 2010)"),
]

SCHEMES: dict[str, Scheme] = {s.name: s for s in _SCHEME_LIST}
ALIASES: dict[str, str] = {alias: s.name for s in _SCHEME_LIST for alias in s.aliases}
ALL_NAMES: tuple[str, ...] = tuple(sorted([*SCHEMES, *ALIASES]))


def get_scheme(name: Any) -> Scheme:
    """Look a scheme up by name or alias; raise a SpecError with a suggestion."""
    if isinstance(name, str):
        canonical = ALIASES.get(name, name)
        if canonical in SCHEMES:
            return SCHEMES[canonical]
    raise SpecError(f"unknown scheme {name!r}", hint=suggest(name, ALL_NAMES) or "see `initgen schemes`")
