"""`initgen make CONFIG -o DIR`, `initgen from-config` and `initgen plan CONFIG`: model
directories in the layout Transformers' save_pretrained writes, checked against the
records of tests/data/reference/configs (made by Transformers itself)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors import safe_open

from helpers import ROOT
from initgen.dtypes import DTYPES

RECORDS = ROOT / "tests" / "data" / "reference" / "configs"
SMALL = "llama-f32-untied"


def record(case: str) -> dict:
    return json.loads((RECORDS / f"{case}.json").read_text())


def config_dir(tmp_path: Path, case: str = SMALL) -> Path:
    d = tmp_path / case
    d.mkdir()
    (d / "config.json").write_text(json.dumps(record(case)["config"], indent=2))
    return d


def saved_layout(out: Path) -> dict[str, tuple[list[int], str]]:
    """name → (shape, safetensors dtype) of every tensor in a model directory."""
    index = out / "model.safetensors.index.json"
    files = (
        sorted(set(json.loads(index.read_text())["weight_map"].values()))
        if index.exists()
        else ["model.safetensors"]
    )
    layout = {}
    for name in files:
        with safe_open(out / name, "np") as f:
            for key in f.keys():
                sl = f.get_slice(key)
                layout[key] = (list(sl.get_shape()), sl.get_dtype())
    return layout


@pytest.mark.parametrize("case", ["llama-f32-untied", "gpt2-bf16-tied", "mixtral-f32", "bert-mlm-f32"])
def test_the_directory_has_save_pretrained_s_tensors_and_the_config_unchanged(cli, tmp_path, case):
    src = config_dir(tmp_path, case)
    out = tmp_path / "out"
    r = cli("make", src, "-o", out, "-q")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]
    assert (out / "config.json").read_bytes() == (src / "config.json").read_bytes()
    expected = {t["name"]: (t["shape"], t["dtype"]) for t in record(case)["tensors"]}
    assert saved_layout(out) == expected


def test_a_config_file_and_its_directory_make_the_same_files(cli, tmp_path):
    src = config_dir(tmp_path)
    assert cli("make", src, "-o", tmp_path / "a", "-q").exit_code == 0
    assert cli("make", src / "config.json", "-o", tmp_path / "b", "-q").exit_code == 0
    for name in ("config.json", "model.safetensors"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_from_config_spec_makes_the_same_bytes_as_the_config(cli, tmp_path):
    src = config_dir(tmp_path)
    spec = tmp_path / "spec.yaml"
    r = cli("from-config", src, "-o", spec)
    assert r.exit_code == 0 and spec.read_text().startswith("# LlamaForCausalLM")
    assert cli("make", spec, "-o", tmp_path / "w.safetensors", "-q").exit_code == 0
    assert cli("make", src, "-o", tmp_path / "dir", "-q").exit_code == 0
    assert (tmp_path / "w.safetensors").read_bytes() == (tmp_path / "dir" / "model.safetensors").read_bytes()
    assert cli("from-config", src).output == spec.read_text()  # stdout: the same text


def test_shards_and_one_shard_alone(cli, tmp_path):
    src = config_dir(tmp_path)
    full, alone = tmp_path / "full", tmp_path / "alone"
    assert cli("make", src, "-o", full, "--max-shard-size", "100kB", "-q").exit_code == 0
    index = json.loads((full / "model.safetensors.index.json").read_text())
    n = len(set(index["weight_map"].values()))
    assert n > 1 and sorted(p.name for p in full.iterdir()) == sorted(
        ["config.json", "model.safetensors.index.json", *set(index["weight_map"].values())]
    )
    for k in range(1, n + 1):  # each shard alone, as on n machines: the same files
        r = cli("make", src, "-o", alone, "--max-shard-size", "100kB", "--shard", f"{k}/{n}", "-q")
        assert r.exit_code == 0, r.output
    for p in full.iterdir():
        assert (alone / p.name).read_bytes() == p.read_bytes(), p.name


def test_stats_verify_and_diff_read_a_model_directory_of_one_file(cli, tmp_path):
    out = tmp_path / "out"
    assert cli("make", config_dir(tmp_path), "-o", out, "-q").exit_code == 0
    assert (out / "model.safetensors").is_file() and not (out / "model.safetensors.index.json").exists()
    by_dir = json.loads(cli("stats", out, "--format", "json", "-q").output)
    by_file = json.loads(cli("stats", out / "model.safetensors", "--format", "json", "-q").output)
    assert by_dir["tensors"] == by_file["tensors"] and len(by_dir["tensors"]) > 1
    r = cli("verify", out, "-q")
    assert r.exit_code == 0 and "ok: " in r.output, r.output
    r = cli("diff", out, out / "model.safetensors")
    assert r.exit_code == 0, r.output


def test_a_directory_with_both_layouts_is_read_as_transformers_loads_it(cli, tmp_path):
    """model.safetensors first, as from_pretrained looks for it before the index."""
    src = config_dir(tmp_path)
    one, both = tmp_path / "one", tmp_path / "both"
    assert cli("make", src, "-o", one, "-q").exit_code == 0
    assert cli("make", src, "-o", both, "--max-shard-size", "100kB", "--seed", "1", "-q").exit_code == 0
    (both / "model.safetensors").write_bytes((one / "model.safetensors").read_bytes())

    def stats(path: Path) -> list:
        return json.loads(cli("stats", path, "--format", "json", "-q").output)["tensors"]

    assert stats(both) == stats(one) != stats(both / "model.safetensors.index.json")


def test_the_config_dtype_and_the_dtype_option(cli, tmp_path):
    src = config_dir(tmp_path, "llama-bf16-untied")
    assert cli("make", src, "-o", tmp_path / "a", "-q").exit_code == 0
    assert {d for _, d in saved_layout(tmp_path / "a").values()} == {"BF16"}
    assert cli("make", src, "-o", tmp_path / "b", "--dtype", "float16", "-q").exit_code == 0
    assert {d for _, d in saved_layout(tmp_path / "b").values()} == {DTYPES["float16"].st_code}


def test_plan_and_validate_take_a_config(cli, tmp_path):
    src = config_dir(tmp_path)
    plan = json.loads(cli("plan", src, "--format", "json").output)
    assert {t["name"] for t in plan["tensors"]} == {t["name"] for t in record(SMALL)["tensors"]}
    small = json.loads(cli("plan", src, "--set", "n_layer=1", "--format", "json").output)
    assert small["params"] < plan["params"]
    assert cli("validate", src).output.startswith(f"{src}: ok: ")


def test_an_identical_config_already_there_is_kept_and_a_different_one_needs_force(cli, tmp_path):
    src = config_dir(tmp_path)
    assert cli("make", src, "-o", src, "-q").exit_code == 0  # weights beside the config
    assert sorted(p.name for p in src.iterdir()) == ["config.json", "model.safetensors"]
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text("{}")
    r = cli("make", src, "-o", other, "-q")
    assert r.exit_code == 2 and "config.json: already exists; use --force" in r.output
    assert cli("make", src, "-o", other, "-q", "--force").exit_code == 0
    assert (other / "config.json").read_bytes() == (src / "config.json").read_bytes()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "n_layer=2"], "--set would change the model, but its config.json is copied unchanged"),
        (["--format", "hdf5"], "a model directory holds safetensors files; drop --format hdf5"),
    ],
)
def test_options_a_model_directory_cannot_honour(cli, tmp_path, args, message):
    src = config_dir(tmp_path)
    r = cli("make", src, "-o", tmp_path / "out", *args)
    assert r.exit_code == 2 and message in r.output
    assert not (tmp_path / "out").exists()


def test_a_file_name_is_not_a_model_directory(cli, tmp_path):
    src = config_dir(tmp_path)
    r = cli("make", src, "-o", tmp_path / "w.safetensors")
    assert r.exit_code == 2 and "from a config, -o names a model directory" in r.output


def test_an_unsupported_family_is_a_spec_error_naming_the_key(cli, tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "mamba", "hidden_size": 8}\n')
    r = cli("make", tmp_path / "config.json", "-o", tmp_path / "out")
    assert r.exit_code == 2 and "model_type" in r.output and "llama" in r.output
    assert not (tmp_path / "out").exists()
