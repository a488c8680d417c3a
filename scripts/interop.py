"""Load initgen's files into the real frameworks and run them (`make interop`).

For each shipped spec: make the file at the reduced size of models.SMALL_SETS with
initgen, build the matching framework model (Transformers GPT-2 and Llama, torchvision
ResNet-18, timm ViT-B/16, torch modules for the small nets), load the file with
``load_state_dict(strict=True)`` (tied aliases filled from the tensor they share, as
``from_pretrained`` does; non-persistent buffers are not in a state dict) or, for the
Keras model, the spec made as ``NAME.weights.h5`` and loaded with
``model.load_weights``, run a
forward pass and check the outputs are finite. For the specs that follow their
framework's own init (SAME_INIT), each tensor's mean and std are also compared with the
framework's freshly initialised model. Exit 1 on any failure.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))


# Specs whose init claims to be the framework's own: each tensor's values are compared
# with the framework's freshly initialised tensor of the same name.
SAME_INIT = {"gpt2", "llama", "resnet18", "vit-b16", "lstm-imdb-keras"}
MIN_VALUES = 256  # below this, the moments of a random tensor say too little


def compare_init(spec: str, ours: dict, model) -> int:
    """Our values and the framework's own init agree in mean and std, to 6 standard
    errors: |log(s₁/s₂)| ≤ 6/√n (the std of log s is ≤ 1/√(2n) for tails no heavier
    than a normal's, √2 more for a difference), |m₁ − m₂| ≤ 6·√((s₁² + s₂²)/n).
    Tensors the framework makes of at most two values (constants, a forget-gate bias)
    must be equal. Returns the number of tensors compared."""
    import math

    import torch
    from models import framework_state

    theirs = framework_state(model)
    compared = 0
    for name, a in ours.items():
        b = theirs[name]
        a64, b64 = a.double().flatten(), b.double().flatten()
        if b64.unique().numel() <= 2:  # constants, and piecewise ones (a forget-gate bias)
            if not torch.equal(a64, b64):
                raise AssertionError(f"{spec}: {name}: constant values differ from the framework's")
            compared += 1
            continue
        n = a64.numel()
        if n < MIN_VALUES:
            continue
        sa, sb = a64.std().item(), b64.std().item()
        ma, mb = a64.mean().item(), b64.mean().item()
        if abs(math.log(sa / sb)) > 6 / math.sqrt(n) or abs(ma - mb) > 6 * math.sqrt((sa**2 + sb**2) / n):
            raise AssertionError(
                f"{spec}: {name}: mean/std {ma:.3g}/{sa:.4g} vs the framework's {mb:.3g}/{sb:.4g} (n={n})"
            )
        compared += 1
    return compared


def check(spec: str, out_dir: Path) -> str:
    import torch
    from models import BUILDERS, INPUTS, KERAS, SMALL_SETS, load, run
    from safetensors.torch import load_file

    out = out_dir / f"{spec}.safetensors"
    sets = [arg for s in SMALL_SETS[spec] for arg in ("--set", s)]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "initgen",
            "make",
            str(ROOT / "specs" / f"{spec}.yaml"),
            "-o",
            str(out),
            "--quiet",
            *sets,
        ],
        check=True,
    )
    torch.manual_seed(0)
    model, source = BUILDERS[spec](True)
    state = load_file(str(out))
    same = (
        f"; init matches the framework's in {compare_init(spec, state, model)} tensors"
        if spec in SAME_INIT
        else ""
    )
    if spec in KERAS:  # Keras' own file layout: load_weights, no set_weights loop
        h5 = out_dir / f"{spec}.weights.h5"
        make = [sys.executable, "-m", "initgen", "make", str(ROOT / "specs" / f"{spec}.yaml"), "-o", str(h5)]
        subprocess.run([*make, "--quiet", *sets], check=True)
        model.load_weights(str(h5))
        source += f"; {h5.name} with load_weights"
    else:
        load(model, state)
    y = run(model, INPUTS[spec]())
    if not torch.isfinite(y).all():
        raise AssertionError(f"{spec}: non-finite outputs")
    return (
        f"{spec}: loaded {len(state)} tensors into {source} (strict); forward {tuple(y.shape)} finite{same}"
    )


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
