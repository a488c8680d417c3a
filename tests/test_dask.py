"""Shards on a real Dask cluster (a scheduler and two worker processes on 127.0.0.1,
started once per session by conftest.py): the output equals a local run's, also when a
worker is killed mid-run; a failing shard is named; Ctrl-C removes what was written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from helpers import SPECS

pytestmark = pytest.mark.xdist_group("dask")  # one cluster per session, not one per xdist worker

SMALL = ["n_layer=2", "vocab=2000", "dim=256", "heads=4", "kv_heads=2", "ffn=512"]
SETS = [a for s in SMALL for a in ("--set", s)]
LLAMA = str(SPECS / "llama.yaml")


def files(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def test_a_dask_run_equals_a_local_run(cli, dask_scheduler, tmp_path):
    for out, extra in [("local", []), ("dask", ["--dask", dask_scheduler])]:
        r = cli("make", LLAMA, *SETS, "-o", tmp_path / out, "--max-shard-size", "1MB", "-q", *extra)
        assert r.exit_code == 0, r.output
    local = files(tmp_path / "local")
    assert len(local) > 4 and "model.safetensors.index.json" in local
    assert files(tmp_path / "dask") == local


def test_a_dask_run_to_s3_equals_a_local_run(cli, dask_scheduler, s3, tmp_path):
    r = cli("make", LLAMA, *SETS, "-o", tmp_path / "local", "--max-shard-size", "1MB", "-q")
    assert r.exit_code == 0
    opts = [a for k, v in s3.options().items() for a in ("--storage-option", f"{k}={v}")]
    r = cli(
        "make",
        LLAMA,
        *SETS,
        "-o",
        s3.url("ckpt/"),
        "--max-shard-size",
        "1MB",
        "-q",
        "--dask",
        dask_scheduler,
        *opts,
    )
    assert r.exit_code == 0, r.output
    local = files(tmp_path / "local")
    assert s3.keys() == [f"ckpt/{n}" for n in local]
    for name, data in local.items():
        assert s3.read(f"ckpt/{name}") == data, name


def test_a_worker_killed_mid_run_leaves_the_output_identical(dask_scheduler, tmp_path):
    from distributed import Client

    from initgen import build_plan, load_spec, write
    from initgen.writers.cluster import write_on_dask

    sets = {"n_layer": 4, "vocab": 4000, "dim": 512, "heads": 4, "kv_heads": 2, "ffn": 1024}
    plan = build_plan(load_spec(LLAMA, sets))
    write(plan, tmp_path / "local", max_shard_size=4 * 10**6)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            write_on_dask(plan, str(tmp_path / "dask"), 4 * 10**6, dask_scheduler)
        except BaseException as e:
            errors.append(e)

    with Client(dask_scheduler) as client:
        pids = client.run(os.getpid)
        th = threading.Thread(target=run)
        th.start()
        deadline = time.monotonic() + 60
        busy: list[str] = []
        while not busy and time.monotonic() < deadline:
            busy = [w for w, keys in client.processing().items() if keys]
            time.sleep(0.02)
        assert busy, "no shard task started"
        time.sleep(0.2)
        os.kill(pids[busy[0]], signal.SIGKILL)
        th.join(120)
        assert not th.is_alive() and not errors, errors
        client.wait_for_workers(2, timeout=60)
    assert files(tmp_path / "dask") == files(tmp_path / "local")


def test_a_shard_that_fails_for_good_is_named(cli, dask_scheduler, tmp_path):
    out = tmp_path / "ckpt"
    r = cli("make", LLAMA, *SETS, "-o", out, "--max-shard-size", "1MB", "-q")
    names = sorted(p.name for p in out.iterdir() if p.name.startswith("model-"))
    for p in out.iterdir():
        p.unlink()
    (out / names[1]).mkdir()  # shard 2 cannot be written: its name is taken by a directory
    r = cli(
        "make", LLAMA, *SETS, "-o", out, "--max-shard-size", "1MB", "-q", "--dask", dask_scheduler, "--force"
    )
    assert r.exit_code == 1
    assert r.output.startswith(f"error: shard 2/{len(names)} ({names[1]}) failed: ")
    assert r.output.count("\n") == 1
    assert [p.name for p in out.iterdir()] == [names[1]]  # nothing of this run is left


def test_ctrl_c_cancels_the_tasks_and_removes_what_was_written(dask_scheduler, tmp_path):
    out = tmp_path / "ckpt"
    sets = ["n_layer=8", "vocab=4000", "dim=512", "heads=4", "kv_heads=2", "ffn=1024"]
    args = [LLAMA, *[a for s in sets for a in ("--set", s)], "-o", str(out), "--max-shard-size", "2MB"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "initgen", "make", *args, "-q", "--dask", dask_scheduler],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out.is_dir() and any(out.glob("model-*.safetensors"))):
        time.sleep(0.02)
    assert out.is_dir(), "no shard was written"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    time.sleep(0.5)
    assert not out.exists() or list(out.iterdir()) == []


def test_a_bad_scheduler_address_is_one_line(cli, tmp_path):
    r = cli("make", LLAMA, *SETS, "-o", tmp_path / "c", "--max-shard-size", "1MB", "--dask", "nonsense://x")
    assert r.exit_code == 2 and r.output.startswith("error: --dask nonsense://x: ")
    r = cli("make", LLAMA, *SETS, "-o", tmp_path / "c", "--dask", "local")
    assert (r.exit_code, r.output) == (2, "error: --dask needs --max-shard-size: it makes shards\n")


def test_dask_local_starts_a_cluster_of_its_own(tmp_path):
    """Through `python -m initgen`, whose main module the spawned workers re-import."""
    args = [LLAMA, *SETS, "--max-shard-size", "2MB", "-q"]
    for out, extra in [("local", []), ("dask", ["--dask", "local"])]:
        r = subprocess.run(
            [sys.executable, "-m", "initgen", "make", *args, "-o", str(tmp_path / out), *extra],
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert (r.returncode, r.stderr) == (0, ""), r.stderr
    assert files(tmp_path / "dask") == files(tmp_path / "local")
