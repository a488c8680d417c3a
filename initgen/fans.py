"""fan_in / fan_out of a tensor, one function for every layout.

Following ``jax.nn.initializers.variance_scaling``: the receptive field is the
product of every axis that is neither the input nor the output axis (nor a batch
axis), and ``fan_in = shape[in_axis] * receptive``, ``fan_out = shape[out_axis] *
receptive``. The named layouts only choose the axes:

* ``torch``: kernels are ``[out, in, *k]`` (``in_axis=1, out_axis=0``). A grouped
  convolution's weight is ``[out, in/groups, *k]``, so ``fan_in = in/groups * prod(k)``
  falls out of the shape, as in ``torch.nn.init._calculate_fan_in_and_fan_out``.
* ``keras`` / ``jax``: kernels are ``[*k, in, out]`` (``in_axis=-2, out_axis=-1``).

For 1-D tensors, torch refuses to compute fans; Keras and JAX use ``fan_in = fan_out
= shape[0]``; initgen does the latter, which only matters if a user asks a fan-based
scheme for a bias. Scalars have fans of 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LAYOUT_AXES: dict[str, tuple[int, int]] = {
    # layout: (in_axis, out_axis)
    "torch": (1, 0),
    "keras": (-2, -1),
    "jax": (-2, -1),
}


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
    receptive = math.prod(
        shape[i] for i in range(rank) if i not in ins and i not in outs and i not in batch
    )
    return Fans(in_size * receptive, out_size * receptive)


def layout_fans(shape: tuple[int, ...], layout: str) -> Fans:
    """Fans of a weight stored in a named layout (``torch``, ``keras`` or ``jax``)."""
    in_axis, out_axis = LAYOUT_AXES[layout]
    return compute_fans(shape, in_axis, out_axis)
