"""The real models each shipped spec describes, built with the framework that defines
them (torch, torchvision, Transformers, timm, Keras 3 on torch), for scripts/record_reference.py and
scripts/interop.py. Needs a venv with those packages (`make interop` makes one).

Every builder takes ``small``: False for the spec's full size (used on torch's meta
device: shapes without memory), True for the reduced size whose ``--set`` overrides
are in SMALL_SETS, so a reduced file can be loaded and run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")  # Keras 3 on the torch already installed

import torch
from torch import nn

# --set overrides that shrink each spec; the builders' small configs match them.
SMALL_SETS: dict[str, list[str]] = {
    "mlp-mnist": [],
    "lenet5": [],
    "lstm-lm": ["vocab=50", "dim=16"],
    "resnet18": ["classes=10"],
    "gpt2": ["n_layer=2", "dim=64", "heads=4", "vocab=128", "n_ctx=32"],
    "llama": ["n_layer=2", "dim=64", "heads=4", "kv_heads=2", "vocab=128", "ffn=96"],
    "vit-b16": ["depth=2", "dim=64", "heads=4", "img=32", "classes=10"],
    "lstm-imdb-keras": ["vocab=200", "dim=32", "units=32"],
}
KERAS = {"lstm-imdb-keras"}  # specs whose model is a Keras model (the others: torch modules)


class MLP(nn.Module):
    def __init__(self, hidden: int = 256) -> None:
        super().__init__()
        self.fc1, self.fc2, self.fc3 = (
            nn.Linear(784, hidden),
            nn.Linear(hidden, hidden),
            nn.Linear(hidden, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


class LeNet5(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.avg_pool2d(torch.tanh(self.conv1(x)), 2)
        x = nn.functional.avg_pool2d(torch.tanh(self.conv2(x)), 2).flatten(1)
        return self.fc3(torch.tanh(self.fc2(torch.tanh(self.fc1(x)))))


class LSTMLM(nn.Module):
    """PyTorch's word_language_model RNNModel('LSTM', ...), without dropout."""

    def __init__(self, vocab: int = 10000, dim: int = 650, layers: int = 2) -> None:
        super().__init__()
        self.encoder = nn.Embedding(vocab, dim)
        self.rnn = nn.LSTM(dim, dim, layers)
        self.decoder = nn.Linear(dim, vocab)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.encoder(x))
        return self.decoder(out)


def _gpt2(small: bool) -> tuple[nn.Module, str]:
    from transformers import GPT2Config, GPT2LMHeadModel

    kw: dict[str, Any] = (
        dict(vocab_size=128, n_positions=32, n_embd=64, n_layer=2, n_head=4, bos_token_id=0, eos_token_id=0)
        if small
        else {}
    )
    return GPT2LMHeadModel(GPT2Config(**kw)), f"transformers GPT2LMHeadModel(GPT2Config({kw}))"


def _llama(small: bool) -> tuple[nn.Module, str]:
    from transformers import LlamaConfig, LlamaForCausalLM

    if small:
        kw: dict[str, Any] = dict(
            vocab_size=128,
            hidden_size=64,
            intermediate_size=96,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
        )
    else:  # TinyLlama-1.1B's config.json
        kw = dict(
            vocab_size=32000,
            hidden_size=2048,
            intermediate_size=5632,
            num_hidden_layers=22,
            num_attention_heads=32,
            num_key_value_heads=4,
            max_position_embeddings=2048,
        )
    kw["tie_word_embeddings"] = False
    return LlamaForCausalLM(LlamaConfig(**kw)), f"transformers LlamaForCausalLM(LlamaConfig({kw}))"


def _resnet18(small: bool) -> tuple[nn.Module, str]:
    import torchvision

    kw = {"num_classes": 10} if small else {}
    return torchvision.models.resnet18(**kw), f"torchvision.models.resnet18({kw})"


def _vit(small: bool) -> tuple[nn.Module, str]:
    import timm

    kw: dict[str, Any] = (
        dict(img_size=32, embed_dim=64, depth=2, num_heads=4, num_classes=10) if small else {}
    )
    return (
        timm.create_model("vit_base_patch16_224", pretrained=False, **kw),
        f"timm.create_model('vit_base_patch16_224', pretrained=False, **{kw})",
    )


