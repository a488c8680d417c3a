"""The plan: which init each tensor gets (in the documented order), totals, file
order, and the JSON a file records."""

from __future__ import annotations

import math

import pytest

from initgen.errors import SpecError
from initgen.plan import TensorPlan, build_plan
from initgen.spec import load_spec


def plan(layers: str, head: str = ""):
    return build_plan(load_spec("s.yaml", text=f"initgen: 1\n{head}layers:\n{layers}"))


def by_name(layers: str, head: str = "") -> dict[str, TensorPlan]:
    return {t.name: t for t in plan(layers, head).tensors}


@pytest.mark.parametrize(
    "layer, scheme",
    [
        # per-tensor init by key beats the plain init, which beats the activation rule
        ("{name: l, type: dense, in: 4, out: 4, activation: relu, init: {weight: ones}}", "ones"),
        ("{name: l, type: dense, in: 4, out: 4, activation: relu, init: lecun_normal}", "lecun_normal"),
        ("{name: l, type: dense, in: 4, out: 4, activation: relu}", "he_normal"),
        ("{name: l, type: dense, in: 4, out: 4}", "glorot_uniform"),  # the type's default
        ("{name: l, type: embedding, num: 4, dim: 4}", "normal"),  # torch's N(0, 1)
    ],
)
def test_weight_scheme_resolution_order(layer, scheme):
    assert by_name(f"  - {layer}\n")["l." + ("weight")].scheme == scheme


def test_biases_and_norms_keep_their_defaults_under_a_plain_init():
    by = by_name(
        "  - {name: l, type: dense, in: 4, out: 4, init: ones}\n"
        "  - {name: n, type: layernorm, dim: 4, init: zeros}\n"
    )
    assert by["l.weight"].scheme == "ones" and by["l.bias"].scheme == "zeros"
    assert by["n.weight"].scheme == "ones" and by["n.bias"].scheme == "zeros"


def test_a_preset_yields_to_a_per_tensor_init():
    lstm = "{name: l, type: lstm, in: 2, hidden: 2, unit_forget_bias: true"
    assert by_name(f"  - {lstm}}}\n")["l.bias_ih_l0"].scheme == "unit_forget_bias"
    assert by_name(f"  - {lstm}, init: {{bias: ones}}}}\n")["l.bias_ih_l0"].scheme == "ones"


def test_totals_and_file_order():
    p = plan(
        "  - {name: b, type: dense, in: 3, out: 2}\n  - {name: a, type: batchnorm, dim: 2, dtype: float16}\n"
    )
    assert p.params == 3 * 2 + 2 + 4 * 2 + 1
    assert p.nbytes == (6 + 2) * 4 + 4 * 2 * 2 + 8  # float32, float16, the int64 counter
    assert [t.name for t in p.file_order()] == [
        "a.num_batches_tracked",
        "b.bias",
        "b.weight",
        "a.bias",
        "a.running_mean",
        "a.running_var",
        "a.weight",
    ]


def test_plan_json_round_trip():
    for t in plan("  - {name: l, type: gru, in: 3, hidden: 2}\n").tensors:
        assert TensorPlan.from_json({**t.to_json(), "name": t.name}) == TensorPlan(
            t.name, t.shape, t.dtype, t.scheme, t.args, t.dist, t.fan_in, t.fan_out
        )


def test_duplicate_across_a_rename():
    with pytest.raises(SpecError) as err:
        plan("  - {name: l, type: dense, in: 2, out: 2, names: {bias: weight}}\n")
    assert str(err.value) == (
        "s.yaml:3: layers[0]: duplicate tensor name 'l.weight' (first made by the layer at line 3)"
    )


def test_tensor_with_explicit_fans():
    t = by_name("  - {name: w, type: tensor, shape: [6, 4], fan_in: 10, fan_out: 30, init: glorot_normal}\n")[
        "w"
    ]
    assert (t.fan_in, t.fan_out) == (10, 30)
    assert t.dist.params["std"] == pytest.approx(math.sqrt(2 / 40), rel=1e-15)
