"""Every spec in specs/ is validated, planned and made, and its tensors match the
reference list recorded from the real framework (tests/data/reference, written by
scripts/record_reference.py; `make interop` loads the files into the frameworks)."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import pytest

from helpers import ROOT, SPECS
from initgen.plan import build_plan
from initgen.spec import load_spec, parse_overrides

REFERENCE = ROOT / "tests" / "data" / "reference"
SHIPPED = sorted(p.stem for p in SPECS.glob("*.yaml"))
# Beyond the reference's small_sets (sizes the framework can build too): torchvision's
# resnet18 has a fixed width, but the names do not depend on it.
EXTRA_SETS = {"resnet18": ["width=8"]}


def _small_sets(name: str) -> list[str]:
    return [*_reference(name)["small_sets"], *EXTRA_SETS.get(name, [])]


def _reference(name: str) -> dict:
    return json.loads((REFERENCE / f"{name}.json").read_text())


def _header(path: Path) -> dict:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    header.pop("__metadata__")
    return header


def test_every_shipped_spec_has_a_reference():
    assert SHIPPED, "no specs found"
    assert sorted(p.stem for p in REFERENCE.glob("*.json")) == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_spec_has_a_comment_header(name):
    first = (SPECS / f"{name}.yaml").read_text().splitlines()[0]
    assert first.startswith("# ") and len(first) > 20


@pytest.mark.parametrize("name", SHIPPED)
def test_full_size_plan_matches_the_framework(name):
    ref = _reference(name)
    plan = build_plan(load_spec(SPECS / f"{name}.yaml"))
    ours = [(t.name, list(t.shape), t.dtype) for t in plan.tensors]
    theirs = [(t["name"], t["shape"], t["dtype"]) for t in ref["tensors"]]
    assert sorted(ours) == sorted(theirs)
    # tied aliases share one tensor: the file holds the tensor they alias
    for alias, target in ref["tied"].items():
        assert alias not in {t.name for t in plan.tensors} and target in {t.name for t in plan.tensors}


@pytest.mark.parametrize("name", SHIPPED)
def test_validate_plan_and_make_at_reduced_size(name, cli, tmp_path):
    spec = SPECS / f"{name}.yaml"
    sets = [a for s in _small_sets(name) for a in ("--set", s)]
    result = cli("validate", spec)
    assert result.exit_code == 0 and result.output.startswith(f"{spec}: ok: ")
    result = cli("plan", spec, *sets, "--format", "json")
    assert result.exit_code == 0
    planned = {t["name"]: (t["shape"], t["dtype"]) for t in json.loads(result.output)["tensors"]}
    assert sum(math.prod(s) for s, _ in planned.values()) < 300_000  # keep makes tiny
    out = tmp_path / f"{name}.safetensors"
    result = cli("make", spec, *sets, "-o", out, "--quiet")
    assert result.exit_code == 0, result.output
    codes = {"float32": "F32", "int64": "I64"}
    made = {k: (v["shape"], v["dtype"]) for k, v in _header(out).items()}
    assert made == {k: (s, codes[d]) for k, (s, d) in planned.items()}
    # the reduced model has the framework's names (its layer count may be smaller)
    assert set(made) <= {t["name"] for t in _reference(name)["tensors"]}


@pytest.mark.parametrize("name", SHIPPED)
def test_large_specs_shrink_with_vars(name):
    """A spec over 10 M params must have vars that --set can shrink below 300 K."""
    full = build_plan(load_spec(SPECS / f"{name}.yaml"))
    small = build_plan(load_spec(SPECS / f"{name}.yaml", parse_overrides(_small_sets(name))))
    assert small.params < 300_000
    if full.params > 10_000_000:
        assert small.params < full.params / 30


def test_tinyllama_size_and_init():
    plan = build_plan(load_spec(SPECS / "llama.yaml"))
    assert plan.params == 1_100_048_384  # TinyLlama-1.1B
    assert plan.nbytes == 4 * 1_100_048_384  # float32: 4.40 GB
    by = {t.name: t for t in plan.tensors}
    assert by["model.layers.0.self_attn.k_proj.weight"].shape == (256, 2048)  # 4 kv heads × 64
    assert by["lm_head.weight"].dist.params == {"mean": 0.0, "std": 0.02}
    assert by["model.norm.weight"].dist.params == {"value": 1.0}


def test_gpt2_residual_projections_scaled():
    plan = build_plan(load_spec(SPECS / "gpt2.yaml"))
    by = {t.name: t for t in plan.tensors}
    resid = 0.02 / (2 * 12) ** 0.5
    for name in ("transformer.h.11.attn.c_proj.weight", "transformer.h.0.mlp.c_proj.weight"):
        assert by[name].dist.params["std"] == pytest.approx(resid, rel=1e-15)
    for name in (
        "transformer.h.3.attn.c_attn.weight",
        "transformer.h.3.mlp.c_fc.weight",
        "transformer.wte.weight",
        "transformer.wpe.weight",
    ):
        assert by[name].dist.params["std"] == 0.02
    assert by["transformer.h.0.attn.c_attn.weight"].shape == (768, 2304)  # Conv1D: [in, out]
    assert by["transformer.h.0.attn.c_proj.bias"].dist.params == {"value": 0.0}
    assert plan.params == 124_439_808


def test_resnet18_he_fan_out_and_classifier():
    by = {t.name: t for t in build_plan(load_spec(SPECS / "resnet18.yaml")).tensors}
    conv = by["layer3.0.conv1.weight"]  # [256, 128, 3, 3]
    assert conv.dist.params["std"] == pytest.approx(math.sqrt(2 / (256 * 9)), rel=1e-15)
    bound = 1 / math.sqrt(512)
    for name in ("fc.weight", "fc.bias"):
        assert by[name].dist.params == pytest.approx({"low": -bound, "high": bound}, rel=1e-15)
