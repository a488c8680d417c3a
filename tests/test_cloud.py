"""Object storage as output and input, against a real S3-compatible server (moto, on
127.0.0.1, started once per session by conftest.py): the bytes equal a local run's,
stats/verify/diff read URLs, and errors, Ctrl-C and SIGTERM leave no object and no
unfinished multipart upload."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import SPECS, s3_env

# ~17 MB of float32: three 8 MiB parts, the last one short
SMALL = ["n_layer=1", "vocab=2000", "dim=512", "heads=4", "kv_heads=2", "ffn=1024"]
SETS = [a for s in SMALL for a in ("--set", s)]
LLAMA = str(SPECS / "llama.yaml")


def make(cli, out, *extra):
    r = cli("make", LLAMA, *SETS, "-o", out, "-q", *extra)
    assert r.exit_code == 0, r.output
    return r


def test_a_single_file_in_s3_equals_the_local_file(cli, s3, tmp_path):
    make(cli, tmp_path / "w.safetensors")
    make(cli, s3.url("w.safetensors"))
    local = (tmp_path / "w.safetensors").read_bytes()
    assert len(local) > 2 * 8 * 2**20  # several parts
    assert s3.read("w.safetensors") == local


def test_shards_in_s3_equal_the_local_shards_and_index(cli, s3, tmp_path):
    make(cli, tmp_path / "ckpt", "--max-shard-size", "6MB")
    make(cli, s3.url("ckpt/"), "--max-shard-size", "6MB")
    names = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert len(names) > 3 and "model.safetensors.index.json" in names
    assert s3.keys() == [f"ckpt/{n}" for n in names]
    for n in names:
        assert s3.read(f"ckpt/{n}") == (tmp_path / "ckpt" / n).read_bytes(), n


def test_one_shard_of_many_in_s3_is_that_shard_and_index_only_completes_the_set(cli, s3, tmp_path):
    make(cli, tmp_path / "ckpt", "--max-shard-size", "6MB")
    names = sorted(p.name for p in (tmp_path / "ckpt").iterdir() if p.name.startswith("model-"))
    n = len(names)
    make(cli, s3.url("ckpt/"), "--max-shard-size", "6MB", "--shard", f"2/{n}")
    assert s3.read(f"ckpt/{names[1]}") == (tmp_path / "ckpt" / names[1]).read_bytes()
    # the index is written only once every shard is there
    r = cli("make", LLAMA, *SETS, "-o", s3.url("ckpt/"), "--max-shard-size", "6MB", "--index-only")
    assert r.exit_code == 1 and "the shard is missing" in r.output
    for k in range(1, n + 1):
        if k != 2:
            make(cli, s3.url("ckpt/"), "--max-shard-size", "6MB", "--shard", f"{k}/{n}", "--force")
    s3.fs.rm_file(f"{s3.name}/ckpt/model.safetensors.index.json")
    make(cli, s3.url("ckpt/"), "--max-shard-size", "6MB", "--index-only")
    index = (tmp_path / "ckpt" / "model.safetensors.index.json").read_bytes()
    assert s3.read("ckpt/model.safetensors.index.json") == index


def test_a_100gb_plan_in_5gb_shards_has_20_shards_and_parts_s3_accepts():
    from initgen import build_plan, load_spec
    from initgen.writers import shard_files
    from initgen.writers.stream import MAX_PARTS, MIN_PART, part_size

    spec = "initgen: 1\nlayers: [{name: e, type: embedding, num: 1000000, dim: 25000}]\n"
    plan = build_plan(load_spec("big.yaml", text=spec))
    assert plan.nbytes == 100 * 10**9
    files = shard_files(plan, 5 * 10**9)
    assert len(files) == 1  # one tensor: it gets a shard of its own whatever the limit
    spec = "initgen: 1\nlayers:\n" + "".join(
        f"  - {{name: e{i}, type: embedding, num: 100000, dim: 12500}}\n" for i in range(20)
    )
    plan = build_plan(load_spec("big.yaml", text=spec))
    files = shard_files(plan, 5 * 10**9)
    assert plan.nbytes == 100 * 10**9 and len(files) == 20
    p = part_size(sum(t.nbytes for t in files[0][1]))
    assert p >= MIN_PART and -(-(5 * 10**9) // p) <= MAX_PARTS


def test_stats_verify_and_diff_read_s3_like_local_files(cli, s3, tmp_path):
    make(cli, tmp_path / "w.safetensors")
    make(cli, s3.url("w.safetensors"))
    make(cli, s3.url("ckpt/"), "--max-shard-size", "6MB")
    make(cli, s3.url("model/model.safetensors"))  # a model directory of one file
    local = json.loads(cli("stats", tmp_path / "w.safetensors", "--format", "json", "-q").output)
    for url in (s3.url("w.safetensors"), s3.url("ckpt/"), s3.url("model/"), s3.url("model")):
        remote = json.loads(cli("stats", url, "--format", "json", "-q").output)
        assert remote["tensors"] == local["tensors"] and remote["totals"] == local["totals"]
        r = cli("verify", url, "-q")
        assert r.exit_code == 0 and "ok: " in r.output
        r = cli("diff", tmp_path / "w.safetensors", url)
        assert r.exit_code == 0, r.output


def test_reading_takes_ranges_not_the_whole_object(s3, tmp_path):
    from initgen import build_plan, load_spec, write
    from initgen.readers import open_weights

    plan = build_plan(load_spec(LLAMA, {k: int(v) for k, v in (s.split("=") for s in SMALL)}))
    write(plan, s3.url("w.safetensors"))
    with open_weights(s3.url("w.safetensors")) as wf:
        big = max(wf.tensors, key=lambda t: t.numel)
        assert wf.values(big.name, 10, 5).nbytes == 20
        assert wf.values(big.name, 10, 5).tolist() == wf.read(big.name).reshape(-1)[10:15].tolist()


def test_an_existing_object_is_refused_without_force(cli, s3):
    make(cli, s3.url("w.safetensors"))
    before = s3.read("w.safetensors")
    r = cli("make", LLAMA, *SETS, "--seed", "5", "-o", s3.url("w.safetensors"), "-q")
    assert r.exit_code == 2
    assert r.output == f"error: {s3.url('w.safetensors')}: already exists; use --force to replace it\n"
    assert s3.read("w.safetensors") == before
    make(cli, s3.url("w.safetensors"), "--seed", "5", "--force")
    assert s3.read("w.safetensors") != before


def test_memory_urls_use_the_generic_fsspec_path(cli, tmp_path):
    make(cli, tmp_path / "w.safetensors")
    make(cli, "memory://bucket/w.safetensors")
    import fsspec

    fs = fsspec.filesystem("memory")
    assert fs.cat_file("/bucket/w.safetensors") == (tmp_path / "w.safetensors").read_bytes()
    r = cli("verify", "memory://bucket/w.safetensors", "-q")
    assert r.exit_code == 0, r.output
    fs.rm("/bucket", recursive=True)


def test_a_missing_bucket_is_one_line_exit_1(cli, s3):
    url = f"s3://no-such-bucket-{os.getpid()}/w.safetensors"
    r = cli("make", LLAMA, *SETS, "-o", url, "-q")
    assert (r.exit_code, r.output) == (
        1,
        f"error: {url}: the bucket 'no-such-bucket-{os.getpid()}' does not exist\n",
    )
    r = cli("stats", url, "-q")
    assert (r.exit_code, r.output.count("\n")) == (1, 1) and "does not exist" in r.output


def test_wrong_credentials_are_one_line_exit_1(s3_auth_endpoint, tmp_path, write_spec):
    spec = write_spec("initgen: 1\nlayers: [{name: fc, type: dense, in: 4, out: 2}]\n")
    env = dict(os.environ, **s3_env(s3_auth_endpoint))
    r = run_cli(["make", str(spec), "-o", "s3://bkt/w.safetensors"], env)
    assert r.returncode == 1
    assert r.stderr.startswith("error: s3://bkt/w.safetensors: access denied (") and r.stderr.count("\n") == 1
    assert "check the credentials" in r.stderr


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "initgen", *args], capture_output=True, text=True, env=env, timeout=120
    )


@pytest.mark.parametrize("hidden", [("fsspec", "s3fs"), ("s3fs",)])
def test_a_url_without_the_extra_says_what_to_install(tmp_path, write_spec, hidden):
    """The packages are hidden from a subprocess by an import blocker, not mocked."""
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\n"
        "class Hide:\n"
        f"    names = {hidden!r}\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in self.names:\n"
        "            raise ImportError(f'No module named {name!r}')\n"
        "sys.meta_path.insert(0, Hide())\n"
    )
    spec = write_spec("initgen: 1\nlayers: [{name: fc, type: dense, in: 4, out: 2}]\n")
    env = dict(os.environ, PYTHONPATH=str(blocker))
    r = run_cli(["make", str(spec), "-o", "s3://bkt/w.safetensors"], env)
    assert r.returncode == 2
    if "fsspec" in hidden:
        want = "object storage URLs need the cloud extra: pip install 'initgen[cloud]'"
    else:
        want = "s3:// needs s3fs: pip install 'initgen[cloud]'"
    assert r.stderr == f"error: s3://bkt/w.safetensors: {want}\n"
    r = run_cli(["stats", "s3://bkt/w.safetensors"], env)
    assert (r.returncode, r.stderr) == (2, f"error: s3://bkt/w.safetensors: {want}\n")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_upload_leaves_no_object_and_no_pending_upload(s3, sig):
    big = ["n_layer=4", "vocab=4000", "dim=1024", "heads=8", "kv_heads=4", "ffn=2048"]
    args = ["make", LLAMA, *[a for s in big for a in ("--set", s)], "-o", s3.url("w.safetensors"), "-q"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "initgen", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, **s3_env(s3.endpoint)),
    )
    deadline = time.monotonic() + 60
    while not s3.pending() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert s3.pending() == ["w.safetensors"], "the upload never started"
    time.sleep(0.3)  # a few parts on their way
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == (130 if sig == signal.SIGINT else 143), err
    assert err.endswith("; no output was written\n")
    assert not s3.exists("w.safetensors")
    assert s3.pending() == []


def test_file_urls_are_local_paths(cli, tmp_path):
    make(cli, tmp_path / "a.safetensors")
    make(cli, f"file://{tmp_path}/b.safetensors")
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()


def test_storage_options_are_parsed_and_checked(cli, s3):
    r = cli("make", LLAMA, *SETS, "-o", s3.url("w.safetensors"), "--storage-option", "nokey")
    assert (r.exit_code, r.output) == (
        2,
        "error: --storage-option 'nokey': expected KEY=VALUE (e.g. endpoint_url=http://…)\n",
    )
    r = cli(
        "make", LLAMA, *SETS, "-o", s3.url("w.safetensors"), "-q",
        "--storage-option", f"endpoint_url={s3.endpoint}", "--storage-option", "key=testing",
        "--storage-option", "secret=testing",
    )  # fmt: skip
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize(
    "name, extra",
    [("w.h5", []), ("w.weights.h5", []), ("w.weights.json", ["--max-shard-size", "100kB"])],
)
def test_hdf5_cannot_be_streamed(cli, s3, name, extra):
    """Keras' sharded name included: it was written as safetensors shards under it."""
    r = cli("make", str(SPECS / "mlp-mnist.yaml"), "-o", s3.url(name), *extra)
    assert r.exit_code == 2
    assert "HDF5 cannot be streamed to object storage" in r.output
    assert s3.keys() == []


