"""Layer types: the tensors each row of LAYER_TYPES makes (names, shapes, fans), with
the expected values written out here from torch's / Keras' definitions, and the
structure of recurrent and attention layers' values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from initgen.errors import SpecError
from initgen.generate.tasks import make_tensor
from initgen.layers import LAYER_TYPES
from initgen.plan import build_plan
from initgen.spec import load_spec


def plan_of(layer: str, head: str = "") -> dict:
    text = f"initgen: 1\n{head}layers:\n  - {layer}\n"
    return {t.name: t for t in build_plan(load_spec("s.yaml", text=text)).tensors}


def summary(layer: str, head: str = "") -> list[tuple[str, tuple[int, ...], float, float]]:
    return [(t.name, t.shape, t.fan_in, t.fan_out) for t in plan_of(layer, head).values()]


# type → (layer mapping, layout, expected [(name, shape, fan_in, fan_out)])
# Fans: dense in/out; conv in/g·∏k and out·∏k; torch's rule on a transposed weight
# [in, out/g, *k] gives out/g·∏k and in·∏k; a bias carries its weight's fans.
EXAMPLES = {
    "dense": (
        "{name: l, type: dense, in: 5, out: 3}",
        "torch",
        [("l.weight", (3, 5), 5, 3), ("l.bias", (3,), 5, 3)],
    ),
    "conv1d": (
        "{name: l, type: conv1d, in: 4, out: 6, kernel: 3, groups: 2, bias: false}",
        "keras",
        [("l.kernel", (3, 2, 6), 2 * 3, 6 * 3)],
    ),
    "conv2d": (
        "{name: l, type: conv2d, in: 4, out: 6, kernel: [3, 5], groups: 2}",
        "torch",
        [("l.weight", (6, 2, 3, 5), 2 * 15, 6 * 15), ("l.bias", (6,), 30, 90)],
    ),
    "conv3d": (
        "{name: l, type: conv3d, in: 2, out: 4, kernel: 2, bias: false}",
        "torch",
        [("l.weight", (4, 2, 2, 2, 2), 2 * 8, 4 * 8)],
    ),
    "conv_transpose1d": (
        "{name: l, type: conv_transpose1d, in: 4, out: 6, kernel: 3, bias: false}",
        "torch",
        [("l.weight", (4, 6, 3), 4 * 3, 6 * 3)],
    ),
    "conv_transpose2d": (
        "{name: l, type: conv_transpose2d, in: 4, out: 6, kernel: 3, groups: 2, fan_convention: torch}",
        "torch",
        [("l.weight", (4, 3, 3, 3), 3 * 9, 4 * 9), ("l.bias", (6,), 27, 36)],
    ),
    "conv_transpose3d": (
        "{name: l, type: conv_transpose3d, in: 2, out: 4, kernel: 1, bias: false}",
        "keras",
        [("l.kernel", (1, 1, 1, 4, 2), 2, 4)],
    ),
    "embedding": ("{name: l, type: embedding, num: 10, dim: 4}", "torch", [("l.weight", (10, 4), 4, 10)]),
    "layernorm": (
        "{name: l, type: layernorm, dim: 4}",
        "keras",
        [("l.gamma", (4,), 4, 4), ("l.beta", (4,), 4, 4)],
    ),
    "rmsnorm": ("{name: l, type: rmsnorm, dim: [2, 3]}", "torch", [("l.weight", (2, 3), 3, 2)]),
    "batchnorm": (
        "{name: l, type: batchnorm, dim: 3}",
        "torch",
        [
            ("l.weight", (3,), 3, 3),
            ("l.bias", (3,), 3, 3),
            ("l.running_mean", (3,), 3, 3),
            ("l.running_var", (3,), 3, 3),
            ("l.num_batches_tracked", (), 1, 1),
        ],
    ),
    "lstm": (
        "{name: l, type: lstm, in: 5, hidden: 3, bias: false}",
        "torch",
        [("l.weight_ih_l0", (12, 5), 5, 12), ("l.weight_hh_l0", (12, 3), 3, 12)],
    ),
    "gru": (
        "{name: l, type: gru, in: 5, hidden: 3}",
        "keras",
        [("l.kernel", (5, 9), 5, 9), ("l.recurrent_kernel", (3, 9), 3, 9), ("l.bias", (2, 9), 3, 9)],
    ),
    "rnn": (
        "{name: l, type: rnn, in: 5, hidden: 3, layers: 2, bias: false}",
        "torch",
        [
            ("l.weight_ih_l0", (3, 5), 5, 3),
            ("l.weight_hh_l0", (3, 3), 3, 3),
            ("l.weight_ih_l1", (3, 3), 3, 3),
            ("l.weight_hh_l1", (3, 3), 3, 3),
        ],
    ),
    "attention": (
        "{name: l, type: attention, dim: 8, heads: 4, kv_heads: 2, bias: false}",
        "torch",
        [
            ("l.q_proj.weight", (8, 8), 8, 8),
            ("l.k_proj.weight", (4, 8), 8, 4),
            ("l.v_proj.weight", (4, 8), 8, 4),
            ("l.o_proj.weight", (8, 8), 8, 8),
        ],
    ),
    "tensor": (
        "{name: l, type: tensor, shape: [2, 3, 4], in_axis: 0, out_axis: 2}",
        "torch",
        [("l", (2, 3, 4), 2 * 3, 4 * 3)],
    ),
}


def test_every_layer_type_has_an_example():
    assert set(EXAMPLES) == set(LAYER_TYPES)


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_tensors_of_each_type(kind):
    layer, layout, expected = EXAMPLES[kind]
    assert summary(layer, f"layout: {layout}\n") == expected


def test_bidirectional_multilayer_lstm_names_and_input_sizes():
    got = summary("{name: rnn, type: lstm, in: 5, hidden: 3, layers: 2, bidirectional: true}")
    names = [n for n, *_ in got]
    expected = [
        f"rnn.{w}_l{k}{d}"
        for k in (0, 1)
        for d in ("", "_reverse")
        for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    ]
    assert names == expected
    shapes = dict((n, s) for n, s, *_ in got)
    assert shapes["rnn.weight_ih_l0_reverse"] == (12, 5)
    assert shapes["rnn.weight_ih_l1"] == (12, 6)  # the layer below's two directions


def _blocks_orthogonal(w: np.ndarray, blocks: int, axis: int) -> list[np.ndarray]:
    return [
        b.T @ b if b.shape[0] >= b.shape[1] else b @ b.T
        for b in np.split(w.astype(np.float64), blocks, axis=axis)
    ]


@pytest.mark.parametrize("layout, axis", [("torch", 0), ("keras", 1)])
def test_recurrent_weights_are_orthogonal_per_gate_block(layout, axis):
    h = 6
    by = plan_of(f"{{name: l, type: lstm, in: 4, hidden: {h}}}", f"layout: {layout}\n")
    t = by["l.weight_hh_l0" if layout == "torch" else "l.recurrent_kernel"]
    assert t.scheme == "orthogonal" and t.dist.params["blocks"] == 4
    w = make_tensor(t, 3)
    # float32 values: each entry of QᵀQ carries ~h rounding errors of size 2⁻²⁴
    tol = 8 * h * 2.0**-24
    for gram in _blocks_orthogonal(w, 4, axis):
        assert np.abs(gram - np.eye(h)).max() < tol
    # blocks are independent matrices: the whole [4h, h] is not orthonormal in rows
    rows = w if axis == 0 else w.T
    assert np.abs(rows @ rows.T - np.eye(4 * h)).max() > 0.1
    assert t.dist.std == pytest.approx(1 / math.sqrt(h))


def test_unit_forget_bias_sets_the_forget_gate_to_one():
    h = 5
    by = plan_of(f"{{name: l, type: lstm, in: 4, hidden: {h}, unit_forget_bias: true}}")
    ih = make_tensor(by["l.bias_ih_l0"], 0)
    assert ih.tolist() == [0.0] * h + [1.0] * h + [0.0] * (2 * h)  # gates i, f, g, o
    assert make_tensor(by["l.bias_hh_l0"], 0).tolist() == [0.0] * (4 * h)
    d = by["l.bias_ih_l0"].dist
    assert (d.mean, d.std) == pytest.approx((ih.mean(), ih.std()), rel=1e-12)


def test_batchnorm_counter_is_an_int64_zero():
    t = plan_of("{name: bn, type: batchnorm, dim: 4}", "dtype: bfloat16\n")["bn.num_batches_tracked"]
    assert t.dtype == "int64" and t.shape == ()
    v = make_tensor(t, 0)
    assert v.dtype == np.int64 and v.tolist() == 0


def test_fused_qkv_uses_per_projection_fans():
    """MHA: every projection has fans (dim, dim), so the fused tensor's distribution is
    each projection's; GQA: a fan_in scheme still agrees, a fan_avg one is refused."""
    sep = plan_of("{name: a, type: attention, dim: 16, heads: 4, init: glorot_uniform}")
    fused = plan_of("{name: a, type: attention, dim: 16, heads: 4, qkv: true, init: glorot_uniform}")
    limit = math.sqrt(6 / (16 + 16))
    assert fused["a.qkv_proj.weight"].shape == (48, 16)
    for name in ("a.q_proj.weight", "a.k_proj.weight", "a.v_proj.weight"):
        assert sep[name].dist == fused["a.qkv_proj.weight"].dist
    assert fused["a.qkv_proj.weight"].dist.params["high"] == pytest.approx(limit, rel=1e-15)
    gqa = plan_of("{name: a, type: attention, dim: 16, heads: 4, kv_heads: 1, qkv: true, init: he_normal}")
    assert gqa["a.qkv_proj.weight"].shape == ((4 + 2) * 4, 16)
    assert gqa["a.qkv_proj.weight"].dist.params["std"] == pytest.approx(math.sqrt(2 / 16), rel=1e-15)
    with pytest.raises(SpecError, match="different distributions"):
        plan_of("{name: a, type: attention, dim: 16, heads: 4, kv_heads: 1, qkv: true}")


