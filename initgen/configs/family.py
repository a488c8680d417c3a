"""Family templates: one YAML file per Transformers ``model_type`` in ``families/``.

A template is data, read once per process. Its keys (see docs/from-config.md):

- ``model_type``, ``config_class``, ``modeling`` (the Transformers module it follows)
  and ``init`` (the family's ``_init_weights`` in words, written into the spec);
- ``vars``: spec var → ``{key: config key, default: number or "${expr}", kind: int|number}``;
  the config's value (or the default when the key is absent or null) becomes the var;
  a var without ``key`` is derived: its ``default`` expression always; ``aliases``
  lists other names of the key (the config class's ``attribute_map``);
- ``flags``: config key → default boolean; structural switches (tied embeddings,
  biases) resolved when the spec is rendered, through ``when:`` and ``{flag: key}``. A
  flag may also read a non-boolean key: ``name: {key: k, values: {1: false, 2: true},
  default: <bool or another flag>}`` (a value not in ``values`` is refused);
- ``limits``: config key → the values the template models; any other value is refused;
- ``accept``: the config class's other keys, which do not change tensors;
- ``heads``: architecture → ``{prefix, default, layers}``; the base model's layers go
  under ``prefix`` (a ``group``), the head's own layers follow;
- ``layers``: the base model, in the spec language plus ``when:`` and ``{flag: key}``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FAMILY_DIR = Path(__file__).resolve().parent / "families"
TEMPLATE_KEYS = (
    "model_type",
    "config_class",
    "modeling",
    "init",
    "notes",
    "padding",
    "vars",
    "flags",
    "limits",
    "accept",
    "heads",
    "layers",
)


@dataclass(frozen=True)
class VarRule:
    """One spec var and the config key it is read from."""

    name: str
    key: str | None  # None: a derived var, always its default expression
    default: Any
    kind: str = "int"  # int: a positive whole number; number: a finite number ≥ 0
    aliases: tuple[str, ...] = ()  # other names of the key (the config class's attribute_map)


@dataclass(frozen=True)
class FlagRule:
    """A structural switch and the config key it is read from."""

    name: str
    key: str
    default: bool | str  # a boolean, or the name of an earlier flag
    values: Mapping[Any, bool] | None = None  # None: the key holds true or false


@dataclass(frozen=True)
class Padding:
    """The embedding whose padding row Transformers zeroes (``nn.Embedding(padding_idx=...)``)."""

    layer: str  # the template's layer name
    default: int | None  # the config class's pad_token_id
    key: str = "pad_token_id"


@dataclass(frozen=True)
class Head:
    """An architecture the family supports: its name prefix and its own layers."""

    name: str
    prefix: str
    default: bool
    layers: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class Family:
    """A parsed template (see the module docstring for its keys)."""

    model_type: str
    config_class: str
    modeling: str
    init: str
    notes: str
    vars: tuple[VarRule, ...]
    flags: tuple[FlagRule, ...]
    limits: Mapping[str, tuple[Any, ...]]
    accept: frozenset[str]
    heads: Mapping[str, Head]
    layers: list[Any]
    path: Path
    padding: Padding | None = None

    @property
    def default_head(self) -> Head:
        """The head used when the config's ``architectures`` names none."""
        return next(h for h in self.heads.values() if h.default)

    @property
    def tensor_keys(self) -> frozenset[str]:
        """The config keys that change tensors: vars, flags and limits."""
        return self.keys - self.accept

    @property
    def keys(self) -> frozenset[str]:
        """Every config key the template reads or accepts."""
        names = {k for v in self.vars for k in (v.key, *v.aliases) if k}
        padding = {self.padding.key} if self.padding else set()
        return frozenset(names | {f.key for f in self.flags} | set(self.limits) | self.accept | padding)


class TemplateError(ValueError):
    """A malformed template file (a bug in initgen, caught by its tests)."""


def _parse(path: Path) -> Family:
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise TemplateError(f"{path.name}: a template is a mapping")
    unknown = sorted(set(data) - set(TEMPLATE_KEYS))
    if unknown:
        raise TemplateError(f"{path.name}: unknown template keys {unknown}")
    rules = tuple(
        VarRule(
            name,
            spec.get("key"),
            spec.get("default"),
            spec.get("kind", "int"),
            tuple(spec.get("aliases", ())),
        )
        for name, spec in data["vars"].items()
    )
    heads = {
        name: Head(name, h.get("prefix", ""), bool(h.get("default", False)), list(h.get("layers") or []))
        for name, h in data["heads"].items()
    }
    if sum(h.default for h in heads.values()) != 1:
        raise TemplateError(f"{path.name}: exactly one head must be the default")
    if path.stem != data["model_type"]:
        raise TemplateError(f"{path.name}: file name and model_type {data['model_type']!r} differ")
    return Family(
        model_type=data["model_type"],
        config_class=data["config_class"],
        modeling=data.get("modeling", ""),
        init=" ".join(str(data["init"]).split()),
        notes=" ".join(str(data.get("notes", "")).split()),
        vars=rules,
        flags=tuple(_flag(k, v) for k, v in (data.get("flags") or {}).items()),
        limits={k: tuple(v) for k, v in (data.get("limits") or {}).items()},
        accept=frozenset(data.get("accept") or ()),
        heads=heads,
        layers=list(data["layers"]),
        path=path,
        padding=Padding(**data["padding"]) if data.get("padding") else None,
    )


def _flag(name: str, spec: Any) -> FlagRule:
    if isinstance(spec, bool):
        return FlagRule(name, name, spec)
    return FlagRule(name, spec["key"], spec["default"], dict(spec["values"]))


@functools.cache
def families() -> dict[str, Family]:
    """Every template in ``families/``, by model_type."""
    return {f.model_type: f for f in (_parse(p) for p in sorted(FAMILY_DIR.glob("*.yaml")))}
