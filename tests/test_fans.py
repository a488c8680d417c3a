"""Fans of every layer kind and layout, against the frameworks' rules written out here.

The expected numbers come from the published rules, re-implemented independently in
this file: torch's ``_calculate_fan_in_and_fan_out`` (dim 1 times the receptive field is
fan_in, dim 0 times it is fan_out), Keras' ``compute_fans`` (axis -2 / -1 times the
product of the leading axes) and JAX's ``_compute_fans`` (any in/out/batch axes).
"""

from __future__ import annotations

import math

import pytest

from initgen.schemes.fans import (
    FAN_CONVENTIONS,
    Fans,
    compute_fans,
    conv_fans,
    conv_transpose_fans,
    conv_transpose_shape,
    dense_fans,
    embedding_fans,
    layout_fans,
)


def torch_rule(shape: tuple[int, ...]) -> tuple[int, int]:
    """torch.nn.init._calculate_fan_in_and_fan_out."""
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def keras_rule(shape: tuple[int, ...]) -> tuple[int, int]:
    """keras.initializers compute_fans (rank ≥ 2)."""
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


# (layer kind, in, out, kernel, groups): dense has no kernel.
LAYERS = [
    ("dense", 784, 256, (), 1),
    ("dense", 3, 1000, (), 1),
    ("conv1d", 8, 16, (5,), 1),
    ("conv2d", 16, 32, (3, 3), 1),
    ("conv2d", 16, 32, (3, 5), 4),
    ("conv2d_depthwise", 32, 64, (3, 3), 32),
    ("conv3d", 4, 8, (3, 3, 3), 2),
]


@pytest.mark.parametrize("kind,cin,cout,k,groups", LAYERS, ids=lambda v: str(v))
def test_layer_fans_in_every_layout(kind, cin, cout, k, groups):
    receptive = math.prod(k)
    want = (cin // groups * receptive, cout * receptive)  # in/groups·∏k, out·∏k
    torch_shape = (cout, cin // groups, *k)
    keras_shape = (*k, cin // groups, cout)
    assert torch_rule(torch_shape) == want
    assert keras_rule(keras_shape) == want
    assert layout_fans(torch_shape, "torch") == Fans(*want)
    assert layout_fans(keras_shape, "keras") == Fans(*want)
    assert layout_fans(keras_shape, "jax") == Fans(*want)
    made = dense_fans(cin, cout) if kind == "dense" else conv_fans(cin, cout, k, groups)
    assert made == Fans(*want)


TRANSPOSED = [(8, 16, (4,), 1), (16, 32, (3, 3), 1), (16, 32, (3, 3), 4), (6, 4, (2, 3, 3), 2)]


@pytest.mark.parametrize("cin,cout,k,groups", TRANSPOSED, ids=lambda v: str(v))
def test_conv_transpose_fans(cin, cout, k, groups):
    receptive = math.prod(k)
    # initgen: the connectivity of the matching convolution (in/groups·∏k, out·∏k)
    assert conv_transpose_fans(cin, cout, k, groups) == conv_fans(cin, cout, k, groups)
    assert conv_transpose_fans(cin, cout, k, groups) == Fans(cin // groups * receptive, cout * receptive)
    # torch: its own fan rule applied to its stored weight [in, out/groups, *k]
    torch_shape = conv_transpose_shape(cin, cout, k, groups, "torch")
    assert torch_shape == (cin, cout // groups, *k)
    assert conv_transpose_fans(cin, cout, k, groups, "torch") == Fans(*torch_rule(torch_shape))
    if groups == 1:  # Keras stores [*k, out, in] and makes the same swap
        keras_shape = conv_transpose_shape(cin, cout, k, 1, "keras")
        assert keras_shape == (*k, cout, cin)
        assert Fans(*keras_rule(keras_shape)) == conv_transpose_fans(cin, cout, k, 1, "torch")


def test_conv_transpose_conventions_differ_only_in_the_swap():
    assert FAN_CONVENTIONS == ("initgen", "torch")
    a = conv_transpose_fans(16, 32, (3, 3), 1, "initgen")
    b = conv_transpose_fans(16, 32, (3, 3), 1, "torch")
    assert (a.fan_in, a.fan_out) == (b.fan_out, b.fan_in) == (144, 288)


@pytest.mark.parametrize("bad", [dict(groups=3), dict(groups=0)])
def test_groups_must_divide_channels(bad):
    with pytest.raises(ValueError, match="groups"):
        conv_fans(16, 32, (3,), **bad)
    with pytest.raises(ValueError, match="groups"):
        conv_transpose_fans(16, 32, (3,), **bad)


def test_unknown_fan_convention():
    with pytest.raises(ValueError, match="fan_convention must be one of initgen, torch"):
        conv_transpose_fans(4, 4, (3,), convention="keras")


def test_embedding_fans_follow_torch():
    # torch's rule on weight [num, dim]: fan_in = size(1) = dim, fan_out = size(0) = num
    assert embedding_fans(50257, 768) == Fans(*torch_rule((50257, 768))) == Fans(768, 50257)


def jax_rule(shape, in_axis, out_axis, batch_axis):
    """jax.nn.initializers._compute_fans: sizes of the named axes, the rest is receptive."""

    def size(axes):
        axes = (axes,) if isinstance(axes, int) else axes
        return math.prod(shape[a] for a in axes)

    receptive = math.prod(shape) / size(in_axis) / size(out_axis) / size(batch_axis)
    return size(in_axis) * receptive, size(out_axis) * receptive


@pytest.mark.parametrize(
    "shape,in_axis,out_axis,batch_axis",
    [
        ((3, 3, 16, 32), -2, -1, ()),
        ((32, 16, 3, 3), 1, 0, ()),
        ((8, 12, 64), 0, (1, 2), ()),  # attention output: [heads, head_dim, dim]
        ((64, 8, 12), 0, (1, 2), ()),  # attention query: [dim, heads, head_dim]
        ((4, 64, 128), 1, 2, 0),  # a batch of independent matrices
        ((2, 3, 4, 5), (0, 1), 3, 2),
    ],
)
def test_axis_fans_match_jax(shape, in_axis, out_axis, batch_axis):
    assert compute_fans(shape, in_axis, out_axis, batch_axis) == Fans(
        *jax_rule(shape, in_axis, out_axis, batch_axis)
    )


def test_low_rank_tensors():
    assert compute_fans(()) == Fans(1, 1)
    assert compute_fans((7,)) == Fans(7, 7)  # Keras / JAX; torch refuses
    assert Fans(3, 5).fan_avg == 4