def test_docs_list_every_cloud_message():
    doc = (Path(__file__).parent.parent / "docs" / "errors.md").read_text()
    for text in [
        "already exists; use --force to replace it",
        "the bucket 'b' does not exist",
        "access denied (",
        "object storage URLs need the cloud extra: pip install 'initgen[cloud]'",
        "s3:// needs s3fs: pip install 'initgen[cloud]'",
        "--storage-option 'nokey': expected KEY=VALUE",
        "HDF5 cannot be streamed to object storage",
        "the shard is missing; make it first",
        "--dask needs the dask extra: pip install 'initgen[dask]'",
        "cannot reach the scheduler",
        "failed: ",
        "no credentials found",
    ]:
        assert text in doc, text


def readme_blocks(title: str) -> list[str]:
    text = (Path(__file__).parent.parent / "README.md").read_text()
    section = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    return [b.split("\n", 1)[1] for b in section.split("```")[1::2] if b.startswith("sh\n")]


def test_the_readme_examples_run_as_written(s3, tmp_path):
    """The README's shell examples, made small (a reduced llama, 100 KB shards) and
    pointed at the test bucket; sbatch and the remote Dask scheduler are left out."""
    small = "specs/llama.yaml " + " ".join(f"--set {s}" for s in SMALL)
    blocks = readme_blocks("Beyond one machine")
    assert len(blocks) == 4
    script = "\n".join(
        line
        for block in (blocks[0], blocks[2], blocks[3])
        for line in block.splitlines()
        if "sbatch" not in line and "tcp://" not in line and "--dask local" not in line
    )
    script = (
        script.replace("specs/llama.yaml", small)
        .replace("2GB", "9MB")
        .replace("my-bucket", s3.name)
        .replace("http://127.0.0.1:9000", s3.endpoint)
    )
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    root = Path(__file__).parent.parent
    (tmp_path / "specs").symlink_to(root / "specs")
    r = subprocess.run(
        ["bash", "-ec", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr
    shards = sorted(p.name for p in (tmp_path / "llama").iterdir())
    assert "model.safetensors.index.json" in shards and len(shards) > 3
    for name in shards:
        assert s3.read(f"llama/{name}") == (tmp_path / "llama" / name).read_bytes()
