"""A plan in Keras 3's ``.weights.h5`` layout: every tensor named by the HDF5 path
Keras' ``model.load_weights`` reads it from (``keras/src/saving/saving_lib.py``).

Keras saves a Sequential or Functional model's layers under ``layers/<class>``,
``<class>`` being the snake-case class name with ``_1``, ``_2``, … counting earlier
layers of the same class (layers without weights, such as pooling or an InputLayer,
only advance their own class's count), and each layer's variables as ``vars/0``,
``vars/1``, … in the order of ``trainable_weights + non_trainable_weights``. An RNN
layer's variables belong to its ``cell`` attribute (``layers/lstm/cell/vars``), a
``Bidirectional`` wrapper's to ``forward_layer`` and ``backward_layer``.

The spec is planned again with every layer in the ``keras`` layout, so tensors have
Keras' names, axis order and variables (one LSTM bias; GRU bias ``[2, 3·hidden]``)
whatever the spec's layout; per-tensor ``init`` keys in torch names are translated.
A multi-layer recurrent layer becomes one Keras layer per layer (``lstm``,
``lstm_1``), a bidirectional one a ``Bidirectional`` per layer. Tensor names are the
dataset paths with dots (``layers.dense.vars.0``), so the values' streams, the file's
records and ``initgen verify`` all use the name the file shows.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from typing import Any

from ..dtypes import DTYPES
from ..errors import SpecError
from ..spec import LayerSpec, Spec
from .build import plan_layer
from .tensors import Plan, TensorPlan

# initgen type → the Keras 3 layer class's snake-case name (keras.src.utils.naming)
KERAS_CLASSES = {
    "dense": "dense",
    **{f"conv{n}d": f"conv{n}d" for n in (1, 2, 3)},
    **{f"conv_transpose{n}d": f"conv{n}d_transpose" for n in (1, 2, 3)},
    "embedding": "embedding",
    "layernorm": "layer_normalization",
    "rmsnorm": "rms_normalization",
    "batchnorm": "batch_normalization",
    "lstm": "lstm",
    "gru": "gru",
    "rnn": "simple_rnn",
}
KERAS_DTYPES = ("float64", "float32", "float16", "bfloat16")
RECURRENT = ("lstm", "gru", "rnn")
# torch tensor keys → Keras keys (None: Keras has no such variable)
_TORCH_KEYS: dict[str, str | None] = {
    "running_mean": "moving_mean",
    "running_var": "moving_variance",
    "num_batches_tracked": None,
}
_NORM_KEYS = {"weight": "gamma", "bias": "beta"}
_RNN_KEY = re.compile(r"(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)(_reverse)?")
_RNN_NAMES = {"weight_ih": "kernel", "weight_hh": "recurrent_kernel", "bias_ih": "bias", "bias_hh": None}


def _refuse(spec: Spec, layer: LayerSpec, key: str | None, why: str) -> SpecError:
    path = (*layer.path, key) if key else layer.path
    return spec.pos.error(path, f"{why}, so it cannot be written to a Keras .weights.h5 file")


def _check(spec: Spec, layer: LayerSpec) -> None:
    a = layer.args
    if layer.type not in KERAS_CLASSES:
        raise spec.pos.error(
            (*layer.path, "type"),
            f"{layer.type} layers have no Keras counterpart, so they cannot be written to a "
            "Keras .weights.h5 file (write .safetensors or a plain .h5)",
            hint=f"Keras files hold {', '.join(KERAS_CLASSES)}",
        )
    if layer.type.startswith("conv_transpose") and a["groups"] > 1:
        raise _refuse(spec, layer, "groups", "Keras' transposed convolutions have no groups")
    if layer.type == "batchnorm" and not a["running_stats"]:
        raise _refuse(spec, layer, "running_stats", "Keras' BatchNormalization always has moving statistics")
    if layer.dtype not in KERAS_DTYPES:
        raise _refuse(
            spec, layer, None, f"Keras cannot load {layer.dtype} weights (it reads {', '.join(KERAS_DTYPES)})"
        )


def _keras_key(layer: LayerSpec, key: str) -> str | None:
    """A per-tensor init key of a torch-layout layer, in Keras' names."""
    m = _RNN_KEY.fullmatch(key) if layer.type in RECURRENT else None
    if m:
        name = _RNN_NAMES[m.group(1)]
        single = layer.args["layers"] == 1 and not layer.args["bidirectional"]
        return None if name is None else name if single else f"l{m.group(2)}{m.group(3) or ''}.{name}"
    if layer.type in ("layernorm", "rmsnorm", "batchnorm") and key in _NORM_KEYS:
        return _NORM_KEYS[key]
    if key == "weight" and layer.type == "embedding":
        return "embeddings"
    return _TORCH_KEYS.get(key, "kernel" if key == "weight" else key)


def _keras_layer(layer: LayerSpec) -> LayerSpec:
    init: Any = layer.init
    if layer.layout == "torch" and isinstance(init, dict) and "scheme" not in init:
        init = {k2: v for k, v in init.items() if (k2 := _keras_key(layer, k)) is not None}
    return replace(layer, layout="keras", names={}, init=init)


def _groups(layer: LayerSpec, counts: Counter[str]) -> dict[str, str]:
    """Tensor-key prefix (``""``, ``"l0."``, ``"l1_reverse."``) → its HDF5 group."""

    def unique(cls: str) -> str:
        n = counts[cls]
        counts[cls] += 1
        return cls if n == 0 else f"{cls}_{n}"

    cls = KERAS_CLASSES[layer.type]
    if layer.type not in RECURRENT:
        return {"": f"layers/{unique(cls)}"}
    a = layer.args
    if a["layers"] == 1 and not a["bidirectional"]:
        return {"": f"layers/{unique(cls)}/cell"}
    out = {}
    for k in range(a["layers"]):
        if a["bidirectional"]:
            base = f"layers/{unique('bidirectional')}"
            out[f"l{k}."] = f"{base}/forward_layer/cell"
            out[f"l{k}_reverse."] = f"{base}/backward_layer/cell"
        else:
            out[f"l{k}."] = f"layers/{unique(cls)}/cell"
    return out


def keras_plan(plan: Plan) -> tuple[Plan, dict[str, str]]:
    """``plan`` in Keras' layout, and each ``vars`` group's path → the spec layer's name.

    Raises:
        SpecError: a layer Keras has no counterpart for (attention, tensor), a grouped
            transposed convolution, batch norm without running statistics, a float8
            dtype; or a plan not built from a spec.
    """
    spec = plan.spec
    if spec is None:
        raise SpecError("a Keras .weights.h5 file is made from a spec: this plan has none")
    counts: Counter[str] = Counter()
    tensors: list[TensorPlan] = []
    groups: dict[str, str] = {}
    kspec = replace(spec, layers=[])
    for layer in spec.layers:
        _check(spec, layer)
        klayer = _keras_layer(layer)
        where = _groups(klayer, counts)
        index: Counter[str] = Counter()
        for t in plan_layer(klayer, kspec):
            key = t.name[len(klayer.name) + 1 :]
            prefix = next(p for p in where if p and key.startswith(p)) if len(where) > 1 else ""
            group = f"{where[prefix]}/vars"
            groups[group] = layer.name
            tensors.append(replace(t, name=f"{group}/{index[group]}".replace("/", ".")))
            index[group] += 1
    for t in tensors:
        if DTYPES[t.dtype].integer:  # pragma: no cover - Keras layouts make no integer buffers
            raise SpecError(f"'{t.name}' is an integer tensor, which Keras layers do not hold")
    return Plan(plan.name, plan.seed, tensors, spec), groups
