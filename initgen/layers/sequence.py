"""Sequence layer types: recurrent (``lstm``, ``gru``, ``rnn``) and ``attention``.

Recurrent layers use torch's names (``weight_ih_l{k}``, ``weight_hh_l{k}``,
``bias_ih_l{k}``, ``bias_hh_l{k}``, ``_reverse`` for the backward direction) and
gate orders (LSTM i, f, g, o; GRU r, z, n). Input weights default to Glorot uniform
over the whole matrix (Keras' ``kernel`` default), recurrent weights to orthogonal
per gate block (each [hidden, hidden] block is its own orthogonal matrix), biases to
zeros; ``per_gate: false`` makes an orthogonal recurrent weight one matrix instead
(Keras' ``recurrent_initializer="orthogonal"``). ``unit_forget_bias`` sets the LSTM
forget-gate slice of ``bias_ih`` to 1, so the gate's total bias is 1 as in Keras
(``bias_hh`` stays 0).

Attention projections are kept as separate tensors (``q_proj``, ``k_proj``,
``v_proj``, ``o_proj``) or fused (``qkv_proj`` stacks q, k and v along the output
axis). Fans are per projection, never those of a fused matrix: a fused tensor is
three projections with fans (dim, heads·head_dim) and twice (dim, kv_heads·head_dim).
Schemes that use only fan_in (He, LeCun, fixed normal) give every block the same
distribution; a scheme that also uses fan_out (Glorot) does too when kv_heads =
heads, and is refused on a fused tensor whose blocks would differ (initgen.plan). An
orthogonal init of a fused tensor is made per projection (three equal blocks).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from ..schemes.dists import Dist
from ..schemes.fans import Fans
from .base import (
    BOOL,
    DIM,
    LayerType,
    LayerValueError,
    TensorDecl,
    bias_decls,
    weight_key,
)

GATES = {"lstm": 4, "gru": 3, "rnn": 1}
FORGET_GATE = 1  # index of the forget gate: torch i, f, g, o and Keras i, f, c, o agree


def forget_bias_dist(hidden: int, gates: int) -> Dist:
    """0 everywhere but 1 on rows [hidden, 2·hidden): mean and std of that vector."""
    n = gates * hidden
    mean = hidden / n
    std = math.sqrt(mean * (1 - mean))  # a vector of 0s and 1s with a fraction `mean` of 1s
    return Dist(
        "constant_slice",
        {"value": 0.0, "inside": 1.0, "start": FORGET_GATE * hidden, "stop": (FORGET_GATE + 1) * hidden},
        mean,
        std,
    )


def _recurrent(kind: str) -> Callable[[Mapping[str, Any], str], list[TensorDecl]]:
    gates = GATES[kind]

    def make(a: Mapping[str, Any], layout: str) -> list[TensorDecl]:
        h, rows = a["hidden"], gates * a["hidden"]
        bias_fans = Fans(h, rows)  # torch's RNN default is U(±1/√hidden) for every tensor
        blocks = gates if a["per_gate"] else 1
        dirs = ("", "_reverse") if a["bidirectional"] else ("",)
        forget = a.get("unit_forget_bias", False)
        if forget and not a["bias"]:
            raise LayerValueError("unit_forget_bias", "unit_forget_bias needs bias: true")
        preset = ("unit_forget_bias", forget_bias_dist(h, gates)) if forget else None
        out: list[TensorDecl] = []
        for k in range(a["layers"]):
            size_in = a["in"] if k == 0 else h * len(dirs)
            for d in dirs:
                if layout == "torch":
                    sfx = f"_l{k}{d}"
                    out += [
                        TensorDecl(f"weight_ih{sfx}", (rows, size_in)),
                        TensorDecl(
                            f"weight_hh{sfx}", (rows, h), "recurrent", default="orthogonal", blocks=blocks
                        ),
                    ]
                    if a["bias"]:
                        out += [
                            TensorDecl(f"bias_ih{sfx}", (rows,), "bias", bias_fans, preset=preset),
                            TensorDecl(f"bias_hh{sfx}", (rows,), "bias", bias_fans),
                        ]
                    continue
                # Keras: kernel [in, G·h], recurrent_kernel [h, G·h], one bias (GRU: [2, 3h]).
                cell = "" if a["layers"] == 1 and not a["bidirectional"] else f"l{k}{d}."
                out += [
                    TensorDecl(f"{cell}kernel", (size_in, rows)),
                    TensorDecl(
                        f"{cell}recurrent_kernel", (h, rows), "recurrent", default="orthogonal", blocks=blocks
                    ),
                ]
                if a["bias"]:
                    shape = (2, rows) if kind == "gru" else (rows,)
                    out.append(TensorDecl(f"{cell}bias", shape, "bias", bias_fans, preset=preset))
        return out

    return make


def _heads(a: Mapping[str, Any]) -> tuple[int, int, int]:
    heads = a["heads"]
    kv = a["kv_heads"] or heads
    if heads % kv:
        raise LayerValueError("kv_heads", f"kv_heads={kv} must divide heads={heads}")
    hd = a["head_dim"]
    if hd is None:
        if a["dim"] % heads:
            raise LayerValueError(
                "heads", f"dim={a['dim']} is not a multiple of heads={heads}; give head_dim"
            )
        hd = a["dim"] // heads
    return heads, kv, hd


def _attention(a: Mapping[str, Any], layout: str) -> list[TensorDecl]:
    heads, kv, hd = _heads(a)
    dim, w = a["dim"], weight_key(layout)
    q, k = Fans(dim, heads * hd), Fans(dim, kv * hd)

    def proj(
        name: str, n_in: int, n_out: int, fans: Fans, bias: bool, block_fans: tuple[Fans, ...] = ()
    ) -> list[TensorDecl]:
        shape = (n_out, n_in) if layout == "torch" else (n_in, n_out)
        # equal projections: an orthogonal init is made per projection, like the gates
        blocks = len(block_fans) if block_fans and kv == heads else 1
        return [
            TensorDecl(f"{name}.{w}", shape, fans=fans, block_fans=block_fans, blocks=blocks),
            *bias_decls({"bias": bias}, n_out, f"{name}.bias", fans),
        ]

    out_bias = a["bias"] if a["out_bias"] is None else a["out_bias"]
    if a["qkv"]:
        decls = proj("qkv_proj", dim, (heads + 2 * kv) * hd, q, a["bias"], (q, k, k))
    else:
        decls = [
            *proj("q_proj", dim, heads * hd, q, a["bias"]),
            *proj("k_proj", dim, kv * hd, k, a["bias"]),
            *proj("v_proj", dim, kv * hd, k, a["bias"]),
        ]
    return [*decls, *proj("o_proj", heads * hd, dim, Fans(heads * hd, dim), out_bias)]


_RNN_KEYS = {"in": DIM, "hidden": DIM, "layers": DIM, "bias": BOOL, "bidirectional": BOOL, "per_gate": BOOL}
_RNN_DEFAULTS = {"layers": 1, "bias": True, "bidirectional": False, "per_gate": True}

SEQ_TYPES = [
    LayerType(
        "lstm",
        "LSTM (torch names weight_ih_l{k}...; gates i, f, g, o); "
        "unit_forget_bias sets the forget-gate bias to 1",
        {**_RNN_KEYS, "unit_forget_bias": BOOL},
        {**_RNN_DEFAULTS, "unit_forget_bias": False},
        _recurrent("lstm"),
    ),
    LayerType(
        "gru",
        "GRU (torch names weight_ih_l{k}...; gates r, z, n)",
        _RNN_KEYS,
        _RNN_DEFAULTS,
        _recurrent("gru"),
    ),
    LayerType(
        "rnn", "Elman RNN (torch names weight_ih_l{k}...)", _RNN_KEYS, _RNN_DEFAULTS, _recurrent("rnn")
    ),
    LayerType(
        "attention",
        "multi-head attention: q_proj/k_proj/v_proj/o_proj, or fused "
        "qkv_proj + o_proj (qkv: true); kv_heads < heads for GQA/MQA; fans per projection",
        {
            "dim": DIM,
            "heads": DIM,
            "kv_heads": DIM,
            "head_dim": DIM,
            "qkv": BOOL,
            "bias": BOOL,
            "out_bias": BOOL,
        },
        {"kv_heads": None, "head_dim": None, "qkv": False, "bias": True, "out_bias": None},
        _attention,
    ),
]
