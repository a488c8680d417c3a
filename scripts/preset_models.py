"""One small model per framework with a layer of every type initgen's presets cover,
and a summary of how the framework itself initialised each tensor. Used by
scripts/record_presets.py (records) and scripts/interop.py (loading initgen's files).

Every model matches PRESET_SPEC: torch modules and Transformers (a PreTrainedModel
around the same modules) by state-dict name; Keras by the dataset path of its own
``save_weights`` file (a Functional model with one layer of each class, so the paths
are ``layers/<class>/vars/<i>``); Flax linen modules by the initgen (torch-layout)
tensor each parameter corresponds to (gate kernels stacked along the output axis).
Needs torch, Keras 3, Transformers, JAX and Flax; Keras runs on torch.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np

# Every random tensor has at least 2048 values, so its std says something.
PRESET_SPEC = """\
initgen: 1
name: presets
layers:
  - {name: dense, type: dense, in: 64, out: 64}
  - {name: conv1d, type: conv1d, in: 16, out: 32, kernel: 5}
  - {name: conv2d, type: conv2d, in: 16, out: 32, kernel: 3, groups: 2}
  - {name: conv3d, type: conv3d, in: 8, out: 16, kernel: 3}
  - {name: convt1d, type: conv_transpose1d, in: 32, out: 16, kernel: 5}
  - {name: convt2d, type: conv_transpose2d, in: 32, out: 16, kernel: 3}
  - {name: convt3d, type: conv_transpose3d, in: 16, out: 8, kernel: 3}
  - {name: emb, type: embedding, num: 100, dim: 32}
  - {name: ln, type: layernorm, dim: 64}
  - {name: bn, type: batchnorm, dim: 32}
  - {name: lstm, type: lstm, in: 32, hidden: 32}
  - {name: gru, type: gru, in: 32, hidden: 32}
  - {name: rnn, type: rnn, in: 64, hidden: 48}
