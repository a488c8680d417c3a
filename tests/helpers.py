"""Helpers shared by the tests: paths, small specs, independent readers and references.

Test modules import from here, never from each other.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from initgen.analyze.moments import HIST_BINS
from initgen.analyze.tables import TABLE_DTYPES
from initgen.generate.sampling import fill_chunk
from initgen.generate.tasks import make_tensor
from initgen.plan import TensorPlan
from initgen.schemes import SCHEMES, Context
from initgen.schemes.fans import layout_fans

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"

# A small Llama config.json (1 layer, width 32), for tests of the config conversion.
SMALL_LLAMA_CONFIG = {
    "model_type": "llama",
    "num_hidden_layers": 1,
    "hidden_size": 32,
    "intermediate_size": 32,
    "num_attention_heads": 2,
    "vocab_size": 16,
}


# Shrinking --set overrides for the shipped specs, so tests make them in moments.
SMALL = {
    "mlp-mnist": [],
    "gpt2": ["n_layer=2", "vocab=100", "n_ctx=16", "dim=32", "heads=2"],
    "llama": ["n_layer=2", "vocab=100", "dim=64", "heads=4", "kv_heads=2", "ffn=96"],
    "resnet18": ["width=8", "classes=10"],
    "lstm-lm": ["vocab=100", "dim=16"],
    "vit-b16": ["img=32", "dim=32", "depth=2", "heads=2", "classes=10"],
    "lenet5": [],
}


# normal, uniform, truncated normal, orthogonal, sparse, constants, and every dtype;
# emb.weight spans two chunks (the second one partial).
LAYERS = [
    "{name: emb, type: embedding, num: 2100, dim: 600, init: {scheme: normal, std: 0.02}}",
    "{name: u, type: dense, in: 40, out: 37, init: {scheme: uniform, low: -0.1, high: 0.1}}",
    "{name: t, type: dense, in: 64, out: 33, init: {scheme: truncated_normal, std: 0.5, a: -0.4, b: 0.6}}",
    "{name: o, type: dense, in: 24, out: 20, init: orthogonal}",
    "{name: s, type: dense, in: 30, out: 25, init: {scheme: sparse, sparsity: 0.3}}",
    "{name: h, type: dense, in: 50, out: 20, activation: relu, dtype: float16}",
    "{name: b, type: dense, in: 20, out: 10, init: glorot_uniform, dtype: bfloat16}",
    "{name: e4, type: dense, in: 20, out: 10, init: he_uniform, dtype: float8_e4m3fn}",
    "{name: e5, type: dense, in: 20, out: 10, dtype: float8_e5m2}",
    "{name: d, type: dense, in: 20, out: 10, init: {scheme: truncated_normal, std: 0.1}, dtype: float64}",
]


def every_family_spec(layers: list[str] = LAYERS) -> str:
    body = "".join(f"  - {line}\n" for line in layers)
    return f"initgen: 1\nname: every-family\nseed: 7\ndtype: float32\nlayout: torch\nlayers:\n{body}"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def raw_tensors(path: Path) -> dict[str, tuple[str, bytes]]:
    """Each tensor's (safetensors dtype, raw bytes), read independently of initgen."""
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    header.pop("__metadata__", None)
    base = 8 + n
    return {
        k: (v["dtype"], data[base + v["data_offsets"][0] : base + v["data_offsets"][1]])
        for k, v in header.items()
    }


