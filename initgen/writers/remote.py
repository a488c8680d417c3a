"""Plan → a safetensors file or a sharded checkpoint in object storage (any fsspec URL).

Each object is streamed in numbered parts (:mod:`.stream`) to an upload that makes
it visible only when complete (:mod:`.uploads`). The objects of one run become
visible together at the end: every shard is uploaded first, then every upload is
completed, then the index is written. An error, Ctrl-C or SIGTERM aborts the uploads
(no object, no unfinished multipart upload) and deletes any object this run had
already completed. An existing object is refused without ``force``, before any work
(and again at completion on S3, by ``If-None-Match``). ``file://`` URLs are local
paths: :func:`initgen.write` writes them the local way.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from .. import interrupt
from ..checkpoint import INDEX_NAME, is_checkpoint_file
from ..errors import InitgenError, UsageError
from ..plan import DEFAULT_MAX_BYTES, Plan, TensorPlan, name_problem
from ..progress import Counter, Progress
from ..storage import StorageOptions, check_store, is_store_error, open_store, store_error
from .common import FORMATS, metadata, output_format, preflight, run_writer
from .sharding import Sharding, assign
from .stream import StreamWriter
from .uploads import open_upload


def join(base: str, name: str) -> str:
    return base.rstrip("/") + "/" + name


def write_url(
    plan: Plan,
    url: str,
    *,
    fmt: str | None = None,
    force: bool = False,
    threads: int | None = None,
    progress: Progress | None = None,
    max_shard_size: int | None = None,
    shard: tuple[int, int] | None = None,
    storage_options: StorageOptions | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    index: bool = True,
    part: int | None = None,
) -> str:
    """Make ``plan`` into the object ``url`` (or, sharded, the objects under the prefix
    ``url``); the arguments are :func:`initgen.write`'s. ``index=False``: a shard run
    leaves the index to another (a Dask client writes it last). ``part``: bytes per
    uploaded part (default :func:`.stream.part_size`). Returns ``url``."""
    preflight(plan, max_bytes)
    fs, path = open_store(url, storage_options)
    jobs, index_doc = plan_objects(plan, url, path, fmt, max_shard_size, shard)
    for _, _, tensors in jobs:
        for t in tensors:
            why = name_problem(t.name)
            if why:
                raise UsageError(f"cannot write {url}: {why}")
    check_store(fs, url)
    try:
        idx = join(path, INDEX_NAME)
        # shards made on several machines each bring the same index: an identical one is left
        if index_doc is not None and shard is not None and fs.exists(idx) and fs.cat_file(idx) == index_doc:
            index_doc = None
        if not index:
            index_doc = None
        targets = [(u, p) for u, p, _ in jobs] + ([(join(url, INDEX_NAME), idx)] if index_doc else [])
        stale = refuse_existing(fs, url, path, targets, force, full=shard is None)
    except InitgenError:
        raise
    except Exception as e:
        raise store_error(url, e) from None
    add = Counter(sum(t.nbytes for _, _, ts in jobs for t in ts), progress).add if progress else None
    writers: list[StreamWriter] = []
    done: list[str] = []
    try:
        for _, obj, tensors in jobs:
            writer = StreamWriter(open_upload(fs, obj, force), tensors, metadata(plan, tensors), part)
            writers.append(writer)
            run_writer(writer, tensors, plan.seed, threads, add)
            writer.finish()
        interrupt.check()  # nothing becomes visible after a signal
        for writer, (_, obj, _) in zip(writers, jobs):
            writer.upload.complete()
            done.append(obj)
        if index_doc is not None:
            fs.pipe_file(join(path, INDEX_NAME), index_doc)
        for p in stale:  # only once the new checkpoint is complete
            fs.rm_file(p)
    except BaseException as e:
        for writer in writers:
            writer.abort()
        for obj in done:
            try:
                fs.rm_file(obj)
            except Exception:
                pass
        if is_store_error(e):
            raise store_error(url, e) from None
        raise
    return url


def plan_objects(
    plan: Plan,
    url: str,
    path: str,
    fmt: str | None,
    max_shard_size: int | None,
    shard: tuple[int, int] | None,
) -> tuple[list[tuple[str, str, list[TensorPlan]]], bytes | None]:
    """(url, store path, tensors) of each object a run writes, and the index's bytes."""
    keras = path.lower().endswith((".weights.h5", ".weights.json"))  # Keras' HDF5 names
    if (max_shard_size is None and shard is None) or keras:
        kind = "hdf5" if keras else output_format(PurePosixPath(path), fmt)
        if kind != "safetensors":
            raise UsageError(
                f"{url}: HDF5 cannot be streamed to object storage; write .safetensors, "
                "or write the .h5 file locally and upload it"
            )
        return [(url, path, plan.file_order())], None
    if max_shard_size is None:
        raise UsageError("--shard needs --max-shard-size: the shard boundaries depend on it")
    if fmt not in (None, "safetensors"):
        raise UsageError("--max-shard-size writes safetensors shards; HDF5 output is one file")
    if PurePosixPath(path).suffix.lower() in FORMATS:
        raise UsageError(
            f"{url}: with --max-shard-size, -o names a directory (a prefix, e.g. "
            f"-o {url.rsplit('.', 1)[0]}/); the shards are named model-00001-of-0000N.safetensors"
        )
    sharding = Sharding(assign(plan.file_order(), max_shard_size))
    todo = list(range(1, sharding.n + 1))
    if shard is not None:
        check_shard(shard, sharding.n, max_shard_size)
        todo = [shard[0]]
    names = sharding.names()
    jobs = [(join(url, names[k - 1]), join(path, names[k - 1]), sharding.shards[k - 1]) for k in todo]
    return jobs, (sharding.index_bytes() if sharding.n > 1 else None)


