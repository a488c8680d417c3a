"""The plan: one :class:`TensorPlan` per tensor, with its shape, dtype, fans and the
exact distribution its values come from. Plans are what the engine makes and what
a file's metadata records, so a tensor can be regenerated from its plan alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..dtypes import DTYPES
from ..schemes import Dist

if TYPE_CHECKING:
    from ..spec import Spec


@dataclass(frozen=True)
class TensorPlan:
    name: str
    shape: tuple[int, ...]
    dtype: str
    scheme: str
    args: Mapping[str, Any]
    dist: Dist
    fan_in: float
    fan_out: float
    layer: str = ""
    # where the scheme came from (explicit, rule, preset, type default): shown, not recorded
    source: str = field(default="", compare=False)

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.numel * DTYPES[self.dtype].itemsize

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "scheme": self.scheme,
            "args": dict(self.args),
            "dist": self.dist.to_json(),
            "fan_in": self.fan_in,
            "fan_out": self.fan_out,
        }

    @staticmethod
    def from_json(obj: Mapping[str, Any]) -> TensorPlan:
        return TensorPlan(
            obj["name"],
            tuple(obj["shape"]),
            obj["dtype"],
            obj["scheme"],
            dict(obj["args"]),
            Dist.from_json(obj["dist"]),
            obj["fan_in"],
            obj["fan_out"],
        )


@dataclass
class Plan:
    """Every tensor of a model; ``spec`` (when the plan was built from one) lets checks
    point at the line of the layer that makes a tensor."""

    name: str
    seed: int
    tensors: list[TensorPlan]
    spec: Spec | None = field(default=None, repr=False, compare=False)

    @property
    def params(self) -> int:
        return sum(t.numel for t in self.tensors)

    @property
    def nbytes(self) -> int:
        return sum(t.nbytes for t in self.tensors)

    def file_order(self) -> list[TensorPlan]:
        """The canonical order in files: widest dtype first (keeps every tensor
        aligned), then by name, so the order of layers in a spec does not matter."""
        return sorted(self.tensors, key=lambda t: (-DTYPES[t.dtype].itemsize, t.name))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "seed": self.seed,
            "params": self.params,
            "bytes": self.nbytes,
            "tensors": [t.to_json() for t in self.tensors],
        }
