"""Record what Transformers' ``save_pretrained`` writes for tiny configs of each family.

    .venv-interop/bin/python scripts/record_configs.py            # every case
    .venv-interop/bin/python scripts/record_configs.py llama-f32-untied bert-mlm

For each case: build a tiny config with the family's own config class, instantiate the
architecture class (the head named in ``architectures``, or a base model) under
``torch.manual_seed(0)`` in the config's dtype, ``save_pretrained`` it with default
settings, and read back what was written: ``config.json`` exactly as saved and every
tensor of the safetensors file(s) with its summary statistics.

Writes tests/data/reference/configs/<case>.json:

    {"case", "model_type", "architecture", "versions": {"torch", "transformers"},
     "config": {...config.json as saved...},
     "files": [{"name", "tensors", "metadata"}...], "index": {...} or null,
     "tensors": [{"name", "shape", "dtype", "numel", "mean", "std", "min", "max",
                  "const", "zero_rows"}...]}

``dtype`` is the safetensors name ("F32", "BF16"), the statistics are computed in
float64 over the stored values (``std`` is the population standard deviation),
``const`` is the value when every element is equal (else null), ``zero_rows`` lists
the indices of all-zero rows of a 2-D tensor that is not entirely zero (e.g. the
padding row of an embedding; null otherwise). Floats are rounded to 6 significant
digits. ``index`` is the ``model.safetensors.index.json`` content of a sharded save.

It also writes tests/data/configs/param_counts.json: for each shipped real config
(tests/data/configs/<name>/config.json) the number of values in the tensors
``save_pretrained`` would write, counted on torch's meta device with the same steps
``save_pretrained`` takes (the state dict, minus ``_keys_to_ignore_on_save``, minus tied
weights, with the weight conversions reverted to the on-disk layout), next to the
publicly stated count. ``--params`` does only that; case names record only those cases.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "tests" / "data" / "reference" / "configs"

# Shared tiny decoder sizes: hidden 64, 4 heads of 16, 2 KV heads, MLP 128, vocab 128:
# every weight matrix has >= 2048 values (k_proj/v_proj: 32 x 64).
DECODER = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 128,
    "max_position_embeddings": 64,
}


def family(config: str, head: str, kwargs: dict, ties: tuple[bool, ...], base: str | None = None) -> dict:
    """config: the config class; head: the architecture class of the LM cases; base:
    the base-model class of the extra ``<family>-base`` case; ties: the values of
    ``tie_word_embeddings`` recorded (one: that value only, named without a suffix)."""
    return {"config": config, "head": head, "base": base, "kwargs": kwargs, "ties": ties}


MOE = {"num_experts_per_tok": 2, "decoder_sparse_step": 1, "mlp_only_layers": []}

FAMILIES: dict[str, dict] = {
    "llama": family("LlamaConfig", "LlamaForCausalLM", DECODER, (False, True), base="LlamaModel"),
    "mistral": family(
        "MistralConfig", "MistralForCausalLM", {**DECODER, "sliding_window": 32}, (False, True)
    ),
    "qwen2": family("Qwen2Config", "Qwen2ForCausalLM", DECODER, (False, True)),
    "qwen3": family("Qwen3Config", "Qwen3ForCausalLM", {**DECODER, "head_dim": 16}, (False, True)),
    "gemma2": family(
        "Gemma2Config",
        "Gemma2ForCausalLM",
        {**DECODER, "head_dim": 16, "query_pre_attn_scalar": 16, "sliding_window": 32},
        (True, False),
    ),
    # Phi3Config's default pad_token_id (32000) is outside a 128-token vocabulary.
    "phi3": family(
        "Phi3Config",
        "Phi3ForCausalLM",
        {**DECODER, "pad_token_id": None, "bos_token_id": 1, "eos_token_id": 2},
        (False, True),
    ),
    "mixtral": family(
        "MixtralConfig",
        "MixtralForCausalLM",
        {**DECODER, "num_local_experts": 4, "num_experts_per_tok": 2},
        (False,),
    ),
    "qwen3_moe": family(
        "Qwen3MoeConfig",
        "Qwen3MoeForCausalLM",
        {**DECODER, **MOE, "head_dim": 16, "num_experts": 4, "moe_intermediate_size": 128},
        (False,),
    ),
    "gpt2": family(
        "GPT2Config",
        "GPT2LMHeadModel",
        {
            "n_embd": 64,
            "n_layer": 2,
            "n_head": 4,
            "vocab_size": 128,
            "n_positions": 64,
            "bos_token_id": 127,
            "eos_token_id": 127,
        },
        (True, False),
        base="GPT2Model",
    ),
    "gpt_neox": family(
        "GPTNeoXConfig",
        "GPTNeoXForCausalLM",
        {
            "hidden_size": 64,
            "intermediate_size": 256,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "vocab_size": 128,
            "max_position_embeddings": 64,
        },
        (False, True),
    ),
    "bert": family(
        "BertConfig",
        "BertForMaskedLM",
        {
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "vocab_size": 128,
            "max_position_embeddings": 64,
        },
        (True,),
        base="BertModel",
    ),
    # common extras
    "gemma": family("GemmaConfig", "GemmaForCausalLM", {**DECODER, "head_dim": 16}, (True,)),
    "gemma3_text": family(
        "Gemma3TextConfig",
        "Gemma3ForCausalLM",
        {**DECODER, "head_dim": 16, "query_pre_attn_scalar": 16, "sliding_window": 32},
        (True,),
    ),
    "qwen2_moe": family(
        "Qwen2MoeConfig",
        "Qwen2MoeForCausalLM",
        {
            **DECODER,
            **MOE,
            "num_experts": 4,
            "moe_intermediate_size": 128,
            "shared_expert_intermediate_size": 128,
        },
        (False,),
    ),
    "olmo2": family(
        "Olmo2Config",
        "Olmo2ForCausalLM",
        {**DECODER, "pad_token_id": None, "bos_token_id": None, "eos_token_id": 2},
        (False,),
    ),
    "starcoder2": family(
        "Starcoder2Config",
        "Starcoder2ForCausalLM",
        {**DECODER, "bos_token_id": 1, "eos_token_id": 2},
        (True,),
    ),
    "phi": family("PhiConfig", "PhiForCausalLM", DECODER, (False,)),
    "granite": family(
        "GraniteConfig",
        "GraniteForCausalLM",
        {**DECODER, "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2},
        (True,),
    ),
    "falcon": family(
        "FalconConfig",
        "FalconForCausalLM",
        {
            "hidden_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "vocab_size": 128,
            "bos_token_id": 1,
            "eos_token_id": 2,
        },
        (True,),
    ),
}

DTYPES = {"f32": "float32", "bf16": "bfloat16"}


def cases() -> dict[str, dict]:
    """case name -> {family, arch, dtype, tie, extra kwargs, save kwargs}."""
    out: dict[str, dict] = {}
    for fam, spec in FAMILIES.items():
        ties = spec["ties"]
        for short, dtype in DTYPES.items():
            for tie in ties:
                name = f"{fam}-{short}"
                if len(ties) > 1:
                    name += "-tied" if tie else "-untied"
                if fam == "bert":
                    name = f"bert-mlm-{short}"
                out[name] = {"family": fam, "arch": spec["head"], "dtype": dtype, "tie": tie}
        if spec["base"]:
            out[f"{fam}-base"] = {"family": fam, "arch": spec["base"], "dtype": "float32", "tie": ties[0]}
    # one padded-vocab case (padding_idx row zeroed) and one sharded save
    llama = {"family": "llama", "arch": "LlamaForCausalLM", "dtype": "float32", "tie": False}
    out["llama-f32-pad"] = {**llama, "extra": {"pad_token_id": 0}}
    out["llama-f32-sharded"] = {**llama, "save": {"max_shard_size": "40KB"}}
    return out


def rnd(x: float) -> float:
    return float(f"{x:.6g}")


def tensor_record(name: str, t, dtype_name: str) -> dict:
    import torch

    x = t.detach().to(torch.float64).reshape(-1)
    n = x.numel()
    rec = {"name": name, "shape": list(t.shape), "dtype": dtype_name, "numel": n}
    if n == 0:
        rec.update(mean=None, std=None, min=None, max=None, const=None, zero_rows=None)
        return rec
    lo, hi = x.min().item(), x.max().item()
    rec.update(
        mean=rnd(x.mean().item()),
        std=rnd(x.std(unbiased=False).item()),
        min=rnd(lo),
        max=rnd(hi),
        const=rnd(lo) if lo == hi else None,
    )
    zero_rows = None
    if t.dim() == 2 and lo != hi:
        rows = (t.detach().to(torch.float64) == 0).all(dim=1).nonzero().reshape(-1).tolist()
        zero_rows = rows or None
    rec["zero_rows"] = zero_rows
    return rec


def read_saved(path: Path) -> tuple[list[dict], dict | None, list[dict]]:
    import struct

    from safetensors import safe_open

    index = None
    idx_path = path / "model.safetensors.index.json"
    if idx_path.exists():
        index = json.loads(idx_path.read_text())
    files, tensors = [], []
    for f in sorted(path.glob("*.safetensors")):
        raw = f.read_bytes()
        (hlen,) = struct.unpack("<Q", raw[:8])
        header = json.loads(raw[8 : 8 + hlen])
        meta = header.pop("__metadata__", None)
        files.append({"name": f.name, "tensors": len(header), "metadata": meta})
        with safe_open(str(f), framework="pt") as sf:
            for key in sf.keys():
                tensors.append(tensor_record(key, sf.get_tensor(key), header[key]["dtype"]))
    tensors.sort(key=lambda r: r["name"])
    return files, index, tensors


def build(case: dict):
    import torch
    import transformers

    fam = FAMILIES[case["family"]]
    config_cls = getattr(transformers, fam["config"])
    kwargs = dict(fam["kwargs"], **case.get("extra", {}))
    kwargs["tie_word_embeddings"] = case["tie"]
    config = config_cls(**kwargs)
    config.dtype = case["dtype"]
    config.architectures = [case["arch"]]
    model_cls = getattr(transformers, case["arch"])
    torch.manual_seed(0)
    model = model_cls._from_config(config, dtype=getattr(torch, case["dtype"]))
    model.eval()
    return model


def record(name: str, case: dict) -> dict:
    import torch
    import transformers

    model = build(case)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, **case.get("save", {}))
        config = json.loads((Path(tmp) / "config.json").read_text())
        files, index, tensors = read_saved(Path(tmp))
    return {
        "case": name,
        "model_type": config.get("model_type"),
        "architecture": case["arch"],
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        "config": config,
        "files": files,
        "index": index,
        "tensors": tensors,
    }


CONFIGS_DIR = ROOT / "tests" / "data" / "configs"

# Publicly stated parameter counts (the model cards / Hub safetensors metadata).
PUBLISHED = {
    "Llama-3.1-8B": "8,030,261,248",
    "Qwen2.5-7B": "7,615,616,512",
    "Mixtral-8x7B-v0.1": "46,702,792,704",
    "gemma-2-9b": "9,241,705,984",
    "gpt2": "124,439,808",
}


def saved_tensors_meta(config_dir: Path) -> dict[str, list[int]]:
    """name -> shape of every tensor save_pretrained would write, built on the meta device."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.core_model_loading import revert_weight_conversion
    from transformers.modeling_utils import remove_tied_weights_from_state_dict

    config = AutoConfig.from_pretrained(config_dir)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    state_dict = model.state_dict()
    for key in model._keys_to_ignore_on_save or ():
        state_dict.pop(key, None)
    state_dict = remove_tied_weights_from_state_dict(state_dict, model)
    state_dict = revert_weight_conversion(model, state_dict)
    return {name: list(t.shape) for name, t in state_dict.items()}


