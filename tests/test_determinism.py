"""Same spec + seed ⇒ the same bytes: across runs, threads, layer order, CPUs, and
for one tensor made alone. The spec uses every scheme family and every dtype."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import LAYERS, every_family_spec, raw_tensors, sha
from initgen.dtypes import DTYPES
from initgen.generate.tasks import make_tensor
from initgen.plan import build_plan
from initgen.spec import load_spec
from initgen.writers import write


@pytest.fixture
def spec(write_spec) -> Path:
    return write_spec(every_family_spec())


def make(spec: Path, out: Path, threads: int | None = None) -> Path:
    write(build_plan(load_spec(str(spec))), out, threads=threads)
    return out


@pytest.mark.parametrize("ext", ["safetensors", "h5"])
def test_two_runs_and_thread_counts_give_identical_files(spec, tmp_path, ext):
    a = make(spec, tmp_path / f"a.{ext}", threads=1)
    b = make(spec, tmp_path / f"b.{ext}", threads=4)
    c = make(spec, tmp_path / f"c.{ext}", threads=4)
    assert sha(a) == sha(b) == sha(c)


def test_layer_order_in_the_spec_does_not_change_the_bytes(write_spec, tmp_path):
    fwd = make(write_spec(every_family_spec(), "fwd.yaml"), tmp_path / "fwd.safetensors")
    rev = make(write_spec(every_family_spec(LAYERS[::-1]), "rev.yaml"), tmp_path / "rev.safetensors")
    assert sha(fwd) == sha(rev)


def test_each_tensor_regenerated_alone_matches_the_file(spec, tmp_path):
    path = make(spec, tmp_path / "w.safetensors", threads=2)
    stored = raw_tensors(path)
    plan = build_plan(load_spec(str(spec)))
    assert set(stored) == {t.name for t in plan.tensors}
    for t in plan.tensors:
        alone = make_tensor(t, plan.seed)
        assert alone.shape == t.shape and alone.dtype == DTYPES[t.dtype].np
        assert stored[t.name] == (DTYPES[t.dtype].st_code, alone.tobytes()), t.name


def test_hdf5_datasets_hold_the_same_bytes_as_safetensors(spec, tmp_path):
    import h5py

    st = raw_tensors(make(spec, tmp_path / "w.safetensors"))
    with h5py.File(make(spec, tmp_path / "w.h5"), "r") as f:
        for name, (_, data) in st.items():
            assert f["/" + name.replace(".", "/")][()].tobytes() == data, name


# Each setting stands for another machine: NumPy's SIMD dispatch of an AVX2-only and a
# baseline x86-64-v2 CPU, and OpenBLAS kernels of older CPUs (docs/file-contract.md, 1.2).
MACHINES = {
    "default": {},
    "avx2": {"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR"},
    "x86-64-v2": {"NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR"},
    "haswell-blas": {"OPENBLAS_CORETYPE": "Haswell"},
    "prescott-blas": {"OPENBLAS_CORETYPE": "Prescott"},
    "v2+prescott": {
        "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR",
        "OPENBLAS_CORETYPE": "Prescott",
    },
}

_CHILD = """
import hashlib, sys
from pathlib import Path
from initgen.writers import write
from initgen.plan import build_plan
from initgen.spec import load_spec
plan = build_plan(load_spec(sys.argv[1]))
for ext in ("safetensors", "h5"):
    out = Path(sys.argv[2] + "." + ext)
    write(plan, out, threads=2)
    print(ext, hashlib.sha256(out.read_bytes()).hexdigest())
"""


def test_same_bytes_under_other_cpu_features_and_blas_kernels(spec, tmp_path):
    procs = {}
    for name, extra in MACHINES.items():
        env = {
            k: v for k, v in os.environ.items() if k not in ("NPY_DISABLE_CPU_FEATURES", "OPENBLAS_CORETYPE")
        }
        env.update(extra)
        procs[name] = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(spec), str(tmp_path / name)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    hashes = {}
    for name, p in procs.items():
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, f"{name}: {err}"
        hashes[name] = out
    assert all(h == hashes["default"] for h in hashes.values()), hashes


def test_the_cpu_settings_really_change_numpy_dispatch():
    """Guards the test above: the settings must reach NumPy (else it proves nothing)."""
    code = (
        "import numpy as np; core = getattr(np, '_core', None) or np.core; "
        "print(sorted(k for k, v in core._multiarray_umath.__cpu_features__.items() if v))"
    )
    env = {**os.environ, **MACHINES["x86-64-v2"]}
    default = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    limited = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if default.returncode or "'X86_V3'" not in default.stdout:
        pytest.skip("this CPU is not x86-64-v3: nothing to switch off")
    assert "'X86_V3'" not in limited.stdout and "'X86_V2'" in limited.stdout


def test_values_are_finite_and_in_range_for_every_dtype(spec, tmp_path):
    plan = build_plan(load_spec(str(spec)))
    for t in plan.tensors:
        v = make_tensor(t, plan.seed).astype(np.float64)
        assert np.isfinite(v).all(), t.name
        if t.dist.kind == "truncated_normal":
            p = t.dist.params
            # bounds hold in float32; rounding to a narrower dtype may touch them
            assert v.min() >= p["a"] - 1e-6 and v.max() <= p["b"] + 1e-6
