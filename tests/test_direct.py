"""Direct I/O and write-behind: the same bytes as ordinary writes, the direct path
really taken where the file system allows it, and a clean fallback where it does not."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from initgen.cli import main
from initgen.dtypes import DTYPES
from initgen.generate.engine import generate
from initgen.generate.exactmath import PLACE, Scratch
from initgen.generate.sampling import CHUNK
from initgen.generate.tasks import make_chunk, make_tensor, task_list
from initgen.generate.worker import WriteBehind
from initgen.plan import TensorPlan
from initgen.schemes import normal, uniform
from initgen.writers import direct
from initgen.writers.safetensors import SafetensorsWriter, build_header


def tensor(name: str, shape: tuple[int, ...], dtype: str = "float32", dist=None) -> TensorPlan:
    return TensorPlan(name, shape, dtype, "normal", {}, dist or normal(0.0, 0.02), 1.0, 1.0)


# Odd sizes in every itemsize, so that almost no tensor starts on a page boundary,
# several tensors span more than one chunk, and small ones fall below MIN_DIRECT.
TENSORS = [
    tensor("a64", (CHUNK // 3 + 5,), "float64", uniform(-1.0, 1.0)),
    tensor("b32", (CHUNK + 12_345,)),
    tensor("c32", (7, 13)),
    tensor("d32", (3, CHUNK // 2 + 7)),
    tensor("e16", (CHUNK + 3,), "float16"),
    tensor("f16", (99_999,), "bfloat16"),
    tensor("g8", (300_001,), "float8_e4m3fn"),
]
TENSORS.sort(key=lambda t: (-DTYPES[t.dtype].itemsize, t.name))  # the writers' file order
SEED = 7
META = {"format": "pt"}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_file(path: Path, *, direct_io: bool, threads: int = 1, placed: bool = True) -> SafetensorsWriter:
    w = SafetensorsWriter(path, TENSORS, META, direct=direct_io)
    try:
        generate(TENSORS, SEED, w.write, threads, processes=threads > 1, place=w.place if placed else None)
    finally:
        w.close()
    return w


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The file written without direct I/O, checked against the header followed by
    every tensor made whole, in memory, without a writer."""
    path = tmp_path_factory.mktemp("ref") / "ref.safetensors"
    write_file(path, direct_io=False)
    header, _ = build_header(TENSORS, META)
    assert path.read_bytes() == header + b"".join(make_tensor(t, SEED).tobytes() for t in TENSORS)
    return sha(path)


def direct_supported(path: Path) -> bool:
    path.touch()
    fd = direct.open_direct(path)
    if fd is None:
        return False
    os.close(fd)
    return True


@pytest.mark.parametrize("threads", [1, 2])
def test_direct_io_gives_the_same_bytes(tmp_path: Path, reference: str, threads: int) -> None:
    out = tmp_path / "d.safetensors"
    write_file(out, direct_io=True, threads=threads)
    assert sha(out) == reference


def test_direct_path_is_taken_for_large_chunks(tmp_path: Path, reference: str) -> None:
    out = tmp_path / "d.safetensors"
    if not direct_supported(out):
        pytest.skip("this file system refuses O_DIRECT")
    w = write_file(out, direct_io=True)
    assert sha(out) == reference
    data = sum(t.nbytes for t in TENSORS)
    big = sum(t.nbytes for t in TENSORS if t.nbytes >= 2 * direct.MIN_DIRECT)
    # all but the partial pages at the ends of each chunk went through the direct descriptor
    assert big - 2 * w.out.align * len(task_list(TENSORS)) <= w.out.direct_bytes < data


