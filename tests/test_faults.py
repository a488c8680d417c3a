"""Faults while writing: every one ends with a clear message, the right exit status,
no partial or temporary file, and a previous target byte-identical.

Temporary files are ``.<target>.<pid>.initgen-tmp`` beside the target. Tests run
as root in CI, where permission bits do not stop writes, so read-only and
disk-full conditions are made by failing the system calls in-process
(``os.open``/``os.pwrite``/``os.replace`` raising EROFS, EACCES, ENOSPC) and, for
real, in a subprocess with ``RLIMIT_FSIZE`` (the kernel then refuses to grow the
file with EFBIG, as a full quota would) or as an unprivileged user.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from initgen.cli import main

SPEC = """\
initgen: 1
name: faults
layers:
  - {name: fc1, type: dense, in: 64, out: 32, activation: relu}
  - {name: fc2, type: dense, in: 32, out: 10, activation: softmax}
"""
# Enough work that a signal lands while the temporary file exists: a 1024x1024
# orthogonal tensor (made whole) and 64 MB of normal values.
SLOW_SPEC = """\
initgen: 1
name: slow
layers:
  - {name: rot, type: tensor, shape: [1024, 1024], init: orthogonal}
  - {name: big, type: tensor, shape: [4096, 4096], init: {scheme: normal, std: 0.02}}
"""
OLD = b"previous contents, which must survive any failure\n"
KINDS = ["safetensors", "h5"]


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    p = tmp_path / "spec.yaml"
    p.write_text(SPEC)
    return p


def leftovers(directory: Path) -> list[str]:
    """Temporary or partial files initgen may have left in ``directory``."""
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".initgen-tmp"))


def make(args: list[str]) -> tuple[int, str]:
    r = CliRunner().invoke(main, ["make", *args])
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output, r.output
    return r.exit_code, r.output


def with_old_target(directory: Path, kind: str) -> Path:
    out = directory / f"w.{kind}"
    out.write_bytes(OLD)
    return out


# --- refused before any work ---------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_missing_directory(spec: Path, tmp_path: Path, kind: str) -> None:
    out = tmp_path / "no" / "such" / f"w.{kind}"
    code, msg = make([str(spec), "-o", str(out)])
    assert code == 2 and f"error: {out}: the directory {out.parent} does not exist" in msg
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("kind", KINDS)
def test_target_is_a_directory(spec: Path, tmp_path: Path, kind: str) -> None:
    out = tmp_path / f"w.{kind}"
    out.mkdir()
    code, msg = make([str(spec), "-o", str(out), "--force"])
    assert code == 2 and f"error: {out}: is a directory" in msg
    assert out.is_dir() and not any(out.iterdir()) and leftovers(tmp_path) == []


@pytest.mark.parametrize("kind", KINDS)
def test_existing_target_is_kept_without_force(spec: Path, tmp_path: Path, kind: str) -> None:
    out = with_old_target(tmp_path, kind)
    code, msg = make([str(spec), "-o", str(out)])
    assert code == 2 and f"error: {out}: already exists; use --force to replace it" in msg
    assert out.read_bytes() == OLD and leftovers(tmp_path) == []


@pytest.mark.parametrize("kind", KINDS)
def test_force_replaces_atomically(
    spec: Path, tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --force the old file stays whole until one rename puts the new one in place."""
    out = with_old_target(tmp_path, kind)
    renames = []
    real_replace = os.replace

    def replace(src: object, dst: object) -> None:
        renames.append((Path(src).name, Path(dst), out.read_bytes() == OLD, Path(src).stat().st_size))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    code, msg = make([str(spec), "-o", str(out), "--force", "-q"])
    assert code == 0, msg
    assert len(renames) == 1
    tmp_name, dst, old_intact, size = renames[0]
    assert tmp_name.startswith(f".w.{kind}.") and tmp_name.endswith(".initgen-tmp")
    assert dst == out and old_intact and size == out.stat().st_size
    assert out.read_bytes() != OLD and leftovers(tmp_path) == []
    monkeypatch.undo()
    assert CliRunner().invoke(main, ["verify", str(out), "-q"]).exit_code == 0


