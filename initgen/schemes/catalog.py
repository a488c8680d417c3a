"""The scheme table: name → parameters, formula and the distribution it resolves to.

A scheme is a row of :data:`SCHEMES`. Resolving a scheme for one tensor (its shape,
fans, layout and the layer's activation) gives a :class:`~initgen.schemes.dists.Dist`: the
sampler kind and its exact parameters, plus the mean and std the values are expected
to have. The samplers (``initgen.generate``) only ever see a ``Dist``.

The functions behind the rows are in :mod:`.formulas`. Every scheme also takes ``scale:``, a multiplier on its
values (std, bounds, value, gain), e.g. GPT-2's residual projections
``{scheme: normal, std: 0.02, scale: ${1 / sqrt(2 * n_layer)}}``; the one exception is
``variance_scaling``, whose own ``scale`` is Keras' variance scale (σ² = scale/n).
"""

from __future__ import annotations

from typing import Any

from ..errors import SpecError, suggest
from .dists import (
    constant,
)
from .formulas import (
    DISTRIBUTIONS,
    GAIN,
    HE_PARAMS,
    MODES,
    NORMAL_DIST,
    dirac,
    explicit_normal,
    explicit_truncated_normal,
    explicit_uniform,
    glorot,
    he,
    identity,
    lecun,
    orthogonal,
    scaled_fan,
    sparse,
    torch_default,
)
from .table import REQUIRED, Param, Scheme

_SCHEME_LIST: list[Scheme] = [
    Scheme("zeros", "0", (), lambda c, a: constant(0.0), refs="torch zeros_ · Keras Zeros"),
    Scheme("ones", "1", (), lambda c, a: constant(1.0), refs="torch ones_ · Keras Ones"),
    Scheme(
        "constant",
        "value",
        (Param("value", 0.0, "the value"),),
        lambda c, a: constant(a["value"]),
        refs="torch constant_ · Keras Constant",
    ),
    Scheme(
        "uniform",
        "U(low, high)",
        (Param("low", -0.05, "lower bound"), Param("high", 0.05, "upper bound")),
        explicit_uniform,
        refs="Keras RandomUniform (±0.05) · torch uniform_ (default [0, 1))",
    ),
    Scheme(
        "normal",
        "N(mean, std²)",
        (Param("mean", 0.0, "mean"), Param("std", 0.05, "standard deviation")),
        explicit_normal,
        refs="Keras RandomNormal (std 0.05) · torch normal_ (default std 1)",
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
        explicit_truncated_normal,
        refs="Keras TruncatedNormal (std 0.05, cut 2) · torch trunc_normal_(std=1, a=-2, b=2)",
    ),
    Scheme(
        "glorot_uniform",
        "U(±gain·√(6/(fan_in+fan_out)))",
        (GAIN,),
        glorot("uniform"),
        aliases=("xavier_uniform",),
        refs="torch xavier_uniform_ · Keras/JAX glorot_uniform",
    ),
    Scheme(
        "glorot_normal",
        "N(0, gain²·2/(fan_in+fan_out))",
        (GAIN, NORMAL_DIST),
        glorot("normal"),
        aliases=("xavier_normal",),
        refs="torch xavier_normal_ · Keras/JAX glorot_normal = distribution: truncated_normal",
    ),
    Scheme(
        "he_uniform",
        "U(±gain·√(3/fan)), gain = calculate_gain(nonlinearity, slope)",
        HE_PARAMS,
        he("uniform"),
        aliases=("kaiming_uniform",),
        refs="torch kaiming_uniform_ · Keras/JAX he_uniform",
    ),
    Scheme(
        "he_normal",
        "N(0, gain²/fan), gain = calculate_gain(nonlinearity, slope)",
        (*HE_PARAMS, NORMAL_DIST),
        he("normal"),
        aliases=("kaiming_normal",),
        refs="torch kaiming_normal_ · Keras/JAX he_normal = distribution: truncated_normal",
    ),
    Scheme("lecun_uniform", "U(±√(3/fan_in))", (), lecun("uniform"), refs="Keras/JAX lecun_uniform"),
    Scheme(
        "lecun_normal",
        "N(0, 1/fan_in)",
        (NORMAL_DIST,),
        lecun("normal"),
        refs="Keras/JAX lecun_normal = distribution: truncated_normal",
    ),
    Scheme(
        "variance_scaling",
        "σ² = scale/n, n = fan_in, fan_out or fan_avg; uniform: U(±√(3σ²)); "
        "truncated_normal: cut at 2σ' with σ' = σ/0.87962566103423978",
        (
            Param("scale", 1.0, "variance scale (σ² = scale/n; not a value multiplier)"),
            Param("mode", "fan_in", "which fan", choices=MODES),
            Param(
                "distribution",
                "truncated_normal",
                "sampling distribution (normal and untruncated_normal are the same)",
                choices=DISTRIBUTIONS,
            ),
        ),
        lambda c, a: scaled_fan(a["scale"], a["mode"], a["distribution"], c.fans),
        refs="Keras VarianceScaling · jax.nn.initializers.variance_scaling",
    ),
    Scheme(
        "torch_default",
        "U(±1/√fan_in) (biases: the layer weight's fan_in)",
        (),
        torch_default,
        refs="torch nn.Linear/ConvNd reset_parameters: kaiming_uniform_(a=√5), bias U(±1/√fan_in)",
    ),
    Scheme(
        "orthogonal",
        "QR of a Gaussian matrix (rows: output axis; rest flattened), signs fixed by diag(R), times gain",
        (GAIN,),
        orthogonal,
        whole_tensor=True,
        refs="torch orthogonal_ · Keras/JAX orthogonal",
    ),
    Scheme(
        "identity",
        "gain on the diagonal of a 2-D tensor, 0 elsewhere",
        (GAIN,),
        identity,
        aliases=("eye",),
        whole_tensor=True,
        refs="torch eye_ · Keras Identity",
    ),
    Scheme(
        "dirac",
        "gain at the kernel centre for channel d of each group (d < min(out/groups, in/groups)), 0 elsewhere",
        (Param("groups", 1, "the convolution's groups", kind=int), GAIN),
        dirac,
        whole_tensor=True,
        refs="torch dirac_(groups)",
    ),
    Scheme(
        "sparse",
        "N(0, std²) with ceil(sparsity·rows) zeros in each column (rows: output axis)",
        (
            Param("sparsity", REQUIRED, "fraction of each column set to zero"),
            Param("std", 0.01, "std of the non-zero values"),
        ),
        sparse,
        whole_tensor=True,
        refs="torch sparse_ (Martens 2010)",
    ),
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
