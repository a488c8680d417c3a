"""The scheme table: name → parameters, formula and the distribution it resolves to.

A scheme is a row of :data:`SCHEMES`. Resolving a scheme for one tensor (its shape,
fans and the layer's activation) gives a :class:`Dist`: the sampler kind and its
exact parameters, plus the mean and std the values are expected to have. The
sampler (``sampling.py``) only ever sees a ``Dist``.

Variance-scaling schemes are one function, :func:`_variance_scaling`, specialised
by rows (Glorot = fan_avg, scale 1; He = fan_in, scale 2; LeCun = fan_in, scale 1),
as in ``jax.nn.initializers``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import SpecError, one_of, suggest
from .fans import Fans
from .gains import GAIN_NAMES, gain

# std of a unit normal truncated to [-2, 2]; Keras and JAX divide by it so that a
# truncated-normal variance-scaling draw has the target std.
TRUNC_STD_2 = 0.87962566103423978


@dataclass(frozen=True)
class Dist:
    """A resolved distribution: what the sampler draws for one tensor.

    ``kind`` names the sampler; ``params`` are its exact parameters; ``mean`` and
    ``std`` are what the values are expected to have (used by plan, stats, checks).
    """

    kind: str
    params: Mapping[str, float] = field(default_factory=dict)
    mean: float = 0.0
    std: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "params": dict(self.params), "mean": self.mean, "std": self.std}

    @staticmethod
    def from_json(obj: Mapping[str, Any]) -> Dist:
        return Dist(obj["kind"], dict(obj["params"]), float(obj["mean"]), float(obj["std"]))


@dataclass(frozen=True)
class Context:
    """What a scheme may depend on: the tensor and the layer it belongs to."""

    shape: tuple[int, ...]
    fans: Fans
    activation: str | None = None
    negative_slope: float | None = None
    layout: str = "torch"


# --- distributions -----------------------------------------------------------------


def normal(mean: float, std: float) -> Dist:
    return Dist("normal", {"mean": mean, "std": std}, mean, std)


def uniform(low: float, high: float) -> Dist:
    return Dist("uniform", {"low": low, "high": high}, (low + high) / 2, (high - low) / math.sqrt(12))


def constant(value: float) -> Dist:
    return Dist("constant", {"value": value}, value, 0.0)


def _phi(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _Phi(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def truncated(mean: float, std: float, a: float, b: float) -> Dist:
    """N(mean, std²) restricted to [a, b] (absolute bounds), by rejection.

    The expected mean and std are those of the truncated distribution (analytic).
    """
    alpha, beta = (a - mean) / std, (b - mean) / std
    mass = _Phi(beta) - _Phi(alpha)
    if not mass > 1e-3:
        raise SpecError(
            f"the interval [{a:g}, {b:g}] holds {mass:.2g} of N({mean:g}, {std:g}²); "
            "truncated_normal needs at least 0.1% of the mass inside its bounds"
        )
    pa = _phi(alpha) if math.isfinite(alpha) else 0.0
    pb = _phi(beta) if math.isfinite(beta) else 0.0
    ta = alpha * pa if math.isfinite(alpha) else 0.0
    tb = beta * pb if math.isfinite(beta) else 0.0
    m = mean + std * (pa - pb) / mass
    var = std * std * (1 + (ta - tb) / mass - ((pa - pb) / mass) ** 2)
    return Dist("truncated_normal", {"mean": mean, "std": std, "a": a, "b": b}, m, math.sqrt(var))


# --- parameters --------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    doc: str
    choices: tuple[str, ...] = ()
    kind: type = float  # float, int, str; float params accept ints

    def check(self, value: Any) -> Any:
        if self.choices:
            if value not in self.choices:
                raise SpecError(
                    f"{value!r} is not one of {one_of(self.choices)}", hint=suggest(value, self.choices)
                )
            return value
        if self.kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise SpecError(f"expected a finite number, got {value!r}")
            return float(value)
        if self.kind is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if self.kind is object and value == "auto":  # a gain: 'auto' or a number
            return value
        if self.kind is object and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if value is None and self.default is None:
            return None
        wanted = "a number or 'auto'" if self.kind is object else f"a {self.kind.__name__}"
        raise SpecError(f"expected {wanted}, got {value!r}")


@dataclass(frozen=True)
class Scheme:
    name: str
    formula: str
    params: tuple[Param, ...]
    resolve: Callable[[Context, dict[str, Any]], Dist]
    aliases: tuple[str, ...] = ()
    whole_tensor: bool = False

    def dist(self, ctx: Context, args: Mapping[str, Any] | None = None) -> Dist:
        """Check ``args`` against the parameters and resolve for one tensor."""
        args = dict(args or {})
        known = {p.name: p for p in self.params}
        for key in args:
            if key not in known:
                raise SpecError(
                    f"unknown parameter '{key}' for scheme {self.name}; "
                    f"it takes {one_of(known) if known else 'no parameters'}",
                    hint=suggest(key, known),
                )
        values: dict[str, Any] = {}
        for p in self.params:
            try:
                values[p.name] = p.check(args[p.name]) if p.name in args else p.default
            except SpecError as e:
                raise SpecError(f"{p.name}: {e.message}", hint=e.hint) from None
        return self.resolve(ctx, values)


# --- variance scaling ----------------------------------------------------------------

MODES = ("fan_in", "fan_out", "fan_avg")
DISTRIBUTIONS = ("truncated_normal", "normal", "untruncated_normal", "uniform")


def _fan(fans: Fans, mode: str) -> float:
    n = {"fan_in": fans.fan_in, "fan_out": fans.fan_out, "fan_avg": fans.fan_avg}[mode]
    if n <= 0:
        raise SpecError(f"{mode} is 0 for this tensor; a fan-based scheme needs a positive fan")
    return n


def _variance_scaling(scale: float, mode: str, distribution: str, fans: Fans) -> Dist:
    """σ² = scale / n (Keras / JAX ``VarianceScaling``)."""
    if scale <= 0:
        raise SpecError(f"scale must be positive, got {scale:g}")
    var = scale / _fan(fans, mode)
    if distribution == "uniform":
        limit = math.sqrt(3 * var)
        return uniform(-limit, limit)
    if distribution == "truncated_normal":
        std = math.sqrt(var) / TRUNC_STD_2
        return truncated(0.0, std, -2 * std, 2 * std)
    return normal(0.0, math.sqrt(var))


def _gain_of(ctx: Context, value: Any, slope: float | None = None) -> float:
    """A ``gain`` parameter: a number, or ``auto`` for the layer's activation."""
    if isinstance(value, (int, float)):
        return float(value)
    act = ctx.activation or "linear"
    if act not in GAIN_NAMES:
        return 1.0
    return gain(act, slope if slope is not None else ctx.negative_slope)


