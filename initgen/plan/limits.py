"""Limits that keep a spec or a plan from running away, checked before any work.

A spec is a few lines of YAML, but ``repeat``, ``${...}`` and anchors can make it
describe petabytes. Every refusal says which limit was hit and how to raise it:

- ``max_bytes`` (``--max-bytes``, default :data:`DEFAULT_MAX_BYTES`): the most bytes of
  tensor data a plan may describe. A typo such as ``dim: 40960000`` fails at once
  instead of after filling a disk.
- :data:`MAX_WHOLE_VALUES`: whole-tensor schemes (``orthogonal``, ...) hold the
  tensor in memory in float64, so a single such tensor is bounded.
- every distribution is finite and fits its dtype.
- tensor names: never empty, never ``__metadata__`` (safetensors keeps its metadata
  under that key).

The checks on an output (free space, HDF5 paths, devices) are in
:mod:`initgen.writers.targets`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..dtypes import largest
from ..errors import SpecError, storable
from ..schemes.dists import WHOLE_KINDS
from ..units import exact_bytes, format_bytes, round_size

if TYPE_CHECKING:
    from .tensors import Plan

FLOAT32_NORMAL = 2.0**-126  # float32's smallest normal number
DEFAULT_MAX_BYTES = 10**12  # 1 TB: 250 B float32 parameters; beyond that a typo is likelier
MAX_WHOLE_VALUES = 1 << 27  # 134 M values: 1 GiB as float64, held whole by orthogonal & co.


def check_plan(plan: Plan, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Refuse a plan over ``max_bytes``, a whole-tensor scheme over memory, a bad name, or
    a distribution that is not finite or would overflow its dtype.

    Raises :class:`~initgen.errors.SpecError`, pointing at the line of the layer that
    makes the offending tensor when the plan was built from a spec.
    """
    spec = plan.spec
    paths = {layer.name: layer.path for layer in spec.layers} if spec else {}

    def error(layer: str, message: str) -> SpecError:
        if spec is None:
            return SpecError(message, file=plan.name)
        return spec.pos.error(paths.get(layer, ("layers",)), message)

    for t in plan.tensors:
        why = name_problem(t.name)
        if why:
            raise error(t.layer, why)
    for t in plan.tensors:
        numbers = [t.dist.mean, t.dist.std, *t.dist.params.values()]
        bad = [v for v in numbers if isinstance(v, float) and not math.isfinite(v)]
        if bad:  # e.g. he_normal with fan_in 5e-324, or uniform over ±1e308
            raise error(
                t.layer,
                f"tensor '{t.name}': the scheme {t.scheme} gives a distribution that "
                f"is not finite (mean {t.dist.mean:g}, std {t.dist.std:g}, fans {t.fan_in:g}/"
                f"{t.fan_out:g}); check the init parameters and fans",
            )
        top = largest(t.dtype)
        if abs(t.dist.mean) + 6 * t.dist.std > top:  # 6 std: all but ~2e-9 of normal values
            raise error(
                t.layer,
                f"tensor '{t.name}': the scheme {t.scheme} gives mean {t.dist.mean:.3g} "
                f"and std {t.dist.std:.3g}, so its values would overflow {t.dtype} (largest "
                f"{top:.3g}); check the init parameters and fans, or use a wider dtype",
            )
        if t.dist.kind == "uniform" and t.dtype != "float64":
            low, high = t.dist.params["low"], t.dist.params["high"]
            if 0 < (high - low) * 2.0**-24 < FLOAT32_NORMAL:  # steps below float32's normals
                raise error(
                    t.layer,
                    f"tensor '{t.name}': the scheme {t.scheme} gives uniform values over "
                    f"[{low:.3g}, {high:.3g}], too narrow for float32 arithmetic (its 2^24 "
                    f"steps fall below {FLOAT32_NORMAL:.3g}: values would lose their bits or "
                    "all be the low bound); widen the range or use dtype float64",
                )
    total = plan.nbytes
    if total > max_bytes:
        big = max(plan.tensors, key=lambda t: t.nbytes)
        raise error(
            big.layer,
            f"the plan makes {format_bytes(total)} of tensors (the largest, "
            f"'{big.name}' {list(big.shape)}, is {format_bytes(big.nbytes)}), over the limit "
            f"of {exact_bytes(max_bytes)}; if that is meant, raise it with "
            f"--max-bytes {round_size(total)}",
        )
    for t in plan.tensors:
        if t.dist.kind in WHOLE_KINDS and t.numel > MAX_WHOLE_VALUES:
            raise error(
                t.layer,
                f"tensor '{t.name}' {list(t.shape)} has {t.numel:,} values; "
                f"the scheme {t.scheme} makes a tensor whole in memory and is limited "
                f"to {MAX_WHOLE_VALUES:,} values; use an element-wise scheme for it",
            )


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a tensor name in any file, or None."""
    if not isinstance(name, str) or not name:
        return "a tensor name cannot be empty"
    if not storable(name):
        return f"{name!r} holds a lone surrogate, which no file can store"
    if name == "__metadata__":
        return "'__metadata__' cannot be a tensor name: safetensors keeps the file's metadata under it"
    return None