def _imdb_keras(small: bool) -> tuple[Any, str]:
    import keras

    vocab, dim, units = (200, 32, 32) if small else (20000, 128, 128)
    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(vocab, dim, name="embedding"),
            keras.layers.LSTM(units, name="lstm"),
            keras.layers.Dense(1, activation="sigmoid", name="dense"),
        ]
    )
    return model, (
        f"keras {keras.__version__} Sequential([Embedding({vocab}, {dim}), "
        f"LSTM({units}), Dense(1, 'sigmoid')]); names <layer>.<weight>"
    )


BUILDERS: dict[str, Callable[[bool], tuple[Any, str]]] = {
    "mlp-mnist": lambda small: (MLP(), "scripts/models.py MLP(): nn.Linear fc1, fc2, fc3"),
    "lenet5": lambda small: (
        LeNet5(),
        "scripts/models.py LeNet5(): nn.Conv2d conv1, conv2; nn.Linear fc1-fc3",
    ),
    "lstm-lm": lambda small: (
        (LSTMLM(50, 16) if small else LSTMLM()),
        "scripts/models.py LSTMLM(): nn.Embedding encoder, nn.LSTM rnn (2 layers), nn.Linear decoder",
    ),
    "resnet18": _resnet18,
    "gpt2": _gpt2,
    "llama": _llama,
    "vit-b16": _vit,
    "lstm-imdb-keras": _imdb_keras,
}

# An input for a forward pass of the small model.
INPUTS: dict[str, Callable[[], torch.Tensor]] = {
    "mlp-mnist": lambda: torch.randn(2, 784),
    "lenet5": lambda: torch.randn(2, 1, 32, 32),
    "lstm-lm": lambda: torch.randint(0, 50, (5, 2)),
    "resnet18": lambda: torch.randn(2, 3, 64, 64),
    "gpt2": lambda: torch.randint(0, 128, (2, 8)),
    "llama": lambda: torch.randint(0, 128, (2, 8)),
    "vit-b16": lambda: torch.randn(2, 3, 32, 32),
    "lstm-imdb-keras": lambda: torch.randint(0, 200, (2, 7)),
}


def is_keras(model: Any) -> bool:
    # Keras 3 models on the torch backend are torch modules too: ask Keras first
    return type(model).__module__.startswith("keras")


def keras_weights(model: Any) -> dict[str, Any]:
    """A Keras model's weights by ``<layer name>.<weight name>``, in layer order."""
    return {f"{layer.name}.{w.name}": w for layer in model.layers for w in layer.weights}


def framework_state(model: Any) -> dict[str, torch.Tensor]:
    """The model's own (freshly initialised) tensors by name."""
    if not is_keras(model):
        return model.state_dict()
    return {k: torch.as_tensor(w.numpy()) for k, w in keras_weights(model).items()}


def load(model: Any, state: dict[str, Any]) -> None:
    """torch: load_state_dict(strict=True), tied aliases filled from their tensor;
    Keras: set_weights on every layer, each weight taken by name (all must be there)."""
    if not is_keras(model):
        _, tied = state_entries(model)
        state = {**state, **{alias: state[target] for alias, target in tied.items()}}
        model.load_state_dict(state, strict=True)
        model.eval()
        return
    names = keras_weights(model)
    extra = set(state) - set(names)
    if extra:
        raise KeyError(f"tensors the model does not have: {sorted(extra)}")
    for layer in model.layers:
        layer.set_weights([state[f"{layer.name}.{w.name}"].numpy() for w in layer.weights])


def run(model: Any, x: torch.Tensor) -> torch.Tensor:
    if not is_keras(model):
        with torch.no_grad():
            y = model(x)
        return getattr(y, "logits", y)
    return torch.as_tensor(model.predict(x.numpy(), verbose=0))


def state_entries(model: Any) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The state dict's tensors (name, shape, dtype) and its tied aliases (name → the
    name it shares storage with), which are one tensor and so one entry in a file."""
    if is_keras(model):
        return [
            {"name": k, "shape": list(w.shape), "dtype": str(w.dtype)}
            for k, w in keras_weights(model).items()
        ], {}
    seen: dict[int, str] = {}
    tensors, tied = [], {}
    for name, value in model.state_dict(keep_vars=True).items():
        if id(value) in seen:
            tied[name] = seen[id(value)]
            continue
        seen[id(value)] = name
        tensors.append(
            {"name": name, "shape": list(value.shape), "dtype": str(value.dtype).removeprefix("torch.")}
        )
    return tensors, tied
