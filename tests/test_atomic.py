"""Atomic output: an error, Ctrl-C or SIGTERM mid-write leaves neither the target nor
a temporary file; an existing target is replaced only with --force."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import every_family_spec
from initgen.errors import OutputError
from initgen.plan import build_plan
from initgen.spec import load_spec
from initgen.writers import write
from initgen.writers.atomic import TMP_MARK

# 200 M values (800 MB): several seconds of work on one thread, so a signal sent as
# soon as the temporary file appears lands mid-write.
BIG = """\
initgen: 1
name: big
seed: 0
layers:
  - {name: a, type: embedding, num: 100000, dim: 1000, init: {scheme: normal, std: 0.02}}
  - {name: b, type: embedding, num: 100000, dim: 1000, init: {scheme: normal, std: 0.02}}
"""


def leftovers(d: Path) -> list[str]:
    return sorted(p.name for p in d.rglob("*") if TMP_MARK in p.name)


def _start_and_signal(
    spec: Path, args: list[str], watch: Path, sig: int, threads: int = 1
) -> subprocess.CompletedProcess:
    p = subprocess.Popen(
        [sys.executable, "-m", "initgen", "make", str(spec), *args, "--threads", str(threads)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a test runner may ignore SIGINT; the child must not inherit that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 30
    while not leftovers(watch) and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert p.poll() is None, "finished before it could be interrupted: " + p.stderr.read()
    time.sleep(0.2)  # well inside the write
    p.send_signal(sig)
    out, err = p.communicate(timeout=30)
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


@pytest.mark.parametrize("threads", [1, 2])  # in-process, and forked workers
@pytest.mark.parametrize(
    "sig, status, word",
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 128 + signal.SIGTERM, "terminated")],
)
def test_a_signal_mid_write_leaves_nothing(write_spec, tmp_path, sig, status, word, threads):
    spec = write_spec(BIG)
    target = tmp_path / "w.safetensors"
    r = _start_and_signal(spec, ["-o", str(target)], tmp_path, sig, threads)
    assert r.returncode == status, r.stderr
    assert r.stderr.strip() == f"{word}; no output was written"
    assert not target.exists()
    assert leftovers(tmp_path) == []


def test_sigterm_mid_sharded_write_removes_the_new_directory(write_spec, tmp_path):
    spec = write_spec(BIG)
    out = tmp_path / "shards"
    r = _start_and_signal(spec, ["-o", str(out), "--max-shard-size", "300MB"], tmp_path, signal.SIGTERM)
    assert r.returncode == 128 + signal.SIGTERM, r.stderr
    assert not out.exists()


def test_a_write_error_mid_file_leaves_nothing(write_spec, tmp_path, monkeypatch):
    from initgen.writers import safetensors

    calls = []
    real = safetensors.SafetensorsWriter.write

    def failing(self, t, start, values):
        calls.append(1)
        if len(calls) > 1:
            raise safetensors.os_error(self.path, OSError(errno.ENOSPC, "full"))
        real(self, t, start, values)

    monkeypatch.setattr(safetensors.SafetensorsWriter, "write", failing)
    plan = build_plan(load_spec(str(write_spec(every_family_spec()))))
    target = tmp_path / "w.safetensors"
    with pytest.raises(OutputError, match="no space left on the device"):
        write(plan, target, threads=2)
    assert os.listdir(tmp_path) == ["spec.yaml"]


def test_existing_target_needs_force_and_is_replaced_whole(cli, write_spec, tmp_path):
    spec = write_spec(every_family_spec())
    target = tmp_path / "w.safetensors"
    target.write_bytes(b"old")
    r = cli("make", spec, "-o", target)
    assert r.exit_code == 2 and "already exists; use --force" in r.output
    assert target.read_bytes() == b"old"
    assert cli("make", spec, "-o", target, "--force", "-q").exit_code == 0
    assert target.stat().st_size > 5_000_000
    assert leftovers(tmp_path) == []


def test_quiet_and_non_terminal_stderr_show_no_progress_bar(cli, write_spec, tmp_path):
    spec = write_spec(every_family_spec())
    quiet = cli("make", spec, "-o", tmp_path / "a.safetensors", "-q")
    assert quiet.output == ""
    loud = cli("make", spec, "-o", tmp_path / "b.safetensors")  # CliRunner: not a terminal
    assert loud.output.startswith("wrote ") and loud.output.count("\n") == 1


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("suffix", [".safetensors", ".h5"])
def test_a_signal_whose_exception_was_lost_still_stops_the_write(
    write_spec, tmp_path, monkeypatch, when, suffix
):
    """Python drops exceptions raised inside weakref callbacks and __del__; a signal
    landing there is only recorded. The write must still stop: between chunks, or at
    the latest before the finished file is renamed into place."""
    from initgen import interrupt
    from initgen.generate import engine

    plan = build_plan(load_spec(write_spec(every_family_spec())))
    out = tmp_path / f"w{suffix}"
    real = engine.generate

    def generate(*args, **kwargs):
        if when == "before":
            interrupt.request(signal.SIGTERM)
        real(*args, **kwargs)
        interrupt.request(signal.SIGTERM)  # lost during the last chunk

    monkeypatch.setattr(engine, "generate", generate)
    try:
        with pytest.raises(interrupt.Stopped):
            write(plan, out, threads=2)
    finally:
        interrupt.clear()
    assert not out.exists()
    assert leftovers(tmp_path) == []


RAISE_IN_WEAKREF_CALLBACK = """
import signal, sys, weakref
from initgen.generate import engine
from initgen.cli import _on_signal, main

real = engine.generate

class Thing:
    pass

def generate(*args, **kwargs):
    thing = Thing()
    ref = weakref.ref(thing, lambda _: _on_signal(signal.SIGTERM, None))
    del thing  # the callback raises _Terminated, which Python can only report
    assert ref() is None
    real(*args, **kwargs)

engine.generate = generate
main(sys.argv[1:], prog_name="initgen")
"""


def test_a_signal_exception_raised_where_python_cannot_propagate_it_prints_nothing(write_spec, tmp_path):
    """A handler's exception raised inside a weakref callback is "unraisable": Python
    would print it as a traceback. The CLI drops those reports and ends the command
    as terminated through the recorded signal."""
    spec = write_spec(every_family_spec())
    out = tmp_path / "w.safetensors"
    proc = subprocess.run(
        [sys.executable, "-c", RAISE_IN_WEAKREF_CALLBACK, "make", str(spec), "-o", str(out), "-q"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (proc.returncode, proc.stderr) == (143, "terminated; no output was written\n")
    assert not out.exists() and leftovers(tmp_path) == []
