"""Benchmark by dtype: `initgen stats` against a floor and the naive script, and
`initgen make` of llama, on this machine, in one run.

Stats: for each of float32, bfloat16, float16 and float8_e4m3fn a ``--gb`` (default 2)
safetensors file of 4096×8192 tensors of N(0, 0.02²) values is written to bench/out
(deleted at the end unless ``--keep``) and read once into the page cache; then, each
run a fresh whole process, alternated and repeated ``--reps`` times (medians shown):

* ``initgen stats FILE --format json`` (output discarded);
* the floor: NumPy summing a memory map of the same file as uint64 words, one
  process — every byte read once, nothing else;
* the naive script: ``safetensors.numpy.load_file`` (its ``deserialize`` for float8,
  which ``load_file`` does not read), then float64 mean, std, min and max per tensor
  (slow: ``--naive-reps``, default 1).

Peak RSS of a stats run is its own ru_maxrss plus, for its forked workers, the
largest worker's times their number (an upper bound: pages shared with the parent
are counted again in each worker). CPU seconds (user + system, workers included)
tell the work apart from waiting when other programs load the machine.

Generation: ``initgen make specs/llama.yaml --dtype D`` for float32, bfloat16 and
float16 (whole process, through to the file on disk), as values per second and CPU
seconds (user + system of the whole process tree: the work itself, which other
programs on the machine disturb less than the time); the output is deleted after
each run. ``--gen-set n_layer=2`` shrinks the model.

    .venv/bin/python bench/bench_stats.py                 # 2 GB files, 3 repetitions
    .venv/bin/python bench/bench_stats.py --gb 0.5 --reps 1 --gen-set n_layer=2   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
ROWS, COLS = 4096, 8192
CODES = {"float32": "F32", "bfloat16": "BF16", "float16": "F16", "float8_e4m3fn": "F8_E4M3"}
GEN_DTYPES = ("float32", "bfloat16", "float16")

# Each child is a whole process; the last line of its stderr is "RSS own children".
STATS = """
import resource, sys
sys.argv = ["initgen", "stats", sys.argv[1], "--format", "json", "-q"]
from initgen.cli import run
try:
    run()
except SystemExit as e:
    if e.code:
        raise
r = resource.getrusage
sys.stderr.write(f"\\nRSS {r(resource.RUSAGE_SELF).ru_maxrss} {r(resource.RUSAGE_CHILDREN).ru_maxrss}\\n")
"""
FLOOR = """
import mmap, resource, sys
import numpy as np
with open(sys.argv[1], "rb") as f:
    mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
