"""Config keys every family accepts, and keys no template models.

``GENERIC`` are Transformers' ``PretrainedConfig`` keys (current and legacy), the
generation defaults configs still carry, and runtime-only keys (RoPE, attention
windows, dropout names shared across families): none of them changes a tensor's name,
shape or dtype. ``REFUSED`` maps keys that do change the checkpoint (or make it
depend on code initgen cannot see) to the values that are harmless and the reason.
"""

from __future__ import annotations

from typing import Any

PRETRAINED_CONFIG = (
    "_name_or_path",
    "name_or_path",
    "_commit_hash",
    "transformers_version",
    "architectures",
    "model_type",
    "dtype",
    "torch_dtype",
    "use_bfloat16",
    "return_dict",
    "use_return_dict",
    "output_hidden_states",
    "output_attentions",
    "torchscript",
    "tf_legacy_loss",
    "chunk_size_feed_forward",
    "is_decoder",
    "cross_attention_hidden_size",
    "finetuning_task",
    "id2label",
    "label2id",
    "num_labels",
    "problem_type",
    "tokenizer_class",
    "prefix",
    "task_specific_params",
    "bos_token_id",
    "eos_token_id",
    "pad_token_id",
    "sep_token_id",
    "decoder_start_token_id",
    "use_cache",
    "gradient_checkpointing",
    "attn_implementation",
    "_attn_implementation",
    "_attn_implementation_autoset",
    "_attn_implementation_internal",
    "experts_implementation",
    "_experts_implementation",
    "_experts_implementation_internal",
)

GENERATION = (
    "max_length",
    "min_length",
    "do_sample",
    "early_stopping",
    "num_beams",
    "num_beam_groups",
    "diversity_penalty",
    "temperature",
    "top_k",
    "top_p",
    "typical_p",
    "repetition_penalty",
    "length_penalty",
    "no_repeat_ngram_size",
    "encoder_no_repeat_ngram_size",
    "bad_words_ids",
    "num_return_sequences",
    "output_scores",
    "return_dict_in_generate",
    "forced_bos_token_id",
    "forced_eos_token_id",
    "remove_invalid_values",
    "exponential_decay_length_penalty",
    "suppress_tokens",
    "begin_suppress_tokens",
    "epsilon_cutoff",
    "eta_cutoff",
    "encoder_repetition_penalty",
    "num_assistant_tokens",
    "num_assistant_tokens_schedule",
    "assistant_confidence_threshold",
    "assistant_lookbehind",
    "target_lookbehind",
)

RUNTIME = (
    "rope_theta",
    "rope_scaling",
    "rope_parameters",
    "partial_rotary_factor",
    "sliding_window",
    "use_sliding_window",
    "max_window_layers",
    "layer_types",
    "attention_dropout",
    "cache_implementation",
)

GENERIC = frozenset(PRETRAINED_CONFIG + GENERATION + RUNTIME)

# key → (values that leave the tensors as the template makes them, why others are refused)
REFUSED: dict[str, tuple[tuple[Any, ...], str]] = {
    "quantization_config": ((None,), "a quantized checkpoint stores packed weights and scales"),
    "auto_map": ((None,), "the model is defined by custom code in its repository"),
    "pruned_heads": ((None, {}), "pruned attention heads shrink the projections"),
    "add_cross_attention": ((None, False), "cross-attention adds tensors to every layer"),
    "is_encoder_decoder": ((None, False), "an encoder-decoder model has a second stack"),
    "tie_encoder_decoder": ((None, False), "encoder-decoder tying changes which tensors are saved"),
    "per_layer_config": ((None, {}), "per-layer overrides give layers different shapes"),
    "text_config": ((None,), "a composite (multimodal) config has sub-models"),
    "vision_config": ((None,), "a composite (multimodal) config has sub-models"),
}
