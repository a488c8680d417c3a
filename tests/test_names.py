"""Tensor names: never empty, unique after expansion, not safetensors' metadata key,
and for HDF5 each name must be its own group path.

HDF5 names are rejected, not escaped: a dataset path that differs from the tensor's
name would load under another name in every other tool. A name that cannot be an
HDF5 path still works for safetensors, which allows any string.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from initgen.cli import main
from initgen.errors import SpecError, UsageError
from initgen.plan import build_plan, name_problem
from initgen.spec import load_spec
from initgen.writers.targets import check_hdf5_names, hdf5_name_problem


def spec_text(layers: str) -> str:
    return f"initgen: 1\nlayers:\n{layers}"


def plan_of(layers: str):  # type: ignore[no-untyped-def]
    return build_plan(load_spec("n.yaml", text=spec_text(layers)))


# name → (the layers, the HDF5 refusal or None when HDF5 can hold it)
HDF5_CASES = {
    "slash": (
        "  - {name: 'a/b', type: dense, in: 2, out: 2}\n",
        "tensor name 'a/b.bias' contains '/', which HDF5 reads as a group separator",
    ),
    "doubled dot": (
        "  - {name: 'a.', type: dense, in: 2, out: 2}\n",
        "tensor name 'a..bias' has an empty part between dots",
    ),
    "leading dot": (
        "  - {name: '.a', type: tensor, shape: [2]}\n",
        "tensor name '.a' has an empty part between dots",
    ),
    "trailing dot": (
        "  - {name: 'a.', type: tensor, shape: [2]}\n",
        "tensor name 'a.' has an empty part between dots",
    ),
    "nul": (
        '  - {name: "a\\0b", type: tensor, shape: [2]}\n',
        "tensor name 'a\\x00b' contains a NUL character, which HDF5 names cannot hold",
    ),
    "dataset and group": (
        "  - {name: a, type: tensor, shape: [2]}\n  - {name: a.b, type: tensor, shape: [2]}\n",
        "tensor 'a' would be both a dataset and the group holding 'a.b'",
    ),
    "dataset and a layer's group": (
        "  - {name: fc, type: tensor, shape: [2]}\n  - {name: fc, type: dense, in: 2, out: 2}\n",
        "tensor 'fc' would be both a dataset and the group holding 'fc.bias'",
    ),
    "unicode": ("  - {name: 'слой.名前', type: dense, in: 2, out: 2}\n", None),
    "spaces and symbols": ("  - {name: 'my layer (1)+x', type: dense, in: 2, out: 2}\n", None),
    "siblings sharing a prefix": (
        "  - {name: a, type: tensor, shape: [2]}\n"
        "  - {name: ab.c, type: tensor, shape: [2]}\n"
        "  - {name: a-b, type: tensor, shape: [2]}\n",
        None,
    ),
}


@pytest.mark.parametrize("case", list(HDF5_CASES))
def test_hdf5_names(case: str, tmp_path: Path) -> None:
    layers, refusal = HDF5_CASES[case]
    spec = tmp_path / "n.yaml"
    spec.write_text(spec_text(layers))
    h5 = tmp_path / "w.h5"
    r = CliRunner().invoke(main, ["make", str(spec), "-o", str(h5), "-q"])
    assert "Traceback" not in r.output
    if refusal is None:
        assert r.exit_code == 0, r.output
        stats = CliRunner().invoke(main, ["stats", str(h5), "--format", "json", "--all"])
        import json

        names = {t["name"] for t in json.loads(stats.output)["tensors"]}
        assert names == {t.name for t in plan_of(layers).tensors}  # read back under the same names
    else:
        assert r.exit_code == 2, r.output
        assert r.output.startswith(f"error: cannot write HDF5: {refusal}"), r.output
        assert (
            r.output.rstrip().endswith("write .safetensors or rename the tensor")
            or "rename one of them" in r.output
        )
        assert not h5.exists() and not list(tmp_path.glob(".*initgen-tmp"))
    # safetensors holds any of these names, and the reference library reads them back
    st = tmp_path / "w.safetensors"
    r = CliRunner().invoke(main, ["make", str(spec), "-o", str(st), "-q"])
    assert r.exit_code == 0, r.output
    from safetensors.numpy import load_file

    assert set(load_file(str(st))) == {t.name for t in plan_of(layers).tensors}


@pytest.mark.parametrize(
    "name, problem",
    [
        ("a", None),
        ("a.b.c", None),
        ("layers.0.weight", None),
        ("x:0", None),
        ("ü", None),
        ("a/b", "contains '/'"),
        ("a..b", "empty part"),
        (".a", "empty part"),
        ("a.", "empty part"),
        (".", "empty part"),
        ("a\0", "NUL character"),
    ],
)
def test_hdf5_name_problem(name: str, problem: str | None) -> None:
    why = hdf5_name_problem(name)
    assert (why is None) == (problem is None) and (problem is None or problem in why)  # type: ignore[operator]


def test_prefix_conflicts_are_found_whatever_the_order() -> None:
    for names in (["a", "a.b"], ["a.b", "a"], ["a.b.c", "x", "a.b"], ["a", "a-b", "a.b"]):
        with pytest.raises(UsageError, match="would be both a dataset and the group"):
            check_hdf5_names(names)
    check_hdf5_names(["a", "ab", "a-b", "b.a"])  # no conflict


def test_metadata_key_is_not_a_tensor_name(tmp_path: Path) -> None:
    """safetensors keeps the file's metadata under '__metadata__': a tensor of that name
    would replace it (and a reader would take the tensor for metadata)."""
    assert name_problem("__metadata__") and name_problem("") and name_problem("x") is None
    assert name_problem("a\ud800") == "'a\\ud800' holds a lone surrogate, which no file can store"
    spec = tmp_path / "m.yaml"
    spec.write_text(spec_text("  - {name: __metadata__, type: tensor, shape: [2]}\n"))
    for args in (["validate", str(spec)], ["make", str(spec), "-o", str(tmp_path / "w.safetensors")]):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 2, r.output
        assert r.output == (
            f"error: {spec}:3: layers[0]: '__metadata__' cannot be a tensor name: "
            "safetensors keeps the file's metadata under it\n"
        )
    assert not (tmp_path / "w.safetensors").exists()


def test_library_write_checks_names_too(tmp_path: Path) -> None:
    from initgen.writers import write

    plan = plan_of("  - {name: a, type: tensor, shape: [2]}\n  - {name: a.b, type: tensor, shape: [2]}\n")
    with pytest.raises(UsageError, match="both a dataset and the group"):
        write(plan, tmp_path / "w.h5")
    assert list(tmp_path.iterdir()) == []
    write(plan, tmp_path / "w.safetensors")  # fine for safetensors


@pytest.mark.parametrize(
    "layers, message",
    [
        ("  - {name: '', type: dense, in: 2, out: 2}\n", "layers[0].name: name must be a non-empty string"),
        ("  - {name: fc, type: dense, in: 2, out: 2, names: {weight: ''}}\n", "layers[0].names"),
        (
            "  - {name: fc, type: dense, in: 2, out: 2}\n  - {name: fc, type: dense, in: 2, out: 2}\n",
            "layers[1]: duplicate tensor name 'fc.weight' (first made by the layer at line 3)",
        ),
        (
            "  - {name: fc, type: dense, in: 2, out: 2, names: {weight: bias}}\n",
            "duplicate tensor name 'fc.bias'",
        ),
        (
            "  - repeat: 2\n    layers: [{name: fc, type: dense, in: 2, out: 2}]\n",
            "layers[0].layers[0]: duplicate tensor name 'fc.weight'",
        ),
        (
            "  - repeat: 2\n    prefix: 'h.${i // 2}.'\n    layers: [{name: fc, type: dense, in: 2, out: 2}]\n",
            "duplicate tensor name 'h.0.fc.weight'",
        ),
        (
            "  - {name: a.weight, type: tensor, shape: [2, 2]}\n  - {name: a, type: dense, in: 2, out: 2}\n",
            "layers[1]: duplicate tensor name 'a.weight' (first made by the layer at line 3)",
        ),
    ],
)
def test_empty_and_duplicate_names_are_spec_errors(layers: str, message: str) -> None:
    with pytest.raises(SpecError) as e:
        plan_of(layers)
    assert message in str(e.value) and e.value.line is not None, str(e.value)


def test_names_after_expansion_are_unique_when_the_prefix_uses_the_index() -> None:
    plan = plan_of(
        "  - repeat: 3\n    prefix: 'h.${i}.'\n    layers: [{name: fc, type: dense, in: 2, out: 2}]\n"
    )
    names = [t.name for t in plan.tensors]
    assert names == [f"h.{i}.fc.{k}" for i in range(3) for k in ("weight", "bias")]


def test_a_spec_file_name_in_another_encoding_names_the_file_readably(tmp_path: Path) -> None:
    """Without `name:`, the spec is named after its file; bytes UTF-8 cannot hold (a
    Latin-1 file name) are replaced in the metadata, not a crash."""
    from click.testing import CliRunner
    from safetensors import safe_open

    from initgen.cli import main

    spec = os.fsdecode(os.fsencode(str(tmp_path)) + b"/caf\xe9.yaml")
    Path(spec).write_text("initgen: 1\nlayers: [{name: fc, type: dense, in: 2, out: 2}]\n")
    out = tmp_path / "w.safetensors"
    r = CliRunner().invoke(main, ["make", spec, "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output
    with safe_open(out, "np") as f:
        assert f.metadata()["initgen.spec"].endswith("/caf\ufffd.yaml")
