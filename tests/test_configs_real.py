"""Hub configs of real models (as published, minus Phi-3-mini's `auto_map`) give the
parameter counts Transformers gives them: the sum of what save_pretrained writes (tied
tensors once), counted from Transformers' model classes built on the meta device."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from initgen.configs import load_config_spec
from initgen.plan import build_plan

REAL = json.loads("""
{"bert-base-uncased": {"params": 109514298, "config": {"architectures": ["BertForMaskedLM"],
"attention_probs_dropout_prob": 0.1, "gradient_checkpointing": false, "hidden_act": "gelu",
"hidden_dropout_prob": 0.1, "hidden_size": 768, "initializer_range": 0.02,
"intermediate_size": 3072, "layer_norm_eps": 1e-12, "max_position_embeddings": 512,
"model_type": "bert", "num_attention_heads": 12, "num_hidden_layers": 12, "pad_token_id": 0,
"position_embedding_type": "absolute", "transformers_version": "4.6.0.dev0",
"type_vocab_size": 2, "use_cache": true, "vocab_size": 30522}}, "gemma-2-2b": {"params":
2614341888, "config": {"architectures": ["Gemma2ForCausalLM"], "attention_bias": false,
"attention_dropout": 0.0, "attn_logit_softcapping": 50.0, "bos_token_id": 2,
"cache_implementation": "hybrid", "eos_token_id": 1, "final_logit_softcapping": 30.0,
"head_dim": 256, "hidden_act": "gelu_pytorch_tanh", "hidden_activation":
"gelu_pytorch_tanh", "hidden_size": 2304, "initializer_range": 0.02, "intermediate_size":
9216, "max_position_embeddings": 8192, "model_type": "gemma2", "num_attention_heads": 8,
"num_hidden_layers": 26, "num_key_value_heads": 4, "pad_token_id": 0,
"query_pre_attn_scalar": 256, "rms_norm_eps": 1e-06, "rope_theta": 10000.0,
"sliding_window": 4096, "torch_dtype": "float32", "transformers_version": "4.42.4",
"use_cache": true, "vocab_size": 256000}}, "gpt2": {"params": 124439808, "config":
{"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
"bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
"layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024, "n_embd": 768, "n_head":
12, "n_layer": 12, "n_positions": 1024, "resid_pdrop": 0.1, "summary_activation": null,
"summary_first_dropout": 0.1, "summary_proj_to_labels": true, "summary_type": "cls_index",
"summary_use_proj": true, "task_specific_params": {"text-generation": {"do_sample": true,
"max_length": 50}}, "vocab_size": 50257}}, "mistral-7b": {"params": 7241732096, "config":
{"architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2,
"hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size":
14336, "max_position_embeddings": 32768, "model_type": "mistral", "num_attention_heads": 32,
"num_hidden_layers": 32, "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_theta":
10000.0, "sliding_window": 4096, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
"transformers_version": "4.34.0.dev0", "use_cache": true, "vocab_size": 32000}},
"mixtral-8x7b": {"params": 46702792704, "config": {"architectures": ["MixtralForCausalLM"],
"attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
"hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
"max_position_embeddings": 32768, "model_type": "mixtral", "num_attention_heads": 32,
"num_experts_per_tok": 2, "num_hidden_layers": 32, "num_key_value_heads": 8,
"num_local_experts": 8, "output_router_logits": false, "rms_norm_eps": 1e-05, "rope_theta":
1000000.0, "router_aux_loss_coef": 0.02, "sliding_window": null, "tie_word_embeddings":
false, "torch_dtype": "bfloat16", "transformers_version": "4.36.0.dev0", "use_cache": true,
"vocab_size": 32000}}, "phi-3-mini-4k": {"params": 3821079552, "config": {"_name_or_path":
"Phi-3-mini-4k-instruct", "architectures": ["Phi3ForCausalLM"], "attention_dropout": 0.0,
"bos_token_id": 1, "embd_pdrop": 0.0, "eos_token_id": 32000, "hidden_act": "silu",
"hidden_size": 3072, "initializer_range": 0.02, "intermediate_size": 8192,
"max_position_embeddings": 4096, "model_type": "phi3", "num_attention_heads": 32,
"num_hidden_layers": 32, "num_key_value_heads": 32, "original_max_position_embeddings":
4096, "pad_token_id": 32000, "resid_pdrop": 0.0, "rms_norm_eps": 1e-05, "rope_scaling":
null, "rope_theta": 10000.0, "sliding_window": 2047, "tie_word_embeddings": false,
"torch_dtype": "bfloat16", "transformers_version": "4.40.2", "use_cache": true,
"attention_bias": false, "vocab_size": 32064}}, "pythia-160m": {"params": 162322944,
"config": {"architectures": ["GPTNeoXForCausalLM"], "bos_token_id": 0, "eos_token_id": 0,
"hidden_act": "gelu", "hidden_size": 768, "initializer_range": 0.02, "intermediate_size":
3072, "layer_norm_eps": 1e-05, "max_position_embeddings": 2048, "model_type": "gpt_neox",
"num_attention_heads": 12, "num_hidden_layers": 12, "rotary_emb_base": 10000, "rotary_pct":
0.25, "tie_word_embeddings": false, "torch_dtype": "float16", "transformers_version":
"4.24.0", "use_cache": true, "use_parallel_residual": true, "vocab_size": 50304}},
"qwen2.5-7b": {"params": 7615616512, "config": {"architectures": ["Qwen2ForCausalLM"],
"attention_dropout": 0.0, "bos_token_id": 151643, "eos_token_id": 151645, "hidden_act":
"silu", "hidden_size": 3584, "initializer_range": 0.02, "intermediate_size": 18944,
"max_position_embeddings": 32768, "max_window_layers": 28, "model_type": "qwen2",
"num_attention_heads": 28, "num_hidden_layers": 28, "num_key_value_heads": 4,
"rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 131072,
"tie_word_embeddings": false, "torch_dtype": "bfloat16", "transformers_version": "4.43.1",
"use_cache": true, "use_sliding_window": false, "vocab_size": 152064}}, "qwen3-30b-a3b":
{"params": 30532122624, "config": {"architectures": ["Qwen3MoeForCausalLM"],
"attention_bias": false, "attention_dropout": 0.0, "bos_token_id": 151643,
"decoder_sparse_step": 1, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu",
"hidden_size": 2048, "initializer_range": 0.02, "intermediate_size": 6144,
"max_position_embeddings": 40960, "max_window_layers": 48, "mlp_only_layers": [],
"model_type": "qwen3_moe", "moe_intermediate_size": 768, "norm_topk_prob": true,
"num_attention_heads": 32, "num_experts": 128, "num_experts_per_tok": 8,
"num_hidden_layers": 48, "num_key_value_heads": 4, "output_router_logits": false,
"rms_norm_eps": 1e-06, "rope_scaling": null, "rope_theta": 1000000.0,
"router_aux_loss_coef": 0.001, "sliding_window": null, "tie_word_embeddings": false,
"torch_dtype": "bfloat16", "transformers_version": "4.51.0", "use_cache": true,
"use_sliding_window": false, "vocab_size": 151936}}, "qwen3-8b": {"params": 8190735360,
"config": {"architectures": ["Qwen3ForCausalLM"], "attention_bias": false,
"attention_dropout": 0.0, "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128,
"hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size":
12288, "max_position_embeddings": 40960, "max_window_layers": 36, "model_type": "qwen3",
"num_attention_heads": 32, "num_hidden_layers": 36, "num_key_value_heads": 8,
"rms_norm_eps": 1e-06, "rope_scaling": null, "rope_theta": 1000000, "sliding_window": null,
"tie_word_embeddings": false, "torch_dtype": "bfloat16", "transformers_version": "4.51.0",
"use_cache": true, "use_sliding_window": false, "vocab_size": 151936}}}
""")


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_config_params(name: str, tmp_path: Path) -> None:
    config = REAL[name]["config"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    plan = build_plan(load_config_spec(tmp_path))
    assert plan.params == REAL[name]["params"]
    assert {t.dtype for t in plan.tensors} == {config.get("torch_dtype") or "float32"}


def test_tied_and_untied_counts_differ_by_the_head(tmp_path: Path) -> None:
    config = {**REAL["qwen2.5-7b"]["config"], "tie_word_embeddings": True}
    (tmp_path / "config.json").write_text(json.dumps(config))
    plan = build_plan(load_config_spec(tmp_path))
    assert plan.params == REAL["qwen2.5-7b"]["params"] - 152064 * 3584
    assert "lm_head.weight" not in {t.name for t in plan.tensors}
