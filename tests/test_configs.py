"""Transformers config.json → spec: every recorded case gives exactly the tensors
save_pretrained writes (names, shapes, dtypes), with the family's init; real configs
give their published parameter counts; from-config text and the direct path agree
to the byte.

The records (tests/data/reference/configs/<case>.json) and the real configs
(tests/data/configs/<name>/config.json, param_counts.json) come from real Transformers,
written by scripts/record_configs.py (`make interop`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from helpers import ROOT, SMALL_LLAMA_CONFIG
from initgen.configs import config_spec_text, load_config_spec, read_config
from initgen.configs.family import families
from initgen.dtypes import DTYPES
from initgen.plan import Plan, build_plan
from initgen.spec import load_spec

RECORDS = ROOT / "tests" / "data" / "reference" / "configs"
REAL = ROOT / "tests" / "data" / "configs"
CASES = sorted(p.stem for p in RECORDS.glob("*.json"))
REAL_NAMES = sorted(p.parent.name for p in REAL.glob("*/config.json"))
STD_TOLERANCE = 0.20  # planned std vs the recorded std, tensors of ≥ MIN_STD_NUMEL values
MIN_STD_NUMEL = 2048

LLAMA_31_8B: dict[str, Any] = {
    "architectures": ["LlamaForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 128000,
    "eos_token_id": 128001,
    "hidden_act": "silu",
    "hidden_size": 4096,
    "initializer_range": 0.02,
    "intermediate_size": 14336,
    "max_position_embeddings": 131072,
    "mlp_bias": False,
    "model_type": "llama",
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 8,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": {
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 8192,
        "rope_type": "llama3",
    },
    "rope_theta": 500000.0,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.43.0.dev0",
    "use_cache": True,
    "vocab_size": 128256,
}


def _record(case: str) -> dict[str, Any]:
    return json.loads((RECORDS / f"{case}.json").read_text())


def write_config(tmp_path: Path, config: dict[str, Any], name: str = "model") -> Path:
    """``config`` as ``tmp_path/name/config.json``."""
    d = tmp_path / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "config.json").write_text(json.dumps(config, indent=2))
    return d / "config.json"


def _record_config(rec: dict[str, Any]) -> dict[str, Any]:
    config = dict(rec["config"])
    if not config.get("architectures") and rec.get("architecture"):
        config["architectures"] = [rec["architecture"]]
    return config


def _plan_json(plan: Plan) -> list[dict[str, Any]]:
    return [t.to_json() for t in plan.tensors]


@pytest.mark.parametrize("case", CASES)
def test_record_names_shapes_dtypes(case: str, tmp_path: Path) -> None:
    rec = _record(case)
    plan = build_plan(load_config_spec(write_config(tmp_path, _record_config(rec))))
    ours = sorted((t.name, list(t.shape), DTYPES[t.dtype].st_code) for t in plan.tensors)
    theirs = sorted((t["name"], list(t["shape"]), t["dtype"]) for t in rec["tensors"])
    missing = sorted({n for n, _, _ in theirs} - {n for n, _, _ in ours})
    extra = sorted({n for n, _, _ in ours} - {n for n, _, _ in theirs})
    assert not missing and not extra, f"missing {missing[:8]}, extra {extra[:8]}"
    assert ours == theirs


@pytest.mark.parametrize("case", CASES)
def test_record_init(case: str, tmp_path: Path) -> None:
    rec = _record(case)
    plan = build_plan(load_config_spec(write_config(tmp_path, _record_config(rec))))
    by_name = {t.name: t for t in plan.tensors}
    for ref in rec["tensors"]:
        t = by_name[ref["name"]]
        if ref.get("const") is not None:
            assert t.dist.kind == "constant", f"{t.name}: {t.dist.kind}, recorded {ref['const']}"
            assert t.dist.mean == pytest.approx(ref["const"]), t.name
            continue
        assert t.dist.kind != "constant", f"{t.name}: constant {t.dist.mean}, recorded varied"
        zero_rows = [t.dist.params["zero_row"]] if "zero_row" in t.dist.params else []
        assert zero_rows == (ref.get("zero_rows") or []), t.name  # the padding row, exactly
        if ref["numel"] >= MIN_STD_NUMEL and ref.get("std"):
            assert t.dist.std == pytest.approx(ref["std"], rel=STD_TOLERANCE), t.name
            assert abs(t.dist.mean - ref["mean"]) < 0.2 * ref["std"] + 1e-3, t.name


def test_every_family_has_a_record() -> None:
    recorded = {_record(c)["model_type"] for c in CASES}
    assert sorted(set(families()) - recorded) == []


@pytest.mark.parametrize("name", REAL_NAMES)
def test_real_config_params(name: str) -> None:
    expected = json.loads((REAL / "param_counts.json").read_text())[name]["params"]
    assert build_plan(load_config_spec(REAL / name)).params == expected


def test_llama_31_8b_plans_fast(tmp_path: Path) -> None:
    path = write_config(tmp_path, LLAMA_31_8B, "llama-3.1-8b")
    start = time.perf_counter()
    plan = build_plan(load_config_spec(path))
    assert time.perf_counter() - start < 5
    assert plan.params == 8_030_261_248
    assert {t.dtype for t in plan.tensors} == {"bfloat16"}
    assert len(plan.tensors) == 291


@pytest.mark.parametrize("case", CASES)
def test_from_config_text_gives_the_same_plan(case: str, tmp_path: Path) -> None:
    path = write_config(tmp_path, _record_config(_record(case)))
    config, source = read_config(path)
    text = config_spec_text(config, source)
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(text)
    direct = build_plan(load_config_spec(path))
    via_text = build_plan(load_spec(spec_file))
    assert _plan_json(via_text) == _plan_json(direct)
    assert (via_text.name, via_text.seed) == (direct.name, direct.seed)


def test_from_config_and_direct_make_identical_files(tmp_path: Path) -> None:
    from initgen.writers import write

    config = {
        **LLAMA_31_8B,
        "hidden_size": 64,
        "intermediate_size": 96,
        "vocab_size": 256,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "num_hidden_layers": 2,
    }
    path = write_config(tmp_path, config, "tiny")
    config_read, source = read_config(path)
    spec_file = tmp_path / "tiny.yaml"
    spec_file.write_text(config_spec_text(config_read, source))
    a, b = tmp_path / "direct.safetensors", tmp_path / "spec.safetensors"
    write(build_plan(load_config_spec(path)), a)
    write(build_plan(load_spec(spec_file)), b)
    assert a.read_bytes() == b.read_bytes()
    assert len(a.read_bytes()) > 100_000


def test_spec_text_is_readable(tmp_path: Path) -> None:
    path = write_config(tmp_path, LLAMA_31_8B, "llama-3.1-8b")
    config, source = read_config(path)
    text = config_spec_text(config, source)
    assert text.startswith(
        "# LlamaForCausalLM (model_type llama, LlamaConfig), made by\n"
        f"# `initgen from-config` from {source}.\n"
    )
    assert "\nname: llama-3.1-8b\n" in text
    assert "dtype: bfloat16  # the config's torch_dtype" in text
    assert "  n_layer: 32" in text and "# num_hidden_layers" in text
    assert "  vocab: 128256" in text and '  head_dim: "${dim // heads}"' in text


def test_set_shrinks_and_dtype_override(tmp_path: Path) -> None:
    path = write_config(tmp_path, LLAMA_31_8B)
    spec = load_config_spec(
        path, {"n_layer": 1, "dim": 64, "heads": 4, "kv_heads": 2, "vocab": 128, "ffn": 96}, dtype="float16"
    )
    plan = build_plan(spec)
    assert len(plan.tensors) == 12
    assert {t.dtype for t in plan.tensors} == {"float16"}
    q = next(t for t in plan.tensors if t.name.endswith("q_proj.weight"))
    assert q.shape == (64, 64)  # head_dim follows dim // heads


@pytest.mark.parametrize(
    ("keys", "dtype"),
    [
        ({}, "float32"),
        ({"torch_dtype": "float16"}, "float16"),
        ({"dtype": "bfloat16", "torch_dtype": "float16"}, "bfloat16"),
        ({"dtype": None}, "float32"),
    ],
)
def test_dtype_from_config(keys: dict[str, Any], dtype: str, tmp_path: Path) -> None:
    config = {**SMALL_LLAMA_CONFIG, **keys}
    plan = build_plan(load_config_spec(write_config(tmp_path, config)))
    assert {t.dtype for t in plan.tensors} == {dtype}


@pytest.mark.parametrize(
    ("switch", "present"),
    [
        ({"tie_word_embeddings": True}, {"lm_head.weight": False}),
        ({"tie_word_embeddings": False}, {"lm_head.weight": True}),
        ({"attention_bias": True}, {"model.layers.0.self_attn.o_proj.bias": True}),
        ({"mlp_bias": True}, {"model.layers.0.mlp.down_proj.bias": True}),
        ({"architectures": ["LlamaModel"]}, {"lm_head.weight": False, "embed_tokens.weight": True}),
    ],
)
def test_structural_switches(switch: dict[str, Any], present: dict[str, bool], tmp_path: Path) -> None:
    config = {**SMALL_LLAMA_CONFIG, **switch}
    names = {t.name for t in build_plan(load_config_spec(write_config(tmp_path, config))).tensors}
    assert {n: n in names for n in present} == present
