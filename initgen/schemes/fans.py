"""fan_in / fan_out of a tensor: one axis-based function, and the fans of each layer kind.

Following ``jax.nn.initializers.variance_scaling``: the receptive field is the
product of every axis that is neither an input nor an output axis (nor a batch
axis), and ``fan_in = prod(shape[in_axis]) * receptive``, ``fan_out =
prod(shape[out_axis]) * receptive``. The named layouts only choose the axes:

* ``torch``: kernels are ``[out, in, *k]`` (``in_axis=1, out_axis=0``), exactly
  ``torch.nn.init._calculate_fan_in_and_fan_out``. A grouped convolution's weight is
  ``[out, in/groups, *k]``, so ``fan_in = in/groups * prod(k)`` falls out of the shape
  while ``fan_out = out * prod(k)`` (not ``out/groups``): torch's convention, kept.
* ``keras`` / ``jax``: kernels are ``[*k, in, out]`` (``in_axis=-2, out_axis=-1``), as
  Keras' ``compute_fans`` and JAX's defaults; a grouped Keras kernel is
  ``[*k, in/groups, out]``, so both layouts give the same fans for the same layer.

1-D tensors: torch refuses to compute fans; Keras and JAX use ``fan_in = fan_out =
shape[0]``; initgen does the latter. Scalars have fans of 1.

Transposed convolutions are where the frameworks part ways (:func:`conv_transpose_fans`).
A transposed convolution from ``in`` to ``out`` channels connects each output to
``in/groups * prod(k)`` inputs (ignoring stride, as every framework does), like the
convolution with the same ``in``, ``out``, ``groups``; initgen's fans are that
convolution's. The frameworks instead apply their ordinary fan rule to the stored
weight, whose channel axes are swapped:

* torch stores ``[in, out/groups, *k]`` and reads dim 1 as fan_in, so its
  ``kaiming_*`` and ``nn.ConvTranspose*`` default see ``fan_in = out/groups * prod(k)``
  and ``fan_out = in * prod(k)`` (the "swapped-fan quirk");
* Keras stores ``[*k, out, in]`` (``kernel_size + (filters, input_dim)``) and reads
  axis -2 as fan_in: the same swap (Keras has no grouped transposed convolution);
* Flax stores ``ConvTranspose`` kernels ``[*k, in, out]``, so JAX's fans are initgen's.

``fan_convention: torch`` reproduces torch's (and, for ``groups=1``, Keras') numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

LAYOUT_AXES: dict[str, tuple[int, int]] = {
    # layout: (in_axis, out_axis)
    "torch": (1, 0),
    "keras": (-2, -1),
    "jax": (-2, -1),
}

# How a transposed convolution's fans are counted: "initgen" (its connectivity, the
# same as the convolution with equal in/out/groups) or "torch" (torch's rule applied
# to its stored [in, out/groups, *k] weight: the swapped-fan quirk).
FAN_CONVENTIONS = ("initgen", "torch")


@dataclass(frozen=True)
class Fans:
    fan_in: float
    fan_out: float

    @property
    def fan_avg(self) -> float:
        return (self.fan_in + self.fan_out) / 2


def compute_fans(
    shape: tuple[int, ...],
    in_axis: int | tuple[int, ...] = -2,
    out_axis: int | tuple[int, ...] = -1,
    batch_axis: int | tuple[int, ...] = (),
) -> Fans:
    """Fans of ``shape`` given which axes are inputs, outputs and batch.

    >>> compute_fans((3, 3, 16, 32))           # keras conv2d kernel
    Fans(fan_in=144, fan_out=288)
    >>> compute_fans((32, 16, 3, 3), 1, 0)      # torch conv2d weight
    Fans(fan_in=144, fan_out=288)
    """
    if len(shape) == 0:
        return Fans(1, 1)
    if len(shape) == 1:
        return Fans(shape[0], shape[0])
    rank = len(shape)

    def axes(a: int | tuple[int, ...]) -> tuple[int, ...]:
        return tuple(x % rank for x in ((a,) if isinstance(a, int) else a))

    ins, outs, batch = axes(in_axis), axes(out_axis), axes(batch_axis)
    in_size = math.prod(shape[i] for i in ins)
    out_size = math.prod(shape[i] for i in outs)
    receptive = math.prod(shape[i] for i in range(rank) if i not in ins and i not in outs and i not in batch)
    return Fans(in_size * receptive, out_size * receptive)


def layout_fans(shape: tuple[int, ...], layout: str) -> Fans:
    """Fans of a weight stored in a named layout (``torch``, ``keras`` or ``jax``)."""
    in_axis, out_axis = LAYOUT_AXES[layout]
    return compute_fans(shape, in_axis, out_axis)


# --- layer kinds: fans from the layer's own numbers ------------------------------------


def dense_fans(in_features: int, out_features: int) -> Fans:
    """``fan_in = in``, ``fan_out = out`` in every framework."""
    return Fans(in_features, out_features)


def conv_fans(in_channels: int, out_channels: int, kernel: Sequence[int], groups: int = 1) -> Fans:
    """A convolution's fans: ``in/groups * prod(k)`` and ``out * prod(k)`` (torch, Keras).

    >>> conv_fans(16, 32, (3, 3), groups=4)
    Fans(fan_in=36, fan_out=288)
    """
    _check_groups(in_channels, out_channels, groups)
    k = math.prod(kernel)
    return Fans(in_channels // groups * k, out_channels * k)


def conv_transpose_fans(
    in_channels: int, out_channels: int, kernel: Sequence[int], groups: int = 1, convention: str = "initgen"
) -> Fans:
    """A transposed convolution's fans under ``convention`` (see the module notes).

    ``initgen``: ``in/groups * prod(k)`` and ``out * prod(k)`` (the matching convolution's);
    ``torch``: what torch computes from its ``[in, out/groups, *k]`` weight,
    ``out/groups * prod(k)`` and ``in * prod(k)``.

    >>> conv_transpose_fans(16, 32, (3, 3))
    Fans(fan_in=144, fan_out=288)
    >>> conv_transpose_fans(16, 32, (3, 3), convention="torch")
    Fans(fan_in=288, fan_out=144)
    """
    if convention not in FAN_CONVENTIONS:
        raise ValueError(f"fan_convention must be one of {', '.join(FAN_CONVENTIONS)}, got {convention!r}")
    _check_groups(in_channels, out_channels, groups)
    k = math.prod(kernel)
    if convention == "torch":
        return Fans(out_channels // groups * k, in_channels * k)
    return Fans(in_channels // groups * k, out_channels * k)


def conv_transpose_shape(
    in_channels: int, out_channels: int, kernel: Sequence[int], groups: int, layout: str
) -> tuple[int, ...]:
    """The stored weight shape: torch ``[in, out/groups, *k]``, Keras ``[*k, out/groups, in]``,
    JAX/Flax ``[*k, in/groups, out]`` (Flax's ``ConvTranspose`` kernel, like its ``Conv``)."""
    _check_groups(in_channels, out_channels, groups)
    if layout == "torch":
        return (in_channels, out_channels // groups, *kernel)
    if layout == "jax":
        return (*kernel, in_channels // groups, out_channels)
    return (*kernel, out_channels // groups, in_channels)


def embedding_fans(num: int, dim: int) -> Fans:
    """An embedding table ``[num, dim]``: torch's rule gives ``fan_in = dim``, ``fan_out = num``
    (Keras would say the reverse, but its default init, U(±0.05), reads no fan)."""
    return Fans(dim, num)


def _check_groups(in_channels: int, out_channels: int, groups: int) -> None:
    if groups < 1 or in_channels % groups or out_channels % groups:
        raise ValueError(f"groups={groups} must divide both in ({in_channels}) and out ({out_channels})")