def test_attention_head_dim_and_out_bias():
    by = plan_of("{name: a, type: attention, dim: 12, heads: 2, head_dim: 8, out_bias: false}")
    assert {n: t.shape for n, t in by.items()} == {
        "a.q_proj.weight": (16, 12),
        "a.q_proj.bias": (16,),
        "a.k_proj.weight": (16, 12),
        "a.k_proj.bias": (16,),
        "a.v_proj.weight": (16, 12),
        "a.v_proj.bias": (16,),
        "a.o_proj.weight": (12, 16),
    }


def test_transposed_conv_fan_conventions():
    """initgen: the matching convolution's fans; torch: its rule on the stored weight."""
    layer = "{{name: t, type: conv_transpose2d, in: 8, out: 4, kernel: 3, fan_convention: {}}}"
    ours = plan_of(layer.format("initgen"))["t.weight"]
    torch = plan_of(layer.format("torch"))["t.weight"]
    assert ours.shape == torch.shape == (8, 4, 3, 3)
    assert (ours.fan_in, ours.fan_out) == (8 * 9, 4 * 9)
    assert (torch.fan_in, torch.fan_out) == (4 * 9, 8 * 9)


def test_bias_takes_its_weights_fan_in_for_torch_default():
    by = plan_of("{name: l, type: dense, in: 16, out: 3, init: {weight: torch_default, bias: torch_default}}")
    for name in ("l.weight", "l.bias"):
        assert by[name].dist.params == {"low": -0.25, "high": 0.25}  # 1/√16


