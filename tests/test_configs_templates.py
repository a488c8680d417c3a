"""The family templates: each parses, renders and plans with every combination of its
switches, and is listed in docs/from-config.md; `import initgen.configs` stays cheap."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT
from initgen.configs import config_spec_text, load_config_spec
from initgen.configs.family import families
from initgen.configs.render import apply_flags, holds
from initgen.plan import build_plan
from initgen.spec import load_spec

FAMILIES = sorted(families())


@pytest.mark.parametrize("model_type", FAMILIES)
def test_every_switch_combination_plans(model_type: str, tmp_path: Path) -> None:
    fam = families()[model_type]
    keys = [f.key for f in fam.flags]
    options = [[False, True] if f.values is None else [None, *f.values] for f in fam.flags]
    for head in fam.heads:
        for values in itertools.product(*options):
            config = {
                "model_type": model_type,
                "architectures": [head],
                **dict(zip(keys, values, strict=True)),
            }
            text = config_spec_text(config, "config.json")
            spec = load_spec("config.json", {"n_layer": 1}, text=text)
            names = [t.name for t in build_plan(spec).tensors]
            assert len(names) == len(set(names)) > 3


@pytest.mark.parametrize("model_type", FAMILIES)
def test_defaults_are_the_config_class_defaults(model_type: str, tmp_path: Path) -> None:
    """A config with only model_type gives the default head, the class's sizes."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": model_type}))
    spec = load_config_spec(path, {"n_layer": 1})
    fam = families()[model_type]
    prefix = fam.default_head.prefix
    assert all(layer.name.startswith(prefix) for layer in spec.layers[:2])
    assert spec.dtype == "float32"


def test_docs_list_every_family() -> None:
    doc = (ROOT / "docs" / "from-config.md").read_text()
    for model_type, fam in families().items():
        row = next((line for line in doc.splitlines() if line.startswith(f"| `{model_type}` |")), None)
        assert row is not None, f"docs/from-config.md has no row for {model_type}"
        assert ", ".join(fam.heads) in row


def test_when_conditions() -> None:
    flags = {"tie": True, "bias": False}
    assert holds("tie", flags) and holds("not bias", flags) and not holds(["tie", "bias"], flags)
    with pytest.raises(ValueError, match="names no flag"):
        holds("tied", flags)
    layers = [{"name": "a", "when": "not tie"}, {"name": "b", "bias": {"flag": "bias"}}]
    assert apply_flags(layers, flags) == [{"name": "b", "bias": False}]


def test_import_is_cheap() -> None:
    code = (
        "import sys, initgen.configs; heavy = {'numpy', 'yaml', 'safetensors', 'h5py'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.strip()
    assert out == "[]"


def test_modules_are_small() -> None:
    for path in (ROOT / "initgen" / "configs").glob("*.py"):
        assert len(path.read_text().splitlines()) < 300, path.name