def check_shard(shard: tuple[int, int], n: int, max_shard_size: int) -> None:
    if shard[1] != n:
        raise UsageError(
            f"--shard {shard[0]}/{shard[1]}: with --max-shard-size {max_shard_size} bytes "
            f"this model has {n} shard(s), not {shard[1]}"
        )


def refuse_existing(
    fs: Any, url: str, path: str, objects: list[tuple[str, str]], force: bool, full: bool
) -> list[str]:
    """Refuse an existing target (url, store path) without ``force``; a full sharded run
    also refuses (and returns, to delete at the end) other checkpoint files under the prefix."""
    for where, obj in objects:
        if not force and fs.exists(obj):
            raise UsageError(f"{where}: already exists; use --force to replace it")
    if not full or (len(objects) == 1 and objects[0][1] == path):
        return []
    keep = {PurePosixPath(o).name for _, o in objects} | {INDEX_NAME}
    try:
        listing = fs.ls(path, detail=False)
    except FileNotFoundError:
        return []
    stale = sorted(
        p for p in listing if is_checkpoint_file(PurePosixPath(p).name) and PurePosixPath(p).name not in keep
    )
    if stale and not force:
        more = f" and {len(stale) - 1} more checkpoint file(s)" if len(stale) > 1 else ""
        first = PurePosixPath(stale[0]).name
        raise UsageError(f"{url}: already holds {first}{more}; use --force to replace the checkpoint")
    return stale


def write_index_url(
    plan: Plan, url: str, max_shard_size: int, storage_options: StorageOptions | None = None
) -> str:
    """Write only ``model.safetensors.index.json`` under ``url``, once every shard is
    there with the size this plan gives it (shards made by a Slurm array, say)."""
    from .safetensors import build_header

    fs, path = open_store(url, storage_options)
    sharding = Sharding(assign(plan.file_order(), max_shard_size))
    if sharding.n == 1:
        raise UsageError(f"--index-only: with --max-shard-size {max_shard_size} bytes this model is one file")
    check_store(fs, url)
    try:
        for name, tensors in zip(sharding.names(), sharding.shards):
            header, _ = build_header(tensors, metadata(plan, tensors))
            want = len(header) + sum(t.nbytes for t in tensors)
            obj = join(path, name)
            size = fs.size(obj) if fs.exists(obj) else None
            if size != want:
                raise missing_shard(join(url, name), size, want)
        fs.pipe_file(join(path, INDEX_NAME), sharding.index_bytes())
    except InitgenError:
        raise
    except Exception as e:
        raise store_error(url, e) from None
    return url


def missing_shard(where: str, size: int | None, want: int) -> InitgenError:
    from ..errors import OutputError

    if size is None:
        return OutputError(f"{where}: the shard is missing; make it first (--shard K/N), then --index-only")
    return OutputError(f"{where}: has {size} bytes, not the {want} this plan makes; make it again")
