"""A scheme's row type: its parameters, how they are checked, and how it resolves.

:class:`Scheme` is one row of ``schemes.SCHEMES``; :class:`Param` one of its parameters
(checked before any work, with errors that say what is allowed); :class:`Context` what
a scheme may read about the tensor it is resolved for.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import SpecError, one_of, suggest
from .dists import Dist, scaled, with_zero_row
from .fans import Fans
from .gains import GAIN_NAMES


@dataclass(frozen=True)
class Context:
    """What a scheme may depend on: the tensor and the layer it belongs to."""

    shape: tuple[int, ...]
    fans: Fans
    activation: str | None = None
    negative_slope: float | None = None
    layout: str = "torch"


# --- parameters --------------------------------------------------------------------

REQUIRED = object()  # a Param default: the user must give a value


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    doc: str
    choices: tuple[str, ...] = ()
    kind: type = float  # float, int, str, or object for a gain (number, 'auto' or a name)

    def check(self, value: Any) -> Any:
        if self.choices:
            if value not in self.choices:
                raise SpecError(
                    f"{value!r} is not one of {one_of(self.choices)}", hint=suggest(value, self.choices)
                )
            return value
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if self.kind in (float, object) and number:
            if not math.isfinite(value):
                raise SpecError(f"expected a finite number, got {value!r}")
            return float(value)
        if self.kind is int and number and float(value).is_integer():
            return int(value)
        if self.kind is object and isinstance(value, str):
            if value == "auto" or value in GAIN_NAMES:
                return value
            raise SpecError(
                f"{value!r} is not a number, 'auto' or one of {one_of(GAIN_NAMES)}",
                hint=suggest(value, ("auto", *GAIN_NAMES)),
            )
        if value is None and self.default is None:
            return None
        words = {object: "a number, 'auto' or a nonlinearity", int: "a whole number", float: "a number"}
        wanted = words.get(self.kind, f"a {self.kind.__name__}")
        raise SpecError(f"expected {wanted}, got {value!r}")

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "default": "required" if self.default is REQUIRED else self.default,
            "doc": self.doc,
            "choices": list(self.choices),
        }


SCALE = Param("scale", 1.0, "multiplier on the values (std, bounds, value, gain)")
ZERO_ROW = Param(
    "zero_row",
    None,
    "a row (index along the first axis) set to 0 after drawing: an embedding's padding_idx, "
    "as torch's nn.Embedding(padding_idx=...) and Transformers' _init_weights leave it",
    kind=int,
)


@dataclass(frozen=True)
class Scheme:
    name: str
    formula: str
    params: tuple[Param, ...]
    resolve: Callable[[Context, dict[str, Any]], Dist]
    aliases: tuple[str, ...] = ()
    whole_tensor: bool = False
    refs: str = ""  # the same definition in torch / Keras / JAX, where one exists

    @property
    def all_params(self) -> tuple[Param, ...]:
        """Its own parameters, plus the generic value multiplier ``scale`` and, for
        element-wise schemes, ``zero_row``."""
        own = {p.name for p in self.params}
        generic = () if "scale" in own else (SCALE,)
        return (*self.params, *generic) if self.whole_tensor else (*self.params, *generic, ZERO_ROW)

    def dist(self, ctx: Context, args: Mapping[str, Any] | None = None) -> Dist:
        """Check ``args`` against the parameters and resolve for one tensor."""
        args = dict(args or {})
        known = {p.name: p for p in self.all_params}
        for key in args:
            if key not in known:
                raise SpecError(
                    f"unknown parameter '{key}' for scheme {self.name}; it takes {one_of(known)}",
                    hint=suggest(key, known),
                )
        values: dict[str, Any] = {}
        for p in self.all_params:
            if p.name not in args and p.default is REQUIRED:
                raise SpecError(f"scheme {self.name} needs '{p.name}' ({p.doc})")
            try:
                values[p.name] = p.check(args[p.name]) if p.name in args else p.default
            except SpecError as e:
                raise SpecError(f"{p.name}: {e.message}", hint=e.hint) from None
        row = values.pop("zero_row", None)
        d = self.resolve(ctx, values)
        if "scale" not in {p.name for p in self.params}:  # the generic multiplier
            if not values["scale"] > 0:
                raise SpecError(f"scale must be positive, got {values['scale']:g}")
            d = scaled(d, values["scale"])
        return d if row is None else with_zero_row(d, row, ctx.shape)