@pytest.mark.parametrize(
    "names, expected",
    [
        ("{q_proj.weight: wq}", "a.wq"),  # a whole tensor key
        ("{q_proj: query}", "a.query.weight"),  # its first part: the projection
    ],
)
def test_names_rename_tensors(names, expected):
    by = plan_of(f"{{name: a, type: attention, dim: 8, heads: 2, bias: false, names: {names}}}")
    assert expected in by and len(by) == 4


def test_per_tensor_init_by_key_and_by_role():
    by = plan_of(
        "{name: l, type: lstm, in: 4, hidden: 4, layers: 2, "
        "init: {recurrent: zeros, weight_ih_l1: ones, bias: {scheme: constant, value: 2}}}"
    )
    assert by["l.weight_hh_l0"].scheme == by["l.weight_hh_l1"].scheme == "zeros"
    assert by["l.weight_ih_l1"].scheme == "ones"
    assert by["l.weight_ih_l0"].scheme == "glorot_uniform"  # the type's default
    assert by["l.bias_hh_l1"].dist.params == {"value": 2.0}


def test_fused_mha_orthogonal_is_made_per_projection():
    t = plan_of("{name: a, type: attention, dim: 8, heads: 2, qkv: true, init: orthogonal}")[
        "a.qkv_proj.weight"
    ]
    w = make_tensor(t, 1)
    for gram in _blocks_orthogonal(w, 3, 0):
        assert np.abs(gram - np.eye(8)).max() < 8 * 8 * 2.0**-24