words = np.frombuffer(mm, dtype=np.uint64, count=len(mm) // 8)
total = 0
for s in range(0, words.size, 1 << 21):
    total += int(np.add.reduce(words[s : s + (1 << 21)]))
sys.stderr.write(f"\\nRSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss} 0\\n")
"""
NAIVE = """
import resource, sys
import numpy as np
import ml_dtypes
from safetensors.numpy import load_file
try:
    tensors = load_file(sys.argv[1])
except AttributeError:  # float8: load_file cannot type it; deserialize gives the bytes
    from safetensors import deserialize
    with open(sys.argv[1], "rb") as f:
        raw = deserialize(f.read())
    tensors = {n: np.frombuffer(t["data"], dtype=ml_dtypes.float8_e4m3fn) for n, t in raw}
for a in tensors.values():
    x = a.astype(np.float64)
    x.mean(), x.std(), x.min(), x.max()
sys.stderr.write(f"\\nRSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss} 0\\n")
"""


def make_file(path: Path, dtype: str, gb: float) -> None:
    """``gb`` GB of 4096×8192 tensors, written tensor by tensor (never whole in memory)."""
    import ml_dtypes
    import numpy as np

    npdt = np.dtype(getattr(ml_dtypes, dtype, None) or dtype)
    per = ROWS * COLS * npdt.itemsize
    count = max(1, round(gb * 1e9 / per))
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    for i in range(count):
        header[f"layers.{i}.weight"] = {
            "dtype": CODES[dtype],
            "shape": [ROWS, COLS],
            "data_offsets": [i * per, (i + 1) * per],
        }
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    rng = np.random.default_rng(0)
    blocks = [  # 4 different blocks of a tensor's eighth, reused: fast to write, not constant
        (rng.standard_normal(ROWS * COLS // 8, dtype=np.float32) * 0.02).astype(npdt).tobytes()
        for _ in range(4)
    ]
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        for i in range(count):
            for j in range(8):
                f.write(blocks[(i + j) % 4])
    tmp.rename(path)


def run(code: str, *args: str) -> tuple[float, int, int, float]:
    """(wall seconds, own peak RSS, largest child's peak RSS, CPU seconds of it and
    its workers) of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        check=False,
    )
    wall = time.perf_counter() - t0
    if p.returncode:
        raise SystemExit(f"failed ({p.returncode}): {p.stderr[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    _, own, kids = p.stderr.strip().splitlines()[-1].split()
    return wall, int(own) * 1024, int(kids) * 1024, cpu


def stats_rows(dtypes: list[str], gb: float, reps: int, naive_reps: int, keep: bool) -> None:
    sys.path.insert(0, str(ROOT))
    from initgen.analyze.scan import FORK_BYTES
    from initgen.threads import default_threads

    OUT.mkdir(parents=True, exist_ok=True)
    need = gb * 1e9 * len(dtypes)
    free = shutil.disk_usage(OUT).free
    if free < need + 5e9:
        raise SystemExit(
            f"{free / 1e9:.1f} GB free in {OUT}; the files need {need / 1e9:.1f} GB and 5 GB to spare"
        )
    paths = {}
    for d in dtypes:
        paths[d] = OUT / f"stats-{gb:g}gb-{d}.safetensors"
        if not paths[d].exists():
            print(f"writing {paths[d].name} ...", file=sys.stderr, flush=True)
            make_file(paths[d], d, gb)
    workers = default_threads()
    kinds = {"initgen stats": STATS, "floor: sum as uint64": FLOOR, "naive: load_file + float64": NAIVE}
    times: dict[tuple[str, str], list[float]] = {}
    rss: dict[tuple[str, str], int] = {}
    cpus: dict[tuple[str, str], list[float]] = {}
    for rep in range(reps):
        for d in dtypes:
            with open(paths[d], "rb") as f:  # into the page cache
                while f.read(1 << 24):
                    pass
            names = list(kinds)
            for k in names[rep % 3 :] + names[: rep % 3]:  # rotate: no run always follows the same
                if k.startswith("naive") and rep >= naive_reps:
                    continue
                wall, own, kid, cpu = run(kinds[k], str(paths[d]))
                cpus.setdefault((d, k), []).append(cpu)
                forked = k == "initgen stats" and workers > 1 and paths[d].stat().st_size >= FORK_BYTES
                peak = own + (workers * kid if forked else 0)
                times.setdefault((d, k), []).append(wall)
                rss[(d, k)] = max(rss.get((d, k), 0), peak)
                print(
                    f"  rep {rep + 1}: {d:14} {k:28} {wall:6.2f} s  cpu {cpu:6.2f} s  {peak / 1e9:.3f} GB",
                    file=sys.stderr,
                    flush=True,
                )
    print(
        f"\nstats, whole process, file in the page cache; {workers} cores; medians of {reps}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(
        "\n| dtype | file GB | initgen GB/s | floor GB/s | naive GB/s | initgen/floor time "
        "| naive/initgen time | initgen peak RSS | initgen CPU s | GB per CPU s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for d in dtypes:
        size = paths[d].stat().st_size
        med = {k: statistics.median(times[(d, k)]) for k in kinds if (d, k) in times}
        ours, floor = med["initgen stats"], med["floor: sum as uint64"]
        naive = med.get("naive: load_file + float64")  # --naive-reps 0: not run
        slow = ("—", "—") if naive is None else (f"{size / naive / 1e9:.2f}", f"{naive / ours:.1f}")
        cpu = statistics.median(cpus[(d, "initgen stats")])
        print(
            f"| {d} | {size / 1e9:.2f} | {size / ours / 1e9:.2f} | {size / floor / 1e9:.2f} | "
            f"{slow[0]} | {ours / floor:.2f} | {slow[1]} | "
            f"{rss[(d, 'initgen stats')] / 1e9:.3f} GB | {cpu:.2f} | {size / cpu / 1e9:.2f} |"
        )
    if not keep:
        for p in paths.values():
            p.unlink(missing_ok=True)


def generation_rows(sets: list[str], reps: int) -> None:
    sys.path.insert(0, str(ROOT))
    from initgen.plan import build_plan
    from initgen.spec import load_spec, parse_overrides

    spec = ROOT / "specs" / "llama.yaml"
    params = build_plan(load_spec(str(spec), parse_overrides(sets))).params
    initgen = str(Path(sys.executable).with_name("initgen"))
    times: dict[str, list[float]] = {d: [] for d in GEN_DTYPES}
    cpus: dict[str, list[float]] = {d: [] for d in GEN_DTYPES}  # user + system, the whole process tree
    for rep in range(reps):
        order = list(GEN_DTYPES)
        for d in order[rep % 3 :] + order[: rep % 3]:
            out = OUT / f"gen-{d}.safetensors"
            os.sync()  # the previous run's dirty pages are not this one's cost
            cmd = [initgen, "make", str(spec), "-o", str(out), "--dtype", d, "--force", "-q"]
            cmd += [a for s in sets for a in ("--set", s)]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, cwd=ROOT)
            times[d].append(time.perf_counter() - t0)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus[d].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            out.unlink(missing_ok=True)
            print(
                f"  rep {rep + 1}: make llama {d:9} {times[d][-1]:6.2f} s  cpu {cpus[d][-1]:6.2f} s",
                file=sys.stderr,
                flush=True,
            )
    base, base_cpu = statistics.median(times["float32"]), statistics.median(cpus["float32"])
    shrunk = " " + " ".join(sets) if sets else ""
    print(f"\ninitgen make specs/llama.yaml{shrunk}: {params:,} values, whole process, medians of {reps}")
    print(
        "\n| dtype | median s | runs | M values/s | time per value vs float32 | CPU s "
        "| CPU per value vs float32 |\n|---|---|---|---|---|---|---|"
    )
    for d in GEN_DTYPES:
        med, cpu = statistics.median(times[d]), statistics.median(cpus[d])
        runs = " ".join(f"{t:.2f}" for t in times[d])
        print(
            f"| {d} | {med:.2f} | {runs} | {params / med / 1e6:.0f} | {med / base:.2f} | {cpu:.2f} | "
            f"{cpu / base_cpu:.2f} |"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gb", type=float, default=2.0, help="stats file size in GB (default 2)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions of each run (default 3)")
    ap.add_argument("--dtypes", default=",".join(CODES), help="stats dtypes, comma-separated")
    ap.add_argument(
        "--naive-reps", type=int, default=1, help="repetitions of the slow naive script (default 1)"
    )
    ap.add_argument("--keep", action="store_true", help="keep the stats files in bench/out")
    ap.add_argument("--gen-set", action="append", default=[], metavar="K=V", help="--set for the llama spec")
    ap.add_argument("--no-gen", action="store_true", help="skip the generation rows")
    ap.add_argument("--no-stats", action="store_true", help="skip the stats rows")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)  # the generation rows write there too
    if not args.no_stats:
        stats_rows(args.dtypes.split(","), args.gb, args.reps, args.naive_reps, args.keep)
    if not args.no_gen:
        generation_rows(args.gen_set, args.reps)


if __name__ == "__main__":
    main()