def reference(a: np.ndarray) -> dict:
    """The statistics, computed the plain way: whole array, float64, NumPy reductions."""
    x = np.asarray(a, dtype=np.float64).reshape(-1)
    fin = x[np.isfinite(x)]
    out = {"count": x.size, "nan": int(np.isnan(x).sum()), "inf": int(np.isinf(x).sum())}
    if fin.size:
        lo, hi = fin.min(), fin.max()
        bins = HIST_BINS
        if lo < hi:
            counts = binned(fin, lo, hi)
        else:  # documented: a single value fills the middle bin
            counts = np.bincount([bins // 2], minlength=bins) * fin.size
        out.update(
            values=fin,
            mean=fin.mean(),
            std=fin.std(),
            min=lo,
            max=hi,
            absmax=np.abs(fin).max(),
            zero_fraction=np.count_nonzero(fin == 0) / fin.size,
            counts=counts,
        )
    return out


def assert_matches(t: dict, ref: dict) -> None:
    """Exact for counts, min, max; mean and std to float64 rounding of a sum of n terms."""
    assert t["count"] == ref["count"] and t["nan"] == ref["nan"] and t["inf"] == ref["inf"]
    if "mean" not in ref:
        assert t["mean"] is None and t["hist"] is None
        return
    assert t["min"] == ref["min"] and t["max"] == ref["max"] and t["absmax"] == ref["absmax"]
    assert t["zero_fraction"] == ref["zero_fraction"]
    scale = max(abs(ref["min"]), abs(ref["max"]))
    # both sides sum in float64 (pairwise); near 0 a result can be no nearer than
    # float64's own spacing there (the mean of [5e-324, 0] is 0 or 5e-324)
    eps = 64 * np.finfo(np.float64).eps * scale + 4 * np.finfo(np.float64).smallest_subnormal
    assert abs(t["mean"] - ref["mean"]) <= eps
    assert abs(t["std"] - ref["std"]) <= eps + 1e-12 * scale
    counts = np.array(t["hist"]["counts"])
    assert counts.sum() == ref["count"] - ref["nan"] - ref["inf"]
    fin = ref["values"]
    if t["dtype"] in TABLE_DTYPES:  # counted exactly: numpy's histogram, exact order statistics
        assert np.array_equal(counts, ref["counts"])
        assert t["quantiles"] == order_statistics(fin)
    else:  # float32 and wider: by bucket (docs/stats.md), quantiles within the stated bound
        assert np.array_equal(counts, bucket_hist(fin))
        for key, q in order_statistics(fin).items():
            assert ref["min"] <= t["quantiles"][key] <= ref["max"]
            assert abs(t["quantiles"][key] - q) <= (2**-8 + 2**-23) * abs(q) + 2**-133, key


LEVELS = {"p0.1": (1, 1000), "p1": (1, 100), "p50": (1, 2), "p99": (99, 100), "p99.9": (999, 1000)}


def order_statistics(fin: np.ndarray) -> dict[str, float]:
    """The inverted-CDF quantiles: the k-th smallest value, k = max(1, ceil(n·p)) exactly."""
    s = np.sort(fin)
    return {key: float(s[max(1, -(-s.size * a // b)) - 1]) for key, (a, b) in LEVELS.items()}


def binned(v: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """The documented bins: ⌊(v − lo)/(hi − lo)·32⌋ in float64, both differences
    halved when |lo| or |hi| is over 1e307 so they stay finite (np.histogram's formula
    but for rounding at an edge)."""
    h = 0.5 if max(abs(lo), abs(hi)) > 1e307 else 1.0
    ix = np.floor((v * h - lo * h) / (hi * h - lo * h) * HIST_BINS).astype(int)
    return np.bincount(np.minimum(ix, HIST_BINS - 1), minlength=HIST_BINS)


def bucket_hist(fin: np.ndarray) -> np.ndarray:
    """The documented histogram of float32 and wider: each value binned as the midpoint
    of its float32 bucket (the top 16 bits), kept inside [min, max]."""
    big = float(np.finfo(np.float32).max)
    top = np.clip(fin, -big, big).astype(np.float32).view(np.uint32) >> 16 << 16
    lo = top.view(np.float32).astype(np.float64)
    hi = (top | 0xFFFF).view(np.float32).astype(np.float64)
    mid = np.clip(lo / 2 + hi / 2, fin.min(), fin.max())
    if fin.min() == fin.max():
        return np.bincount([HIST_BINS // 2], minlength=HIST_BINS) * fin.size
    return binned(mid, fin.min(), fin.max())


def sample_chunk(
    kind: str, params: Mapping[str, float], seed: int, name: str, chunk: int, n: int, dt: np.dtype
) -> np.ndarray:
    """Values of chunk ``chunk`` (``n`` values) of an element-wise tensor, freshly allocated."""
    return fill_chunk(kind, params, seed, name, chunk, np.empty(n, dtype=dt))


# --- whole-tensor schemes and other CPUs ------------------------------------------------

SEED = 11


def make_scheme_tensor(
    scheme: str,
    shape: tuple[int, ...],
    args: dict | None = None,
    layout: str = "torch",
    dtype: str = "float64",
    name: str = "w",
    seed: int = SEED,
) -> np.ndarray:
    """One tensor of ``scheme`` made through its plan, as a file would hold it."""
    fans = layout_fans(shape, layout)
    d = SCHEMES[scheme].dist(Context(shape, fans, None, None, layout), args or {})
    return make_tensor(TensorPlan(name, shape, dtype, scheme, args or {}, d, fans.fan_in, fans.fan_out), seed)


HASH_CASES = [
    ("orthogonal", (96, 40), {}, "torch", "float64"),
    ("orthogonal", (24, 300), {}, "torch", "float32"),
    ("orthogonal", (3, 3, 16, 32), {"gain": 1.5}, "keras", "float32"),
    ("sparse", (64, 100), {"sparsity": 0.3}, "torch", "float32"),
    ("dirac", (8, 4, 3, 3), {"groups": 2}, "torch", "float32"),
]


def whole_hashes() -> str:
    return "".join(hashlib.sha256(make_scheme_tensor(*c).tobytes()).hexdigest() + "\n" for c in HASH_CASES)


def numpy_cpu_features() -> str:
    """The CPU features NumPy dispatches to in this process, sorted, one line."""
    core = getattr(np, "_core", None) or np.core
    enabled = core._multiarray_umath.__cpu_features__.items()
    return " ".join(sorted(k for k, v in enabled if v))


def run_in_child(script: str, env: Mapping[str, str]) -> str:
    """stdout of ``script`` run by a fresh Python (tests/ on its path) with ``env`` added."""
    import os
    import subprocess
    import sys

    full = {k: v for k, v in os.environ.items() if k not in ("NPY_DISABLE_CPU_FEATURES", "OPENBLAS_CORETYPE")}
    full.update(env)
    code = f"import sys; sys.path.insert(0, {str(ROOT / 'tests')!r}); sys.path.insert(0, {str(ROOT)!r}); {script}"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=full
    ).stdout


def assert_features_reached_numpy(env: Mapping[str, str], features: str) -> None:
    """Guards a cross-CPU test: every feature ``env`` disables and this CPU has is off in
    the child (else the test compared this machine with itself)."""
    here = set(numpy_cpu_features().split())
    there = set(features.split())
    for feature in env.get("NPY_DISABLE_CPU_FEATURES", "").split():
        if feature in here:
            assert feature not in there, f"{feature} still enabled under {dict(env)}"


# -- object storage (the s3 fixture in conftest.py makes one bucket per test) --


def s3_env(endpoint: str) -> dict[str, str]:
    """Environment variables that point boto (and so s3fs and initgen) at ``endpoint``."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
    }


class S3Bucket:
    """A bucket on the test server: its s3fs filesystem, name and endpoint."""

    def __init__(self, fs: object, name: str, endpoint: str) -> None:
        self.fs = fs
        self.name = name
        self.endpoint = endpoint

    def url(self, key: str = "") -> str:
        return f"s3://{self.name}/{key}"

    def options(self) -> dict[str, str]:
        """Explicit storage options (for Dask workers, which do not share our environment)."""
        return {"key": "testing", "secret": "testing", "endpoint_url": self.endpoint}

    def read(self, key: str) -> bytes:
        self.fs.invalidate_cache()  # type: ignore[attr-defined]
        return self.fs.cat_file(f"{self.name}/{key}")  # type: ignore[attr-defined]

    def exists(self, key: str) -> bool:
        self.fs.invalidate_cache()  # type: ignore[attr-defined]
        return self.fs.exists(f"{self.name}/{key}")  # type: ignore[attr-defined]

    def keys(self) -> list[str]:
        self.fs.invalidate_cache()  # type: ignore[attr-defined]
        found = self.fs.find(self.name)  # type: ignore[attr-defined]
        return sorted(k.split("/", 1)[1] for k in found)

    def pending(self) -> list[str]:
        """Keys with an unfinished multipart upload."""
        out = self.fs.call_s3("list_multipart_uploads", Bucket=self.name)  # type: ignore[attr-defined]
        return [u["Key"] for u in out.get("Uploads", [])]


# --- 16-bit rounding ----------------------------------------------------------------


def library_codes(x: np.ndarray, dtype: str) -> np.ndarray:
    """``x`` rounded to ``dtype`` ("bfloat16" by ml_dtypes, "float16" by NumPy), as
    uint16 codes: the bits initgen's own rounding must give."""
    import ml_dtypes

    lib = ml_dtypes.bfloat16 if dtype == "bfloat16" else np.float16
    with np.errstate(over="ignore", invalid="ignore"):
        return x.astype(lib).view(np.uint16)