@pytest.mark.parametrize(
    "layer, message",
    [
        (
            "{name: a, type: attention, dim: 8, heads: 2, kv_heads: 1, qkv: true, init: orthogonal}",
            "s.yaml:3: layers[0].init: orthogonal cannot be made per projection on 'qkv_proj.weight', "
            "whose projections differ in size (kv_heads < heads); use separate projections (qkv: false)",
        ),
        (
            "{name: bn, type: batchnorm, dim: 2, init: {fixed: normal}}",
            "s.yaml:3: layers[0].init.fixed: 'num_batches_tracked' is an integer int64 buffer; only "
            "zeros, ones or constant apply to it, not normal",
        ),
        (
            "{name: a, type: attention, dim: 8, heads: 2, kv_heads: 1, qkv: true}",
            "s.yaml:3: layers[0].type: glorot_uniform gives the fused projections of 'qkv_proj.weight' "
            "different distributions (fans 8/8 vs 8/4); use separate projections (qkv: false) or a "
            "scheme that depends on fan_in only",
        ),
    ],
)
def test_refused_combinations(layer, message):
    with pytest.raises(SpecError) as err:
        plan_of(layer)
    assert str(err.value) == message


def test_per_gate_false_makes_one_orthogonal_matrix_as_keras():
    h = 4
    t = plan_of(f"{{name: l, type: lstm, in: 3, hidden: {h}, per_gate: false}}", "layout: keras\n")[
        "l.recurrent_kernel"
    ]
    assert "blocks" not in t.dist.params
    w = make_tensor(t, 2).astype(np.float64)  # [h, 4h]: orthonormal rows
    assert np.abs(w @ w.T - np.eye(h)).max() < 8 * 4 * h * 2.0**-24
    assert t.dist.std == pytest.approx(1 / math.sqrt(4 * h))


@pytest.mark.parametrize(
    "layout, shape",
    [
        ("torch", (16, 8, 3, 5)),  # nn.ConvTranspose2d: [in, out/groups, *k]
        ("keras", (3, 5, 8, 16)),  # Conv2DTranspose: [*k, filters, in]
        ("jax", (3, 5, 16, 8)),  # flax ConvTranspose: [*k, in, out]
    ],
)
def test_transposed_convolution_shape_per_layout(layout, shape):
    from initgen.plan import build_plan
    from initgen.spec import load_spec

    plan = build_plan(
        load_spec(
            "t.yaml",
            text=(
                f"initgen: 1\nlayout: {layout}\nlayers:\n"
                "  - {name: up, type: conv_transpose2d, in: 16, out: 8, kernel: [3, 5], bias: false}\n"
            ),
        )
    )
    (w,) = plan.tensors
    assert w.shape == shape
    assert (w.fan_in, w.fan_out) == (16 * 15, 8 * 15)  # the layer's connectivity, any layout


@pytest.mark.parametrize("value", [2.5, 2**25])
def test_integer_buffers_refuse_values_float32_cannot_carry(value):
    with pytest.raises(SpecError, match=r"integer int64 buffer; its value must be a whole number"):
        build_plan(
            load_spec(
                "t.yaml",
                text=(
                    "initgen: 1\nlayers:\n  - {name: bn, type: batchnorm, dim: 4, "
                    f"init: {{num_batches_tracked: {{scheme: constant, value: {value}}}}}}}\n"
                ),
            )
        )


def test_integer_buffer_whole_value_is_written_exactly():
    plan = build_plan(
        load_spec(
            "t.yaml",
            text=(
                "initgen: 1\nlayers:\n  - {name: bn, type: batchnorm, dim: 4, "
                "init: {num_batches_tracked: {scheme: constant, value: 16777216}}}\n"
            ),
        )
    )
    t = next(t for t in plan.tensors if t.name == "bn.num_batches_tracked")
    assert make_tensor(t, 0) == 16777216 and make_tensor(t, 0).dtype == np.int64
