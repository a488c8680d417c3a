"""Load initgen's files into the real frameworks and run them (`make interop`).

For each shipped spec: make the file at the reduced size of models.SMALL_SETS with
initgen, build the matching framework model (Transformers GPT-2 and Llama, torchvision
ResNet-18, timm ViT-B/16, torch modules for the small nets), load the file with
``load_state_dict(strict=True)`` (tied aliases filled from the tensor they share, as
``from_pretrained`` does; non-persistent buffers are not in a state dict), run a
forward pass and check the outputs are finite. Exit 1 on any failure.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))


def check(spec: str, out_dir: Path) -> str:
    import torch
    from safetensors.torch import load_file

    from models import BUILDERS, INPUTS, SMALL_SETS, state_entries

    out = out_dir / f"{spec}.safetensors"
    sets = [arg for s in SMALL_SETS[spec] for arg in ("--set", s)]
    subprocess.run([sys.executable, "-m", "initgen", "make", str(ROOT / "specs" / f"{spec}.yaml"),
                    "-o", str(out), "--quiet", *sets], check=True)
    torch.manual_seed(0)
    model, source = BUILDERS[spec](True)
    state = load_file(str(out))
    _, tied = state_entries(model)
    for alias, target in tied.items():
        state[alias] = state[target]
    model.load_state_dict(state, strict=True)
    model.eval()
    with torch.no_grad():
        y = model(INPUTS[spec]())
    y = getattr(y, "logits", y)
    if not torch.isfinite(y).all():
        raise AssertionError(f"{spec}: non-finite outputs")
    return f"{spec}: loaded {len(state)} tensors into {source} (strict); forward {tuple(y.shape)} finite"


def main() -> int:
    from models import BUILDERS

    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for spec in BUILDERS:
            try:
                print(check(spec, Path(tmp)))
            except Exception as e:  # report every model, then fail
                failed += 1
                print(f"{spec}: FAILED: {type(e).__name__}: {e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
