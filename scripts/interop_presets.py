"""Load initgen's preset files into the frameworks and compare them with the
frameworks' own init (`make interop`, after scripts/interop.py).

* Keras 3: ``initgen make SPEC -o x.weights.h5`` with ``defaults: keras``, then
  ``model.load_weights("x.weights.h5")`` into (1) the Sequential
  [Conv2D, BatchNormalization, Conv2D, GlobalAveragePooling2D, Dense,
  LayerNormalization, Dense], (2) the shipped IMDB spec's model, (3) a Functional
  model with a layer of every type (scripts/preset_models.py), also as bfloat16 and as
  shards with NAME.weights.json; each is run, and every loaded weight is compared with
  a fresh model's own.
* torch and Transformers: the same every-type spec with ``defaults: torch`` /
  ``transformers`` as .safetensors, ``load_state_dict(strict=True)``, a forward pass,
  and the same comparison with the freshly built module.
* Flax: the file's values compared with Flax's own init of the same layers; and a
  jax-layout file's tensors put in place of a linen model's variables (every one, the
  same shapes), applied and compared.

The comparison: constant and piecewise-constant tensors equal; tensors of at least
2048 values within 15% in std; smaller ones within max(15%, 4/√n). Exit 1 on any failure.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import numpy as np  # noqa: E402

CONV_SPEC = """\
initgen: 1
name: conv-keras
defaults: keras
layers:
  - {name: c1, type: conv2d, in: 8, out: 32, kernel: 3}
  - {name: bn, type: batchnorm, dim: 32}
  - {name: c2, type: conv2d, in: 32, out: 64, kernel: 3}
  - {name: fc1, type: dense, in: 64, out: 64, activation: relu}
  - {name: ln, type: layernorm, dim: 64}
  - {name: fc2, type: dense, in: 64, out: 32}
"""


def make(spec: Path, out: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "initgen", "make", str(spec), "-o", str(out), "-q", *args], check=True
    )


def same_init(what: str, ours: np.ndarray, theirs: np.ndarray) -> str:
    """'' when ``ours`` could be ``theirs``' init, else why not."""
    a, b = np.asarray(ours, np.float64).ravel(), np.asarray(theirs, np.float64).ravel()
    if a.shape != b.shape:
        return f"{what}: {a.size} values vs {b.size}"
    if np.unique(b).size <= 2:
        return "" if np.array_equal(a, b) else f"{what}: constant values differ"
    sa, sb, n = a.std(), b.std(), a.size
    tol = 0.15 if n >= 2048 else max(0.15, 4 / math.sqrt(n))
    return "" if abs(sa / sb - 1) <= tol else f"{what}: std {sa:.4g} vs the framework's {sb:.4g} (n={n})"


def compare(label: str, ours: dict[str, Any], theirs: dict[str, Any]) -> int:
    bad = [m for k in theirs for m in [same_init(f"{label}: {k}", ours[k], theirs[k])] if m]
    if bad:
        raise AssertionError("; ".join(bad))
    return len(theirs)


def keras_weights(model: Any) -> dict[str, np.ndarray]:
    return {v.path: v.numpy() for v in model.weights}


def keras_check(label: str, build: Any, spec: Path, inputs: Any, tmp: Path, *args: str) -> str:
    out = tmp / f"{label}.weights.h5"
    sharded = "--max-shard-size" in args
    make(spec, out, *args)
    model = build()
    fresh = keras_weights(build())
    model.load_weights(str(out.with_suffix("").with_suffix(".weights.json") if sharded else out))
    y = model.predict(inputs, verbose=0)
    ys = y if isinstance(y, list) else [y]
    if not all(np.isfinite(np.asarray(v, np.float64)).all() for v in ys):
        raise AssertionError(f"{label}: non-finite outputs")
    loaded = keras_weights(model)
    fresh = dict(zip(loaded, fresh.values()))  # the same layers built again: same order
    n = compare(label, loaded, fresh)
    how = " (sharded)" if sharded else ""
    return f"keras {label}: load_weights of {out.name}{how}; ran; {n} weights match Keras' own init"


