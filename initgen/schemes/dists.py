"""Resolved distributions: what a sampler draws for one tensor, with its exact moments.

A :class:`Dist` names a sampler kind (a row of ``sampling.CHUNK_SAMPLERS`` or
``whole.WHOLE_SAMPLERS``) and its exact parameters, plus the mean and std the values
are expected to have (population values, used by plan, stats and checks). The
constructors here are the only places those moments are computed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import SpecError

# std of a unit normal truncated to [-2, 2]; Keras and JAX divide by it so that a
# truncated-normal variance-scaling draw has the target std.
TRUNC_STD_2 = 0.87962566103423978

# Sampler kinds that make a tensor whole in memory (initgen.generate.whole_tensor has one
# sampler each); every other kind is made chunk by chunk.
WHOLE_KINDS = frozenset({"orthogonal", "identity", "dirac", "sparse", "constant_slice"})
MIN_MASS = 0.01  # the least probability a truncated normal's bounds may hold


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


def normal(mean: float, std: float) -> Dist:
    return Dist("normal", {"mean": mean, "std": std}, mean, std)


def uniform(low: float, high: float) -> Dist:
    return Dist("uniform", {"low": low, "high": high}, (low + high) / 2, (high - low) / math.sqrt(12))


def symmetric_uniform(std: float) -> Dist:
    """U(±√3·std): the uniform distribution with standard deviation ``std``."""
    limit = math.sqrt(3.0) * std
    return uniform(-limit, limit)


def constant(value: float) -> Dist:
    return Dist("constant", {"value": value}, value, 0.0)


def _phi(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi) if math.isfinite(x) else 0.0


def _Phi(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def truncated(mean: float, std: float, a: float, b: float) -> Dist:
    """N(mean, std²) restricted to the absolute bounds [a, b], by rejection.

    The expected mean and std are those of the truncated distribution (analytic:
    with α, β the standardised bounds and Z = Φ(β) − Φ(α), mean + std·(φ(α) − φ(β))/Z
    and std²·(1 + (αφ(α) − βφ(β))/Z − ((φ(α) − φ(β))/Z)²)).
    """
    alpha, beta = (a - mean) / std, (b - mean) / std
    mass = _Phi(beta) - _Phi(alpha)
    # Values are drawn by rejection, which costs 1/mass normals per value: below 1% a
    # large tensor would take minutes.
    if not mass >= MIN_MASS:
        raise SpecError(
            f"the interval [{a:g}, {b:g}] holds {mass:.2g} of N({mean:g}, {std:g}²); "
            "truncated_normal needs at least 1% of the mass inside its bounds"
        )
    pa, pb = _phi(alpha), _phi(beta)
    ta = alpha * pa if math.isfinite(alpha) else 0.0
    tb = beta * pb if math.isfinite(beta) else 0.0
    m = mean + std * (pa - pb) / mass
    var = std * std * (1 + (ta - tb) / mass - ((pa - pb) / mass) ** 2)
    return Dist("truncated_normal", {"mean": mean, "std": std, "a": a, "b": b}, m, math.sqrt(var))


def truncated_at(std: float, cut: float = 2.0, mean: float = 0.0) -> Dist:
    """N(mean, std²) cut at mean ± cut·std (Keras' ``TruncatedNormal``: std not corrected)."""
    return truncated(mean, std, mean - cut * std, mean + cut * std)


def corrected_truncated(target_std: float) -> Dist:
    """Keras/JAX variance scaling's truncated normal: σ' = target/0.8796…, cut at ±2σ',
    so the values' std is ``target_std``."""
    return truncated_at(target_std / TRUNC_STD_2)


def point_mass(kind: str, params: Mapping[str, float], value: float, count: int, numel: int) -> Dist:
    """A tensor of zeros with ``count`` entries equal to ``value`` (identity, dirac)."""
    p = count / numel
    return Dist(kind, dict(params), value * p, abs(value) * math.sqrt(p * (1 - p)))


# Which parameters of each kind multiply with the values: scaling a Dist by s > 0 is
# the distribution of s·X.
SCALED_PARAMS: dict[str, tuple[str, ...]] = {
    "uniform": ("low", "high"),
    "normal": ("mean", "std"),
    "truncated_normal": ("mean", "std", "a", "b"),
    "constant": ("value",),
    "orthogonal": ("gain",),
    "identity": ("gain",),
    "dirac": ("gain",),
    "sparse": ("std",),
}


def scaled(d: Dist, s: float) -> Dist:
    """The distribution of ``s·X`` for X ~ ``d`` (``s > 0``)."""
    if s == 1.0:
        return d
    params = {k: (v * s if k in SCALED_PARAMS[d.kind] else v) for k, v in d.params.items()}
    return Dist(d.kind, params, d.mean * s, d.std * s)


def with_zero_row(d: Dist, row: int, shape: tuple[int, ...]) -> Dist:
    """``d`` with row ``row`` of the first axis set to 0 (a padding embedding).

    The mean and std are those of the mixture: a fraction f = 1/rows of zeros.
    """
    if not shape or not 0 <= row < shape[0]:
        rows = shape[0] if shape else 0
        raise SpecError(
            f"zero_row: {row} is not a row of this tensor (0 … {rows - 1})"
            if rows
            else "zero_row: a scalar has no rows"
        )
    f = 1 / shape[0]
    mean = (1 - f) * d.mean
    second = (1 - f) * (d.std**2 + d.mean**2)
    return Dist(d.kind, {**d.params, "zero_row": row}, mean, math.sqrt(max(0.0, second - mean**2)))
