"""Keras 3 `.weights.h5` output: the group paths and variable order Keras'
`load_weights` reads (checked against Keras itself by `make interop`), bfloat16 as
Keras stores it, the sharded variant, and what initgen's readers make of them."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from initgen import build_plan, load_spec, read_stats, verify, write
from initgen.cli import main
from initgen.errors import SpecError, UsageError
from initgen.plan.keras import keras_plan

CONV = """\
initgen: 1
name: conv
defaults: keras
layers:
  - {name: c1, type: conv2d, in: 3, out: 8, kernel: 3}
  - {name: bn, type: batchnorm, dim: 8}
  - {name: c2, type: conv2d, in: 8, out: 16, kernel: [3, 5], groups: 2}
  - {name: fc1, type: dense, in: 16, out: 32}
  - {name: ln, type: layernorm, dim: 32}
  - {name: fc2, type: dense, in: 32, out: 10, bias: false}
"""


def plan_of(text: str, **kw):
    return build_plan(load_spec("s.yaml", text=text, **kw))


def datasets(path) -> dict[str, tuple]:
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, o.shape) if isinstance(o, h5py.Dataset) else None)
    return out


def test_sequential_paths_and_variable_order(tmp_path):
    out = write(plan_of(CONV), tmp_path / "x.weights.h5")
    assert datasets(out) == {
        "layers/conv2d/vars/0": (3, 3, 3, 8),
        "layers/conv2d/vars/1": (8,),
        "layers/batch_normalization/vars/0": (8,),
        "layers/batch_normalization/vars/1": (8,),
        "layers/batch_normalization/vars/2": (8,),
        "layers/batch_normalization/vars/3": (8,),
        "layers/conv2d_1/vars/0": (3, 5, 4, 16),
        "layers/conv2d_1/vars/1": (16,),
        "layers/dense/vars/0": (16, 32),
        "layers/dense/vars/1": (32,),
        "layers/layer_normalization/vars/0": (32,),
        "layers/layer_normalization/vars/1": (32,),
        "layers/dense_1/vars/0": (32, 10),
    }
    with h5py.File(out, "r") as f:
        assert "vars" in f and len(f["vars"]) == 0  # Keras 3.0-3.5 need the root group
        assert f["layers/conv2d_1/vars"].attrs["name"] == "c2"
        bn = [f[f"layers/batch_normalization/vars/{i}"][()] for i in range(4)]
        assert [float(v[0]) for v in bn] == [1.0, 0.0, 0.0, 1.0]  # gamma, beta, mean, variance
        assert "dtype" not in f["layers/dense/vars/0"].attrs  # only bfloat16 carries one


def test_torch_layout_becomes_keras_layout(tmp_path):
    text = """\
initgen: 1
layers:
  - {name: fc, type: dense, in: 4, out: 6, init: {weight: he_normal}}
  - {name: l, type: lstm, in: 6, hidden: 3, init: {weight_hh_l0: orthogonal}}
  - {name: g, type: gru, in: 3, hidden: 2, layers: 2}
  - {name: r, type: rnn, in: 2, hidden: 2, bidirectional: true}
  - {name: t, type: conv_transpose1d, in: 4, out: 2, kernel: 3}
  - {name: n, type: batchnorm, dim: 3, affine: false}
