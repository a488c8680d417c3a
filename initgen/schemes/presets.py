"""Framework presets (``defaults: torch | keras | flax | transformers``): one table per
framework, layer type × tensor role → the init that framework's own layer draws.

A row maps a role (``weight``, ``bias``, ``norm``, ``recurrent``; see
:class:`initgen.layers.TensorDecl`) to a scheme name or mapping, as a spec's ``init``
would give it. Strings ``${...}`` are evaluated with the layer's keys (``hidden``),
so torch's RNN default U(±1/√hidden) is data too. A role missing from a row keeps
initgen's own default for it (biases 0, norm weights 1, batch norm statistics 0 and 1,
which every framework shares). ``keys`` are layer-key defaults the framework implies
(Keras: ``unit_forget_bias: true``, one orthogonal recurrent matrix), used where the
spec does not set the key. A preset ignores the activation; only the spec's own
``rules:`` still apply to a layer with an ``activation``.

Sources (framework versions in ``tests/data/reference/presets/*.json``): torch
``reset_parameters`` of nn.Linear, nn.ConvNd, nn.Embedding, nn.LSTM/GRU/RNN; Keras 3
layer constructors' ``kernel_initializer``/``recurrent_initializer``/
``embeddings_initializer``; Flax linen ``default_kernel_init`` (lecun_normal), ``Embed``
(variance_scaling(1, fan_in, normal, out_axis=0)) and the recurrent cells; Transformers
``PreTrainedModel._init_weights`` (N(0, initializer_range = 0.02), nn.LSTM xavier).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Init = Any  # a scheme name or mapping, as in a spec's ``init``
Row = Mapping[str, Init]  # role → init


@dataclass(frozen=True)
class Preset:
    name: str
    doc: str
    inits: Mapping[str, Row]  # layer type → role → init
    keys: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # layer type → key defaults


CONVS = ("conv1d", "conv2d", "conv3d")
TRANSPOSED = ("conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
RNNS = ("lstm", "gru", "rnn")
NORMS = ("layernorm", "rmsnorm", "batchnorm")

TORCH_RNN = {"scheme": "uniform", "low": "${-1 / sqrt(hidden)}", "high": "${1 / sqrt(hidden)}"}
TORCH_LINEAR: Row = {"weight": "torch_default", "bias": "torch_default"}
TN_FAN_IN = {"scheme": "variance_scaling", "scale": 1.0, "mode": "fan_in", "distribution": "truncated_normal"}
HF_NORMAL = {"scheme": "normal", "mean": 0.0, "std": 0.02}
GLOROT: Row = {"weight": "glorot_uniform", "bias": "zeros"}
LECUN: Row = {"weight": TN_FAN_IN, "bias": "zeros"}
HF: Row = {"weight": HF_NORMAL, "bias": "zeros"}
ONES: Row = {"norm": "ones", "bias": "zeros"}
TORCH_SWAPPED = {t: {"fan_convention": "torch"} for t in TRANSPOSED}


def _rows(types: tuple[str, ...], row: Row) -> dict[str, Row]:
    return {t: row for t in types}


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "torch",
            "PyTorch reset_parameters: U(±1/√fan_in) for Linear/Conv weights and biases "
            "(transposed: torch's swapped fan), N(0, 1) embeddings, U(±1/√hidden) for every RNN tensor",
            {
                "dense": TORCH_LINEAR,
                **_rows(CONVS + TRANSPOSED, TORCH_LINEAR),
                "embedding": {"weight": {"scheme": "normal", "mean": 0.0, "std": 1.0}},
                **_rows(NORMS, ONES),
                **_rows(RNNS, {"weight": TORCH_RNN, "recurrent": TORCH_RNN, "bias": TORCH_RNN}),
                "attention": TORCH_LINEAR,
            },
            TORCH_SWAPPED,
        ),
        Preset(
            "keras",
            "Keras 3 layer defaults: Glorot uniform kernels, zero biases, U(±0.05) embeddings, "
            "one orthogonal recurrent kernel, LSTM forget-gate bias 1",
            {
                "dense": GLOROT,
                **_rows(CONVS + TRANSPOSED, GLOROT),
                "embedding": {"weight": {"scheme": "uniform", "low": -0.05, "high": 0.05}},
                **_rows(NORMS, ONES),
                **_rows(RNNS, {"weight": "glorot_uniform", "recurrent": "orthogonal", "bias": "zeros"}),
                "attention": GLOROT,
            },
            {"lstm": {"per_gate": False, "unit_forget_bias": True}, "gru": {"per_gate": False}},
        ),
        Preset(
            "flax",
            "Flax linen defaults: LeCun normal (truncated) kernels, zero biases, "
            "N(0, 1/√features) embeddings, orthogonal recurrent kernels per gate",
            {
                "dense": LECUN,
                **_rows(CONVS + TRANSPOSED, LECUN),
                "embedding": {"weight": {**TN_FAN_IN, "distribution": "normal"}},
                **_rows(NORMS, ONES),
                **_rows(RNNS, {"weight": TN_FAN_IN, "recurrent": "orthogonal", "bias": "zeros"}),
                "attention": LECUN,
            },
            {t: {"per_gate": True} for t in RNNS},
        ),
        Preset(
            "transformers",
            "Transformers PreTrainedModel._init_weights: N(0, 0.02²) for Linear, Conv, "
            "ConvTranspose1d/2d and Embedding, zero biases, xavier for nn.LSTM; "
            "torch's own default for what it leaves alone (GRU, RNN, ConvTranspose3d)",
            {
                "dense": HF,
                **_rows(CONVS + TRANSPOSED[:2], HF),
                "conv_transpose3d": TORCH_LINEAR,
                "embedding": {"weight": HF_NORMAL},
                **_rows(NORMS, ONES),
                "lstm": {"weight": "glorot_uniform", "recurrent": "glorot_uniform", "bias": "zeros"},
                **_rows(RNNS[1:], {"weight": TORCH_RNN, "recurrent": TORCH_RNN, "bias": TORCH_RNN}),
                "attention": HF,
            },
            {"conv_transpose3d": {"fan_convention": "torch"}},
        ),
    )
}
