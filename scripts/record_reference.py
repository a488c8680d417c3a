"""Record each shipped spec's reference tensor list from the real framework.

    .venv-interop/bin/python scripts/record_reference.py      # or: make interop

Writes tests/data/reference/<spec>.json: every tensor of the model's state dict
(name, shape, dtype) at the spec's full size, built on torch's meta device (shapes
only, no memory), plus the framework versions, what was left out (tied aliases) and
the ``--set`` overrides that shrink the spec (the tests make it at that size).
The test suite checks each spec's plan against these lists without needing torch.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))


def versions() -> dict[str, str]:
    import importlib

    out = {}
    for mod in ("torch", "torchvision", "transformers", "timm", "keras"):
        try:
            out[mod] = importlib.import_module(mod).__version__
        except ImportError:
            pass
    return out


def main() -> None:
    import torch
    from models import BUILDERS, KERAS, SMALL_SETS

    out_dir = ROOT / "tests" / "data" / "reference"
    out_dir.mkdir(parents=True, exist_ok=True)
    from models import state_entries

    for spec, build in BUILDERS.items():
        # torch models on the meta device (shapes only); Keras builds its own variables
        with contextlib.nullcontext() if spec in KERAS else torch.device("meta"):
            model, source = build(False)
        tensors, tied = state_entries(model)
        record = {
            "spec": f"specs/{spec}.yaml",
            "model": source,
            "versions": versions(),
            "small_sets": SMALL_SETS[spec],
            "tied": tied,
            "tensors": tensors,
        }
        path = out_dir / f"{spec}.json"
        path.write_text(json.dumps(record, indent=1) + "\n")
        print(f"{path.relative_to(ROOT)}: {len(tensors)} tensors" + (f", tied {tied}" if tied else ""))


if __name__ == "__main__":
    main()
