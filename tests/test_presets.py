"""Framework presets (`defaults:`) against what the frameworks themselves draw.

tests/data/reference/presets/<preset>.json records, for a model with a layer of every
type (scripts/preset_models.py), how torch, Transformers, Keras 3 and Flax initialise
each tensor: its kind and std (scripts/record_presets.py, run by `make interop`). Here
initgen's plan of the same spec with `defaults: <preset>` must match: the same kind
and a std within 15% for tensors of at least 2048 values, the same values for
constant and piecewise-constant tensors (a forget-gate bias), and for small random
tensors a std within 4/√n and the same bound.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from helpers import ROOT
from initgen import build_plan, load_spec
from initgen.plan.keras import keras_plan
from initgen.schemes.presets import PRESETS

REFERENCE = ROOT / "tests" / "data" / "reference" / "presets"
BIG = 2048


def record(preset: str) -> dict:
    return json.loads((REFERENCE / f"{preset}.json").read_text())


def preset_plan(preset: str) -> dict:
    rec = record(preset)
    spec = load_spec("presets.yaml", text=rec["spec"], defaults=preset)
    plan = build_plan(spec)
    if preset == "keras":  # recorded by the paths of Keras' own save_weights file
        plan = keras_plan(plan)[0]
    return {t.name: t for t in plan.tensors}


def values(dist, n: int) -> np.ndarray:
    if dist.kind == "constant":
        return np.full(n, dist.params["value"])
    assert dist.kind == "constant_slice", dist.kind
    out = np.full(n, dist.params["value"])
    out[int(dist.params["start"]) : int(dist.params["stop"])] = dist.params["inside"]
    return out


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_has_a_record(preset):
    rec = record(preset)
    assert rec["preset"] == preset and rec["versions"] and rec["tensors"]


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_preset_matches_the_framework(preset):
    plans, rec = preset_plan(preset), record(preset)["tensors"]
    missing = sorted(set(rec) - set(plans))
    assert not missing, f"{preset}: the framework has tensors initgen does not make: {missing}"
    for name in sorted(set(plans) - set(rec)):  # torch's num_batches_tracked under Flax
        assert plans[name].dist.kind == "constant", f"{preset}: {name} is not in the record"
    for name, r in rec.items():
        t, what = plans[name], f"{preset}: {name}"
        assert t.numel == r["numel"], what
        if r["kind"] in ("constant", "piecewise"):
            want = [r["value"]] * r["numel"] if r["kind"] == "constant" else r["values"]
            np.testing.assert_array_equal(values(t.dist, t.numel), want, err_msg=what)
            continue
        assert t.dist.kind not in ("constant", "constant_slice"), what
        ratio = t.dist.std / r["std"]
        if r["numel"] >= BIG:
            assert t.dist.kind == r["kind"], f"{what}: {t.dist.kind} vs the framework's {r['kind']}"
            assert abs(ratio - 1) <= 0.15, f"{what}: std {t.dist.std:.4g} vs {r['std']:.4g}"
            if r["kind"] == "orthogonal":
                assert t.dist.params.get("blocks", 1) == r["blocks"], what
        else:
            assert abs(ratio - 1) <= max(0.15, 4 / math.sqrt(r["numel"])), what
        if t.dist.kind == "uniform":
            assert r["absmax"] <= t.dist.params["high"] * (1 + 1e-6), f"{what}: outside U(±high)"
            assert r["absmax"] >= 0.5 * t.dist.params["high"], what


def test_presets_ignore_the_activation_unless_rules_are_given():
    text = (
        "initgen: 1\ndefaults: keras\nlayers: [{name: fc, type: dense, in: 64, out: 8, activation: relu}]\n"
    )
    t = build_plan(load_spec("s.yaml", text=text)).tensors[0]
    assert (t.scheme, t.source) == ("glorot_uniform", "preset")
    ruled = text.replace("defaults: keras\n", "defaults: keras\nrules: {relu: he_normal}\n")
    t = build_plan(load_spec("s.yaml", text=ruled)).tensors[0]
    assert (t.scheme, t.source) == ("he_normal", "rule")


def test_sources_shown_by_plan():
    text = (
        "initgen: 1\nlayers:\n"
        "  - {name: a, type: dense, in: 4, out: 4, init: he_normal}\n"
        "  - {name: b, type: dense, in: 4, out: 4, activation: relu}\n"
        "  - {name: c, type: dense, in: 4, out: 4}\n"
    )
    plan = build_plan(load_spec("s.yaml", text=text))
    assert [t.source for t in plan.tensors] == [
        "explicit",
        "type default",
        "rule",
        "type default",
        "type default",
        "type default",
    ]
    cli = build_plan(load_spec("s.yaml", text=text, defaults="flax"))
    assert [t.source for t in cli.tensors][2:] == ["preset"] * 4


def test_without_defaults_plans_are_unchanged():
    """A spec without `defaults:` resolves exactly as before presets existed."""
    text = (
        "initgen: 1\nlayers:\n"
        "  - {name: l, type: lstm, in: 8, hidden: 8}\n"
        "  - {name: e, type: embedding, num: 10, dim: 4}\n"
    )
    schemes = [t.scheme for t in build_plan(load_spec("s.yaml", text=text)).tensors]
    assert schemes == ["glorot_uniform", "orthogonal", "zeros", "zeros", "normal"]


def test_preset_keys_yield_to_the_spec():
    text = "initgen: 1\ndefaults: keras\nlayers: [{name: l, type: lstm, in: 8, hidden: 8, per_gate: true}]\n"
    layer = load_spec("s.yaml", text=text).layers[0]
    assert layer.args["per_gate"] is True and layer.args["unit_forget_bias"] is True
    assert layer.preset_keys == ("unit_forget_bias",)


def test_schema_and_cli_offer_the_presets(tmp_path):
    from click.testing import CliRunner

    from initgen.cli import main
    from initgen.spec.schema import json_schema

    assert json_schema()["properties"]["defaults"]["enum"] == list(PRESETS)
    spec = tmp_path / "s.yaml"
    spec.write_text("initgen: 1\nlayers: [{name: fc, type: dense, in: 4, out: 2}]\n")
    r = CliRunner().invoke(main, ["plan", str(spec), "--defaults", "torch", "--format", "json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)["tensors"]
    assert [(t["scheme"], t["from"]) for t in rows] == [("torch_default", "preset")] * 2


def test_docs_table_has_every_preset():
    doc = (ROOT / "docs" / "spec.md").read_text()
    header = next(line for line in doc.splitlines() if line.startswith("| type · tensor"))
    assert [c.strip() for c in header.strip("|").split("|")][1:] == sorted(PRESETS, key=list(PRESETS).index)
