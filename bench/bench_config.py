"""Benchmark: a full-size model directory from a Transformers config.json.

Makes Llama-3.1-8B in bfloat16 (16.1 GB, 291 tensors) from its real config.json
(tests/data/configs/Llama-3.1-8B) with `initgen make CONFIG -o DIR`, as a user runs
it (the whole process: start-up, conversion, planning, writing), against the floor
measured in the same run: writing the same number of bytes of zeros to the same disk.
Each run is its own process; peak RSS is the largest of initgen's process and its
worker processes. Runs alternate, the output is deleted after each.

    python bench/bench_config.py            # Llama-3.1-8B, 3 repetitions
    python bench/bench_config.py --reps 1
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
CONFIG = ROOT / "tests" / "data" / "configs" / "Llama-3.1-8B"
RSS_BAR = 0.3e9

ZEROS = """
import os, sys
left = int(sys.argv[2])
buf = memoryview(bytes(4 << 20))
with open(sys.argv[1], "wb", buffering=0) as f:
    while left > 0:
        left -= f.write(buf[: min(left, len(buf))])
"""


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (bytes, any process of the run) of one command."""
    os.sync()  # the previous run's dirty pages are not this run's cost
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of the children is a running maximum: a run that peaks lower than an
    # earlier one reports the earlier peak, so the runs are ordered with initgen first.
    return seconds, max(after, before if after == before else after) * 1024.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    initgen = str(Path(sys.executable).with_name("initgen"))
    plan = subprocess.run([initgen, "validate", str(CONFIG)], check=True, capture_output=True, text=True)
    nbytes = 2 * 8_030_261_248  # bfloat16, the published parameter count
    OUT.mkdir(parents=True, exist_ok=True)
    need = nbytes * 1.1
    free = shutil.disk_usage(OUT).free
    if free < need:
        raise SystemExit(f"needs {need / 1e9:.1f} GB free in {OUT}, has {free / 1e9:.1f} GB")
    print(plan.stdout.strip())
    out, zeros = OUT / "llama-3.1-8b", OUT / "zeros.bin"
    runs: dict[str, list[tuple[float, float]]] = {"initgen make CONFIG": [], "zero-write floor": []}
    for _ in range(args.reps):
        shutil.rmtree(out, ignore_errors=True)
        runs["initgen make CONFIG"].append(timed([initgen, "make", str(CONFIG), "-o", str(out), "-q"]))
        shutil.rmtree(out, ignore_errors=True)
        runs["zero-write floor"].append(timed([sys.executable, "-c", ZEROS, str(zeros), str(nbytes)]))
        zeros.unlink(missing_ok=True)
    floor = statistics.median(s for s, _ in runs["zero-write floor"])
    print(f"Llama-3.1-8B bfloat16 from config.json: {nbytes / 1e9:.1f} GB, median of {args.reps}")
    print(f"{'':24}{'wall s':>8}{'GB/s':>8}{'peak RSS':>11}{'×floor':>8}")
    for name, rs in runs.items():
        s = statistics.median(x for x, _ in rs)
        rss = max(r for _, r in rs)
        print(f"{name:24}{s:8.1f}{nbytes / s / 1e9:8.2f}{rss / 1e6:8.0f} MB{s / floor:8.2f}")
    rss = max(r for _, r in runs["initgen make CONFIG"])
    verdict = "ok" if rss <= RSS_BAR else "OVER"
    print(f"initgen peak RSS {rss / 1e9:.2f} GB: {verdict} (bar {RSS_BAR / 1e9:.1f} GB)")


if __name__ == "__main__":
    main()
