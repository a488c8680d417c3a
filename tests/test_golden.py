"""Golden hashes: a small spec's output per format and dtype, pinned.

Any change to the stream scheme, a sampler, a dtype conversion, the file order or
the file layout changes one of these and fails here, so it can only be deliberate
(bump ``STREAM_VERSION`` and docs/file-contract.md, then regenerate with
``python tests/test_golden.py``). ``initgen.version`` is fixed to "golden" so a
release number change alone does not move the hashes.

HDF5 files are pinned twice: the datasets' bytes (the same as the safetensors data)
always, the whole file only under the HDF5 library version it was recorded with,
since another HDF5 release may lay out the same content differently.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from initgen.dtypes import WEIGHT_DTYPES

SPEC = """\
initgen: 1
name: golden
seed: 1234
layout: torch
layers:
  - {name: emb, type: embedding, num: 50, dim: 16, init: {scheme: normal, std: 0.02}}
  - {name: fc1, type: dense, in: 16, out: 24, activation: relu}
  - {name: fc2, type: dense, in: 24, out: 24, init: {scheme: uniform, low: -0.3, high: 0.2}}
  - {name: fc3, type: dense, in: 24, out: 12, init: {scheme: truncated_normal, std: 0.5, a: -0.6, b: 0.4}}
  - {name: rot, type: dense, in: 12, out: 12, init: orthogonal}
  - {name: sp, type: dense, in: 12, out: 10, init: {scheme: sparse, sparsity: 0.5, std: 0.1}}
  - {name: ln, type: layernorm, dim: 10}