def torch_conv() -> Any:
    """CONV_SPEC's layers as a torch module (c1, bn, c2, fc1, ln, fc2)."""
    from torch import nn

    class Conv(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c1, self.bn, self.c2 = nn.Conv2d(8, 32, 3), nn.BatchNorm2d(32), nn.Conv2d(32, 64, 3)
            self.fc1, self.ln, self.fc2 = nn.Linear(64, 64), nn.LayerNorm(64), nn.Linear(64, 32)

        def forward(self, x: Any) -> Any:
            h = self.c2(self.bn(self.c1(x))).mean((2, 3))
            return self.fc2(self.ln(self.fc1(h).relu()))

    return Conv()


def torch_check(label: str, build: Any, prefix: str, spec: Path, tmp: Path, inputs: Any = None) -> str:
    import torch
    from preset_models import torch_inputs
    from safetensors.torch import load_file

    out = tmp / f"{label}.safetensors"
    make(spec, out)
    torch.manual_seed(0)
    model = build()
    fresh = {k.removeprefix(prefix): v.detach().clone().numpy() for k, v in model.state_dict().items()}
    state = load_file(str(out))
    target = model.layers if prefix else model
    target.load_state_dict(state, strict=True)
    with torch.no_grad():
        y = target(torch_inputs() if inputs is None else inputs)
    if not torch.isfinite(y).all():
        raise AssertionError(f"{label}: non-finite outputs")
    n = compare(label, {k: v.numpy() for k, v in state.items()}, fresh)
    return f"{label}: load_state_dict(strict=True); ran; {n} tensors match {label}'s own init"


def flax_check(spec: Path, tmp: Path) -> str:
    from preset_models import flax_summaries
    from safetensors.numpy import load_file

    out = tmp / "flax.safetensors"
    make(spec, out)
    ours = load_file(str(out))
    theirs = flax_summaries()
    bad = []
    for k, r in theirs.items():
        a = np.asarray(ours[k], np.float64).ravel()
        if r["kind"] == "constant":
            ok = bool((a == r["value"]).all())
        else:
            tol = 0.15 if a.size >= 2048 else max(0.15, 4 / math.sqrt(a.size))
            ok = abs(a.std() / r["std"] - 1) <= tol
        if not ok:
            bad.append(k)
    if bad:
        raise AssertionError(f"flax: {bad}")
    return f"flax: {len(theirs)} tensors of the file match Flax linen's own init"


VARIANTS_SPEC = """\
initgen: 1
name: variants
defaults: keras
layers:
  - {name: emb, type: embedding, num: 50, dim: 8}
  - {name: l, type: lstm, in: 8, hidden: 6, layers: 2}
  - {name: b, type: gru, in: 6, hidden: 4, bidirectional: true}
  - {name: r, type: rmsnorm, dim: 8}
  - {name: n, type: batchnorm, dim: 8, affine: false}
  - {name: ln, type: layernorm, dim: 8, bias: false}
  - {name: d, type: dense, in: 8, out: 3, bias: false}
"""


def keras_variants() -> Any:
    """VARIANTS_SPEC's Keras model: a 2-layer LSTM as two LSTMs, a Bidirectional GRU,
    RMSNormalization, and layers without scale, center or bias."""
    import keras

    L = keras.layers
    return keras.Sequential(
        [
            keras.Input((5,), dtype="int32"),
            L.Embedding(50, 8),
            L.LSTM(6, return_sequences=True),
            L.LSTM(6, return_sequences=True),
            L.Bidirectional(L.GRU(4)),
            L.RMSNormalization(),
            L.BatchNormalization(center=False, scale=False),
            L.LayerNormalization(center=False),
            L.Dense(3, use_bias=False),
        ]
    )


FLAX_SPEC = """\
initgen: 1
name: flax
defaults: flax
layout: jax
layers:
  - {name: conv2d, type: conv2d, in: 16, out: 32, kernel: 3, groups: 2}
  - {name: bn, type: batchnorm, dim: 32}
  - {name: convt2d, type: conv_transpose2d, in: 32, out: 16, kernel: 3}
  - {name: emb, type: embedding, num: 100, dim: 32}
  - {name: dense, type: dense, in: 64, out: 64}
  - {name: ln, type: layernorm, dim: 64}
"""
# Flax variable (collection, module, name) ← initgen tensor (jax layout)
FLAX_NAMES = {
    **{("params", m, "kernel"): f"{m}.kernel" for m in ("conv2d", "convt2d", "dense")},
    **{("params", m, "bias"): f"{m}.bias" for m in ("conv2d", "convt2d", "dense")},
    ("params", "emb", "embedding"): "emb.embeddings",
    ("params", "ln", "scale"): "ln.gamma",
    ("params", "ln", "bias"): "ln.beta",
    ("params", "bn", "scale"): "bn.gamma",
    ("params", "bn", "bias"): "bn.beta",
    ("batch_stats", "bn", "mean"): "bn.moving_mean",
    ("batch_stats", "bn", "var"): "bn.moving_variance",
}


def flax_load_check(tmp: Path) -> str:
    """FLAX_SPEC in the jax layout as the variables of the matching linen module: every
    variable replaced (same shapes), applied, and compared with Flax's own init."""
    import jax
    import jax.numpy as jnp
    from flax import linen as nn
    from safetensors.numpy import load_file

    class Model(nn.Module):
        @nn.compact
        def __call__(self, img: Any, tok: Any, v: Any) -> Any:
            h = nn.Conv(32, (3, 3), feature_group_count=2, name="conv2d")(img)
            h = nn.ConvTranspose(16, (3, 3), name="convt2d")(nn.BatchNorm(True, name="bn")(h))
            e = nn.Embed(100, 32, name="emb")(tok)
            d = nn.LayerNorm(name="ln")(nn.Dense(64, name="dense")(v))
            return jnp.concatenate([h.ravel(), e.ravel(), d.ravel()])

    spec, out = tmp / "flax-load.yaml", tmp / "flax-load.safetensors"
    spec.write_text(FLAX_SPEC)
    make(spec, out)
    ours = load_file(str(out))
    args = (jnp.ones((2, 8, 8, 16)), jnp.zeros((2, 5), jnp.int32), jnp.ones((2, 64)))
    own = jax.tree_util.tree_map(np.asarray, Model().init(jax.random.PRNGKey(0), *args))
    own = {k: dict(v) for k, v in own.items()}
    flat = {(c, m, n): a for c, mods in own.items() for m, vs in mods.items() for n, a in vs.items()}
    if set(flat) != set(FLAX_NAMES) or set(FLAX_NAMES.values()) != set(ours):
        raise AssertionError(f"flax: variables {sorted(flat)} vs the file's {sorted(ours)}")
    loaded: dict[str, Any] = {}
    for (c, m, n), name in FLAX_NAMES.items():
        if ours[name].shape != flat[(c, m, n)].shape:
            raise AssertionError(f"flax: {name} {ours[name].shape} vs {c}/{m}/{n} {flat[(c, m, n)].shape}")
        loaded.setdefault(c, {}).setdefault(m, {})[n] = jnp.asarray(ours[name])
    y = Model().apply(loaded, *args)
    if not bool(jnp.isfinite(y).all()):
        raise AssertionError("flax: non-finite outputs")
    n = compare("flax", {k: ours[v] for k, v in FLAX_NAMES.items()}, flat)
    return f"flax: {n} variables of a jax-layout file replace a linen model's own; ran; match Flax's init"


def main() -> int:
    import keras
    import torch
    from models import BUILDERS, SMALL_SETS
    from preset_models import PRESET_SPEC, keras_inputs, keras_model, torch_model, transformers_model

    L = keras.layers

    def conv_model() -> Any:
        return keras.Sequential(
            [
                keras.Input((10, 10, 8)),
                L.Conv2D(32, 3),
                L.BatchNormalization(),
                L.Conv2D(64, 3),
                L.GlobalAveragePooling2D(),
                L.Dense(64, activation="relu"),
                L.LayerNormalization(),
                L.Dense(32),
            ]
        )

    rng = np.random.default_rng(0)
    failed = 0
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        specs = {}
        for preset in ("keras", "torch", "transformers", "flax"):
            specs[preset] = tmp / f"every-{preset}.yaml"
            specs[preset].write_text(PRESET_SPEC.replace("layers:\n", f"defaults: {preset}\nlayers:\n", 1))
        (tmp / "conv.yaml").write_text(CONV_SPEC)
        (tmp / "variants.yaml").write_text(VARIANTS_SPEC)
        (tmp / "conv-torch.yaml").write_text(CONV_SPEC.replace("defaults: keras", "defaults: torch"))
        imdb = [a for s in SMALL_SETS["lstm-imdb-keras"] for a in ("--set", s)]
        checks = [
            lambda: keras_check(
                "conv",
                conv_model,
                tmp / "conv.yaml",
                rng.standard_normal((2, 10, 10, 8)).astype("float32"),
                tmp,
            ),
            lambda: keras_check(
                "imdb",
                lambda: BUILDERS["lstm-imdb-keras"](True)[0],
                ROOT / "specs" / "lstm-imdb-keras.yaml",
                rng.integers(0, 200, (2, 7)).astype("int32"),
                tmp,
                *imdb,
            ),
            lambda: keras_check("every", keras_model, specs["keras"], keras_inputs(), tmp),
            lambda: keras_check(
                "variants",
                keras_variants,
                tmp / "variants.yaml",
                rng.integers(0, 50, (2, 5)).astype("int32"),
                tmp,
            ),
            lambda: keras_check(
                "every-bf16", keras_model, specs["keras"], keras_inputs(), tmp, "--dtype", "bfloat16"
            ),
            lambda: keras_check(
                "every-sharded", keras_model, specs["keras"], keras_inputs(), tmp, "--max-shard-size", "20KB"
            ),
            lambda: torch_check("torch", torch_model, "", specs["torch"], tmp),
            lambda: torch_check(
                "torch-conv", torch_conv, "", tmp / "conv-torch.yaml", tmp, torch.randn(2, 8, 10, 10)
            ),
            lambda: torch_check("transformers", transformers_model, "layers.", specs["transformers"], tmp),
            lambda: flax_check(specs["flax"], tmp),
            lambda: flax_load_check(tmp),
        ]
        for check in checks:
            try:
                print(check())
            except Exception as e:  # report every check, then fail
                failed += 1
                print(f"FAILED: {type(e).__name__}: {e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
