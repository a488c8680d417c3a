"""Benchmark: `initgen make` to object storage and on Dask, against their floors.

* Upload: `initgen make SPEC -o s3://…` to a local S3 server (moto, as its own process
  on 127.0.0.1) against the floor of uploading the same bytes with s3fs ``put`` from
  a file already on disk (made beforehand, not timed). The object's SHA-256 is
  checked against the local file's.
* Dask: the spec in shards with ``--dask local`` (a LocalCluster) against the same
  shards made by a plain local run.

Each contender runs in its own subprocess, which reports its wall time and peak RSS
(ru_maxrss; for Dask, the client's and the largest worker's). moto keeps objects in
memory, and on a small machine it is the bottleneck, so the default is the llama spec
with fewer layers; ``--layers 22`` is the full 4.4 GB model.

    .venv/bin/python bench/bench_cloud.py                # llama, 10 layers (2.3 GB)
    .venv/bin/python bench/bench_cloud.py --layers 22    # the full model (needs ~10 GB of RAM for moto)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
SPEC = str(ROOT / "specs" / "llama.yaml")

RUNNER = """
import json, os, resource, sys, time
ARGS = json.loads(sys.argv[1])
t0 = time.perf_counter()
{code}
wall = time.perf_counter() - t0
print(json.dumps({{"wall": wall, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, **EXTRA}}))
"""

PLAN = "from initgen import build_plan, load_spec\nplan = build_plan(load_spec(ARGS['spec'], ARGS['sets']))\n"
CONTENDERS = {
    "s3fs put of the file on disk (floor)": (
        "import s3fs\nfs = s3fs.S3FileSystem(skip_instance_cache=True)\n"
        "fs.put(ARGS['file'], ARGS['bucket'] + '/floor.safetensors')\nEXTRA = {}"
    ),
    "initgen make -o s3://…": (
        PLAN
        + "from initgen import write\nwrite(plan, 's3://' + ARGS['bucket'] + '/w.safetensors')\nEXTRA = {}"
    ),
    "initgen make, sharded, local": (
        PLAN
        + "from initgen import write\nwrite(plan, ARGS['dir'] + '/local', max_shard_size=ARGS['shard'])\n"
        "EXTRA = {}"
    ),
    "initgen make, sharded, --dask local": (
        "if __name__ == '__main__':\n"
        "    " + PLAN.replace("\n", "\n    ") + "import psutil\n"
        "    from initgen.writers.cluster import write_on_dask\n"
        "    peak = [0]\n"
        "    def watch():\n"
        "        me = psutil.Process()\n"
        "        while True:\n"
        "            for c in me.children(recursive=True):\n"
        "                try: peak[0] = max(peak[0], c.memory_info().rss)\n"
        "                except psutil.Error: pass\n"
        "            time.sleep(0.1)\n"
        "    import threading; threading.Thread(target=watch, daemon=True).start()\n"
        "    write_on_dask(plan, ARGS['dir'] + '/dask', ARGS['shard'], 'local')\n"
        "    EXTRA = {'worker_rss': peak[0]}"
    ),
}


def start_moto() -> tuple[subprocess.Popen[str], str]:
    exe = Path(sys.executable).parent / "moto_server"
    proc = subprocess.Popen(
        [str(exe), "-H", "127.0.0.1", "-p", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if "Running on" in line:
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
            return proc, line.split("Running on ")[1].strip()
    raise RuntimeError("moto_server did not start")


def run(name: str, args: dict[str, object], env: dict[str, str]) -> dict[str, float]:
    code = CONTENDERS[name]
    script = RUNNER.format(code=code) if "__main__" not in code else _main_runner(code)
    path = OUT / "runner.py"
    path.write_text(script)
    r = subprocess.run(
        [sys.executable, str(path), json.dumps(args)], capture_output=True, text=True, env=env, check=False
    )
    if r.returncode:
        raise SystemExit(f"{name} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def _main_runner(code: str) -> str:
    body = code.replace("if __name__ == '__main__':\n", "")
    return (
        "import json, os, resource, sys, time\nARGS = json.loads(sys.argv[1])\n"
        "if __name__ == '__main__':\n    t0 = time.perf_counter()\n"
        + body
        + "\n    wall = time.perf_counter() - t0\n"
        "    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024\n"
        "    print(json.dumps({'wall': wall, 'rss': rss, **EXTRA}))\n"
    )


def sha(read_chunks: object) -> str:
    h = hashlib.sha256()
    for block in read_chunks:  # type: ignore[attr-defined]
        h.update(block)
    return h.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--layers", type=int, default=10, help="n_layer of specs/llama.yaml (22 = the full model)"
    )
    ap.add_argument("--shard-size", default="500MB", help="--max-shard-size of the Dask comparison")
    opts = ap.parse_args()
    from initgen import build_plan, load_spec, write
    from initgen.units import parse_size

    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    sets = {"n_layer": opts.layers}
    plan = build_plan(load_spec(SPEC, sets))
    local = OUT / "w.safetensors"
    write(plan, local)
    size = local.stat().st_size
    proc, endpoint = start_moto()
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_ENDPOINT_URL_S3=endpoint,
        AWS_DEFAULT_REGION="us-east-1",
    )
    os.environ.update(env)
    import s3fs

    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    fs.mkdir("bench")
    print(
        f"llama.yaml with n_layer={opts.layers}: {size / 1e9:.2f} GB, "
        f"{os.cpu_count()} cores, moto at {endpoint}"
    )
    args = {"spec": SPEC, "sets": sets, "file": str(local), "bucket": "bench", "dir": str(OUT)}
    rows = []
    try:
        for name in ("s3fs put of the file on disk (floor)", "initgen make -o s3://…"):
            res = run(name, args, env)
            rows.append((name, res))
            if name.startswith("initgen"):
                fs.invalidate_cache()
                with open(local, "rb") as g, fs.open("bench/w.safetensors", "rb", block_size=8 << 20) as f:
                    same = sha(iter(lambda: f.read(8 << 20), b"")) == sha(iter(lambda: g.read(8 << 20), b""))
                print(f"  the object's bytes equal the local file's: {same}")
            for key in fs.find("bench"):
                fs.rm_file(key)  # moto keeps objects in memory
    finally:
        proc.terminate()
        proc.wait(30)
    local.unlink()
    args["shard"] = parse_size(opts.shard_size, "--shard-size")
    for name in ("initgen make, sharded, local", "initgen make, sharded, --dask local"):
        rows.append((name, run(name, args, env)))
    a, b = OUT / "local", OUT / "dask"
    same = sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir()) and all(
        (a / p.name).read_bytes() == (b / p.name).read_bytes() for p in a.iterdir()
    )
    print(f"  Dask shards and index equal the local run's: {same}")
    shutil.rmtree(OUT, ignore_errors=True)
    print("\n| run | time | MB/s | peak RSS |\n|---|---|---|---|")
    for name, res in rows:
        rss = f"{res['rss'] / 1e9:.2f} GB" + (
            f" (workers ≤ {res['worker_rss'] / 1e9:.2f} GB)" if "worker_rss" in res else ""
        )
        print(f"| {name} | {res['wall']:.1f} s | {size / 1e6 / res['wall']:.0f} | {rss} |")
    up, floor = rows[1][1]["wall"], rows[0][1]["wall"]
    print(
        f"\nupload / floor: {up / floor:.2f}×   dask / local: {rows[3][1]['wall'] / rows[2][1]['wall']:.2f}×"
    )


if __name__ == "__main__":
    main()
