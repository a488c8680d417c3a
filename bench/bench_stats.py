"""Benchmark: `initgen stats` on a file much bigger than its chunk size, against the
plain way (safetensors.numpy.load_file, then float64 mean/std/min/max per tensor).

Each contender runs in its own subprocess and reports its wall time and peak RSS
(ru_maxrss), so one cannot inherit the other's memory. The file is read once
before timing so every contender sees it in the page cache (this measures the
work, not the disk). Prints throughput, peak RSS and ratios to the baseline.

    .venv/bin/python bench/bench_stats.py            # 1.5 GB float32 file in bench/out
    .venv/bin/python bench/bench_stats.py --gb 0.3   # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROWS, COLS = 4096, 8192  # one tensor: 128 MiB of float32, 8 stats chunks

CONTENDERS = {
    "initgen stats, 1 thread": "from initgen import read_stats; read_stats(PATH, threads=1)",
    "initgen stats, all cores": "from initgen import read_stats; read_stats(PATH)",
    "load_file + float64 reductions": (
        "import numpy as np\nfrom safetensors.numpy import load_file\n"
        "for a in load_file(PATH).values():\n"
        "    x = a.astype(np.float64); x.mean(); x.std(); x.min(); x.max()"
    ),
}

RUNNER = """
import resource, sys, time
PATH = sys.argv[1]
t0 = time.perf_counter()
{code}
wall = time.perf_counter() - t0
print(wall, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def make_file(path: Path, tensors: int) -> None:
    """A float32 safetensors file written tensor by tensor (never whole in memory)."""
    import numpy as np

    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    nbytes = ROWS * COLS * 4
    for i in range(tensors):
        header[f"layers.{i}.weight"] = {
            "dtype": "F32",
            "shape": [ROWS, COLS],
            "data_offsets": [i * nbytes, (i + 1) * nbytes],
        }
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    rng = np.random.default_rng(0)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        for _ in range(tensors):
            for _ in range(8):  # 16 MiB at a time
                f.write((rng.standard_normal(ROWS * COLS // 8, dtype=np.float32) * 0.02).tobytes())
    tmp.rename(path)


def run(code: str, path: Path) -> tuple[float, int]:
    out = subprocess.run(
        [sys.executable, "-c", RUNNER.format(code=code), str(path)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.split()
    return float(out[0]), int(out[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gb", type=float, default=1.5, help="file size in GB (default 1.5)")
    ap.add_argument("--repeat", type=int, default=2, help="runs per contender; the best is shown")
    args = ap.parse_args()
    from initgen.analyze.stats import CHUNK_VALUES

    tensors = max(1, round(args.gb * 1e9 / (ROWS * COLS * 4)))
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"stats-{tensors}x{ROWS}x{COLS}-f32.safetensors"
    if not path.exists():
        print(f"writing {path} ...", file=sys.stderr)
        make_file(path, tensors)
    size = path.stat().st_size
    with open(path, "rb") as f:  # into the page cache
        while f.read(1 << 24):
            pass
    print(
        f"file: {size / 1e9:.2f} GB ({tensors} float32 tensors of {ROWS}×{COLS}); stats chunk "
        f"{CHUNK_VALUES * 4 / 2**20:.0f} MiB of float32; {os.cpu_count()} CPUs"
    )
    results = {}
    for name, code in CONTENDERS.items():
        runs = [run(code, path) for _ in range(args.repeat)]
        results[name] = (min(r[0] for r in runs), max(r[1] for r in runs))
    base_wall, base_rss = results["load_file + float64 reductions"]
    print(f"{'':34}{'wall s':>8}{'GB/s':>8}{'peak RSS':>11}{'RSS/file':>10}{'speed×':>8}{'RSS×':>8}")
    for name, (wall, rss) in results.items():
        print(
            f"{name:34}{wall:8.2f}{size / wall / 1e9:8.2f}{rss / 2**20:8.0f} MB{rss / size:10.3f}"
            f"{base_wall / wall:8.2f}{rss / base_rss:8.3f}"
        )
    worst = max(results[k][1] for k in CONTENDERS if k.startswith("initgen"))
    verdict = "ok" if worst < size / 10 else "TOO HIGH"
    print(
        f"initgen peak RSS {worst / 2**20:.0f} MB for a {size / 2**20:.0f} MB file: {verdict} "
        "(bar: under a tenth of the file)"
    )


if __name__ == "__main__":
    main()
