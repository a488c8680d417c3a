"""Activation → gain (torch's ``calculate_gain``) and → default scheme.

The gain table is torch's ``torch.nn.init.calculate_gain`` (checked against its
source): the factor that keeps the variance of activations stable through that
nonlinearity. initgen adds ``identity`` and ``none`` (gain 1: no nonlinearity), which
torch's docstring lists but its code does not accept.
"""

from __future__ import annotations

import math

# torch.nn.init.calculate_gain; leaky_relu depends on its slope, see gain().
GAINS: dict[str, float] = {
    "linear": 1.0,
    "identity": 1.0,
    "none": 1.0,
    "conv1d": 1.0,
    "conv2d": 1.0,
    "conv3d": 1.0,
    "conv_transpose1d": 1.0,
    "conv_transpose2d": 1.0,
    "conv_transpose3d": 1.0,
    "sigmoid": 1.0,
    "tanh": 5.0 / 3.0,
    "relu": math.sqrt(2.0),
    "selu": 3.0 / 4.0,  # torch's choice for self-normalizing nets (pytorch#50664)
}

LEAKY_RELU_DEFAULT_SLOPE = 0.01  # torch.nn.LeakyReLU's default


def gain(nonlinearity: str, negative_slope: float | None = None) -> float:
    """torch's ``calculate_gain``; ``ValueError`` for a name it has no gain for.

    >>> round(gain("leaky_relu", 0.2), 6)
    1.38675
    """
    if nonlinearity == "leaky_relu":
        slope = LEAKY_RELU_DEFAULT_SLOPE if negative_slope is None else negative_slope
        return math.sqrt(2.0 / (1.0 + slope**2))
    if nonlinearity not in GAINS:
        raise ValueError(f"no gain is defined for '{nonlinearity}'; known: {', '.join(GAIN_NAMES)}")
    return GAINS[nonlinearity]


GAIN_NAMES = tuple(sorted([*GAINS, "leaky_relu"]))

# Built-in activation → scheme rules; a spec's `rules:` is merged over this table.
# ReLU-family → He (He et al. 2015); saturating and linear → Glorot (Glorot & Bengio
# 2010); SELU → LeCun normal (Klambauer et al. 2017).
ACTIVATION_RULES: dict[str, str] = {
    "relu": "he_normal",
    "relu6": "he_normal",
    "leaky_relu": "he_normal",
    "prelu": "he_normal",
    "elu": "he_normal",
    "gelu": "he_normal",
    "silu": "he_normal",
    "swish": "he_normal",
    "mish": "he_normal",
    "tanh": "glorot_uniform",
    "sigmoid": "glorot_uniform",
    "softmax": "glorot_uniform",
    "linear": "glorot_uniform",
    "none": "glorot_uniform",
    "selu": "lecun_normal",
}