@pytest.mark.parametrize("kind", KINDS)
def test_special_file_target_is_not_replaced(spec: Path, tmp_path: Path, kind: str) -> None:
    """-o /dev/null --force must not rename a regular file over the device node."""
    out = tmp_path / f"pipe.{kind}"
    os.mkfifo(out)
    code, msg = make([str(spec), "-o", str(out), "--force"])
    assert code == 2 and msg == (
        f"error: {out}: is not a regular file (a device, pipe or socket); "
        "initgen renames the finished file over its target, so write to a "
        "file instead\n"
    ), msg
    import stat

    assert stat.S_ISFIFO(out.lstat().st_mode) and leftovers(tmp_path) == []


def test_from_config_does_not_replace_a_pipe_or_a_dangling_link(tmp_path: Path) -> None:
    import stat

    config = tmp_path / "config.json"
    config.write_text(
        '{"model_type": "llama", "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1, '
        '"num_attention_heads": 2, "vocab_size": 16}'
    )
    pipe, link = tmp_path / "pipe.yaml", tmp_path / "link.yaml"
    os.mkfifo(pipe)
    link.symlink_to(tmp_path / "nowhere")
    r = CliRunner().invoke(main, ["from-config", str(config), "-o", str(pipe), "--force"])
    assert r.exit_code == 2 and "is not a regular file (a device, pipe or socket)" in r.stderr
    r = CliRunner().invoke(main, ["from-config", str(config), "-o", str(link)])
    assert r.exit_code == 2 and r.stderr == f"error: {link}: already exists; use --force to replace it\n"
    assert stat.S_ISFIFO(pipe.lstat().st_mode) and link.is_symlink() and leftovers(tmp_path) == []


def test_inputs_that_never_end_are_refused_in_bounded_memory(tmp_path: Path) -> None:
    """A spec from a device or a pipe is read up to its limit, not to its end; a weight
    file must be a regular file (it is memory-mapped or read by offset)."""
    r = CliRunner().invoke(main, ["validate", "/dev/zero"])
    assert (r.exit_code, r.stderr) == (
        2,
        "error: /dev/zero: is more than 16777216 bytes; a spec may be at most 16777216\n",
    )
    pipe = tmp_path / "w.safetensors"
    os.mkfifo(pipe)
    r = CliRunner().invoke(main, ["stats", str(pipe)])
    assert (r.exit_code, r.stderr) == (
        1,
        f"error: {pipe}: is not a regular file (a pipe or a device?); give a weight file\n",
    )


def test_not_enough_free_space_is_refused_before_writing(
    spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**9, 10**9 - 4096, 4096))
    for kind in KINDS:
        out = with_old_target(tmp_path, kind)
        code, msg = make([str(spec), "-o", str(out), "--force"])
        assert code == 1, msg
        assert (
            f"error: {out}: needs 1.06 MB but only 4.1 KB is free on {tmp_path}; "
            "free some space or write elsewhere" in msg
        )
        assert out.read_bytes() == OLD and leftovers(tmp_path) == []


# --- failing system calls, in-process --------------------------------------------


def _fail_for_tmp(monkeypatch: pytest.MonkeyPatch, name: str, err: int, after: int = 0) -> None:
    """Make ``os.<name>`` raise ``err`` on initgen's temporary files (after ``after`` calls)."""
    real = getattr(os, name)
    calls = {"n": 0}

    def fake(*args: object, **kwargs: object) -> object:
        target = args[0]
        touches_tmp = isinstance(target, int) or str(target).endswith(".initgen-tmp")
        if touches_tmp:
            calls["n"] += 1
            if calls["n"] > after:
                raise OSError(err, os.strerror(err))
        return real(*args, **kwargs)

    monkeypatch.setattr(os, name, fake)


@pytest.mark.parametrize(
    "err, reason",
    [
        (errno.EROFS, "read-only file system"),
        (errno.EACCES, "permission denied"),
    ],
)
def test_unwritable_directory(
    spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, err: int, reason: str
) -> None:
    out = with_old_target(tmp_path, "safetensors")
    _fail_for_tmp(monkeypatch, "open", err)
    code, msg = make([str(spec), "-o", str(out), "--force"])
    assert code == 1 and f"cannot write: {reason}" in msg, msg
    assert msg.startswith("error: ") and msg.count("\n") == 1
    assert out.read_bytes() == OLD and leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "err, reason",
    [
        (errno.ENOSPC, "no space left on the device"),
        (errno.EDQUOT, "disk quota exceeded"),
        (errno.EIO, os.strerror(errno.EIO)),
    ],
)
def test_write_fails_halfway(
    spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, err: int, reason: str
) -> None:
    out = with_old_target(tmp_path, "safetensors")
    _fail_for_tmp(monkeypatch, "pwrite", err, after=1)  # the header goes through, data fails
    code, msg = make([str(spec), "-o", str(out), "--force"])
    assert code == 1 and f"cannot write: {reason}" in msg, msg
    assert out.read_bytes() == OLD and leftovers(tmp_path) == []


