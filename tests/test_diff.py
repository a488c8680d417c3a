"""`initgen diff A B`: tensors only in one file, shape/dtype changes, changed bytes
and statistics deltas; exit 0 only when the files hold the same tensors."""

from __future__ import annotations

import json

import ml_dtypes
import numpy as np
import pytest
from safetensors.numpy import save_file

from helpers import SPECS


@pytest.fixture
def pair(tmp_path):
    r = np.random.default_rng(0)
    base = {
        "same": r.normal(0, 1, (8, 8)).astype(np.float32),
        "scaled": r.normal(0, 1, 1000).astype(np.float32),
        "reshaped": np.ones((4, 6), np.float32),
        "retyped": np.ones(5, np.float32),
        "gone": np.zeros(3, np.float32),
    }
    other = dict(
        base,
        scaled=base["scaled"] * 3,
        reshaped=np.ones((6, 4), np.float32),
        retyped=np.ones(5, ml_dtypes.bfloat16),
        new=np.ones(2, np.int8),
    )
    del other["gone"]
    save_file(base, str(tmp_path / "a.safetensors"))
    save_file(other, str(tmp_path / "b.safetensors"))
    return tmp_path / "a.safetensors", tmp_path / "b.safetensors", base, other


def test_diff_reports_every_kind_of_change(cli, pair):
    a, b, base, other = pair
    r = cli("diff", a, b, "--format", "json")
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    change = {t["name"]: t["change"] for t in data["tensors"]}
    assert change == {
        "same": "same",
        "scaled": "values",
        "reshaped": "shape",
        "retyped": "dtype",
        "gone": "only in A",
        "new": "only in B",
    }
    assert data["same"] is False
    t = next(t for t in data["tensors"] if t["name"] == "scaled")
    x, y = base["scaled"].astype(np.float64), other["scaled"].astype(np.float64)
    assert t["delta"]["std"] == pytest.approx(y.std() - x.std(), rel=1e-12)
    assert t["delta"]["mean"] == pytest.approx(y.mean() - x.mean(), rel=1e-9, abs=1e-15)
    assert t["delta"]["max"] == y.max() - x.max()
    assert data["summary"] == {"only in A": 1, "only in B": 1, "shape": 1, "dtype": 1, "values": 1, "same": 1}


def test_diff_table_hides_same_unless_all(cli, pair):
    a, b, *_ = pair
    out = cli("diff", a, b, "--format", "csv").stdout.splitlines()
    assert out[0] == "tensor,change,shape,dtype,Δmean,Δstd,std B/A,Δmin,Δmax"
    assert [line.split(",")[0] for line in out[1:]] == ["gone", "reshaped", "retyped", "scaled", "new"]
    assert "reshaped,shape,4×6 → 6×4,float32," in out[2]
    rows = cli("diff", a, b, "--format", "csv", "--all").stdout.splitlines()
    assert len(rows) == 7


def test_identical_content_in_two_formats_is_the_same(cli, tmp_path):
    for out in ("w.safetensors", "w.h5"):
        cli("make", SPECS / "mlp-mnist.yaml", "-o", tmp_path / out, "-q")
    r = cli("diff", tmp_path / "w.safetensors", tmp_path / "w.h5", "--format", "json")
    assert r.exit_code == 0 and json.loads(r.stdout)["same"] is True
    cli("make", SPECS / "mlp-mnist.yaml", "-o", tmp_path / "s1.h5", "-q", "--seed", "1")
    r = cli("diff", tmp_path / "w.h5", tmp_path / "s1.h5", "--format", "json")
    assert r.exit_code == 1
    assert {t["name"] for t in json.loads(r.stdout)["tensors"] if t["change"] == "values"} == {
        "fc1.weight",
        "fc2.weight",
        "fc3.weight",
    }