"""
GATES = {"lstm": 4, "gru": 3, "rnn": 1}
MIN_VALUES = 2048


def summary(a: Any, blocks: int = 0) -> dict[str, Any]:
    """Kind (constant, piecewise, uniform, truncated_normal, normal, orthogonal, random
    when too small to tell; told apart by excess kurtosis), std, mean and absmax of one
    tensor. ``blocks``: the tensor is [G·h, ...] gate blocks along axis 0 to test for
    orthogonality."""
    x = np.asarray(a, dtype=np.float64)
    flat = x.reshape(-1)
    out: dict[str, Any] = {"numel": int(flat.size), "std": float(flat.std()), "mean": float(flat.mean())}
    out["absmax"] = float(np.abs(flat).max()) if flat.size else 0.0
    uniq = np.unique(flat)
    if uniq.size == 1:
        return {**out, "kind": "constant", "value": float(uniq[0])}
    if uniq.size == 2:
        return {**out, "kind": "piecewise", "values": flat.tolist()}
    if blocks:
        for b in (1, blocks):
            rows = np.split(x.reshape(x.shape[0], -1), b, axis=0)
            if all(_orthonormal(r) for r in rows):
                return {**out, "kind": "orthogonal", "blocks": b}
    if flat.size < MIN_VALUES:
        return {**out, "kind": "random"}
    # excess kurtosis: uniform −1.2, normal cut at ±2σ −0.63, normal 0 (± ~0.1 at n ≥ 2048)
    z = (flat - flat.mean()) / flat.std()
    excess = float((z**4).mean() - 3)
    kind = "uniform" if excess < -0.95 else "truncated_normal" if excess < -0.32 else "normal"
    return {**out, "kind": kind, "excess_kurtosis": excess}


def _orthonormal(m: np.ndarray) -> bool:
    g = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
    return bool(np.allclose(g, np.eye(g.shape[0]), atol=1e-4))


# -- torch and Transformers ---------------------------------------------------------


def torch_model() -> Any:
    from torch import nn

    class Layers(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.dense = nn.Linear(64, 64)
            self.conv1d = nn.Conv1d(16, 32, 5)
            self.conv2d = nn.Conv2d(16, 32, 3, groups=2)
            self.conv3d = nn.Conv3d(8, 16, 3)
            self.convt1d = nn.ConvTranspose1d(32, 16, 5)
            self.convt2d = nn.ConvTranspose2d(32, 16, 3)
            self.convt3d = nn.ConvTranspose3d(16, 8, 3)
            self.emb = nn.Embedding(100, 32)
            self.ln = nn.LayerNorm(64)
            self.bn = nn.BatchNorm1d(32)
            self.lstm = nn.LSTM(32, 32)
            self.gru = nn.GRU(32, 32)
            self.rnn = nn.RNN(64, 48)

        def forward(self, x: Any) -> Any:  # every layer once, for a run after loading
            import torch

            outs = [
                self.ln(self.dense(x["dense"])),
                self.convt1d(self.conv1d(x["c1"])),
                self.convt2d(self.conv2d(x["c2"])),
                self.convt3d(self.conv3d(x["c3"])),
                self.bn(self.emb(x["tok"]).mean(1)),
                self.gru(self.lstm(x["seq"])[0])[0],
                self.rnn(x["seq64"])[0],
            ]
            return torch.cat([o.reshape(-1) for o in outs])

    return Layers()


def torch_inputs() -> dict[str, Any]:
    import torch

    return {
        "dense": torch.randn(2, 64),
        "c1": torch.randn(2, 16, 10),
        "c2": torch.randn(2, 16, 8, 8),
        "c3": torch.randn(2, 8, 6, 6, 6),
        "tok": torch.randint(0, 100, (2, 5)),
        "seq": torch.randn(7, 2, 32),
        "seq64": torch.randn(7, 2, 64),
    }


def transformers_model() -> Any:
    from transformers import PretrainedConfig, PreTrainedModel

    class Config(PretrainedConfig):
        model_type = "initgen-presets"

        def __init__(self, initializer_range: float = 0.02, **kw: Any) -> None:
            super().__init__(**kw)
            self.initializer_range = initializer_range

    class Model(PreTrainedModel):
        config_class = Config
        base_model_prefix = "layers"

        def __init__(self, config: Config) -> None:
            super().__init__(config)
            self.layers = torch_model()
            self.post_init()  # Transformers' _init_weights over every module

        def forward(self, x: Any) -> Any:
            return self.layers(x)

    return Model(Config())


def torch_summaries(model: Any, prefix: str = "") -> dict[str, Any]:
    out = {}
    for name, t in model.state_dict().items():
        key = name.removeprefix(prefix)
        kind = key.partition(".")[0]
        blocks = GATES[kind] if kind in GATES and "weight_hh" in key else 0
        out[key] = summary(t.detach().cpu().numpy(), blocks)
    return out


# -- Keras --------------------------------------------------------------------------


def keras_model() -> Any:
    """A Functional model with one layer of each Keras class of PRESET_SPEC."""
    import keras

    L = keras.layers
    ins = [
        keras.Input((64,)),
        keras.Input((10, 16)),
        keras.Input((8, 8, 16)),
        keras.Input((6, 6, 6, 8)),
        keras.Input((5,), dtype="int32"),
        keras.Input((7, 32)),
        keras.Input((7, 64)),
    ]
    outs = [
        L.LayerNormalization()(L.Dense(64)(ins[0])),
        L.Conv1DTranspose(16, 5)(L.Conv1D(32, 5)(ins[1])),
        L.Conv2DTranspose(16, 3)(L.BatchNormalization()(L.Conv2D(32, 3, groups=2)(ins[2]))),
        L.Conv3DTranspose(8, 3)(L.Conv3D(16, 3)(ins[3])),
        L.Embedding(100, 32)(ins[4]),
        L.GRU(32)(L.LSTM(32, return_sequences=True)(ins[5])),
        L.SimpleRNN(48)(ins[6]),
    ]
    return keras.Model(ins, outs)


def keras_inputs() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    shapes = [(2, 64), (2, 10, 16), (2, 8, 8, 16), (2, 6, 6, 6, 8), None, (2, 7, 32), (2, 7, 64)]
    return [
        rng.integers(0, 100, (2, 5)).astype("int32")
        if s is None
        else rng.standard_normal(s).astype("float32")
        for s in shapes
    ]


def keras_file_summaries(model: Any) -> dict[str, Any]:
    """Keras' own save_weights file, read back: dataset path (dots) → summary."""
    import h5py

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "own.weights.h5")
        model.save_weights(path)
        out: dict[str, Any] = {}
        with h5py.File(path, "r") as f:

            def visit(name: str, obj: Any) -> None:
                if isinstance(obj, h5py.Dataset):
                    key = name.replace("/", ".")
                    blocks = 1 if key.endswith("vars.1") and ".cell." in key else 0
                    out[key] = summary(obj[()], blocks)

            f.visititems(visit)
    return out