@pytest.mark.parametrize("kind", KINDS)
def test_rename_fails(spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    out = with_old_target(tmp_path, kind)
    _fail_for_tmp(monkeypatch, "replace", errno.EACCES)
    code, msg = make([str(spec), "-o", str(out), "--force"])
    assert (
        code == 1 and f"error: {out}: cannot rename the finished file into place: Permission denied" in msg
    ), msg
    assert out.read_bytes() == OLD and leftovers(tmp_path) == []


# --- real faults, in a subprocess ---------------------------------------------------


def _run(args: list[str], preexec: object = None, **kw: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "initgen", *args],
        capture_output=True,
        text=True,
        preexec_fn=preexec,
        timeout=120,
        **kw,
    )  # type: ignore[arg-type]


def _fsize_limit(limit: int) -> object:
    def preexec() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # so a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


@pytest.mark.parametrize("kind", KINDS)
def test_disk_full(tmp_path: Path, kind: str) -> None:
    """The kernel refuses to grow the file past 1 MB; the model needs 20 MB."""
    spec = tmp_path / "spec.yaml"
    spec.write_text("initgen: 1\nlayers: [{name: w, type: tensor, shape: [2500, 2000]}]\n")
    out = with_old_target(tmp_path, kind)
    p = _run(["make", str(spec), "-o", str(out), "--force"], preexec=_fsize_limit(1 << 20))
    assert p.returncode == 1, p.stderr
    assert p.stderr.startswith("error: ") and "Traceback" not in p.stderr, p.stderr
    assert p.stderr == f"error: {out}: cannot write: file too large for this file system or its limits\n"
    assert out.read_bytes() == OLD and leftovers(tmp_path) == []


def _unshare_works() -> bool:
    import shutil

    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(sys.platform != "linux", reason="mount namespaces and permission bits of Linux")
@pytest.mark.parametrize("kind", KINDS)
def test_read_only_directory_for_real(tmp_path: Path, kind: str) -> None:
    """A directory that cannot be written: as root, a read-only bind mount of it in a
    private mount namespace (permission bits do not stop root); otherwise mode 0555."""
    import shlex

    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    d = tmp_path / "ro"
    d.mkdir()
    out = with_old_target(d, kind)
    cmd = [sys.executable, "-m", "initgen", "make", str(spec), "-o", str(out), "--force"]
    if os.geteuid() == 0:
        if not _unshare_works():
            pytest.skip("root without mount namespaces: no way to make a read-only directory")
        q = shlex.quote(str(d))
        cmd = [
            "unshare",
            "-m",
            "sh",
            "-c",
            f"mount --bind {q} {q} && mount -o remount,ro,bind {q} && exec {' '.join(map(shlex.quote, cmd))}",
        ]
        reason = "read-only file system"
    else:
        d.chmod(0o555)
        reason = "permission denied"
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    finally:
        d.chmod(0o755)
    assert p.returncode == 1, p.stderr
    assert p.stderr == f"error: {out}: cannot write: {reason}\n", p.stderr
    assert out.read_bytes() == OLD and leftovers(d) == []


@pytest.mark.slow
@pytest.mark.parametrize(
    "sig, code, word",
    [
        (signal.SIGINT, 130, "interrupted"),
        (signal.SIGTERM, 128 + signal.SIGTERM, "terminated"),
    ],
)
@pytest.mark.parametrize("kind", KINDS)
def test_signal_mid_write(tmp_path: Path, kind: str, sig: int, code: int, word: str) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SLOW_SPEC)
    out = with_old_target(tmp_path, kind)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "initgen",
            "make",
            str(spec),
            "-o",
            str(out),
            "--force",
            "-q",
            "--threads",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not leftovers(tmp_path):
        assert proc.poll() is None, f"finished before the temporary file was seen: {proc.stderr.read()}"
        assert time.monotonic() < deadline
        time.sleep(0.002)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert err == f"{word}; no output was written\n", err
    assert out.read_bytes() == OLD and leftovers(tmp_path) == []