"""

DTYPE_NAMES = WEIGHT_DTYPES  # every dtype a spec may choose has its golden hashes

# dtype → (sha256 of the safetensors file, sha256 of the tensor data in file order)
GOLDEN = {
    "float64": (
        "7887a4120606a9e009027cef25e4be1be1fd2c6c3eef67bf65856602aac3d514",
        "6b7a6fed195e5158f76cad8a0858168d0608f499f24d0eea712518da131641c9",
    ),
    "float32": (
        "28ea52e194dc2971ddce1ef322662c83ecdf2386b4a8326531ff3ad0c151c94a",
        "509a080faf423f1a29260234baa164c509a82810bd2b8ecbc8aed7a6aaedfcfa",
    ),
    "float16": (
        "929dfd3d8b5890dd792a7f9e0642c77c3fb4a1dfc0dd1a13e8be2672a42ece4f",
        "cf13abff9dd266bf95ecf731ac290496fdb6d9a6ef803c2b65a8adf5d7ff1835",
    ),
    "bfloat16": (
        "675d93c52904bb904b88b1f6819b66d6e93dd104f9010618d7e6ea70c64db2e5",
        "6c1b611a78430205e31d5597207c1dca9ebad872c94cf39a59dead456ee7c3c3",
    ),
    "float8_e4m3fn": (
        "0b6cfb8979650184560d389b47da779843a05f4830addd8df92748fec1cae2d4",
        "ee2774b979fe33c1c4f9436e8e068d3e87c9dd639aece77b0d997b4c553d6315",
    ),
    "float8_e5m2": (
        "13988dd981d63e7f37ed849d9c0b0bb712a7db4aba9a02f13328b84f5dafead0",
        "74d875181bd176ffc530f7ab1fffcc0d2e8054695d3addcd5014a43f4f7c51fa",
    ),
}
# HDF5 library version → dtype → sha256 of the .h5 file
GOLDEN_H5 = {
    "2.0.0": {
        "float64": "6ffac13180c5d2327ad9756ccf4ef0f61085562ca170469fc445ef307d39f95d",
        "float32": "4f493f4a77786945cdcfa07811f4e87e82604193ed1efc9ebea5a01162cd529f",
        "float16": "64fa7e9b4f056983838efcdcaf6cc94564c86453f85a66199d6881da7655c517",
        "bfloat16": "24c23769676c7c43294025358a7c419589b673eed0ed5ee5b091421a9a2eb6f0",
        "float8_e4m3fn": "d45fc84b581ae615703c41200d1fd3561271f563dd9ee563d81cc5302be0bfca",
        "float8_e5m2": "3496e6bae35764790387c94a1ac5cd92468651d35052de8361027e96454943eb",
    },
}


def _make(tmp: Path, dtype: str, ext: str, monkeypatch_version) -> Path:
    from initgen.plan import build_plan
    from initgen.spec import load_spec
    from initgen.writers import write

    src = tmp / "golden.yaml"
    src.write_text(SPEC)
    out = tmp / f"golden-{dtype}.{ext}"
    monkeypatch_version()
    write(build_plan(load_spec(str(src), dtype=dtype)), out, threads=2, force=True)
    return out


def _data_hash_safetensors(path: Path) -> str:
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    return hashlib.sha256(data[8 + n :]).hexdigest()


def _data_hash_hdf5(path: Path, names: list[str]) -> str:
    import h5py

    h = hashlib.sha256()
    with h5py.File(path, "r") as f:
        for name in names:
            h.update(f["/" + name.replace(".", "/")][()].tobytes())
    return h.hexdigest()


def _file_order(tmp: Path, dtype: str) -> list[str]:
    from initgen.plan import build_plan
    from initgen.spec import load_spec

    src = tmp / "golden.yaml"
    src.write_text(SPEC)
    return [t.name for t in build_plan(load_spec(str(src), dtype=dtype)).file_order()]


def current(tmp: Path, set_version) -> tuple[dict, dict]:
    """The hashes this checkout makes (what GOLDEN should hold)."""
    import h5py

    st, h5 = {}, {}
    for dtype in DTYPE_NAMES:
        path = _make(tmp, dtype, "safetensors", set_version)
        st[dtype] = (hashlib.sha256(path.read_bytes()).hexdigest(), _data_hash_safetensors(path))
        h5[dtype] = hashlib.sha256(_make(tmp, dtype, "h5", set_version).read_bytes()).hexdigest()
    return st, {h5py.version.hdf5_version: h5}


@pytest.fixture
def set_version(monkeypatch):
    import initgen.writers.common

    return lambda: monkeypatch.setattr(initgen.writers.common, "__version__", "golden")


@pytest.mark.parametrize("dtype", DTYPE_NAMES)
def test_safetensors_output_is_pinned(tmp_path, set_version, dtype):
    path = _make(tmp_path, dtype, "safetensors", set_version)
    assert (hashlib.sha256(path.read_bytes()).hexdigest(), _data_hash_safetensors(path)) == GOLDEN[dtype]


@pytest.mark.parametrize("dtype", DTYPE_NAMES)
def test_hdf5_output_is_pinned(tmp_path, set_version, dtype):
    import h5py

    path = _make(tmp_path, dtype, "h5", set_version)
    assert _data_hash_hdf5(path, _file_order(tmp_path, dtype)) == GOLDEN[dtype][1]
    recorded = GOLDEN_H5.get(h5py.version.hdf5_version)
    if recorded is not None:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == recorded[dtype]


if __name__ == "__main__":  # print fresh GOLDEN tables: python tests/test_golden.py
    import tempfile

    import initgen.writers.common

    sys.path.insert(0, str(Path(__file__).parent))
    initgen.writers.common.__version__ = "golden"  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory() as d:
        st, h5 = current(Path(d), lambda: None)
    print("GOLDEN = {")
    for k, v in st.items():
        print(f'    "{k}": ("{v[0]}",\n{" " * (8 + len(k))}"{v[1]}"),')
    print("}\nGOLDEN_H5 = {")
    for ver, table in h5.items():
        print(f'    "{ver}": {{')
        for k, v in table.items():
            print(f'        "{k}": "{v}",')
        print("    },")
    print("}")
