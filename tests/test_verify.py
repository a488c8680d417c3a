"""`initgen verify`: every file initgen makes regenerates bit for bit; a changed byte
is found and the first differing tensor (in file order) named."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from helpers import SMALL, SPECS


@pytest.mark.parametrize(
    "spec, out, extra",
    [
        ("mlp-mnist", "w.safetensors", []),
        ("mlp-mnist", "w.h5", ["--dtype", "bfloat16"]),
        ("lstm-lm", "w.safetensors", ["--dtype", "float8_e4m3fn"]),  # orthogonal blocks, constant slices
        ("resnet18", "w.h5", ["--seed", "3"]),
        ("gpt2", "shards/", ["--max-shard-size", "40KB"]),
    ],
)
@pytest.mark.parametrize("threads", ["1", "2"])
def test_verify_passes_on_files_initgen_makes(cli, tmp_path, spec, out, extra, threads):
    sets = [a for s in SMALL[spec] for a in ("--set", s)]
    r = cli("make", SPECS / f"{spec}.yaml", "-o", tmp_path / out, "-q", *sets, *extra)
    assert r.exit_code == 0, r.output
    r = cli("verify", tmp_path / out, "--threads", threads)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"{tmp_path / out}: ok: ") and "regenerated bit for bit" in r.stdout


def test_verify_names_the_first_differing_tensor(cli, tmp_path):
    path = tmp_path / "w.safetensors"
    cli("make", SPECS / "mlp-mnist.yaml", "-o", path, "-q")
    with safe_open(str(path), "numpy") as f:
        meta, order = f.metadata(), list(f.keys())
        tensors = {k: f.get_tensor(k) for k in order}
    # file order is by name for one dtype: fc2.weight comes before fc3.weight
    was = float(tensors["fc2.weight"][0, 5])
    tensors["fc2.weight"][0, 5] = 0.5
    tensors["fc3.weight"][1, 1] = 0.25
    save_file(tensors, str(path), metadata=meta)
    r = cli("verify", path)
    assert r.exit_code == 1
    assert r.output == (
        f"error: {path}: fc2.weight: differs from the values regenerated from its "
        f"plan (he_normal, seed 0) at element 5: file has 0.5, regenerated {was:.9g}\n"
    )


def test_verify_detects_a_changed_seed(cli, tmp_path):
    path = tmp_path / "w.h5"
    cli("make", SPECS / "mlp-mnist.yaml", "-o", path, "-q")
    with h5py.File(path, "r+") as f:
        f.attrs["initgen.seed"] = "1"
    r = cli("verify", path)
    assert r.exit_code == 1 and r.output.startswith(f"error: {path}: fc1.weight: differs")


def test_verify_needs_initgen_metadata(cli, tmp_path):
    save_file({"w": np.ones(3, np.float32)}, str(tmp_path / "f.safetensors"))
    r = cli("verify", tmp_path / "f.safetensors")
    assert r.exit_code == 1
    assert r.output == (
        f"error: {tmp_path / 'f.safetensors'}: has no initgen metadata (initgen.seed, "
        "initgen.tensors); only files made by initgen can be verified\n"
    )


def test_verify_refuses_another_stream_version(cli, tmp_path):
    path = tmp_path / "w.safetensors"
    cli("make", SPECS / "mlp-mnist.yaml", "-o", path, "-q")
    with safe_open(str(path), "numpy") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    save_file(tensors, str(path), metadata={**meta, "initgen.stream": "initgen-stream-0"})
    r = cli("verify", path)
    assert r.exit_code == 1 and "made with stream 'initgen-stream-0'" in r.output
