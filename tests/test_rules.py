"""Activation → scheme rules: built-in table, overrides by `rules:` and `init:`."""

from __future__ import annotations

import math

import pytest

from initgen.plan import build_plan
from initgen.schemes.gains import ACTIVATION_RULES
from initgen.spec import load_spec

FAN_IN, FAN_OUT = 300, 100
HE = math.sqrt(2 / FAN_IN)
GLOROT_U = math.sqrt(6 / (FAN_IN + FAN_OUT)) / math.sqrt(3)  # std of U(±limit) is limit/√3
LECUN = math.sqrt(1 / FAN_IN)

# activation → (scheme, expected std), written from the published definitions.
RULES = {
    "relu": ("he_normal", HE),
    "relu6": ("he_normal", HE),
    "prelu": ("he_normal", HE),
    "mish": ("he_normal", HE),
    "gelu": ("he_normal", HE),
    "silu": ("he_normal", HE),
    "swish": ("he_normal", HE),
    "elu": ("he_normal", HE),
    "leaky_relu": ("he_normal", math.sqrt(2 / (1 + 0.01**2)) / math.sqrt(FAN_IN)),
    "tanh": ("glorot_uniform", GLOROT_U),
    "sigmoid": ("glorot_uniform", GLOROT_U),
    "softmax": ("glorot_uniform", GLOROT_U),
    "linear": ("glorot_uniform", GLOROT_U),
    "none": ("glorot_uniform", GLOROT_U),
    "selu": ("lecun_normal", LECUN),
}


def weight(text: str):
    plan = build_plan(load_spec("t.yaml", text=text))
    return {t.name: t for t in plan.tensors}


def dense(extra: str = "", top: str = "") -> str:
    return f"initgen: 1\n{top}layers:\n  - {{name: fc, type: dense, in: {FAN_IN}, out: {FAN_OUT}{extra}}}\n"


def test_every_builtin_rule_is_checked():
    assert set(RULES) == set(ACTIVATION_RULES)


@pytest.mark.parametrize("activation", sorted(RULES))
def test_builtin_rule(activation):
    t = weight(dense(f", activation: {activation}"))
    scheme, std = RULES[activation]
    assert t["fc.weight"].scheme == scheme
    assert t["fc.weight"].dist.std == pytest.approx(std, rel=1e-12)
    assert t["fc.bias"].scheme == "zeros"


def test_leaky_relu_slope_from_the_layer():
    t = weight(dense(", activation: leaky_relu, negative_slope: 0.2"))
    assert t["fc.weight"].dist.std == pytest.approx(math.sqrt(2 / 1.04) / math.sqrt(FAN_IN))


def test_no_activation_uses_the_type_default():
    assert weight(dense())["fc.weight"].scheme == "glorot_uniform"


def test_spec_rules_override_builtin():
    t = weight(dense(", activation: gelu", top="rules: {gelu: lecun_uniform}\n"))
    assert t["fc.weight"].scheme == "lecun_uniform"
    assert t["fc.weight"].dist.params["high"] == pytest.approx(math.sqrt(3 / FAN_IN))


def test_init_beats_activation_and_bias_override():
    t = weight(dense(", activation: relu, init: {weight: lecun_normal, bias: ones}"))
    assert (t["fc.weight"].scheme, t["fc.bias"].scheme) == ("lecun_normal", "ones")


def test_unknown_activation_suggests():
    from initgen.errors import SpecError

    with pytest.raises(
        SpecError,
        match=r"t.yaml:3: layers\[0\].activation: unknown activation 'rellu'.*did you mean 'relu'\?",
    ):
        weight(dense(", activation: rellu"))