"""
    plan, groups = keras_plan(plan_of(text))
    shapes = {t.name: t.shape for t in plan.tensors}
    assert shapes == {
        "layers.dense.vars.0": (4, 6),
        "layers.dense.vars.1": (6,),
        "layers.lstm.cell.vars.0": (6, 12),
        "layers.lstm.cell.vars.1": (3, 12),
        "layers.lstm.cell.vars.2": (12,),
        "layers.gru.cell.vars.0": (3, 6),
        "layers.gru.cell.vars.1": (2, 6),
        "layers.gru.cell.vars.2": (2, 6),
        "layers.gru_1.cell.vars.0": (2, 6),
        "layers.gru_1.cell.vars.1": (2, 6),
        "layers.gru_1.cell.vars.2": (2, 6),
        "layers.bidirectional.forward_layer.cell.vars.0": (2, 2),
        "layers.bidirectional.forward_layer.cell.vars.1": (2, 2),
        "layers.bidirectional.forward_layer.cell.vars.2": (2,),
        "layers.bidirectional.backward_layer.cell.vars.0": (2, 2),
        "layers.bidirectional.backward_layer.cell.vars.1": (2, 2),
        "layers.bidirectional.backward_layer.cell.vars.2": (2,),
        "layers.conv1d_transpose.vars.0": (3, 2, 4),
        "layers.conv1d_transpose.vars.1": (2,),
        "layers.batch_normalization.vars.0": (3,),
        "layers.batch_normalization.vars.1": (3,),
    }
    schemes = {t.name: t.scheme for t in plan.tensors}
    assert schemes["layers.dense.vars.0"] == "he_normal"  # the init key followed the tensor
    assert groups["layers/lstm/cell/vars"] == "l"


@pytest.mark.parametrize(
    "layer, message",
    [
        ("{name: a, type: attention, dim: 8, heads: 2}", "attention layers have no Keras counterpart"),
        ("{name: t, type: tensor, shape: [2]}", "tensor layers have no Keras counterpart"),
        (
            "{name: t, type: conv_transpose2d, in: 4, out: 4, kernel: 3, groups: 2}",
            "Keras' transposed convolutions have no groups",
        ),
        (
            "{name: b, type: batchnorm, dim: 4, running_stats: false}",
            "Keras' BatchNormalization always has moving statistics",
        ),
        ("{name: f, type: dense, in: 2, out: 2, dtype: float8_e4m3fn}", "Keras cannot load float8_e4m3fn"),
    ],
)
def test_what_keras_cannot_hold_is_a_spec_error(tmp_path, layer, message):
    plan = plan_of(f"initgen: 1\nlayers:\n  - {layer}\n")
    with pytest.raises(SpecError, match=message) as e:
        write(plan, tmp_path / "x.weights.h5")
    assert "s.yaml:3" in str(e.value)
    assert not list(tmp_path.iterdir())


def test_bfloat16_is_opaque_with_a_dtype_attribute(tmp_path):
    out = write(plan_of(CONV, dtype="bfloat16"), tmp_path / "b.weights.h5")
    with h5py.File(out, "r") as f:
        ds = f["layers/dense/vars/0"]
        assert ds.dtype == np.dtype("V2") and ds.attrs["dtype"] == "bfloat16"
        assert isinstance(ds.attrs["dtype"], str)  # a variable-length string: what Keras compares
    stats = {t.name: t for t in read_stats(out).tensors}
    assert stats["layers.dense.vars.0"].dtype == "bfloat16"
    assert verify(out).tensors == 13


def test_stats_and_verify_read_what_make_writes(tmp_path):
    out = write(plan_of(CONV), tmp_path / "x.weights.h5")
    assert verify(out).tensors == 13
    r = CliRunner().invoke(main, ["stats", str(out), "--check"])
    assert r.exit_code == 0, r.output


def test_sharded_keras_set(tmp_path):
    plan = plan_of(CONV)
    out = write(plan, tmp_path / "m.weights.h5", max_shard_size=3000)
    assert out == tmp_path / "m.weights.json"
    index = json.loads(out.read_text())
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files[0] == "m.weights.json" and files[1] == "m_00000.weights.h5" and len(files) > 2
    assert index["weight_map"]["/layers/conv2d/vars"] == ["m_00000.weights.h5"]
    assert index["metadata"]["total_size"] == float(keras_plan(plan)[0].nbytes)
    assert verify(out).tensors == 13
    single = write(plan, tmp_path / "one.weights.h5")
    a = {t.name: (t.mean, t.std) for t in read_stats(out).tensors}
    assert a == {t.name: (t.mean, t.std) for t in read_stats(single).tensors}


def test_plain_h5_keeps_its_layout(tmp_path):
    out = write(plan_of(CONV), tmp_path / "x.h5")
    assert "c1/weight" in datasets(out)


def test_cli_make_keras(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(CONV.replace("defaults: keras\n", ""))
    r = CliRunner().invoke(
        main, ["make", str(spec), "-o", str(tmp_path / "w.weights.h5"), "--defaults", "keras"]
    )
    assert r.exit_code == 0, r.output
    assert "13 tensors" in r.output
    r = CliRunner().invoke(main, ["make", str(spec), "-o", str(tmp_path / "w.weights.json")])
    assert r.exit_code == 2 and "needs --max-shard-size" in r.output
    with pytest.raises(UsageError, match="--shard makes safetensors shards"):
        write(plan_of(CONV), tmp_path / "w2.weights.h5", max_shard_size=3000, shard=(1, 2))