def record_param_counts() -> None:
    import math

    import torch
    import transformers

    out = {}
    for name in sorted(PUBLISHED, key=str.lower):
        shapes = saved_tensors_meta(CONFIGS_DIR / name)
        params = sum(math.prod(s) for s in shapes.values())
        out[name] = {
            "params": params,
            "tensors": len(shapes),
            "source": f"transformers {transformers.__version__} meta-device count "
            f"(torch {torch.__version__})",
            "published": PUBLISHED[name],
        }
        match = "matches" if params == int(PUBLISHED[name].replace(",", "")) else "DIFFERS from"
        print(f"{name}: {params:,} in {len(shapes)} tensors, {match} published {PUBLISHED[name]}")
    path = CONFIGS_DIR / "param_counts.json"
    path.write_text(json.dumps(out, indent=1) + "\n")


def main(argv: list[str]) -> int:
    if argv == ["--params"]:
        record_param_counts()
        return 0
    all_cases = cases()
    names = argv or list(all_cases)
    unknown = [n for n in names if n not in all_cases]
    if unknown:
        print(f"unknown case(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    failed = []
    for name in names:
        try:
            rec = record(name, all_cases[name])
        except Exception as exc:
            failed.append(name)
            print(f"FAIL {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        path = OUT_DIR / f"{name}.json"
        path.write_text(json.dumps(rec, indent=1) + "\n")
        print(f"{name}: {len(rec['tensors'])} tensors, {path.stat().st_size} bytes")
    if not argv:
        record_param_counts()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