def _gain_param(default: Any = 1.0) -> Param:
    return Param("gain", default, "a number, or 'auto': torch's calculate_gain of the activation", kind=object)


def _he(distribution: str) -> Callable[[Context, dict[str, Any]], Dist]:
    def resolve(ctx: Context, a: dict[str, Any]) -> Dist:
        slope = a["negative_slope"]
        if slope is None:
            slope = ctx.negative_slope if ctx.activation == "leaky_relu" else 0.0
        g = gain("leaky_relu", slope)  # torch: kaiming_* with a=slope, leaky_relu gain
        n = _fan(ctx.fans, a["mode"])
        std = g / math.sqrt(n)
        if distribution == "uniform":
            return uniform(-math.sqrt(3) * std, math.sqrt(3) * std)
        if a["distribution"] == "truncated_normal":
            return truncated(0.0, std / TRUNC_STD_2, -2 * std / TRUNC_STD_2, 2 * std / TRUNC_STD_2)
        return normal(0.0, std)

    return resolve


def _glorot(distribution: str) -> Callable[[Context, dict[str, Any]], Dist]:
    def resolve(ctx: Context, a: dict[str, Any]) -> Dist:
        g = _gain_of(ctx, a["gain"])
        std = g * math.sqrt(2.0 / (ctx.fans.fan_in + ctx.fans.fan_out))
        if distribution == "uniform":
            return uniform(-math.sqrt(3) * std, math.sqrt(3) * std)
        if a["distribution"] == "truncated_normal":
            return truncated(0.0, std / TRUNC_STD_2, -2 * std / TRUNC_STD_2, 2 * std / TRUNC_STD_2)
        return normal(0.0, std)

    return resolve


def _lecun(distribution: str) -> Callable[[Context, dict[str, Any]], Dist]:
    def resolve(ctx: Context, a: dict[str, Any]) -> Dist:
        dist = "uniform" if distribution == "uniform" else a["distribution"]
        return _variance_scaling(1.0, "fan_in", dist, ctx.fans)

    return resolve


NORMAL_DIST = Param(
    "distribution", "normal", "normal (torch) or truncated_normal (Keras/JAX: cut at 2σ, σ/0.8796)",
    choices=("normal", "truncated_normal"),
)
MODE = Param("mode", "fan_in", "which fan scales the variance", choices=("fan_in", "fan_out"))
SLOPE = Param("negative_slope", None, "leaky ReLU slope (default: the layer's, else 0)")


