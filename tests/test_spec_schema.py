"""`initgen schema` is built from the same tables the loader checks: every layer type,
key, kind, default and choice appears in it, and nothing else."""

from __future__ import annotations

import json

import pytest

from initgen.dtypes import WEIGHT_DTYPES
from initgen.layers import BOOL, CHOICE, DIM, LAYER_TYPES
from initgen.spec.model import BLOCK_KEYS, LAYER_KEYS, TOP_KEYS


@pytest.fixture(scope="module")
def schema():
    from click.testing import CliRunner

    from initgen.cli import main

    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0
    return json.loads(result.output)


def _layer_rows(schema):
    return {
        row["properties"]["type"]["const"]: row
        for row in schema["$defs"]["item"]["anyOf"]
        if "type" in row["properties"]
    }


def test_top_level_keys(schema):
    assert set(schema["properties"]) == set(TOP_KEYS)
    assert schema["properties"]["dtype"]["enum"] == list(WEIGHT_DTYPES)
    assert "int64" not in WEIGHT_DTYPES  # a buffer dtype, not a weight dtype


def test_every_layer_type_and_key(schema):
    rows = _layer_rows(schema)
    assert set(rows) == set(LAYER_TYPES)
    for name, t in LAYER_TYPES.items():
        row = rows[name]
        assert set(row["properties"]) == set(LAYER_KEYS) | set(t.keys), name
        assert row["required"] == ["name", "type", *[k for k in t.keys if k not in t.defaults]]
        assert row["additionalProperties"] is False
        for key, kind in t.keys.items():
            prop = row["properties"][key]
            if t.defaults.get(key) is not None:
                assert prop.pop("default") == t.defaults[key]
            if kind == CHOICE:
                assert prop == {"enum": list(t.choices[key])}
            elif kind == BOOL:
                assert prop == {"type": "boolean"}
            elif kind == DIM:
                assert {"type": "integer", "minimum": 1} in prop["anyOf"]


def test_block_keys(schema):
    blocks = [row for row in schema["$defs"]["item"]["anyOf"] if "type" not in row["properties"]]
    assert sorted(tuple(sorted(b["properties"])) for b in blocks) == sorted(
        tuple(sorted(keys)) for keys in BLOCK_KEYS.values()
    )


def test_docs_list_every_layer_type_and_key():
    from helpers import ROOT

    doc = (ROOT / "docs" / "spec.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in doc.splitlines() if line.startswith("| `")}
    for name, t in LAYER_TYPES.items():
        row = next((r for names, r in rows.items() if f"`{name}`" in names), None)
        assert row is not None, name
        for key in t.keys:
            if name.startswith("conv_transpose") and key != "fan_convention":
                continue  # "as conv"
            assert key in row.split("|")[2], (name, key)
