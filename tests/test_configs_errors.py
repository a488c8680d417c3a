"""Configs initgen cannot honour are refused with a SpecError that names the file and
the key, lists what is supported and suggests writing a spec instead."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from helpers import SMALL_LLAMA_CONFIG as SMALL
from initgen.configs import (
    config_spec_text,
    is_config_source,
    load_config_spec,
    read_config,
)
from initgen.configs.convert import WRITE_A_SPEC, supported
from initgen.errors import SpecError
from initgen.plan import build_plan


def _error(tmp_path: Path, config: Any) -> tuple[str, SpecError]:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    with pytest.raises(SpecError) as info:
        load_config_spec(path)
    assert info.value.exit_code == 2
    return str(path), info.value


def test_supported_lists_every_family_and_head() -> None:
    text = supported()
    for part in (
        "llama (LlamaForCausalLM, LlamaModel)",
        "bert (BertForMaskedLM, BertModel)",
        "gpt2 (GPT2LMHeadModel, GPT2Model)",
        "mixtral (MixtralForCausalLM",
        "qwen3_moe (Qwen3MoeForCausalLM",
    ):
        assert part in text


def test_unsupported_model_type(tmp_path: Path) -> None:
    path, e = _error(tmp_path, {"model_type": "t5"})
    assert str(e) == (
        f'{path}: model_type: "t5" is not a supported model_type; supported: {supported()}; {WRITE_A_SPEC}'
    )
    assert e.key == "model_type" and e.file == path


def test_near_miss_model_type_is_suggested(tmp_path: Path) -> None:
    _, e = _error(tmp_path, {"model_type": "lama"})
    assert str(e).endswith(f"did you mean 'llama'?; or {WRITE_A_SPEC}")


def test_missing_model_type(tmp_path: Path) -> None:
    path, e = _error(tmp_path, {"hidden_size": 8})
    assert str(e) == (
        f"{path}: model_type: the config has no model_type, so its family is "
        f"unknown; supported: {supported()}; {WRITE_A_SPEC}"
    )


def test_unsupported_head(tmp_path: Path) -> None:
    path, e = _error(tmp_path, {**SMALL, "architectures": ["LlamaForSequenceClassification"]})
    assert str(e) == (
        f'{path}: architectures: "LlamaForSequenceClassification" is not a '
        "supported head of model_type llama (its heads: LlamaForCausalLM or "
        f"LlamaModel); supported: {supported()}; {WRITE_A_SPEC}"
    )


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        (
            "quantization_config",
            {"quant_method": "gptq", "bits": 4},
            "a quantized checkpoint stores packed weights and scales",
        ),
        (
            "auto_map",
            {"AutoModelForCausalLM": "modeling_x.XForCausalLM"},
            "the model is defined by custom code in its repository",
        ),
        ("add_cross_attention", True, "cross-attention adds tensors to every layer"),
    ],
)
def test_refused_key(tmp_path: Path, key: str, value: Any, why: str) -> None:
    path, e = _error(tmp_path, {**SMALL, key: value})
    assert str(e) == (
        f"{path}: {key}: {why}, which the llama template does not model; "
        f"supported: {supported()}; {WRITE_A_SPEC}"
    )


@pytest.mark.parametrize(
    ("config", "key", "value", "models"),
    [
        ({"model_type": "qwen3_moe"}, "decoder_sparse_step", 2, "1"),
        ({"model_type": "qwen3_moe"}, "mlp_only_layers", [0, 2], "[] or null"),
        ({"model_type": "bert"}, "position_embedding_type", "relative_key", '"absolute" or null'),
    ],
)
def test_value_outside_the_template(
    tmp_path: Path, config: dict[str, Any], key: str, value: Any, models: str
) -> None:
    path, e = _error(tmp_path, {**config, key: value})
    family = config["model_type"]
    assert str(e) == (
        f"{path}: {key}: {json.dumps(value)} changes the tensors in a way the "
        f"{family} template does not model (it models {models}); "
        f"supported: {supported()}; {WRITE_A_SPEC}"
    )


def test_harmless_values_of_refused_keys_pass(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                **SMALL,
                "add_cross_attention": False,
                "pruned_heads": {},
                "quantization_config": None,
                "rope_scaling": {"factor": 8.0},
                "sliding_window": 4096,
                "use_cache": False,
                "pad_token_id": 0,
                "max_length": 20,
                "pretraining_tp": 2,
            }
        )
    )
    assert load_config_spec(path).name == tmp_path.name


@pytest.mark.parametrize(
    ("config", "typo", "meant"),
    [
        (SMALL, "num_hiden_layers", "num_hidden_layers"),
        (SMALL, "hidden_sizes", "hidden_size"),
        (SMALL, "tie_word_embedding", "tie_word_embeddings"),
        ({"model_type": "gpt2"}, "n_layers", "n_layer"),
    ],
)
def test_typo_key(tmp_path: Path, config: dict[str, Any], typo: str, meant: str) -> None:
    path, e = _error(tmp_path, {**config, typo: 2})
    family = config["model_type"]
    cls = "LlamaConfig" if family == "llama" else "GPT2Config"
    assert str(e) == (
        f"{path}: {typo}: unknown key '{typo}' for model_type '{family}' "
        f"({cls}), too close to '{meant}', which sets the tensors, to be taken "
        f"as an unrelated key; did you mean '{meant}'?"
    )


def test_other_unknown_keys_are_listed_and_change_nothing(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(SMALL))
    plain = config_spec_text(*read_config(path))
    path.write_text(json.dumps({**SMALL, "use_mrope": False, "sliding_window_size": 4096}))
    text = config_spec_text(*read_config(path))
    note = (
        "# Keys LlamaConfig does not define (the model does not read them): use_mrope,\n"
        "#   sliding_window_size.\n"
    )
    assert note in text and text.replace(note, "") == plain


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("hidden_size", -3, "expected a positive whole number, got -3"),
        ("num_hidden_layers", 2.5, "expected a positive whole number, got 2.5"),
        ("vocab_size", "big", 'expected a positive whole number, got "big"'),
        ("initializer_range", -0.1, "expected a number ≥ 0, got -0.1"),
        ("tie_word_embeddings", "yes", 'expected true or false, got "yes"'),
        (
            "torch_dtype",
            "int8",
            (
                '"int8" is not a dtype initgen writes; one of bfloat16, float16, '
                "float32, float64, float8_e4m3fn or float8_e5m2"
            ),
        ),
    ],
)
def test_bad_value(tmp_path: Path, key: str, value: Any, message: str) -> None:
    path, e = _error(tmp_path, {**SMALL, key: value})
    assert str(e) == f"{path}: {key}: {message}"


def test_bad_json_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{\n  "model_type": "llama",\n  "hidden_size": ,\n}\n')
    with pytest.raises(SpecError) as info:
        read_config(path)
    assert str(info.value) == f"{path}:3: not valid JSON: Expecting value (column 18)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "a config.json holds a JSON object, got list"),
        ("", "not valid JSON: Expecting value (column 1)"),
    ],
)
def test_not_an_object(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        read_config(path)
    assert str(info.value).startswith(f"{path}") and str(info.value).endswith(message)


def test_missing_file_and_directory_without_config(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        read_config(tmp_path / "nope.json")
    assert str(info.value) == f"{tmp_path / 'nope.json'}: no such file"
    with pytest.raises(SpecError) as info:
        read_config(tmp_path)
    assert str(info.value) == f"{tmp_path}: no config.json in this directory"


def test_directory_source(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(SMALL))
    config, source = read_config(tmp_path)
    assert config == SMALL and source == str(tmp_path / "config.json")
    assert is_config_source(tmp_path) and is_config_source(tmp_path / "x.json")
    assert not is_config_source(tmp_path / "spec.yaml")
    assert not is_config_source(tmp_path / "sub")


def test_unknown_set_var_is_the_spec_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(SMALL))
    with pytest.raises(SpecError, match=r"the spec has no var 'n_layers'.*did you mean 'n_layer'"):
        load_config_spec(tmp_path, {"n_layers": 2})


def test_config_spec_text_checks_the_object() -> None:
    with pytest.raises(SpecError, match=r"^c.json: a config holds a JSON object, got list$"):
        config_spec_text([1], "c.json")  # type: ignore[arg-type]


def test_sizes_that_do_not_fit_are_located_in_the_spec(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps({**SMALL, "num_attention_heads": 3, "num_key_value_heads": 2, "hidden_size": 96})
    )
    text = config_spec_text(*read_config(path))
    line = 1 + next(i for i, x in enumerate(text.splitlines()) if 'kv_heads: "${' in x)
    with pytest.raises(SpecError) as info:
        build_plan(load_config_spec(path))
    assert str(info.value) == (
        f"spec of {path}:{line}: layers[0].layers[1].layers[1].kv_heads: kv_heads=2 must divide heads=3"
    )