def _truncated_normal(ctx: Context, a: dict[str, Any]) -> Dist:
    mean, std = a["mean"], a["std"]
    if std <= 0:
        raise SpecError(f"std must be positive, got {std:g}")
    if (a["a"] is None) != (a["b"] is None):
        raise SpecError("give both a and b (absolute bounds), or neither (bounds at mean ± cut·std)")
    if a["a"] is not None:
        lo, hi = a["a"], a["b"]
        if not lo < hi:
            raise SpecError(f"a must be below b, got a={lo:g}, b={hi:g}")
    else:
        lo, hi = mean - a["cut"] * std, mean + a["cut"] * std
    return truncated(mean, std, lo, hi)


def _positive_std(ctx: Context, a: dict[str, Any]) -> Dist:
    if a["std"] < 0:
        raise SpecError(f"std must not be negative, got {a['std']:g}")
    return normal(a["mean"], a["std"])


def _uniform(ctx: Context, a: dict[str, Any]) -> Dist:
    if not a["low"] <= a["high"]:
        raise SpecError(f"low must not exceed high, got low={a['low']:g}, high={a['high']:g}")
    return uniform(a["low"], a["high"])


def _orthogonal(ctx: Context, a: dict[str, Any]) -> Dist:
    if len(ctx.shape) < 2:
        raise SpecError("orthogonal needs a tensor of rank 2 or more")
    g = _gain_of(ctx, a["gain"])
    rows = ctx.shape[0]
    cols = math.prod(ctx.shape[1:])
    return Dist("orthogonal", {"gain": g}, 0.0, abs(g) / math.sqrt(max(rows, cols)))


_SCHEME_LIST: list[Scheme] = [
    Scheme("zeros", "0", (), lambda c, a: constant(0.0)),
    Scheme("ones", "1", (), lambda c, a: constant(1.0)),
    Scheme("constant", "value", (Param("value", 0.0, "the value"),), lambda c, a: constant(a["value"])),
    Scheme(
        "uniform", "U(low, high)",
        (Param("low", -0.05, "lower bound"), Param("high", 0.05, "upper bound")), _uniform,
    ),
    Scheme(
        "normal", "N(mean, std²)",
        (Param("mean", 0.0, "mean"), Param("std", 0.05, "standard deviation")), _positive_std,
    ),
    Scheme(
        "truncated_normal",
        "N(mean, std²) redrawn outside mean ± cut·std, or outside [a, b] if given (std not corrected)",
        (
            Param("mean", 0.0, "mean"),
            Param("std", 0.05, "std before truncation"),
            Param("cut", 2.0, "bounds at mean ± cut·std (Keras TruncatedNormal: 2)"),
            Param("a", None, "absolute lower bound (torch trunc_normal_)"),
            Param("b", None, "absolute upper bound (torch trunc_normal_)"),
        ),
        _truncated_normal,
    ),
    Scheme("glorot_uniform", "U(±gain·√(6/(fan_in+fan_out)))", (_gain_param(),), _glorot("uniform"),
           aliases=("xavier_uniform",)),
    Scheme("glorot_normal", "N(0, gain²·2/(fan_in+fan_out))", (_gain_param(), NORMAL_DIST),
           _glorot("normal"), aliases=("xavier_normal",)),
    Scheme("he_uniform", "U(±gain·√(3/fan)), gain = √(2/(1+slope²))", (MODE, SLOPE), _he("uniform"),
           aliases=("kaiming_uniform",)),
    Scheme("he_normal", "N(0, gain²/fan), gain = √(2/(1+slope²))", (MODE, SLOPE, NORMAL_DIST),
           _he("normal"), aliases=("kaiming_normal",)),
    Scheme("lecun_uniform", "U(±√(3/fan_in))", (), _lecun("uniform")),
    Scheme("lecun_normal", "N(0, 1/fan_in)", (NORMAL_DIST,), _lecun("normal")),
    Scheme(
        "variance_scaling",
        "σ² = scale/n, n = fan_in | fan_out | fan_avg; uniform: U(±√(3σ²)); "
        "truncated_normal: cut at 2σ' with σ' = σ/0.87962566103423978",
        (
            Param("scale", 1.0, "variance scale"),
            Param("mode", "fan_in", "which fan", choices=MODES),
            Param("distribution", "truncated_normal", "sampling distribution", choices=DISTRIBUTIONS),
        ),
        lambda c, a: _variance_scaling(a["scale"], a["mode"], a["distribution"], c.fans),
    ),
    Scheme("orthogonal", "QR of a Gaussian matrix, signs fixed by diag(R), times gain",
           (_gain_param(),), _orthogonal, whole_tensor=True),
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
