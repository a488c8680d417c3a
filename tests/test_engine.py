"""The engine: every element made once, by any thread, in bounded memory; sinks
called as promised; output dtypes rounded from the working precision."""

from __future__ import annotations

import os
import threading
import tracemalloc

import ml_dtypes
import numpy as np
import pytest

from helpers import sample_chunk
from initgen.dtypes import DTYPES
from initgen.generate.engine import generate
from initgen.generate.exactmath import Scratch
from initgen.generate.sampling import CHUNK
from initgen.generate.tasks import make_chunk, make_tensor, tasks
from initgen.plan import TensorPlan
from initgen.schemes import normal, uniform


def tensor(name: str, shape: tuple[int, ...], dtype: str = "float32", dist=None) -> TensorPlan:
    return TensorPlan(name, shape, dtype, "normal", {}, dist or normal(0.0, 0.02), 1.0, 1.0)


TENSORS = [
    tensor("a", (3, CHUNK // 2 + 7)),
    tensor("b", (1000,), "bfloat16"),
    tensor("c", (5, 7), "float64", uniform(-1.0, 1.0)),
    tensor("d", (CHUNK + 1,), "float16"),
]


@pytest.mark.parametrize("threads", [1, 3])
def test_unordered_generation_makes_every_element_once(threads):
    got = {t.name: np.zeros(t.numel, dtype=DTYPES[t.dtype].np) for t in TENSORS}
    seen = {t.name: np.zeros(t.numel, dtype=np.int64) for t in TENSORS}
    lock = threading.Lock()

    def sink(t, start, values):
        with lock:
            got[t.name][start : start + values.size] = values  # copied: buffers are reused
            seen[t.name][start : start + values.size] += 1

    generate(TENSORS, 11, sink, threads)
    for t in TENSORS:
        assert (seen[t.name] == 1).all()
        assert got[t.name].tobytes() == make_tensor(t, 11).tobytes()


def test_ordered_sink_gets_each_tensor_in_element_order_on_the_calling_thread():
    calls: list[tuple[str, int, int]] = []
    me = threading.get_ident()

    def sink(t, start, values):
        assert threading.get_ident() == me
        calls.append((t.name, start, values.size))

    generate(TENSORS, 0, sink, threads=3, ordered=True)
    for t in TENSORS:
        mine = [(s, n) for name, s, n in calls if name == t.name]
        starts = [s for s, _ in mine]
        assert starts == sorted(starts) and starts[0] == 0
        assert sum(n for _, n in mine) == t.numel


@pytest.mark.parametrize("ordered", [False, True])
def test_a_sink_error_stops_the_work_and_reaches_the_caller(ordered):
    calls = []
    big = [tensor("big", (40 * CHUNK,))]

    def sink(t, start, values):
        calls.append(start)
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        generate(big, 0, sink, threads=2, ordered=ordered)
    assert len(calls) <= 2  # stopped at once, not after 40 chunks


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float8_e4m3fn", "float8_e5m2"])
def test_narrow_dtypes_are_the_float32_values_rounded_to_nearest(dtype):
    t = tensor("w", (50_000,), dtype, normal(0.0, 0.5))
    f32 = sample_chunk("normal", {"mean": 0.0, "std": 0.5}, 3, "w", 0, t.numel, np.dtype(np.float32))
    expect = f32.astype(np.float16 if dtype == "float16" else getattr(ml_dtypes, dtype))
    assert make_tensor(t, 3).reshape(-1).tobytes() == expect.tobytes()


def test_float64_is_made_in_float64_not_widened_from_float32():
    t = tensor("w", (1000,), "float64")
    v = make_tensor(t, 0)
    assert not np.array_equal(v, v.astype(np.float32).astype(np.float64))


def test_reused_buffers_give_the_same_values_as_fresh_arrays():
    b = Scratch()
    for t in TENSORS:
        for chunk, count in tasks(t):
            assert make_chunk(t, 4, chunk, count, b).tobytes() == make_chunk(t, 4, chunk, count).tobytes()


def test_memory_stays_bounded_by_the_chunks_in_flight():
    """32 M values (128 MB as float32) pass through a few chunk buffers per thread."""
    big = [tensor(f"t{i}", (8 * CHUNK,)) for i in range(4)]
    tracemalloc.start()
    try:
        generate(big, 0, lambda t, s, v: None, threads=2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * 2**20, peak


def test_forked_workers_write_every_byte_and_report_progress(tmp_path):
    import os

    from initgen.writers.safetensors import SafetensorsWriter

    path = tmp_path / "w.safetensors"
    writer = SafetensorsWriter(path, TENSORS, {})
    done = []
    try:
        generate(TENSORS, 5, writer.write, threads=3, progress=done.append, processes=True)
    finally:
        writer.close()
    assert sum(done) == sum(t.nbytes for t in TENSORS)
    data = path.read_bytes()
    for t in TENSORS:
        off = writer.offsets[t.name]
        assert data[off : off + t.nbytes] == make_tensor(t, 5).tobytes()
    assert os.path.getsize(path) == writer.size


def test_a_worker_that_dies_is_an_output_error():
    import os
    import signal

    from initgen.errors import OutputError

    def sink(t, start, values):
        os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer would

    with pytest.raises(OutputError, match="killed by SIGKILL"):
        generate(TENSORS, 0, sink, threads=2, processes=True)


def test_an_error_in_a_worker_process_is_raised_in_the_caller():
    from initgen.errors import OutputError

    def sink(t, start, values):
        raise OutputError("w.safetensors: cannot write: no space left on the device")

    with pytest.raises(OutputError, match="no space left"):
        generate(TENSORS, 0, sink, threads=2, processes=True)


def test_an_error_that_cannot_be_pickled_reaches_the_caller_as_its_text():
    class Local(Exception):  # a class local to a function does not pickle
        pass

    def sink(t, start, values):
        raise Local("the sink failed")

    with pytest.raises(RuntimeError, match="Local: the sink failed"):
        generate(TENSORS, 0, sink, threads=2, processes=True)


def test_a_worker_that_exits_with_a_failure_unreported_fails_the_run():
    from initgen.errors import OutputError

    def sink(t, start, values):
        os._exit(3)  # no error frame: its tasks were not all made

    with pytest.raises(OutputError, match=r"ended abnormally \(exit status 3\)"):
        generate(TENSORS, 0, sink, threads=2, processes=True)


def test_a_worker_killed_from_outside_stops_the_others(tmp_path):
    """A worker killed by a signal (the OOM killer) may die holding the task lock: the
    parent must notice its death and stop the others, not wait on them forever."""
    import os as _os
    import signal as _signal
    import time as _time

    from initgen.errors import OutputError
    from initgen.generate import processes as procs
    from initgen.plan import build_plan
    from initgen.spec import load_spec

    plan = build_plan(
        load_spec(
            "t.yaml",
            text=("initgen: 1\nlayers:\n  - {name: w, type: tensor, shape: [4096, 1024], init: normal}\n"),
        )
    )
    flag = tmp_path / "first"

    def sink(t, start, values):  # runs in the forked workers
        try:
            fd = _os.open(flag, _os.O_CREAT | _os.O_EXCL)
        except FileExistsError:
            _time.sleep(120)  # the others hang, as behind a dead worker's lock
        else:
            _os.close(fd)
            _os.kill(_os.getpid(), _signal.SIGKILL)

    from initgen.generate.tasks import work_list

    t0 = _time.monotonic()
    with pytest.raises(OutputError, match=r"a worker process ended abnormally \(killed by SIGKILL"):
        procs.run(work_list(plan.file_order()), plan.seed, sink, 2, None)
    assert _time.monotonic() - t0 < 60
