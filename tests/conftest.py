"""Shared fixtures: a CLI runner and a way to write small specs."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from helpers import S3Bucket, s3_env
from initgen.cli import main

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


@pytest.fixture
def cli() -> Callable[..., Result]:
    """Run the CLI in-process: cli("make", "spec.yaml", "-o", "w.safetensors")."""
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return run


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[[str, str], Path]:
    """write_spec(text) → path of a spec file holding ``text``."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


# -- real components: an S3-compatible server and a Dask cluster, started once per session --


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 (a free port), for the whole session."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Bucket]:
    """A fresh bucket; the environment points plain s3:// URLs (and subprocesses) at the
    server. After the test, no multipart upload may be left unfinished."""
    import uuid

    import s3fs

    for key, value in s3_env(s3_endpoint).items():
        monkeypatch.setenv(key, value)
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    bucket = S3Bucket(fs, "t-" + uuid.uuid4().hex[:12], s3_endpoint)
    fs.mkdir(bucket.name)
    yield bucket
    assert bucket.pending() == [], "unfinished multipart uploads were left behind"


@pytest.fixture(scope="session")
def s3_auth_endpoint() -> Iterator[str]:
    """A second moto server that checks credentials (for the wrong-credentials error)."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="0")
    exe = Path(sys.executable).parent / "moto_server"
    proc = subprocess.Popen(
        [str(exe), "-H", "127.0.0.1", "-p", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if "Running on" in line:
            break
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    yield line.split("Running on ")[1].strip()
    proc.terminate()
    proc.wait(30)


@pytest.fixture(scope="session")
def dask_scheduler() -> Iterator[str]:
    """A Dask scheduler with two worker processes on 127.0.0.1: its tcp:// address."""
    import logging
    import warnings

    from distributed import LocalCluster

    with warnings.catch_warnings():  # "port 8787 is in use" when another cluster runs here
        warnings.simplefilter("ignore")
        cluster = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.CRITICAL,
        )
    yield cluster.scheduler_address
    cluster.close()
