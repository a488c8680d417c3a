"""Spec version 1: check a loaded YAML document and expand it into layers.

``parse_spec`` validates every key (unknown keys get a suggestion), evaluates vars
and ``${...}``, expands ``repeat``/``group`` blocks and returns a :class:`Spec` whose
layers are fully resolved. Every error is a SpecError naming file, line and key path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..dtypes import WEIGHT_DTYPES
from ..errors import SpecError, all_of, one_of, suggest
from ..layers import CHOICE, LAYER_TYPES, NUMBER
from ..schemes.fans import LAYOUT_AXES
from ..schemes.gains import ACTIVATION_RULES
from ..schemes.presets import PRESETS
from .expr import substitute
from .values import check_value, int_value
from .yamlpos import Path, Positions

TOP_KEYS = (
    "initgen",
    "name",
    "description",
    "seed",
    "dtype",
    "layout",
    "defaults",
    "vars",
    "rules",
    "layers",
)
LAYER_KEYS = ("name", "type", "activation", "init", "layout", "dtype", "names", "negative_slope")
BLOCK_KEYS = {
    "repeat": ("repeat", "as", "prefix", "layers", "layout", "dtype"),
    "group": ("group", "layers", "layout", "dtype"),
}
MAX_LAYERS = 100_000  # after expansion


@dataclass
class LayerSpec:
    path: Path  # where it is in the YAML, for errors
    name: str  # with prefixes applied
    type: str
    args: dict[str, Any]  # the type's own keys, checked, defaults filled
    layout: str
    dtype: str
    activation: str | None = None
    negative_slope: float | None = None
    init: Any = None
    names: dict[str, str] = field(default_factory=dict)
    preset_keys: tuple[str, ...] = ()  # keys whose value came from the spec's framework preset


@dataclass
class Spec:
    file: str
    name: str
    seed: int
    dtype: str
    layout: str
    vars: dict[str, Any]
    rules: dict[str, Any]
    layers: list[LayerSpec]
    pos: Positions
    repeats: int = 0  # repeat passes so far: bounds nested repeats of empty blocks too
    defaults: str | None = None  # a framework preset (initgen.schemes.presets)
    own_rules: dict[str, Any] = field(default_factory=dict)  # the spec's `rules:` alone


def _check_keys(obj: Any, allowed: tuple[str, ...], path: Path, pos: Positions, what: str) -> None:
    if not isinstance(obj, dict):
        raise pos.error(path, f"{what} must be a mapping, got {_kind(obj)}")
    for key in obj:
        if key not in allowed:
            raise pos.error(
                (*path, key),
                f"unknown key '{key}' in {what}; allowed: {one_of(allowed)}",
                hint=suggest(key, allowed),
            )


def _kind(v: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", type(None): "nothing"}.get(
        type(v), "a number"
    )


def _choice(value: Any, allowed: Any, path: Path, pos: Positions) -> str:
    if not isinstance(value, str) or value not in allowed:  # a list is not even hashable
        raise pos.error(path, f"{value!r} is not one of {one_of(allowed)}", hint=suggest(value, allowed))
    return value


def _subst(obj: Any, env: Mapping[str, Any], path: Path, pos: Positions) -> Any:
    """Apply ``${...}`` to every string inside ``obj``."""
    if isinstance(obj, dict):
        return {k: _subst(v, env, (*path, k), pos) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_subst(v, env, (*path, i), pos) for i, v in enumerate(obj)]
    try:
        return substitute(obj, env)
    except SpecError as e:
        raise pos.error(path, e.message, e.hint) from None


def _vars(data: dict[str, Any], overrides: Mapping[str, Any], pos: Positions) -> dict[str, Any]:
    raw = data.get("vars", {}) or {}
    if not isinstance(raw, dict):
        raise pos.error(("vars",), f"vars must be a mapping of names to numbers, got {_kind(raw)}")
    for key in overrides:
        if key not in raw:
            raise SpecError(
                f"--set {key}: the spec has no var '{key}'; its vars: {one_of(raw) or 'none'}",
                hint=suggest(key, raw),
            )
    env: dict[str, Any] = {}
    for key, value in raw.items():
        if not key.isidentifier():
            raise pos.error(("vars", key), f"var names must be identifiers, got '{key}'")
        value = overrides.get(key, value)
        env[key] = _subst(value, env, ("vars", key), pos)
    return env


def parse_spec(data: Any, pos: Positions, overrides: Mapping[str, Any] | None = None) -> Spec:
    """Check a loaded spec document and expand it."""
    _check_keys(data, TOP_KEYS, (), pos, "the spec")
    if "initgen" not in data:
        raise pos.error((), "missing key 'initgen' (the spec format version): add `initgen: 1`")
    if data["initgen"] != 1:
        raise pos.error(("initgen",), f"unsupported spec version {data['initgen']!r}; this initgen reads 1")
    if "layers" not in data:
        raise pos.error((), "missing key 'layers'")
    env = _vars(data, overrides or {}, pos)
    top = _subst({k: v for k, v in data.items() if k not in ("vars", "layers")}, env, (), pos)
    seed = top.get("seed", 0)
    if int_value(seed) is None or int_value(seed) < 0:  # type: ignore[operator]
        raise pos.error(("seed",), f"seed must be a whole number ≥ 0, got {seed!r}")
    dtype = _choice(top.get("dtype", "float32"), WEIGHT_DTYPES, ("dtype",), pos)
    layout = _choice(top.get("layout", "torch"), LAYOUT_AXES, ("layout",), pos)
    rules = top.get("rules", {}) or {}
    if not isinstance(rules, dict):
        raise pos.error(("rules",), f"rules must map activations to schemes, got {_kind(rules)}")
    name = top.get("name", _storable_name(pos.file))
    if not isinstance(name, str):
        raise pos.error(("name",), f"name must be a string, got {name!r}")
    defaults = top.get("defaults")
    if defaults is not None:
        defaults = _choice(defaults, PRESETS, ("defaults",), pos)
    spec = Spec(
        pos.file, name, int_value(seed) or 0, dtype, layout, env, {**ACTIVATION_RULES, **rules}, [], pos
    )
    spec.defaults, spec.own_rules = defaults, dict(rules)
    _expand(data["layers"], ("layers",), "", env, layout, dtype, spec)
    if not spec.layers:
        raise pos.error(("layers",), "the spec has no layers")
    return spec


def _expand(
    items: Any, path: Path, prefix: str, env: dict[str, Any], layout: str, dtype: str, spec: Spec
) -> None:
    pos = spec.pos
    if not isinstance(items, list):
        raise pos.error(path, f"layers must be a list, got {_kind(items)}")
    for i, item in enumerate(items):
        p = (*path, i)
        if not isinstance(item, dict):
            raise pos.error(p, f"a layer must be a mapping, got {_kind(item)}")
        block = next((k for k in BLOCK_KEYS if k in item), None)
        if block is None:
            spec.layers.append(_layer(item, p, prefix, env, layout, dtype, pos, spec.defaults))
            if len(spec.layers) > MAX_LAYERS:
                raise pos.error(p, f"the spec expands to more than {MAX_LAYERS} layers")
            continue
        _check_keys(item, BLOCK_KEYS[block], p, pos, f"a {block} block")
        if "layers" not in item:
            raise pos.error(p, f"a {block} block needs 'layers'")
        head = _subst({k: v for k, v in item.items() if k not in ("layers", "prefix")}, env, p, pos)
        blayout = _choice(head.get("layout", layout), LAYOUT_AXES, (*p, "layout"), pos)
        bdtype = _choice(head.get("dtype", dtype), WEIGHT_DTYPES, (*p, "dtype"), pos)
        if block == "group":
            if not isinstance(head["group"], str):
                raise pos.error((*p, "group"), f"group is a name prefix, got {head['group']!r}")
            _expand(item["layers"], (*p, "layers"), prefix + head["group"], env, blayout, bdtype, spec)
            continue
        count = int_value(head["repeat"])
        if count is None or count < 0:
            raise pos.error((*p, "repeat"), f"repeat must be a whole number ≥ 0, got {head['repeat']!r}")
        if count > MAX_LAYERS:
            raise pos.error((*p, "repeat"), f"repeat {count} is over the limit of {MAX_LAYERS} layers")
        var = head.get("as", "i")
        if not isinstance(var, str) or not var.isidentifier():
            raise pos.error((*p, "as"), f"'as' must name a var, got {var!r}")
        raw_prefix = item.get("prefix", "")
        for k in range(count):
            spec.repeats += 1
            if spec.repeats > 2 * MAX_LAYERS:
                raise pos.error((*p, "repeat"), f"repeat blocks run more than {2 * MAX_LAYERS} times")
            inner = {**env, var: k}
            pre = _subst(raw_prefix, inner, (*p, "prefix"), pos)
            if not isinstance(pre, str):
                raise pos.error((*p, "prefix"), f"prefix must be a string, got {pre!r}")
            _expand(item["layers"], (*p, "layers"), prefix + pre, inner, blayout, bdtype, spec)


def _layer(
    item: dict[str, Any],
    path: Path,
    prefix: str,
    env: dict[str, Any],
    layout: str,
    dtype: str,
    pos: Positions,
    defaults: str | None = None,
) -> LayerSpec:
    if "type" not in item:
        raise pos.error(path, "missing key 'type'", hint=f"one of {one_of(LAYER_TYPES)}")
    ltype = LAYER_TYPES.get(item["type"]) if isinstance(item["type"], str) else None
    if ltype is None:
        raise pos.error(
            (*path, "type"),
            f"unknown layer type {item['type']!r}; allowed: {one_of(LAYER_TYPES)}",
            hint=suggest(item["type"], LAYER_TYPES),
        )
    _check_keys(item, (*LAYER_KEYS, *ltype.keys), path, pos, f"a {ltype.name} layer")
    item = _subst(item, env, path, pos)
    if "name" not in item:
        raise pos.error(path, "missing key 'name'")
    if not isinstance(item["name"], str) or not item["name"]:
        raise pos.error((*path, "name"), f"name must be a non-empty string, got {item['name']!r}")
    args: dict[str, Any] = {}
    implied = PRESETS[defaults].keys.get(ltype.name, {}) if defaults else {}
    for key, kind in ltype.keys.items():
        if key not in item and key in implied:
            args[key] = implied[key]
        elif key in item and kind == CHOICE:
            args[key] = _choice(item[key], ltype.choices[key], (*path, key), pos)
        elif key in item:
            args[key] = check_value(kind, item[key], (*path, key), pos)
        elif key in ltype.defaults:
            args[key] = ltype.defaults[key]
        else:
            required = [k for k in ltype.keys if k not in ltype.defaults]
            raise pos.error(
                path, f"missing key '{key}' for a {ltype.name} layer; it needs {all_of(required)}"
            )
    act = item.get("activation")
    if act is not None and not isinstance(act, str):
        raise pos.error((*path, "activation"), f"activation must be a name, got {act!r}")
    names = item.get("names", {}) or {}
    if not isinstance(names, dict) or not all(isinstance(v, str) and v for v in names.values()):
        raise pos.error((*path, "names"), "names must map tensor keys to new names")
    slope = item.get("negative_slope")
    if slope is not None:
        slope = check_value(NUMBER, slope, (*path, "negative_slope"), pos)
    return LayerSpec(
        path=path,
        name=prefix + item["name"],
        type=ltype.name,
        args=args,
        layout=_choice(item.get("layout", layout), LAYOUT_AXES, (*path, "layout"), pos),
        dtype=_choice(item.get("dtype", dtype), WEIGHT_DTYPES, (*path, "dtype"), pos),
        activation=act,
        negative_slope=slope,
        init=item.get("init"),
        names=names,
        preset_keys=tuple(k for k in implied if k not in item),
    )


def _storable_name(file: str) -> str:
    """The file's name as a spec name: bytes UTF-8 cannot hold (a name in another
    encoding, which Python's argv keeps as surrogate escapes) become U+FFFD."""
    try:
        raw = file.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = file.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "replace")
