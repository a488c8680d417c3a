"""The library API: typed, documented, and running the same checks as the CLI."""

from __future__ import annotations

import inspect
import os
import sys
import typing
from pathlib import Path

import pytest

import initgen
from helpers import SPECS
from initgen.errors import InitgenError, SpecError, UsageError

MLP = SPECS / "mlp-mnist.yaml"
FUNCTIONS = ["load_spec", "build_plan", "write", "read_stats", "make_tensor", "verify", "diff"]


def test_the_readme_example_runs_with_string_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = initgen.build_plan(initgen.load_spec(str(MLP)))
    assert initgen.write(p, "w.safetensors") == Path("w.safetensors")
    stats = initgen.read_stats("w.safetensors")
    assert [t.name for t in stats.tensors] == [t.name for t in p.file_order()]
    assert initgen.verify("w.safetensors").tensors == len(p.tensors)
    assert initgen.diff("w.safetensors", "w.safetensors").same


def test_the_library_and_the_cli_write_the_same_bytes(tmp_path, cli):
    initgen.write(initgen.build_plan(initgen.load_spec(MLP)), tmp_path / "lib.safetensors")
    assert cli("make", MLP, "-o", tmp_path / "cli.safetensors", "-q").exit_code == 0
    assert (tmp_path / "lib.safetensors").read_bytes() == (tmp_path / "cli.safetensors").read_bytes()


@pytest.mark.parametrize("sharded", [False, True])
def test_max_bytes_is_checked_before_anything_is_written(tmp_path, sharded):
    p = initgen.build_plan(initgen.load_spec(MLP))
    out = tmp_path / ("ckpt" if sharded else "w.safetensors")
    extra = {"max_shard_size": 10**6} if sharded else {}
    with pytest.raises(SpecError) as e:
        initgen.write(p, out, max_bytes=1000, **extra)
    assert isinstance(e.value, InitgenError) and e.value.exit_code == 2
    assert "over the limit of 1 KB; if that is meant, raise it with --max-bytes 2MB" in str(e.value)
    assert str(e.value).startswith(f"{MLP}:")  # points at the spec's line
    assert list(tmp_path.iterdir()) == []


def test_a_plan_whose_values_overflow_its_dtype_is_refused_by_write(tmp_path):
    spec = initgen.load_spec(
        "s.yaml",
        text="initgen: 1\ndtype: float16\nlayers: [{name: a, type: dense, in: 4, out: 4, init: {scheme: normal, std: 1e5}}]",
    )
    with pytest.raises(SpecError, match="would overflow float16"):
        initgen.write(initgen.build_plan(spec, seed=None), tmp_path / "w.h5")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("sharded", [False, True])
def test_big_endian_machines_are_refused_for_every_output(tmp_path, monkeypatch, sharded):
    p = initgen.build_plan(initgen.load_spec(MLP))
    monkeypatch.setattr(sys, "byteorder", "big")
    extra = {"max_shard_size": 10**6} if sharded else {}
    with pytest.raises(UsageError, match="little-endian"):
        initgen.write(p, tmp_path / ("ckpt" if sharded else "w.safetensors"), **extra)
    assert list(tmp_path.iterdir()) == []


def test_progress_reports_done_and_total_in_one_protocol(tmp_path):
    p = initgen.build_plan(initgen.load_spec(MLP))
    seen: dict[str, list[tuple[int, int]]] = {"write": [], "stats": [], "verify": []}
    out = initgen.write(p, tmp_path / "w.safetensors", progress=lambda d, t: seen["write"].append((d, t)))
    initgen.read_stats(out, progress=lambda d, t: seen["stats"].append((d, t)))
    initgen.verify(out, progress=lambda d, t: seen["verify"].append((d, t)))
    totals = {"write": p.nbytes, "stats": p.params, "verify": p.params}
    for what, calls in seen.items():
        done = [d for d, _ in calls]
        assert calls and done == sorted(done), what
        assert calls[-1] == (totals[what], totals[what]), what  # values, not chunk offsets


def test_every_public_name_resolves_and_is_listed():
    assert sorted(initgen.__all__) == sorted(dir(initgen))
    for name in initgen.__all__:
        assert getattr(initgen, name) is not None, name
    with pytest.raises(AttributeError):
        initgen.no_such_name  # noqa: B018


@pytest.mark.parametrize("name", FUNCTIONS)
def test_public_functions_are_typed_and_documented(name):
    fn = getattr(initgen, name)
    hints = typing.get_type_hints(fn)
    params = [p for p in inspect.signature(fn).parameters if p not in ("self",)]
    assert "return" in hints and all(p in hints for p in params), (name, hints)
    doc = inspect.getdoc(fn) or ""
    for section in ("Args:", "Returns:", "Raises:"):
        assert section in doc, f"{name}'s docstring has no {section}"


@pytest.mark.parametrize(
    "name, arg",
    [
        ("load_spec", "source"),
        ("write", "out"),
        ("read_stats", "path"),
        ("verify", "path"),
        ("diff", "a"),
        ("diff", "b"),
    ],
)
def test_paths_are_str_or_pathlike(name, arg):
    hint = typing.get_type_hints(getattr(initgen, name))[arg]
    assert set(typing.get_args(hint)) == {str, os.PathLike}, (name, hint)


def test_the_version_is_defined_once():
    import importlib.metadata

    import tomllib

    assert importlib.metadata.version("initgen") == initgen.__version__
    project = tomllib.loads((SPECS.parent / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]


@pytest.mark.parametrize("seed", [-1, True, 1.5, "3"])
def test_a_seed_that_is_not_a_whole_number_is_refused_by_build_plan(seed):
    """bool included: a file made with seed True was refused by its own verify."""
    spec = initgen.load_spec("s.yaml", text="initgen: 1\nlayers: [{name: fc, type: dense, in: 4, out: 2}]")
    with pytest.raises(UsageError, match=r"seed must be a whole number ≥ 0, got "):
        initgen.build_plan(spec, seed=seed)
