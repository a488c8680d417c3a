"""Plan → a sharded safetensors checkpoint: ``model-0000k-of-0000n.safetensors`` files
plus ``model.safetensors.index.json`` (:mod:`.sharding` decides which tensor goes where).

Every file is written under a temporary name beside its target and renamed into place
only when all of them are complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..checkpoint import CONFIG_NAME, INDEX_NAME, SAVE_PRETRAINED_SHARD_SIZE, is_checkpoint_file
from ..errors import UsageError
from ..paths import PathLike
from ..plan import DEFAULT_MAX_BYTES, Plan, TensorPlan
from ..progress import Counter, Progress
from .common import FORMATS, metadata, preflight, run_writer
from .sharding import Sharding, assign
from .targets import check_output


def shard_files(plan: Plan, max_shard_size: int) -> list[tuple[str, list[TensorPlan]]]:
    """(file name, tensors) of every shard of ``plan``: a pure function of the plan."""
    sharding = Sharding(assign(plan.file_order(), max_shard_size))
    return list(zip(sharding.names(), sharding.shards))


def sharded_tensors(
    plan: Plan, max_shard_size: int | None, shard: tuple[int, int] | None
) -> list[TensorPlan]:
    """The tensors a (possibly one-shard) run writes."""
    if shard is None or max_shard_size is None:
        return list(plan.tensors)
    files = shard_files(plan, max_shard_size)
    k = shard[0]
    return list(files[k - 1][1]) if k <= len(files) else []


def write_sharded(
    plan: Plan,
    outdir: PathLike,
    max_shard_size: int | None,
    shard: tuple[int, int] | None = None,
    *,
    force: bool = False,
    threads: int | None = None,
    progress: Progress | None = None,
    fmt: str | None = None,
    direct_io: bool = True,
    max_bytes: int = DEFAULT_MAX_BYTES,
    extra: Mapping[str, bytes] | None = None,
    index: bool = True,
) -> Path:
    """Shards of ``plan`` and ``model.safetensors.index.json`` into directory ``outdir``.

    The arguments are :func:`initgen.write`'s; ``shard=(k, n)`` makes only shard ``k``
    of ``n`` (and the index, unless ``index`` is false), byte-identical to that shard of
    a full run. A full run
    replaces every checkpoint file of another sharding in ``outdir`` (with ``force``).
    ``extra`` maps more file names to their bytes (a model directory's ``config.json``),
    written and renamed into place with the shards; one already there with the same
    bytes is left as it is. Returns ``outdir``; raises as :func:`initgen.write` does.
    """
    from .atomic import Atomic
    from .safetensors import SafetensorsWriter

    outdir = Path(outdir)
    preflight(plan, max_bytes)
    if max_shard_size is None:
        raise UsageError("--shard needs --max-shard-size: the shard boundaries depend on it")
    if fmt not in (None, "safetensors"):
        raise UsageError("--max-shard-size writes safetensors shards; HDF5 output is one file")
    if outdir.suffix.lower() in FORMATS:
        raise UsageError(
            f"{outdir}: with --max-shard-size, -o names a directory "
            f"(e.g. -o {outdir.with_suffix('')}/); the shards are named "
            "model-00001-of-0000N.safetensors"
        )
    if outdir.exists() and not outdir.is_dir():
        raise UsageError(f"{outdir}: is not a directory")
    sharding = Sharding(assign(plan.file_order(), max_shard_size))
    names = sharding.names()
    todo = list(range(1, sharding.n + 1))
    if shard is not None:
        k, n = shard
        if n != sharding.n:
            raise UsageError(
                f"--shard {k}/{n}: with --max-shard-size {max_shard_size} bytes "
                f"this model has {sharding.n} shard(s), not {n}"
            )
        todo = [k]
    index_doc = sharding.index_bytes() if sharding.n > 1 and index else None
    index_path = outdir / INDEX_NAME
    # Shards made on several machines each bring the same index: an identical one is
    # left as it is, not an error.
    put_index = index_doc is not None and not (
        shard is not None and index_path.is_file() and index_path.read_bytes() == index_doc
    )
    check_output(
        outdir,
        "safetensors",
        [t.name for t in plan.tensors],
        sum(t.nbytes for k in todo for t in sharding.shards[k - 1]),
    )
    created = not outdir.exists()
    if created:
        if not outdir.parent.is_dir():
            raise UsageError(f"{outdir}: the directory {outdir.parent} does not exist")
        outdir.mkdir()
    # Files every run brings (the index, a config.json): identical ones are left as they are.
    others = {name: data for name, data in (extra or {}).items() if not _holds(outdir / name, data)}
    targets = [outdir / names[k - 1] for k in todo] + ([index_path] if put_index else [])
    targets += [outdir / name for name in others]
    # A full run replaces the whole checkpoint: files of another sharding left beside
    # it would be loaded instead (Transformers reads model.safetensors before an index).
    stale = [] if shard is not None else _stale_layout(outdir, {p.name for p in targets})
    if stale and not force:
        raise UsageError(
            f"{outdir}: already holds {stale[0].name}"
            f"{f' and {len(stale) - 1} more checkpoint file(s)' if len(stale) > 1 else ''}"
            "; use --force to replace the checkpoint"
        )
    add = (
        Counter(sum(t.nbytes for k in todo for t in sharding.shards[k - 1]), progress).add
        if progress
        else None
    )
    try:
        with Atomic(targets, force) as atomic:
            for k in todo:
                tensors = sharding.shards[k - 1]
                tmp = atomic.tmp(outdir / names[k - 1])
                writer = SafetensorsWriter(tmp, tensors, metadata(plan, tensors), direct_io)
                run_writer(writer, tensors, plan.seed, threads, add)
            for name, data in others.items():
                atomic.tmp(outdir / name).write_bytes(data)
            if put_index:
                atomic.tmp(index_path).write_bytes(index_doc)  # type: ignore[arg-type]
            atomic.commit()
        for path in stale:  # only once the new checkpoint is complete
            path.unlink(missing_ok=True)
    except BaseException:
        if created:
            try:
                outdir.rmdir()  # only if empty: nothing of ours is left in it
            except OSError:
                pass
        raise
    return outdir


def _holds(path: Path, data: bytes) -> bool:
    return path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data


def _stale_layout(outdir: Path, keep: set[str]) -> list[Path]:
    """Checkpoint files in ``outdir`` (initgen's and Transformers' names) not in ``keep``."""
    if not outdir.is_dir():
        return []
    return sorted(p for p in outdir.iterdir() if p.name not in keep and is_checkpoint_file(p.name))


def write_model_dir(
    plan: Plan,
    outdir: PathLike,
    config: bytes,
    *,
    max_shard_size: int | None = None,
    shard: tuple[int, int] | None = None,
    force: bool = False,
    threads: int | None = None,
    progress: Progress | None = None,
    direct_io: bool = True,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Path:
    """A model directory that Transformers' ``from_pretrained`` loads.

    Args:
        plan: the plan of the model (``initgen.configs.load_config_spec`` → ``build_plan``).
        outdir: the directory (created if missing).
        config: the bytes of the ``config.json`` to put beside the weights, unchanged.
        max_shard_size: bytes per shard (default: ``save_pretrained``'s, 50 GB), so the
            files are ``model.safetensors``, or ``model-0000k-of-0000n.safetensors`` and
            ``model.safetensors.index.json``, as ``save_pretrained`` names them.
        shard, force, threads, progress, direct_io, max_bytes: as :func:`initgen.write`.

    Returns:
        ``outdir``.

    Raises:
        As :func:`initgen.write`; nothing is left behind on failure.
    """
    return write_sharded(
        plan,
        outdir,
        max_shard_size or SAVE_PRETRAINED_SHARD_SIZE,
        shard,
        force=force,
        threads=threads,
        progress=progress,
        direct_io=direct_io,
        max_bytes=max_bytes,
        extra={CONFIG_NAME: config},
    )


def write_index(plan: Plan, outdir: Path, max_shard_size: int) -> Path:
    """Write only ``model.safetensors.index.json`` into ``outdir`` (atomically), once
    every shard is there with the size this plan gives it (``--index-only``)."""
    from .atomic import Atomic
    from .remote import missing_shard
    from .safetensors import build_header

    sharding = Sharding(assign(plan.file_order(), max_shard_size))
    if sharding.n == 1:
        raise UsageError(f"--index-only: with --max-shard-size {max_shard_size} bytes this model is one file")
    for name, tensors in zip(sharding.names(), sharding.shards):
        header, _ = build_header(tensors, metadata(plan, tensors))
        want = len(header) + sum(t.nbytes for t in tensors)
        path = outdir / name
        size = path.stat().st_size if path.is_file() else None
        if size != want:
            raise missing_shard(str(path), size, want)
    with Atomic([outdir / INDEX_NAME], True) as atomic:
        atomic.tmp(outdir / INDEX_NAME).write_bytes(sharding.index_bytes())
        atomic.commit()
    return outdir