def test_forked_workers_write_direct(tmp_path: Path, reference: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default on Linux with 2+ threads: forked workers, each writing its chunks'
    interiors through the inherited O_DIRECT descriptor (logged to a file, since the
    counts stay in the children)."""
    from initgen.threads import forkable

    out = tmp_path / "d.safetensors"
    if not forkable() or not direct_supported(out):
        pytest.skip("no forked workers or no O_DIRECT here")
    log = os.open(tmp_path / "log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    real = os.pwrite

    def logging_pwrite(fd, data, offset):
        n = real(fd, data, offset)
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            os.write(log, f"{os.getpid()} {n}\n".encode())
        return n

    monkeypatch.setattr(os, "pwrite", logging_pwrite)
    write_file(out, direct_io=True, threads=2)
    os.close(log)
    rows = [line.split() for line in (tmp_path / "log").read_text().splitlines()]
    assert {pid for pid, _ in rows} - {str(os.getpid())} == {pid for pid, _ in rows}  # children only
    assert sum(int(n) for _, n in rows) >= sum(t.nbytes for t in TENSORS) // 2
    assert sha(out) == reference


def test_unplaced_chunks_are_written_the_ordinary_way(tmp_path: Path, reference: str) -> None:
    out = tmp_path / "d.safetensors"
    w = write_file(out, direct_io=True, placed=False)
    assert sha(out) == reference
    # Without placement a chunk's address rarely matches its file offset; each one that
    # does not must not have gone direct (O_DIRECT would have refused it).
    assert w.out.direct_bytes <= sum(t.nbytes for t in TENSORS) // 2


def test_direct_descriptor_really_is_direct(tmp_path: Path) -> None:
    out = tmp_path / "d.safetensors"
    w = SafetensorsWriter(out, TENSORS, META)
    try:
        if w.out.direct_fd is None:
            pytest.skip("this file system refuses O_DIRECT")
        assert fcntl.fcntl(w.out.direct_fd, fcntl.F_GETFL) & os.O_DIRECT
        assert not fcntl.fcntl(w.out.fd, fcntl.F_GETFL) & os.O_DIRECT
        assert w.place is not None
    finally:
        w.close()
    assert w.out._fds == []


@pytest.mark.parametrize("err", [errno.EINVAL, errno.EACCES])  # tmpfs; a umask-read-only new file
def test_refused_at_open_falls_back(
    tmp_path: Path, reference: str, monkeypatch: pytest.MonkeyPatch, err: int
) -> None:
    real = os.open

    def no_direct(path, flags, *a):
        if flags & os.O_DIRECT:
            raise OSError(err, os.strerror(err))
        return real(path, flags, *a)

    monkeypatch.setattr(os, "open", no_direct)
    out = tmp_path / "d.safetensors"
    w = write_file(out, direct_io=True)
    assert w.place is None and w.out.direct_bytes == 0
    assert sha(out) == reference


def fail_direct_writes(monkeypatch: pytest.MonkeyPatch, path: Path, err: int) -> list[int]:
    """Make every write through an O_DIRECT descriptor fail with ``err``; the offsets
    tried are appended to the list returned."""
    if not direct_supported(path.parent / "probe"):
        pytest.skip("this file system refuses O_DIRECT")
    real, tried = os.pwrite, []

    def failing(fd, data, offset):
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            tried.append(offset)
            raise OSError(err, os.strerror(err))
        return real(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", failing)
    return tried


def test_refused_at_write_falls_back(tmp_path: Path, reference: str, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "d.safetensors"
    refused = fail_direct_writes(monkeypatch, out, errno.EINVAL)
    w = write_file(out, direct_io=True)
    assert len(refused) == 1 and w.out.direct_fd is None and w.out.direct_bytes == 0
    assert sha(out) == reference


def test_other_errors_on_the_direct_path_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from initgen.errors import OutputError

    out = tmp_path / "d.safetensors"
    tried = fail_direct_writes(monkeypatch, out, errno.ENOSPC)
    with pytest.raises(OutputError, match=r"d\.safetensors: cannot write: no space left on the device"):
        write_file(out, direct_io=True)
    assert tried


def test_cli_no_direct_io_gives_the_same_file(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "initgen: 1\nname: d\nlayers:\n"
        "  - {name: fc, type: dense, in: 1031, out: 1029, activation: relu}\n"
        "  - {name: emb, type: embedding, num: 3001, dim: 257, dtype: float16}\n"
    )
    outs = []
    for flag in ("--direct-io", "--no-direct-io"):
        out = tmp_path / f"w{flag}.safetensors"
        r = CliRunner().invoke(main, ["make", str(spec), "-o", str(out), "-q", flag])
        assert r.exit_code == 0, r.output
        outs.append(sha(out))
    assert outs[0] == outs[1]


# --- placement -------------------------------------------------------------------------


@pytest.mark.parametrize("dt", ["float64", "float32", "float16", "bfloat16", "float8_e5m2"])
def test_scratch_places_buffers_at_the_residue(dt: str) -> None:
    s = Scratch()
    size = DTYPES[dt].itemsize
    for residue in (0, size, 4096 - size, 8 * size, 2048):
        for n in (1, 1000, CHUNK):
            a = s.get("x", n, DTYPES[dt].np, residue)
            assert a.ctypes.data % PLACE == residue and a.size == n and a.dtype == DTYPES[dt].np
    with pytest.raises(ValueError, match="not a multiple of the itemsize"):
        s.get("x", 10, np.float32, 2)


def test_placed_chunks_hold_the_same_values() -> None:
    t = TENSORS[1]
    for residue in (0, 4, 4092):
        placed = make_chunk(t, SEED, 0, CHUNK, Scratch(), residue)
        assert placed.ctypes.data % PLACE == residue
        assert np.array_equal(placed, make_chunk(t, SEED, 0, CHUNK))


# --- write-behind ------------------------------------------------------------------------


def test_write_behind_never_reuses_a_buffer_being_written() -> None:
    """A slow sink sees exactly the values each chunk was made with: the worker must not
    make the next chunks into a buffer whose write is still pending."""
    t = tensor("w", (6 * 4096,))
    seen: list[bytes] = []

    def slow_sink(_t, start, values):
        time.sleep(0.01)  # the worker gets ahead unless it waits for a free buffer set
        seen.append(values.tobytes())

    wb = WriteBehind(slow_sink)
    for chunk in range(8):
        b = wb.buffers()
        wb.put(b, t, chunk, make_chunk(t, SEED, chunk, 4096, b))
    wb.close()
    assert seen == [make_chunk(t, SEED, c, 4096).tobytes() for c in range(8)]


def test_write_behind_raises_the_sinks_error_and_stops_writing() -> None:
    calls = []

    def failing(_t, start, values):
        calls.append(start)
        if start == 2:
            raise OSError(errno.EIO, "boom")

    wb = WriteBehind(failing)
    t = tensor("w", (4096,))
    with pytest.raises(OSError, match="boom"):
        for chunk in range(50):
            b = wb.buffers()
            wb.put(b, t, chunk, make_chunk(t, SEED, 0, 16, b))
            time.sleep(0.002)
        wb.close()
    wb.abandon()
    assert calls == [0, 1, 2]  # nothing is written after the error
    assert not wb.thread.is_alive()


def test_write_behind_abandon_waits_for_the_write_in_progress() -> None:
    started, release = threading.Event(), threading.Event()
    done = []

    def blocking(_t, start, values):
        started.set()
        release.wait(5)
        done.append(start)

    wb = WriteBehind(blocking)
    t = tensor("w", (4096,))
    for chunk in range(2):
        b = wb.buffers()
        wb.put(b, t, chunk, make_chunk(t, SEED, 0, 16, b))
    started.wait(5)
    threading.Timer(0.05, release.set).start()
    wb.abandon()
    assert done == [0] and not wb.thread.is_alive()  # the queued second chunk was dropped


@pytest.mark.parametrize("chunks", [4, 200])  # signal while closing / while waiting for buffers
def test_a_signal_leaves_no_write_behind(chunks: int) -> None:
    """An exception from a signal handler (as the CLI's SIGTERM handler raises) while the
    worker waits must still leave the writer idle before run_worker returns: the caller
    closes and removes the file next."""
    import signal

    from initgen.generate.worker import run_worker

    class Boom(BaseException):
        pass

    def handler(signum, frame):
        raise Boom

    returned = threading.Event()
    late: list[int] = []

    def slow(_t, start, values):
        time.sleep(0.05)
        if returned.is_set():
            late.append(start)

    t = tensor("w", (4096,))
    todo = iter([(t, 0, 16, 16 * i) for i in range(chunks)])
    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.07)
    try:
        with pytest.raises(Boom):
            run_worker(lambda: next(todo, None), SEED, slow)
    finally:
        returned.set()
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    time.sleep(0.2)
    assert late == []


def test_a_worker_holds_one_whole_tensor_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole-tensor results are fresh arrays, not buffer views: the worker must not
    queue several of them behind a slow write."""
    import weakref

    from initgen.generate import tasks, worker
    from initgen.schemes.dists import Dist

    alive: list[weakref.ref] = []
    most = []
    real = worker.make_chunk

    def counting(t, seed, chunk, count, buffers=None, residue=None, **kw):
        most.append(sum(r() is not None for r in alive))  # made earlier and still held
        values = real(t, seed, chunk, count, buffers, residue, **kw)
        if chunk < 0:
            alive.append(weakref.ref(values))
        return values

    monkeypatch.setattr(worker, "make_chunk", counting)
    whole = [
        tensor(f"q{i}", (64, 64), dist=Dist("orthogonal", {"gain": 1.0, "last_axis_out": False}, 0.0, 1 / 8))
        for i in range(6)
    ]
    todo = iter([(t, c, n, 0) for t in whole for c, n in tasks.tasks(t)])
    assert all(c == -1 for _, c, _, _ in tasks.task_list(whole))
    worker.run_worker(lambda: next(todo, None), SEED, lambda t, s, v: time.sleep(0.03))
    assert len(most) == 6 and max(most) == 0
