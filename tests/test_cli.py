"""The CLI surface: help, start-up time, plan/validate/schemes/schema/stats output."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest

from helpers import SPECS
from initgen.cli import main

MLP = SPECS / "mlp-mnist.yaml"


def test_help_starts_fast_and_imports_no_heavy_module():
    # Start-up is dominated by imports; check what is imported rather than time alone.
    code = (
        "import sys, time; t = time.perf_counter(); "
        "from initgen.cli import main; "
        "heavy = [m for m in ('numpy', 'h5py', 'safetensors', 'rich', 'yaml', 'ml_dtypes', 'fsspec', 's3fs', 'dask', 'distributed') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    best = min(_time_help() for _ in range(3))
    assert best < 0.5, f"`initgen --help` took {best:.2f} s"


def _time_help() -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "initgen", "--help"], capture_output=True, check=True)
    return time.perf_counter() - t


COMMANDS = sorted(main.commands)


def test_help_lists_every_command(cli):
    r = cli("--help")
    assert r.exit_code == 0
    listed = re.findall(r"^  (\S+)  ", r.output.split("Commands:")[1], flags=re.M)
    assert sorted(listed) == COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_its_usage(cli, command):
    r = cli(command, "--help")
    assert r.exit_code == 0
    assert r.output.startswith(f"Usage: main {command} ")
    assert main.commands[command].help  # a docstring: what the command does


def test_plan_json_shape(cli):
    r = cli("plan", MLP, "--format", "json")
    assert r.exit_code == 0
    data = json.loads(r.output)
    assert data["params"] == 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10
    assert data["bytes"] == 4 * data["params"]
    w1 = next(t for t in data["tensors"] if t["name"] == "fc1.weight")
    assert (w1["fan_in"], w1["fan_out"], w1["scheme"]) == (784, 256, "he_normal")
    assert w1["dist"]["std"] == pytest.approx((2 / 784) ** 0.5)


def test_plan_table_and_markdown(cli):
    assert "fc3.weight" in cli("plan", MLP).output
    md = cli("plan", MLP, "--format", "markdown").output
    assert "| fc1.weight | 256×784 | float32 | he_normal |" in md


def test_validate_summary(cli):
    r = cli("validate", MLP)
    assert r.exit_code == 0
    assert r.output == f"{MLP}: ok: 6 tensors, 269,322 params, 1.08 MB\n"


def test_set_overrides_a_var(cli):
    data = json.loads(cli("plan", MLP, "--set", "hidden=32", "--format", "json").output)
    assert next(t for t in data["tensors"] if t["name"] == "fc1.weight")["shape"] == [32, 784]


def test_set_unknown_var_is_a_usage_error(cli):
    r = cli("plan", MLP, "--set", "hiden=32")
    assert r.exit_code == 2
    assert (
        r.output
        == "error: --set hiden: the spec has no var 'hiden'; its vars: hidden; did you mean 'hidden'?\n"
    )


def test_schemes_json_lists_formulas(cli):
    data = json.loads(cli("schemes", "--format", "json").output)
    names = {s["name"] for s in data["schemes"]}
    assert {"glorot_uniform", "he_normal", "lecun_normal", "variance_scaling", "truncated_normal"} <= names
    assert all(s["formula"] for s in data["schemes"])


def test_schema_is_json_schema(cli):
    schema = json.loads(cli("schema").output)
    assert schema["required"] == ["initgen", "layers"]


def test_stats_json_reports_recorded_scheme(cli, tmp_path):
    out = tmp_path / "w.safetensors"
    cli("make", MLP, "-o", out, "-q")
    data = json.loads(cli("stats", out, "--format", "json").output)
    assert data["format"] == "safetensors"
    t = next(t for t in data["tensors"] if t["name"] == "fc2.weight")
    assert t["scheme"] == "he_normal" and t["expected_std"] == pytest.approx((2 / 256) ** 0.5)
    assert t["shape"] == [256, 256] and t["count"] == 65536


def test_unknown_output_extension(cli, tmp_path):
    r = cli("make", MLP, "-o", tmp_path / "w.bin")
    assert r.exit_code == 2
    assert "cannot tell the format from the extension '.bin'" in r.output


def test_missing_spec_file(cli, tmp_path):
    r = cli("make", tmp_path / "nope.yaml", "-o", tmp_path / "w.safetensors")
    assert r.exit_code == 2
    assert r.output == f"error: {tmp_path / 'nope.yaml'}: no such file\n"


def test_plan_table_names_scalar_tensors(cli, write_spec):
    spec = write_spec("initgen: 1\nlayers:\n  - {name: bn, type: batchnorm, dim: 4}\n")
    md = cli("plan", spec, "--format", "markdown").output
    assert "| bn.num_batches_tracked | scalar | int64 |" in md
