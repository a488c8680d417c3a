"""`make bench`: initgen against the floors, on this machine, in one run.

For specs/llama.yaml (TinyLlama-1.1B, float32, N(0, 0.02²), 4.40 GB) it times, each
in its own process and with the runs alternated so that drift hits all alike:

* initgen make (normal), on all threads and on one;
* the same model with U(±√3·0.02) weights (initgen, all threads);
* (a) writing the same number of bytes of zeros to the same disk, plainly (through
  the page cache), and, for reference, with O_DIRECT as initgen writes;
* initgen make with --no-direct-io (through the page cache), for reference;
* (b) the sampling floor: Generator.standard_normal(dtype=float32) filling the same
  number of values in memory, on the same threads, no I/O;
* (c) the naive script: NumPy normal per tensor into a dict + safetensors' save_file;
* the engine alone on all threads and on one, its chunks discarded (no disk), which
  tells the engine's own scaling from the disk's limit;

then prints medians, peak RSS (ru_maxrss of each run, its worker processes added),
per-core sampler rates,
and the ratios against their targets. Dirty pages are flushed (``sync``) before each
run, so one run's writeback does not slow the next, and the order of the runs
rotates from one repetition to the next. ``--quick`` uses a 2-layer
model (0.9 GB) and fewer repetitions.

    python bench/run.py [--quick] [--reps N] [--no-naive]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
LLAMA = ROOT / "specs" / "llama.yaml"
BOUND = 0.0346410161513775  # √3 · 0.02: a uniform with the normal's std
QUICK_SETS = ["n_layer=2"]


# --- children: each measured run is one of these, in a fresh process ----------------


def _plan(spec: str, sets: list[str]):
    sys.path.insert(0, str(ROOT))
    from initgen.plan import build_plan
    from initgen.spec import load_spec, parse_overrides

    return build_plan(load_spec(spec, parse_overrides(sets)))


def child(kind: str, spec: str, sets: list[str], threads: int, out: str) -> tuple[float, int]:
    """Do one measured thing; return its seconds (imports and planning excluded) and
    the peak RSS in bytes of this process plus its worker processes (each counted at
    the largest worker's peak: an upper bound, shared pages counted in each)."""
    import resource

    import numpy as np

    plan = _plan(spec, sets)
    t0 = time.perf_counter()
    if kind in ("initgen", "initgen-buffered"):
        from initgen.writers import write

        write(plan, Path(out), threads=threads, direct_io=kind == "initgen")
    elif kind == "no-io":  # the engine exactly as make runs it, chunks discarded: no disk
        from initgen.generate.engine import generate

        generate(plan.file_order(), plan.seed, lambda t, start, values: None, threads, processes=threads > 1)
    elif kind == "zeros":
        buf = memoryview(bytes(4 << 20))
        left = plan.nbytes
        with open(out, "wb", buffering=0) as f:
            while left > 0:
                left -= f.write(buf[: min(left, len(buf))])  # a view: no copy per write
    elif kind == "zeros-direct":  # aligned 4 MiB writes with O_DIRECT, the tail plainly
        import mmap

        buf, left, pos = mmap.mmap(-1, 4 << 20), plan.nbytes, 0  # mmap: page-aligned
        with open(out, "wb", buffering=0) as f:
            fd = os.open(out, os.O_WRONLY | os.O_DIRECT)
            while left >= 4096:
                n = os.pwrite(fd, memoryview(buf)[: min(left, len(buf)) // 4096 * 4096], pos)
                left, pos = left - n, pos + n
            os.close(fd)
            os.pwrite(f.fileno(), memoryview(buf)[:left], pos)
    elif kind == "floor":
        import threading

        n, chunk = plan.params, 1 << 20

        def fill(i: int) -> None:
            rng = np.random.default_rng(i)
            buf = np.empty(chunk, dtype=np.float32)
            for s in range(i * chunk, n, threads * chunk):
                rng.standard_normal(out=buf[: min(chunk, n - s)], dtype=np.float32)

        pool = [threading.Thread(target=fill, args=(i,)) for i in range(threads)]
        for th in pool:
            th.start()
        for th in pool:
            th.join()
    elif kind == "naive":
        from safetensors.numpy import save_file

        rng = np.random.default_rng(0)
        tensors = {t.name: rng.normal(0.0, 0.02, t.shape).astype(np.float32) for t in plan.tensors}
        save_file(tensors, out, metadata={"format": "pt"})
    else:
        raise SystemExit(f"unknown child {kind}")
    elapsed = time.perf_counter() - t0
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return elapsed, own + (threads * workers if workers else 0)


def run_child(kind: str, spec: Path, sets: list[str], threads: int) -> tuple[float, float]:
    """(seconds, peak RSS in bytes) of one child run; its output is deleted after."""
    out = OUT / f"{kind}.safetensors"
    out.unlink(missing_ok=True)
    os.sync()  # flush the previous run's dirty pages before the clock starts
    cmd = [sys.executable, __file__, "--child", kind, str(spec), str(threads), str(out), *sets]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    text = p.stdout.read() if p.stdout else ""
    if p.returncode:
        raise SystemExit(f"{kind} failed ({p.returncode})")
    out.unlink(missing_ok=True)
    seconds, rss = text.strip().splitlines()[-1].split()
    return float(seconds), max(float(rss), usage.ru_maxrss * 1024.0)


# --- sampler rates ---------------------------------------------------------------------


def sampler_rates() -> list[tuple[str, float]]:
    """Values per second on one core, for each initgen sampler and NumPy's."""
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from initgen.generate.sampling import CHUNK, fill_chunk

    rows: list[tuple[str, float]] = []
    params = {
        "uniform": {"low": -1.0, "high": 1.0},
        "normal": {"mean": 0.0, "std": 0.02},
        "truncated_normal": {"mean": 0.0, "std": 1.0, "a": -2.0, "b": 2.0},
    }

    def rate(f, reps: int = 12) -> float:
        f(0)
        best = float("inf")
        for _r in range(3):
            t = time.perf_counter()
            for i in range(reps):
                f(i)
            best = min(best, time.perf_counter() - t)
        return reps * CHUNK / best

    for dt in (np.float32, np.float64):
        buf = np.empty(CHUNK, dtype=dt)
        for kind, p in params.items():
            rows.append(
                (
                    f"initgen {kind} {np.dtype(dt).name}",
                    rate(lambda i, k=kind, p=p, b=buf: fill_chunk(k, p, 0, "bench", i, b)),
                )
            )
    g = np.random.default_rng(0)
    b32 = np.empty(CHUNK, dtype=np.float32)
    rows.append(
        (
            "numpy Generator.standard_normal float32",
            rate(lambda i: g.standard_normal(out=b32, dtype=np.float32)),
        )
    )
    rows.append(("numpy Generator.random float32", rate(lambda i: g.random(out=b32, dtype=np.float32))))
    bg = np.random.PCG64(0)
    rows.append(("PCG64.random_raw (u64 words)", rate(lambda i: bg.random_raw(CHUNK))))
    return rows


# --- the table -------------------------------------------------------------------------


def uniform_spec() -> Path:
    """specs/llama.yaml with every normal weight replaced by U(±√3·0.02)."""
    text = LLAMA.read_text()
    normal = 'init: {scheme: normal, std: "${std}"}'
    assert normal in text, "specs/llama.yaml no longer spells its init as expected"
    path = OUT / "llama-uniform.yaml"
    path.write_text(text.replace(normal, f"init: {{scheme: uniform, low: {-BOUND}, high: {BOUND}}}"))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a 2-layer model (0.9 GB), 2 repetitions")
    ap.add_argument("--reps", type=int, help="repetitions of each run (default 3, quick 2)")
    ap.add_argument("--no-naive", action="store_true", help="skip the naive script (the slowest run)")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from initgen.threads import default_threads

    OUT.mkdir(parents=True, exist_ok=True)
    sets = QUICK_SETS if args.quick else []
    reps = args.reps or (2 if args.quick else 3)
    n = default_threads()
    plan = _plan(str(LLAMA), sets)
    uni = uniform_spec()
    runs = {
        f"initgen normal, {n} threads": ("initgen", LLAMA, n),
        "initgen normal, 1 thread": ("initgen", LLAMA, 1),
        f"initgen uniform, {n} threads": ("initgen", uni, n),
        "(a) zero-write, same bytes": ("zeros", LLAMA, 1),
        "zero-write with O_DIRECT": ("zeros-direct", LLAMA, 1),
        f"initgen normal, --no-direct-io, {n} threads": ("initgen-buffered", LLAMA, n),
        f"(b) sampling floor, {n} threads": ("floor", LLAMA, n),
    }
    if not args.no_naive:
        runs["(c) naive NumPy + save_file"] = ("naive", LLAMA, 1)
    # The engine alone (no disk), to tell its own scaling from the disk's limit.
    runs[f"initgen normal, no I/O, {n} threads"] = ("no-io", LLAMA, n)
    runs["initgen normal, no I/O, 1 thread"] = ("no-io", LLAMA, 1)
    print(
        f"{plan.name}{' (quick: ' + ', '.join(sets) + ')' if sets else ''}: {plan.params:,} params, "
        f"{plan.nbytes / 1e9:.2f} GB float32; {n} threads; {reps} repetitions; "
        f"load average at start {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    times: dict[str, list[float]] = {k: [] for k in runs}
    rss: dict[str, float] = {k: 0.0 for k in runs}
    names = list(runs)
    for rep in range(reps):
        # rotate the order each repetition: no run always follows the same one (a big
        # write leaves the disk busy for a while even after sync)
        for name in names[rep % len(names) :] + names[: rep % len(names)]:
            kind, spec, threads = runs[name]
            t, m = run_child(kind, spec, sets, threads)
            times[name].append(t)
            rss[name] = max(rss[name], m)
            print(f"  rep {rep + 1}: {name:<34} {t:7.2f} s  {m / 1e9:.3f} GB", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}

    print("\n| run | median s | runs | peak RSS |\n|---|---|---|---|")
    for k in runs:
        print(f"| {k} | {med[k]:.2f} | {' '.join(f'{t:.2f}' for t in times[k])} | {rss[k] / 1e9:.3f} GB |")

    normal, one, uniform = (med[k] for k in list(runs)[:3])
    zeros, floor = med["(a) zero-write, same bytes"], med[f"(b) sampling floor, {n} threads"]
    rows = [
        (
            "normal / max(zero-write, floor)",
            normal / max(zeros, floor),
            "≤ 1.25",
            normal / max(zeros, floor) <= 1.25,
        ),
        ("uniform / zero-write", uniform / zeros, "≤ 1.5", uniform / zeros <= 1.5),
        (f"normal: 1 thread / {n} threads (speedup)", one / normal, "≥ 1.6", one / normal >= 1.6),
        (
            f"normal, no I/O: 1 thread / {n} threads (speedup)",
            med["initgen normal, no I/O, 1 thread"] / med[f"initgen normal, no I/O, {n} threads"],
            "",
            None,
        ),
        ("normal / zero-write", normal / zeros, "", None),
        ("normal / zero-write with O_DIRECT", normal / med["zero-write with O_DIRECT"], "", None),
        ("uniform / zero-write with O_DIRECT", uniform / med["zero-write with O_DIRECT"], "", None),
        (
            "normal --no-direct-io / max(zero-write, floor)",
            med[f"initgen normal, --no-direct-io, {n} threads"] / max(zeros, floor),
            "",
            None,
        ),
        ("normal / floor", normal / floor, "", None),
    ]
    if not args.no_naive:
        naive = med["(c) naive NumPy + save_file"]
        rows.insert(1, ("naive / normal (speedup)", naive / normal, "≥ 3.5", naive / normal >= 3.5))
    peak = max(rss[k] for k in list(runs)[:3])
    rows.append(("peak RSS of initgen runs (GB)", peak / 1e9, "≤ 0.3", peak <= 0.3e9))
    print("\n| ratio | value | target | met |\n|---|---|---|---|")
    for label, v, target, ok in rows:
        print(f"| {label} | {v:.2f} | {target} | {'' if ok is None else ('yes' if ok else 'NO')} |")

    print("\n| sampler (one core, 2^20-value chunks) | M values/s |\n|---|---|")
    for label, r in sampler_rates():
        print(f"| {label} | {r / 1e6:.0f} |")
    print(f"\nload average at end {os.getloadavg()[0]:.2f} (other work on the machine skews timings)")
    uni.unlink(missing_ok=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, spec, threads, out, *sets = sys.argv[2:]
        print(*child(kind, spec, sets, int(threads), out))
    else:
        main()
