"""Record how each framework initialises a layer of every type (`make interop`).

    /path/to/interop-venv/bin/python scripts/record_presets.py

Builds scripts/preset_models.py's model in torch, Transformers, Keras 3 and Flax with
the framework's own defaults and writes tests/data/reference/presets/<preset>.json:
the framework versions, the spec the model matches (PRESET_SPEC), and per tensor its
kind (constant, piecewise, uniform, truncated_normal, normal, orthogonal) and std,
mean and absmax. tests/test_presets.py checks initgen's `defaults: <preset>` plan of
that spec against these records without the frameworks.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))


def versions(*mods: str) -> dict[str, str]:
    return {m: importlib.import_module(m).__version__ for m in mods}


def main() -> None:
    import torch
    from preset_models import (
        PRESET_SPEC,
        flax_summaries,
        keras_file_summaries,
        keras_model,
        torch_model,
        torch_summaries,
        transformers_model,
    )

    torch.manual_seed(0)
    records = {
        "torch": (
            torch_summaries(torch_model()),
            "torch modules nn.Linear, nn.Conv{1,2,3}d, nn.ConvTranspose{1,2,3}d, nn.Embedding, "
            "nn.LayerNorm, nn.BatchNorm1d, nn.LSTM, nn.GRU, nn.RNN; state-dict names",
            ("torch",),
        ),
        "transformers": (
            torch_summaries(transformers_model(), "layers."),
            "the torch modules inside a PreTrainedModel (initializer_range 0.02), after post_init()",
            ("torch", "transformers"),
        ),
        "keras": (
            keras_file_summaries(keras_model()),
            "a keras.Model (Functional) with Dense, Conv1D/2D(groups=2)/3D, Conv1D/2D/3DTranspose, "
            "Embedding, LayerNormalization, BatchNormalization, LSTM, GRU, SimpleRNN; the "
            "dataset paths of its own save_weights file",
            ("keras", "torch"),
        ),
        "flax": (
            flax_summaries(),
            "flax.linen Dense, Conv, ConvTranspose, Embed, LayerNorm, BatchNorm, LSTMCell, GRUCell, "
            "SimpleCell; gate kernels stacked as torch's [G·h, in]; biases a cell lacks are zeros",
            ("flax", "jax"),
        ),
    }
    out_dir = ROOT / "tests" / "data" / "reference" / "presets"
    out_dir.mkdir(parents=True, exist_ok=True)
    for preset, (tensors, model, mods) in records.items():
        record = {
            "preset": preset,
            "model": model,
            "versions": versions(*mods),
            "spec": PRESET_SPEC,
            "tensors": tensors,
        }
        path = out_dir / f"{preset}.json"
        path.write_text(json.dumps(record, indent=1) + "\n")
        print(f"{path.relative_to(ROOT)}: {len(tensors)} tensors")


if __name__ == "__main__":
    main()
