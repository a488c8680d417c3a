"""--max-shard-size and --shard k/n: Transformers' layout, and shards made alone
byte-identical to those of a full run."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pytest

from helpers import every_family_spec, raw_tensors, sha
from initgen import units
from initgen.checkpoint import INDEX_NAME, shard_name
from initgen.errors import UsageError
from initgen.plan import build_plan
from initgen.spec import load_spec
from initgen.writers.sharding import Sharding, assign, parse_shard


def parse_size(text: str) -> int:
    return units.parse_size(text, "--max-shard-size", positive=True)


# Transformers' convert_file_size_to_int: decimal kB/MB/GB, binary KiB/MiB/GiB.
SIZES = [
    ("2GB", 2 * 10**9),
    ("500MB", 500 * 10**6),
    ("10kB", 10_000),
    ("1000", 1000),
    ("1.5GB", 1_500_000_000),
    ("500MiB", 500 * 2**20),
    ("2GiB", 2 * 2**30),
    ("7 B", 7),
]


@pytest.mark.parametrize("text, size", SIZES)
def test_sizes_read_like_transformers(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "GB", "2 XB", "-1GB", "0", "two"])
def test_bad_sizes_are_usage_errors(text):
    with pytest.raises(UsageError, match="--max-shard-size"):
        parse_size(text)


@pytest.mark.parametrize("text, kn", [("1/3", (1, 3)), ("3/3", (3, 3)), (" 2 / 5 ", (2, 5))])
def test_shard_numbers(text, kn):
    assert parse_shard(text) == kn


@pytest.mark.parametrize("text", ["0/3", "4/3", "1", "a/b", "1/0"])
def test_bad_shard_numbers(text):
    with pytest.raises(UsageError, match="--shard"):
        parse_shard(text)


@pytest.fixture
def spec(write_spec) -> Path:
    return write_spec(every_family_spec())


@pytest.fixture
def plan(spec):
    return build_plan(load_spec(str(spec)))


@pytest.mark.parametrize("limit", [1, 3000, 20_000, 10**9])
def test_assignment_is_greedy_in_file_order(plan, limit):
    order = plan.file_order()
    shards = assign(order, limit)
    assert [t for s in shards for t in s] == order  # every tensor once, in file order
    for s in shards:
        assert len(s) == 1 or sum(t.nbytes for t in s) <= limit
    for s, nxt in itertools.pairwise(shards):  # a new shard only when the next tensor would not fit
        assert sum(t.nbytes for t in s) + nxt[0].nbytes > limit


def test_names_and_index_follow_transformers(plan):
    sharding = Sharding(assign(plan.file_order(), 20_000))
    n = sharding.n
    assert n > 2
    assert sharding.names()[0] == f"model-00001-of-{n:05d}.safetensors"
    assert shard_name(1, 1) == "model.safetensors"
    index = json.loads(sharding.index_bytes())
    assert set(index) == {"metadata", "weight_map"}
    assert index["metadata"]["total_size"] == plan.nbytes
    assert list(index["weight_map"]) == sorted(t.name for t in plan.tensors)


def test_full_sharded_run_matches_the_unsharded_file(cli, spec, tmp_path):
    one = tmp_path / "one.safetensors"
    assert cli("make", spec, "-o", one, "-q").exit_code == 0
    out = tmp_path / "sharded"
    r = cli("make", spec, "-o", out, "--max-shard-size", "20kB", "-q")
    assert r.exit_code == 0, r.output
    index = json.loads((out / INDEX_NAME).read_text())
    files = sorted(p.name for p in out.iterdir())
    shards = sorted(set(index["weight_map"].values()))
    assert files == sorted([*shards, INDEX_NAME])
    merged: dict = {}
    for name in shards:
        part = raw_tensors(out / name)
        assert all(index["weight_map"][k] == name for k in part)
        merged.update(part)
    assert merged == raw_tensors(one)
    assert index["metadata"]["total_size"] == sum(len(b) for _, b in merged.values())


def test_each_shard_made_alone_is_byte_identical(cli, spec, tmp_path):
    full = tmp_path / "full"
    assert cli("make", spec, "-o", full, "--max-shard-size", "20kB", "-q").exit_code == 0
    names = sorted(p.name for p in full.glob("model-*.safetensors"))
    n = len(names)
    alone = tmp_path / "alone"
    for k in range(1, n + 1):
        r = cli(
            "make",
            spec,
            "-o",
            alone,
            "--max-shard-size",
            "20kB",
            "--shard",
            f"{k}/{n}",
            "-q",
            "--threads",
            "1",
        )
        assert r.exit_code == 0, r.output
    assert sorted(p.name for p in alone.iterdir()) == sorted(p.name for p in full.iterdir())
    for p in full.iterdir():
        assert sha(p) == sha(alone / p.name), p.name


def test_a_shard_made_alone_reports_its_own_tensors_params_and_bytes(cli, spec, tmp_path):
    from safetensors import safe_open

    out = tmp_path / "one"
    r = cli("make", spec, "-o", out, "--max-shard-size", "20kB", "--shard", "2/4")
    assert r.exit_code == 0, r.output
    path = out / "model-00002-of-00004.safetensors"
    with safe_open(path, "np") as f:
        shapes = [f.get_slice(k).get_shape() for k in f.keys()]
    params = sum(math.prod(s) for s in shapes)
    assert 0 < len(shapes) < 10 and f": {len(shapes)} tensors, {params:,} params, " in r.stderr, r.stderr
    assert r.stderr.startswith(f"wrote shard 2/4 of {out}: ")


def test_a_model_that_fits_is_one_model_safetensors(cli, spec, tmp_path):
    out = tmp_path / "d"
    assert cli("make", spec, "-o", out, "--max-shard-size", "1GB", "-q").exit_code == 0
    assert [p.name for p in out.iterdir()] == ["model.safetensors"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--max-shard-size", "20kB", "--shard", "1/2"], "this model has 4 shard(s), not 2"),
        (["--shard", "1/2"], "--shard needs --max-shard-size"),
        (["--max-shard-size", "20kB", "--format", "hdf5"], "HDF5 output is one file"),
    ],
)
def test_shard_option_errors(cli, spec, tmp_path, args, message):
    r = cli("make", spec, "-o", tmp_path / "d", *args)
    assert r.exit_code == 2
    assert message in r.output
    assert not (tmp_path / "d").exists()


def test_output_must_name_a_directory(cli, spec, tmp_path):
    r = cli("make", spec, "-o", tmp_path / "w.safetensors", "--max-shard-size", "20kB")
    assert r.exit_code == 2 and "-o names a directory" in r.output


def test_existing_shards_need_force(cli, spec, tmp_path):
    out = tmp_path / "d"
    assert cli("make", spec, "-o", out, "--max-shard-size", "20kB", "-q").exit_code == 0
    r = cli("make", spec, "-o", out, "--max-shard-size", "20kB", "-q")
    assert r.exit_code == 2 and "already exists; use --force" in r.output
    assert cli("make", spec, "-o", out, "--max-shard-size", "20kB", "-q", "--force").exit_code == 0


def test_a_new_sharding_replaces_the_whole_checkpoint_with_force(cli, tmp_path):
    """Old files of another sharding would be loaded instead of the new ones
    (Transformers reads model.safetensors before an index): refused without --force,
    removed with it once the new checkpoint is complete."""
    from helpers import SPECS

    out = tmp_path / "ckpt"
    spec = SPECS / "mlp-mnist.yaml"
    assert cli("make", spec, "-o", out, "--max-shard-size", "100GB", "-q").exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["model.safetensors"]
    r = cli("make", spec, "-o", out, "--max-shard-size", "500kB", "-q")
    assert r.exit_code == 2
    assert r.output == (
        f"error: {out}: already holds model.safetensors; use --force to replace the checkpoint\n"
    )
    assert cli("make", spec, "-o", out, "--max-shard-size", "500kB", "-q", "--force").exit_code == 0
    sharded = sorted(p.name for p in out.iterdir())
    assert sharded == [
        "model-00001-of-00003.safetensors",
        "model-00002-of-00003.safetensors",
        "model-00003-of-00003.safetensors",
        "model.safetensors.index.json",
    ]
    assert cli("make", spec, "-o", out, "--max-shard-size", "100GB", "-q", "--force").exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["model.safetensors"]


def test_shard_sizes_are_read_exactly():
    assert parse_size("1.001KB") == 1001  # float arithmetic would give 1000
    assert parse_size("2GiB") == 2 * 1024**3 and parse_size("0.5PB") == 5 * 10**14
