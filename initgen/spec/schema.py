"""The JSON Schema of spec version 1, built from the same tables the loader checks."""

from __future__ import annotations

from typing import Any

from ..dtypes import WEIGHT_DTYPES
from ..layers import BOOL, DIM, DIMS, INTS, LAYER_TYPES, NUMBER
from ..schemes import ALL_NAMES
from ..schemes.fans import LAYOUT_AXES
from ..schemes.presets import PRESETS

_EXPR = {"type": "string", "pattern": r"\$\{.*\}"}
_KINDS: dict[str, dict[str, Any]] = {
    DIM: {"anyOf": [{"type": "integer", "minimum": 1}, _EXPR]},
    DIMS: {
        "anyOf": [
            {"type": "integer", "minimum": 1},
            _EXPR,
            {"type": "array", "items": {"anyOf": [{"type": "integer", "minimum": 1}, _EXPR]}},
        ]
    },
    INTS: {"type": "array", "items": {"anyOf": [{"type": "integer", "minimum": 1}, _EXPR]}},
    BOOL: {"type": "boolean"},
    NUMBER: {"anyOf": [{"type": "number"}, _EXPR]},
}


def json_schema() -> dict[str, Any]:
    init = {
        "anyOf": [
            {"enum": list(ALL_NAMES)},
            {"type": "object", "properties": {"scheme": {"enum": list(ALL_NAMES)}}, "required": ["scheme"]},
            {
                "type": "object",
                "additionalProperties": {"anyOf": [{"enum": list(ALL_NAMES)}, {"type": "object"}]},
            },
        ]
    }
    common = {
        "name": {"type": "string"},
        "activation": {"type": "string"},
        "init": init,
        "layout": {"enum": list(LAYOUT_AXES)},
        "dtype": {"enum": list(WEIGHT_DTYPES)},
        "names": {"type": "object", "additionalProperties": {"type": "string"}},
        "negative_slope": {"type": "number"},
    }
    layers = []
    for t in LAYER_TYPES.values():
        props: dict[str, Any] = {**common, "type": {"const": t.name}}
        for k, kind in t.keys.items():
            props[k] = {"enum": list(t.choices[k])} if k in t.choices else dict(_KINDS[kind])
            if t.defaults.get(k) is not None:
                props[k]["default"] = t.defaults[k]
        required = ["name", "type", *[k for k in t.keys if k not in t.defaults]]
        layers.append(
            {
                "type": "object",
                "description": t.doc,
                "properties": props,
                "required": required,
                "additionalProperties": False,
            }
        )
    layer_list: dict[str, Any] = {"type": "array", "items": {"$ref": "#/$defs/item"}}
    blocks = [
        {
            "type": "object",
            "required": ["repeat", "layers"],
            "additionalProperties": False,
            "properties": {
                "repeat": {"anyOf": [{"type": "integer", "minimum": 0}, _EXPR]},
                "as": {"type": "string"},
                "prefix": {"type": "string"},
                "layers": layer_list,
                "layout": common["layout"],
                "dtype": common["dtype"],
            },
        },
        {
            "type": "object",
            "required": ["group", "layers"],
            "additionalProperties": False,
            "properties": {
                "group": {"type": "string"},
                "layers": layer_list,
                "layout": common["layout"],
                "dtype": common["dtype"],
            },
        },
    ]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "initgen spec, version 1",
        "type": "object",
        "required": ["initgen", "layers"],
        "additionalProperties": False,
        "properties": {
            "initgen": {"const": 1},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "seed": {"anyOf": [{"type": "integer", "minimum": 0}, _EXPR]},
            "dtype": common["dtype"],
            "layout": common["layout"],
            "defaults": {
                "enum": list(PRESETS),
                "description": "a framework's own default init per layer type",
            },
            "vars": {"type": "object", "additionalProperties": {"type": ["number", "string"]}},
            "rules": {"type": "object", "additionalProperties": {"anyOf": init["anyOf"][:2]}},
            "layers": layer_list,
        },
        "$defs": {"item": {"anyOf": [*layers, *blocks]}},
    }