# -- Flax (linen) -------------------------------------------------------------------


def flax_summaries(seed: int = 0) -> dict[str, Any]:
    """Flax linen's own init, by the initgen tensor (torch layout) it corresponds to.
    Gate kernels are stacked along the output axis ([G·h, in], as torch's weight_ih);
    a bias Flax's cell does not have is a zero vector (the sum of biases is what counts)."""
    import jax
    import jax.numpy as jnp
    from flax import linen as nn

    key = jax.random.PRNGKey(seed)

    def init(module: Any, *shape: int, dtype: Any = jnp.float32) -> Any:
        return module.init(key, jnp.zeros(shape, dtype))

    def t(k: Any) -> np.ndarray:  # Flax [*k, in, out] → torch-like [out, in, *k] for block tests
        a = np.asarray(k)
        return np.moveaxis(a, -1, 0) if a.ndim >= 2 else a

    out: dict[str, Any] = {}

    def put(name: str, kernel: Any, bias: Any = None) -> None:
        out[f"{name}.weight"] = summary(t(kernel))
        if bias is not None:
            out[f"{name}.bias"] = summary(np.asarray(bias))

    p = init(nn.Dense(64), 1, 64)["params"]
    put("dense", p["kernel"], p["bias"])
    for name, mod, shape in (
        ("conv1d", nn.Conv(32, (5,)), (1, 10, 16)),
        ("conv2d", nn.Conv(32, (3, 3), feature_group_count=2), (1, 8, 8, 16)),
        ("conv3d", nn.Conv(16, (3, 3, 3)), (1, 6, 6, 6, 8)),
        ("convt1d", nn.ConvTranspose(16, (5,)), (1, 10, 32)),
        ("convt2d", nn.ConvTranspose(16, (3, 3)), (1, 8, 8, 32)),
        ("convt3d", nn.ConvTranspose(8, (3, 3, 3)), (1, 6, 6, 6, 16)),
    ):
        p = init(mod, *shape)["params"]
        put(name, p["kernel"], p["bias"])
    p = init(nn.Embed(100, 32), 1, 5, dtype=jnp.int32)["params"]
    out["emb.weight"] = summary(p["embedding"])
    p = init(nn.LayerNorm(), 1, 64)["params"]
    out["ln.weight"], out["ln.bias"] = summary(p["scale"]), summary(p["bias"])
    v = nn.BatchNorm(use_running_average=False).init(key, jnp.zeros((2, 32)))
    out["bn.weight"], out["bn.bias"] = summary(v["params"]["scale"]), summary(v["params"]["bias"])
    out["bn.running_mean"] = summary(v["batch_stats"]["mean"])
    out["bn.running_var"] = summary(v["batch_stats"]["var"])

    def cell(name: str, mod: Any, n_in: int, h: int, ins: list[str], hs: list[str]) -> None:
        carry = mod.initialize_carry(key, (1, n_in))
        p = mod.init(key, carry, jnp.zeros((1, n_in)))["params"]
        stack = lambda names: np.concatenate([np.asarray(p[n]["kernel"]).T for n in names], 0)
        bias = lambda names: np.concatenate(
            [np.asarray(p[n]["bias"]) if "bias" in p[n] else np.zeros(h) for n in names]
        )
        out[f"{name}.weight_ih_l0"] = summary(stack(ins))
        out[f"{name}.weight_hh_l0"] = summary(stack(hs), len(hs))
        out[f"{name}.bias_ih_l0"] = summary(bias(ins))
        out[f"{name}.bias_hh_l0"] = summary(bias(hs))

    cell("lstm", nn.LSTMCell(32), 32, 32, ["ii", "if", "ig", "io"], ["hi", "hf", "hg", "ho"])
    cell("gru", nn.GRUCell(32), 32, 32, ["ir", "iz", "in"], ["hr", "hz", "hn"])
    p_rnn = nn.SimpleCell(48)
    carry = p_rnn.initialize_carry(key, (1, 64))
    p = p_rnn.init(key, carry, jnp.zeros((1, 64)))["params"]
    out["rnn.weight_ih_l0"] = summary(np.asarray(p["i"]["kernel"]).T)
    out["rnn.weight_hh_l0"] = summary(np.asarray(p["h"]["kernel"]).T, 1)
    out["rnn.bias_ih_l0"] = summary(np.asarray(p["i"]["bias"]))
    out["rnn.bias_hh_l0"] = summary(np.zeros(48))
    return out
