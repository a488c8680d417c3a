"""Every error the command line gives: the exact text a user reads and the exit status.

One row per message (the table in docs/errors.md lists the same messages with their
causes and fixes; ``test_docs_list_every_message`` keeps the two in step). Exit
status: 2 for usage and spec errors, 1 for runtime failures and failed checks.
Spec mistakes of every kind are covered message by message in test_spec_errors.py;
here each family appears once, through the CLI.

``{d}`` in arguments and messages is the test's directory.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from initgen.cli import main

MLP = b"initgen: 1\nname: t\nlayers:\n  - {name: fc, type: dense, in: 4, out: 2, activation: relu}\n"
LLAMA_CONFIG = json.dumps(
    {
        "model_type": "llama",
        "hidden_size": 8,
        "intermediate_size": 16,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "vocab_size": 16,
    }
).encode()
F32 = {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}


def st(header: dict, data: bytes = b"") -> bytes:
    """A safetensors file with this header (written by hand, so it can be wrong)."""
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def initgen_meta(**overrides: str) -> dict:
    from initgen.generate.sampling import STREAM_VERSION

    return {"initgen.seed": "1", "initgen.tensors": "{}", "initgen.stream": STREAM_VERSION, **overrides}


def made(path: Path, flip: bool = False) -> None:
    """A file made by initgen (optionally with its last byte changed)."""
    from initgen import build_plan, load_spec, write

    write(
        build_plan(
            load_spec("t.yaml", text="initgen: 1\nlayers: [{name: fc, type: dense, in: 4, out: 2}]\n")
        ),
        path,
    )
    if flip:
        raw = bytearray(path.read_bytes())
        raw[-1] ^= 1
        path.write_bytes(bytes(raw))


USAGE = "Usage: initgen {cmd} [OPTIONS] {arg}\nTry 'initgen {cmd} --help' for help.\n\nError: "

# id: (arguments, files to create (None: a directory; a callable: made by it), exit status,
#      the exact stderr, or for commands that print data first, its last line)
ROWS: dict[str, tuple[list[str], dict, int, str]] = {
    # -- options (click) ------------------------------------------------------------
    "unknown command": (
        ["mak"],
        {},
        2,
        "Usage: initgen [OPTIONS] COMMAND [ARGS]...\nTry 'initgen --help' for help.\n\n"
        "Error: No such command 'mak'. Did you mean 'make'?\n",
    ),
    "missing option": (
        ["make", "{d}/s.yaml"],
        {"s.yaml": MLP},
        2,
        USAGE.format(cmd="make", arg="SPEC") + "Missing option '-o' / '--output'.\n",
    ),
    "bad choice": (
        ["stats", "{d}/w.safetensors", "--format", "xml"],
        {},
        2,
        USAGE.format(cmd="stats", arg="FILE") + "Invalid value for '--format': 'xml' is not "
        "one of 'table', 'json', 'markdown', 'csv'.\n",
    ),
    "out of range": (
        ["make", "{d}/s.yaml", "-o", "{d}/w.safetensors", "--seed", "-1"],
        {"s.yaml": MLP},
        2,
        USAGE.format(cmd="make", arg="SPEC") + "Invalid value for '--seed': -1 is not in the range x>=0.\n",
    ),
    "spec is a directory": (
        ["validate", "{d}/sd"],
        {"sd": None},
        2,
        "error: {d}/sd: is a directory without a config.json; give a spec file, a config.json, "
        "or a model directory that holds one\n",
    ),
    # -- model directories from a config.json ------------------------------------------
    "config with --set": (
        ["make", "{d}/config.json", "-o", "{d}/out", "--set", "n_layer=1"],
        {"config.json": LLAMA_CONFIG},
        2,
        "error: {d}/config.json: --set would change the model, but its config.json is copied "
        "unchanged; edit the config (num_hidden_layers, hidden_size, ...), or make a spec with "
        "`initgen from-config` and --set that\n",
    ),
    "config with --defaults": (
        ["plan", "{d}/config.json", "--defaults", "torch"],
        {"config.json": LLAMA_CONFIG},
        2,
        "error: {d}/config.json: --defaults applies to specs; a config's tensors follow its family's "
        "own init (Transformers' _init_weights)\n",
    ),
    "config to a URL": (
        ["make", "{d}/config.json", "-o", "s3://bucket/model/"],
        {"config.json": LLAMA_CONFIG},
        2,
        "error: {d}/config.json: a model directory from a config is written to a local directory, "
        "by one process; leave out the URL, --dask and --index-only\n",
    ),
    "config to HDF5": (
        ["make", "{d}/config.json", "-o", "{d}/out", "--format", "hdf5"],
        {"config.json": LLAMA_CONFIG},
        2,
        "error: {d}/config.json: a model directory holds safetensors files; drop --format hdf5\n",
    ),
    "config to a file name": (
        ["make", "{d}/config.json", "-o", "{d}/w.safetensors"],
        {"config.json": LLAMA_CONFIG},
        2,
        "error: {d}/w.safetensors: from a config, -o names a model directory (e.g. -o {d}/w/), "
        "which gets config.json and the weights\n",
    ),
    "config of an unsupported family": (
        ["plan", "{d}/m.json"],
        {"m.json": b'{"model_type": "mamba"}\n'},
        2,
        "error: {d}/m.json: model_type: \"mamba\" is not a supported model_type; supported: bert (BertForMaskedLM, BertModel); falcon (FalconForCausalLM, FalconModel); gemma (GemmaForCausalLM, GemmaModel); gemma2 (Gemma2ForCausalLM, Gemma2Model); gemma3_text (Gemma3ForCausalLM, Gemma3TextModel); gpt2 (GPT2LMHeadModel, GPT2Model); gpt_neox (GPTNeoXForCausalLM, GPTNeoXModel); granite (GraniteForCausalLM, GraniteModel); llama (LlamaForCausalLM, LlamaModel); mistral (MistralForCausalLM, MistralModel); mixtral (MixtralForCausalLM, MixtralModel); olmo2 (Olmo2ForCausalLM, Olmo2Model); phi (PhiForCausalLM, PhiModel); phi3 (Phi3ForCausalLM, Phi3Model); qwen2 (Qwen2ForCausalLM, Qwen2Model); qwen2_moe (Qwen2MoeForCausalLM, Qwen2MoeModel); qwen3 (Qwen3ForCausalLM, Qwen3Model); qwen3_moe (Qwen3MoeForCausalLM, Qwen3MoeModel); starcoder2 (Starcoder2ForCausalLM, Starcoder2Model); did you mean 'llama'?; or write a spec instead (docs/spec.md); `initgen from-config` on a config of a supported family gives a starting point\n",
    ),
    "config with a quantization_config": (
        ["plan", "{d}/q.json"],
        {"q.json": b'{"model_type": "llama", "quantization_config": {"bits": 4}}\n'},
        2,
        "error: {d}/q.json: quantization_config: a quantized checkpoint stores packed weights and scales, which the llama template does not model; supported: bert (BertForMaskedLM, BertModel); falcon (FalconForCausalLM, FalconModel); gemma (GemmaForCausalLM, GemmaModel); gemma2 (Gemma2ForCausalLM, Gemma2Model); gemma3_text (Gemma3ForCausalLM, Gemma3TextModel); gpt2 (GPT2LMHeadModel, GPT2Model); gpt_neox (GPTNeoXForCausalLM, GPTNeoXModel); granite (GraniteForCausalLM, GraniteModel); llama (LlamaForCausalLM, LlamaModel); mistral (MistralForCausalLM, MistralModel); mixtral (MixtralForCausalLM, MixtralModel); olmo2 (Olmo2ForCausalLM, Olmo2Model); phi (PhiForCausalLM, PhiModel); phi3 (Phi3ForCausalLM, Phi3Model); qwen2 (Qwen2ForCausalLM, Qwen2Model); qwen2_moe (Qwen2MoeForCausalLM, Qwen2MoeModel); qwen3 (Qwen3ForCausalLM, Qwen3Model); qwen3_moe (Qwen3MoeForCausalLM, Qwen3MoeModel); starcoder2 (Starcoder2ForCausalLM, Starcoder2Model); write a spec instead (docs/spec.md); `initgen from-config` on a config of a supported family gives a starting point\n",
    ),
    "config key with a typo": (
        ["plan", "{d}/t.json"],
        {"t.json": b'{"model_type": "llama", "num_hiden_layers": 4}\n'},
        2,
        "error: {d}/t.json: num_hiden_layers: unknown key 'num_hiden_layers' for model_type 'llama' (LlamaConfig), too close to 'num_hidden_layers', which sets the tensors, to be taken as an unrelated key; did you mean 'num_hidden_layers'?\n",
    ),
    "config that is not JSON": (
        ["plan", "{d}/b.json"],
        {"b.json": b'{"model_type": "llama",\n'},
        2,
        "error: {d}/b.json:2: not valid JSON: Expecting property name enclosed in double quotes (column 1)\n",
    ),
    # -- options (initgen) ------------------------------------------------------------
    "bad --set": (
        ["validate", "{d}/s.yaml", "--set", "hidden"],
        {"s.yaml": MLP},
        2,
        "error: --set 'hidden': expected KEY=VALUE\n",
    ),
    "unknown --set var": (
        ["validate", "{d}/s.yaml", "--set", "hiden=3"],
        {"s.yaml": MLP.replace(b"name: t\n", b"name: t\nvars: {hidden: 2}\n")},
        2,
        "error: --set hiden: the spec has no var 'hiden'; its vars: hidden; did you mean 'hidden'?\n",
    ),
    "bad --max-bytes": (
        ["validate", "{d}/s.yaml", "--max-bytes", "lots"],
        {"s.yaml": MLP},
        2,
        "error: --max-bytes 'lots': not a size; use bytes or a number with kB, MB, GB, TB, PB, "
        "KiB, MiB, GiB, TiB or PiB (e.g. 2GB)\n",
    ),
    "over --max-bytes": (
        ["validate", "{d}/s.yaml", "--max-bytes", "10"],
        {"s.yaml": MLP},
        2,
        "error: {d}/s.yaml:4: layers[0]: the plan makes 40 B of tensors (the largest, "
        "'fc.weight' [2, 4], is 32 B), over the limit of 10 B; if that is meant, raise "
        "it with --max-bytes 40\n",
    ),
    "whole-tensor limit": (
        ["validate", "{d}/s.yaml"],
        {
            "s.yaml": b"initgen: 1\nlayers: [{name: rot, type: tensor, shape: [20000, 20000], "
            b"init: orthogonal}]\n"
        },
        2,
        "error: {d}/s.yaml:2: layers[0]: tensor 'rot' [20000, 20000] has 400,000,000 values; "
        "the scheme orthogonal makes a tensor whole in memory and is limited to 134,217,728 "
        "values; use an element-wise scheme for it\n",
    ),
    "distribution not finite": (
        ["plan", "{d}/s.yaml", "--format", "json"],
        {
            "s.yaml": b"initgen: 1\nlayers: [{name: c, type: tensor, shape: [2], init: "
            b"{scheme: uniform, low: -1.0e+308, high: 1.0e+308}}]\n"
        },
        2,
        "error: {d}/s.yaml:2: layers[0]: tensor 'c': the scheme uniform gives a "
        "distribution that is not finite (mean 0, std inf, fans 2/2); check the init "
        "parameters and fans\n",
    ),
    "values overflow the dtype": (
        ["make", "{d}/s.yaml", "-o", "{d}/w.safetensors"],
        {
            "s.yaml": b"initgen: 1\nlayers: [{name: a, type: tensor, shape: [2, 2], "
            b"fan_in: 5.0e-324, init: he_normal}]\n"
        },
        2,
        "error: {d}/s.yaml:2: layers[0]: tensor 'a': the scheme he_normal gives mean 0 "
        "and std 6.36e+161, so its values would overflow float32 (largest 3.4e+38); "
        "check the init parameters and fans, or use a wider dtype\n",
    ),
    "uniform too narrow for float32": (
        ["make", "{d}/s.yaml", "-o", "{d}/w.safetensors"],
        {
            "s.yaml": b"initgen: 1\nlayers: [{name: a, type: tensor, shape: [2, 2], "
            b"init: {scheme: uniform, low: -1e-39, high: 1e-39}}]\n"
        },
        2,
        "error: {d}/s.yaml:2: layers[0]: tensor 'a': the scheme uniform gives uniform values over "
        "[-1e-39, 1e-39], too narrow for float32 arithmetic (its 2^24 steps fall below 1.18e-38: "
        "values would lose their bits or all be the low bound); widen the range or use dtype float64\n",
    ),
    "bad --max-shard-size": (
        ["make", "{d}/s.yaml", "-o", "{d}/out", "--max-shard-size", "big"],
        {"s.yaml": MLP},
        2,
        "error: --max-shard-size 'big': not a size; use bytes or a number with kB, MB, "
        "GB, TB, PB, KiB, MiB, GiB, TiB or PiB (e.g. 2GB)\n",
    ),
    "--shard without size": (
        ["make", "{d}/s.yaml", "-o", "{d}/out", "--shard", "1/2"],
        {"s.yaml": MLP},
        2,
        "error: --shard needs --max-shard-size: the shard boundaries depend on it\n",
    ),
    "bad --shard": (
        ["make", "{d}/s.yaml", "-o", "{d}/out", "--max-shard-size", "1KB", "--shard", "3/2"],
        {"s.yaml": MLP},
        2,
        "error: --shard: '3/2' is not k/n with 1 ≤ k ≤ n (e.g. --shard 2/5)\n",
    ),
    "wrong shard count": (
        ["make", "{d}/s.yaml", "-o", "{d}/out", "--max-shard-size", "1GB", "--shard", "1/2"],
        {"s.yaml": MLP},
        2,
        "error: --shard 1/2: with --max-shard-size 1000000000 bytes this model has 1 shard(s), not 2\n",
    ),
    "shards to a file name": (
        ["make", "{d}/s.yaml", "-o", "{d}/w.safetensors", "--max-shard-size", "1KB"],
        {"s.yaml": MLP},
        2,
        "error: {d}/w.safetensors: with --max-shard-size, -o names a directory "
        "(e.g. -o {d}/w/); the shards are named model-00001-of-0000N.safetensors\n",
    ),
    "shards as HDF5": (
        ["make", "{d}/s.yaml", "-o", "{d}/out", "--max-shard-size", "1KB", "--format", "hdf5"],
        {"s.yaml": MLP},
        2,
        "error: --max-shard-size writes safetensors shards; HDF5 output is one file\n",
    ),
    "bad --expect": (
        ["stats", "{d}/w.safetensors", "--expect", "std"],
        {},
        2,
        "error: --expect 'std': expected GLOB:KEY=VALUE[±TOL[%]], e.g. 'h.*.weight:std=0.02±5%'\n",
    ),
    "bad --expect key": (
        ["stats", "{d}/w.safetensors", "--expect", "*:sdt=1"],
        {},
        2,
        "error: --expect '*:sdt=1': unknown key 'sdt'; known: absmax, inf, max, mean, min, "
        "nan, p0.1, p1, p50, p99, p99.9, std or zeros\n",
    ),
    "no tensor matches": (
        ["stats", "{d}/w.safetensors", "--tensors", "nope*"],
        {"w.safetensors": made},
        2,
        "error: {d}/w.safetensors: no tensor matches --tensors 'nope*' (2 tensors in the file)\n",
    ),
    # -- output -------------------------------------------------------------------------
    "unknown extension": (
        ["make", "{d}/s.yaml", "-o", "{d}/w.bin"],
        {"s.yaml": MLP},
        2,
        "error: {d}/w.bin: cannot tell the format from the extension '.bin'; use "
        ".safetensors, .weights.h5 (Keras), .h5 or .hdf5, or --format\n",
    ),
    "keras no counterpart": (
        ["make", "{d}/s.yaml", "-o", "{d}/w.weights.h5"],
        {"s.yaml": b"initgen: 1\nlayers:\n  - {name: att, type: attention, dim: 8, heads: 2}\n"},
        2,
        "error: {d}/s.yaml:3: layers[0].type: attention layers have no Keras counterpart, so they "
        "cannot be written to a Keras .weights.h5 file (write .safetensors or a plain .h5); Keras "
        "files hold dense, conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, "
        "conv_transpose3d, embedding, layernorm, rmsnorm, batchnorm, lstm, gru, rnn\n",
    ),
    "keras transposed groups": (
        ["make", "{d}/s.yaml", "-o", "{d}/w.weights.h5"],
        {
            "s.yaml": b"initgen: 1\nlayers:\n  - {name: t, type: conv_transpose2d, in: 4, out: 4, kernel: 3, groups: 2}\n"
        },
        2,
        "error: {d}/s.yaml:3: layers[0].groups: Keras' transposed convolutions have no groups, "
        "so it cannot be written to a Keras .weights.h5 file\n",
    ),
    "keras index without shards": (
        ["make", "{d}/s.yaml", "-o", "{d}/w.weights.json"],
        {"s.yaml": MLP},
        2,
        "error: {d}/w.weights.json: a .weights.json index needs --max-shard-size; write NAME.weights.h5\n",
    ),
    "output exists": (
        ["make", "{d}/s.yaml", "-o", "{d}/w.safetensors"],
        {"s.yaml": MLP, "w.safetensors": b"old"},
        2,
        "error: {d}/w.safetensors: already exists; use --force to replace it\n",
    ),
    "output directory missing": (
        ["make", "{d}/s.yaml", "-o", "{d}/no/w.safetensors"],
        {"s.yaml": MLP},
        2,
        "error: {d}/no/w.safetensors: the directory {d}/no does not exist\n",
    ),
    "output is a directory": (
        ["make", "{d}/s.yaml", "-o", "{d}/sub.safetensors", "--force"],
        {"s.yaml": MLP, "sub.safetensors": None},
        2,
        "error: {d}/sub.safetensors: is a directory\n",
    ),
    "name not an HDF5 path": (
        ["make", "{d}/s.yaml", "-o", "{d}/w.h5"],
        {"s.yaml": MLP.replace(b"name: fc", b"name: 'a/b'")},
        2,
        "error: cannot write HDF5: tensor name 'a/b.bias' contains '/', which HDF5 "
        "reads as a group separator; write .safetensors or rename the tensor\n",
    ),
    "dataset and group": (
        ["make", "{d}/s.yaml", "-o", "{d}/w.h5"],
        {"s.yaml": MLP + b"  - {name: fc.weight.x, type: tensor, shape: [2]}\n"},
        2,
        "error: cannot write HDF5: tensor 'fc.weight' would be both a dataset and the "
        "group holding 'fc.weight.x'; write .safetensors or rename one of them\n",
    ),
    "metadata key as a name": (
        ["validate", "{d}/s.yaml"],
        {
            "s.yaml": MLP.replace(
                b"{name: fc, type: dense, in: 4, out: 2, activation: relu}",
                b"{name: __metadata__, type: tensor, shape: [2]}",
            )
        },
        2,
        "error: {d}/s.yaml:4: layers[0]: '__metadata__' cannot be a tensor name: safetensors keeps the "
        "file's metadata under it\n",
    ),
    # (disk full, read-only, failed rename, interrupted: see test_faults.py, which makes them happen)
    # -- spec: one of each family ---------------------------------------------------------
    "spec missing": (["validate", "{d}/none.yaml"], {}, 2, "error: {d}/none.yaml: no such file\n"),
    "spec too big": (
        ["validate", "{d}/s.yaml"],
        {"s.yaml": b" " * (16 * 1024 * 1024 + 1)},
        2,
        "error: {d}/s.yaml: is 16777217 bytes; a spec may be at most 16777216\n",
    ),
    "spec not UTF-8": (
        ["validate", "{d}/s.yaml"],
        {"s.yaml": b"initgen: 1\nname: caf\xe9\n"},
        2,
        "error: {d}/s.yaml:2: is not UTF-8 text\n",
    ),
    "spec empty": (["validate", "{d}/s.yaml"], {"s.yaml": b""}, 2, "error: {d}/s.yaml: the spec is empty\n"),
    "spec control character": (
        ["validate", "{d}/s.yaml"],
        {"s.yaml": b"initgen: 1\nname: \x01\n"},
        2,
        "error: {d}/s.yaml:2: not valid YAML: character 0x0001 is not allowed\n",
    ),
    "spec two documents": (
        ["validate", "{d}/s.yaml"],
        {"s.yaml": b"initgen: 1\n---\ninitgen: 1\n"},
        2,
        "error: {d}/s.yaml:2: a spec is a single YAML document (found more than one)\n",
    ),
    "spec not YAML": (
        ["validate", "{d}/s.yaml"],
        {"s.yaml": b"initgen: 1\nlayers: [\n"},
        2,
        "error: {d}/s.yaml:3: not valid YAML: expected the node content, but found '<stream end>'\n",
    ),
    "spec undefined alias": (
        ["validate", "{d}/s.yaml"],
        {"s.yaml": b"initgen: 1\nlayers: [*x]\n"},
        2,
        "error: {d}/s.yaml:2: not valid YAML: found undefined alias 'x'\n",
    ),
    "spec duplicate key": (
        ["validate", "{d}/s.yaml"],
        {"s.yaml": MLP + b"name: u\n"},
        2,
        "error: {d}/s.yaml:5: duplicate key 'name'\n",
    ),
    "spec unknown key": (
        ["plan", "{d}/s.yaml"],
        {"s.yaml": MLP.replace(b"name: t", b"nmae: t")},
        2,
        "error: {d}/s.yaml:2: nmae: unknown key 'nmae' in the spec; allowed: defaults, description, "
        "dtype, initgen, layers, layout, name, rules, seed or vars; did you mean 'name'?\n",
    ),
    "spec defaults": (
        ["validate", "{d}/s.yaml"],
        {"s.yaml": MLP.replace(b"name: t", b"defaults: pytorch")},
        2,
        "error: {d}/s.yaml:2: defaults: 'pytorch' is not one of flax, keras, torch or transformers; "
        "did you mean 'torch'?\n",
    ),
    "spec version": (
        ["validate", "{d}/s.yaml"],
        {"s.yaml": MLP.replace(b"initgen: 1", b"initgen: 2")},
        2,
        "error: {d}/s.yaml:1: initgen: unsupported spec version 2; this initgen reads 1\n",
    ),
    "spec alias bomb": (
        ["validate", "{d}/s.yaml"],
        {
            "s.yaml": b"initgen: 1\n"
            + b"".join(
                f"l{k}: &l{k} [{', '.join([f'*l{k - 1}'] * 9 if k else ['x'] * 9)}]\n".encode()
                for k in range(10)
            )
        },
        2,
        "error: {d}/s.yaml:2: l5[1][7][8][6][5][7]: the spec expands to more than 200000 values "
        "(anchors/aliases nested too deep?)\n",
    ),
    "spec repeat limit": (
        ["validate", "{d}/s.yaml"],
        {
            "s.yaml": b"initgen: 1\nlayers:\n  - repeat: 1000000000\n"
            b"    layers: [{name: a, type: dense, in: 2, out: 2}]\n"
        },
        2,
        "error: {d}/s.yaml:3: layers[0].repeat: repeat 1000000000 is over the limit of 100000 layers\n",
    ),
    "spec repeat passes": (
        ["validate", "{d}/s.yaml"],
        {"s.yaml": b"initgen: 1\nlayers:\n  - repeat: 100000\n    layers: [{repeat: 100000, layers: []}]\n"},
        2,
        "error: {d}/s.yaml:4: layers[0].layers[0].repeat: repeat blocks run more than 200000 times\n",
    ),
    "spec too deep": (
        ["validate", "{d}/s.yaml"],
        {"s.yaml": b"initgen: 1\nlayers: " + b"[" * 5000 + b"]" * 5000},
        2,
        "error: {d}/s.yaml: the spec is nested too deeply\n",
    ),
    "spec bad expression": (
        ["validate", "{d}/s.yaml"],
        {"s.yaml": MLP.replace(b"in: 4", b"in: '${4/0}'")},
        2,
        "error: {d}/s.yaml:4: layers[0].in: division by zero in '${4/0}'\n",
    ),
    "spec duplicate tensor": (
        ["validate", "{d}/s.yaml"],
        {"s.yaml": MLP + b"  - {name: fc, type: dense, in: 4, out: 2}\n"},
        2,
        "error: {d}/s.yaml:5: layers[1]: duplicate tensor name 'fc.weight' (first made "
        "by the layer at line 4)\n",
    ),
    # -- reading weight files ---------------------------------------------------------------
    "file missing": (
        ["stats", "{d}/none.safetensors"],
        {},
        1,
        "error: {d}/none.safetensors: no such file or directory\n",
    ),
    "file too short": (
        ["stats", "{d}/w.safetensors"],
        {"w.safetensors": b""},
        1,
        "error: {d}/w.safetensors: not a valid safetensors file: 0 bytes is shorter than the "
        "8-byte header length\n",
    ),
    "not a weight file": (
        ["stats", "{d}/w.safetensors"],
        {"w.safetensors": b"hello world, not weights"},
        1,
        "error: {d}/w.safetensors: not a safetensors or HDF5 file (no HDF5 signature and no "
        "safetensors JSON header)\n",
    ),
    "zip archive": (
        ["stats", "{d}/w.keras"],
        {"w.keras": b"PK\x03\x04" + b"\0" * 40},
        1,
        "error: {d}/w.keras: is a zip archive (a .keras or torch file?); initgen reads safetensors "
        "and HDF5 (.h5, .weights.h5)\n",
    ),
    "no HDF5 signature": (
        ["stats", "{d}/w.h5"],
        {"w.h5": b"\0" * 64},
        1,
        "error: {d}/w.h5: not an HDF5 file (no HDF5 signature)\n",
    ),
    "header over the limit": (
        ["stats", "{d}/w.safetensors"],
        {"w.safetensors": struct.pack("<Q", 10**18) + b"{}"},
        1,
        "error: {d}/w.safetensors: not a valid safetensors file: header length "
        "1000000000000000000 is over the 104857600-byte limit\n",
    ),
    "header past the end": (
        ["stats", "{d}/w.safetensors"],
        {"w.safetensors": struct.pack("<Q", 10000) + b"{}"},
        1,
        "error: {d}/w.safetensors: not a valid safetensors file: header length 10000 runs "
        "past the end of the file (10 bytes)\n",
    ),
    "header not JSON": (
        ["stats", "{d}/w.safetensors"],
        {"w.safetensors": struct.pack("<Q", 4) + b"{{{{"},
        1,
        "error: {d}/w.safetensors: not a valid safetensors file: header is not valid JSON "
        "(Expecting property name enclosed in double quotes: line 1 column 2 (char 1))\n",
    ),
    "metadata not an object": (
        ["stats", "{d}/w.safetensors"],
        {"w.safetensors": st({"__metadata__": [1]})},
        1,
        "error: {d}/w.safetensors: not a valid safetensors file: __metadata__ is not an object\n",
    ),
    "entry malformed": (
        ["stats", "{d}/w.safetensors"],
        {"w.safetensors": st({"a": {"dtype": "F32"}})},
        1,
        "error: {d}/w.safetensors: not a valid safetensors file: entry for tensor 'a' is malformed\n",
    ),
    "unknown dtype": (
        ["stats", "{d}/w.safetensors"],
        {"w.safetensors": st({"a": {**F32, "dtype": "F31"}}, b"\0" * 4)},
        1,
        "error: {d}/w.safetensors: not a valid safetensors file: tensor 'a' has unknown dtype 'F31'\n",
    ),
    "offsets outside": (
        ["stats", "{d}/w.safetensors"],
        {"w.safetensors": st({"a": F32})},
        1,
        "error: {d}/w.safetensors: not a valid safetensors file: tensor 'a' has offsets "
        "[0, 4] outside the data (0 bytes)\n",
    ),
    "size mismatch": (
        ["stats", "{d}/w.safetensors"],
        {"w.safetensors": st({"a": {**F32, "shape": [2]}}, b"\0" * 4)},
        1,
        "error: {d}/w.safetensors: not a valid safetensors file: tensor 'a' has 4 bytes for "
        "shape [2] of F32\n",
    ),
    "overlap": (
        ["stats", "{d}/w.safetensors"],
        {
            "w.safetensors": st(
                {"a": {**F32, "shape": [2], "data_offsets": [0, 8]}, "b": {**F32, "data_offsets": [4, 8]}},
                b"\0" * 8,
            )
        },
        1,
        "error: {d}/w.safetensors: not a valid safetensors file: tensors 'a' and 'b' overlap (bytes 4..8)\n",
    ),
    "directory without index": (
        ["stats", "{d}/sd"],
        {"sd": None},
        1,
        "error: {d}/sd: is a directory without a model.safetensors or "
        "model.safetensors.index.json (give a weight file, or a checkpoint directory)\n",
    ),
    "index not JSON": (
        ["stats", "{d}/m.safetensors.index.json"],
        {"m.safetensors.index.json": b"{"},
        1,
        "error: {d}/m.safetensors.index.json: not a valid safetensors index: cannot read it as "
        "JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))\n",
    ),
    "index without weight map": (
        ["stats", "{d}/m.safetensors.index.json"],
        {"m.safetensors.index.json": b"{}"},
        1,
        "error: {d}/m.safetensors.index.json: not a valid safetensors index: no "
        "'weight_map' object of tensor name → shard file\n",
    ),
    "index shard missing": (
        ["stats", "{d}/m.safetensors.index.json"],
        {"m.safetensors.index.json": b'{"weight_map": {"a": "x.safetensors"}}'},
        1,
        "error: {d}/m.safetensors.index.json: not a valid safetensors index: shard "
        "'x.safetensors' does not exist\n",
    ),
    "HDF5 unreadable": (
        ["stats", "{d}/w.h5"],
        {"w.h5": b"\x89HDF\r\n\x1a\n" + b"\0" * 100},
        1,
        "error: {d}/w.h5: not a readable HDF5 file: Unable to synchronously open file (bad byte "
        "number in an address)\n",
    ),
    # -- verify, checks, diff -------------------------------------------------------------------
    "verify without metadata": (
        ["verify", "{d}/w.safetensors"],
        {"w.safetensors": st({"a": F32}, b"\0" * 4)},
        1,
        "error: {d}/w.safetensors: has no initgen metadata (initgen.seed, "
        "initgen.tensors); only files made by initgen can be verified\n",
    ),
    "verify other stream": (
        ["verify", "{d}/w.safetensors"],
        {
            "w.safetensors": lambda p: p.write_bytes(
                st(
                    {"__metadata__": initgen_meta(**{"initgen.stream": "initgen-stream-0"}), "a": F32},
                    b"\0" * 4,
                )
            )
        },
        1,
        "error: {d}/w.safetensors: made with stream 'initgen-stream-0'; this initgen makes "
        "'initgen-stream-1', so its tensors cannot be regenerated here\n",
    ),
    "verify bad seed": (
        ["verify", "{d}/w.safetensors"],
        {
            "w.safetensors": lambda p: p.write_bytes(
                st({"__metadata__": initgen_meta(**{"initgen.seed": "x"}), "a": F32}, b"\0" * 4)
            )
        },
        1,
        "error: {d}/w.safetensors: initgen.seed 'x' is not an integer\n",
    ),
    "verify no plan": (
        ["verify", "{d}/w.safetensors"],
        {"w.safetensors": lambda p: p.write_bytes(st({"__metadata__": initgen_meta(), "a": F32}, b"\0" * 4))},
        1,
        "error: {d}/w.safetensors: tensor 'a' has no recorded plan, so it cannot be regenerated\n",
    ),
    "verify differs": (
        ["verify", "{d}/w.safetensors", "-q"],
        {"w.safetensors": lambda p: made(p, flip=True)},
        1,
        "error: {d}/w.safetensors: fc.weight: differs from the values regenerated from its plan "
        "(glorot_uniform, seed 0) at element 7: file has 1.03234053, regenerated 0.258085132\n",
    ),
    "stats --check fails": (
        ["stats", "{d}/w.safetensors", "--check", "-q"],
        {"w.safetensors": st({"a": F32}, b"\0\0\xc0\x7f")},
        1,
        "error: {d}/w.safetensors: 1 tensor failed the checks\n",
    ),
    "stats --expect fails": (
        ["stats", "{d}/w.safetensors", "--expect", "a:std=1", "-q"],
        {"w.safetensors": st({"a": F32}, b"\0" * 4)},
        1,
        "error: {d}/w.safetensors: 1 tensor failed the checks\n",
    ),
}


def _setup(d: Path, files: dict) -> None:
    for name, content in files.items():
        path = d / name
        if content is None:
            path.mkdir()
        elif callable(content):
            content(path)
        else:
            path.write_bytes(content)


@pytest.mark.parametrize("row", list(ROWS))
def test_cli_error(row: str, tmp_path: Path) -> None:
    args, files, code, message = ROWS[row]
    _setup(tmp_path, files)
    d = str(tmp_path)
    r = CliRunner().invoke(main, [a.replace("{d}", d) for a in args], prog_name="initgen")
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code == code, r.output
    stderr = r.stderr.replace(d, "{d}")
    if stderr.startswith("check failed: "):  # the failures are listed before the one-line summary
        stderr = stderr.splitlines(keepends=True)[-1]
    assert stderr == message
    assert "Traceback" not in r.output


def test_diff_exits_1_when_files_differ(tmp_path: Path) -> None:
    (tmp_path / "a.safetensors").write_bytes(st({"a": F32}, b"\0" * 4))
    (tmp_path / "b.safetensors").write_bytes(st({"b": F32}, b"\0" * 4))
    r = CliRunner().invoke(main, ["diff", str(tmp_path / "a.safetensors"), str(tmp_path / "b.safetensors")])
    assert r.exit_code == 1 and "1 only in A, 1 only in B" in r.output and r.stderr == ""


def test_unprintable_characters_in_what_a_message_quotes_are_escaped(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_bytes(MLP + b'"a\\nb\\tc": 1\n')
    (tmp_path / "w.safetensors").write_bytes(st({"x\ny": F32, "z\x01": F32}, b"\0" * 4))
    for command, file, code, quoted in (
        ("validate", "s.yaml", 2, "unknown key 'a\\nb\\tc' in the spec"),
        ("stats", "w.safetensors", 1, "tensors 'x\\ny' and 'z\\x01' overlap"),
    ):
        r = CliRunner().invoke(main, [command, str(tmp_path / file)])
        assert r.exit_code == code and r.stderr.count("\n") == 1, r.stderr
        assert r.stderr.startswith("error: ") and quoted in r.stderr, r.stderr


def test_a_size_past_2_53_is_refused_where_it_stands(tmp_path: Path) -> None:
    """1e308-wide layers (found by the spec fuzzer: the plan's size overflowed float)."""
    (tmp_path / "s.yaml").write_text(
        "initgen: 1\nlayers:\n  - repeat: 20\n    as: i\n    prefix: 'h.${i}.'\n"
        "    layers: [{name: fc, type: dense, in: 1.0e+308, out: 4000}]\n"
    )
    r = CliRunner().invoke(main, ["validate", str(tmp_path / "s.yaml")])
    assert r.exit_code == 2
    assert r.stderr.endswith(
        "s.yaml:6: layers[0].layers[0].in: 1e+308 is too large for a size (at most 2^53 = 9,007,199,254,740,992)\n"
    ), r.stderr


def test_a_system_error_no_step_foresaw_is_one_line_naming_the_path(tmp_path: Path) -> None:
    long = str(tmp_path / ("a" * 300))  # a name no file system takes: ENAMETOOLONG
    for args, code, said in (
        (["stats", long + ".safetensors"], 1, ".safetensors: File name too long"),
        (["verify", long + ".safetensors"], 1, ".safetensors: File name too long"),
        (["validate", long + ".yaml"], 2, ".yaml: cannot read: File name too long"),
        (
            ["make", long + ".yaml", "-o", str(tmp_path / "w.safetensors")],
            2,
            ".yaml: cannot read: File name too long",
        ),
    ):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == code, r.output
        assert r.stderr.replace(str(tmp_path), "{d}") == f"error: {{d}}/{'a' * 300}{said}\n"


RUN = "import sys; from initgen.cli import run; sys.argv[0] = 'initgen'; run()"
OUTPUTS = [
    ["schemes"],
    ["schema"],
    ["--help"],
    ["stats", "{w}", "--format", "json"],
    ["stats", "{w}"],
    ["verify", "{w}"],
]


@pytest.mark.parametrize("args", OUTPUTS)
def test_output_into_a_closed_pipe_ends_quietly_with_exit_1(tmp_path: Path, args: list[str]) -> None:
    """As `initgen ... | head` ends: no message, no traceback, exit 1."""
    made(tmp_path / "w.safetensors")
    argv = [a.replace("{w}", str(tmp_path / "w.safetensors")) for a in args]
    read, write = os.pipe()
    os.close(read)
    r = subprocess.run([sys.executable, "-c", RUN, *argv], stdout=write, stderr=subprocess.PIPE, text=True)
    os.close(write)
    assert (r.returncode, r.stderr) == (1, "")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", OUTPUTS)
def test_output_to_a_full_device_is_one_line_and_exit_1(tmp_path: Path, args: list[str]) -> None:
    made(tmp_path / "w.safetensors")
    argv = [a.replace("{w}", str(tmp_path / "w.safetensors")) for a in args]
    with open("/dev/full", "w") as full:
        r = subprocess.run(
            [sys.executable, "-c", RUN, *argv],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
        )
    assert (r.returncode, r.stderr) == (1, "error: cannot write the output: No space left on device\n")


def shown(message: str) -> str:
    """The line a user reads, as docs/errors.md shows it (paths relative)."""
    return message.strip().splitlines()[-1].replace("{d}/", "")


def test_docs_list_every_message() -> None:
    """docs/errors.md shows each message of the table (with its cause and fix)."""
    doc = (Path(__file__).parent.parent / "docs" / "errors.md").read_text()
    missing = [row for row, (_, _, _, message) in ROWS.items() if shown(message) not in doc]
    assert not missing, f"not in docs/errors.md: {missing}"
