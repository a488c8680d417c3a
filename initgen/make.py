"""Spec → file(s): plan, generate and write atomically. The library behind `initgen make`.

One file (safetensors or HDF5) at the path given, or, with ``max_shard_size``, a
directory of safetensors shards plus ``model.safetensors.index.json`` (see
``io/index.py``). Every file is written under a temporary name beside its target
and renamed into place only when all of them are complete.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .errors import UsageError
from .limits import check_output
from .plan import Plan, TensorPlan

if TYPE_CHECKING:
    from .io.hdf5 import HDF5Writer
    from .io.safetensors import SafetensorsWriter

FORMATS = {".safetensors": "safetensors", ".h5": "hdf5", ".hdf5": "hdf5"}


def output_format(path: Path, fmt: str | None = None) -> str:
    if fmt:
        return fmt
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise UsageError(f"{path}: cannot tell the format from the extension '{path.suffix}'; "
                         "use .safetensors, .h5 or .hdf5, or --format") from None


def metadata(plan: Plan, tensors: list[TensorPlan]) -> dict[str, str]:
    """What a file made by initgen records: enough to regenerate every tensor in it."""
    from .sampling import STREAM_DOC, STREAM_VERSION

    per_tensor = {t.name: {k: v for k, v in t.to_json().items() if k not in ("name", "shape", "dtype")}
                  for t in tensors}
    return {
        "format": "pt",
        "initgen.version": __version__,
        "initgen.spec": plan.name,
        "initgen.seed": str(plan.seed),
        "initgen.stream": STREAM_VERSION,
        "initgen.stream_doc": STREAM_DOC,
        "initgen.tensors": json.dumps(per_tensor, sort_keys=True, separators=(",", ":")),
    }


def _check_platform() -> None:
    if sys.byteorder != "little":
        raise UsageError("initgen writes little-endian files and runs only on little-endian machines")


def _run(writer: SafetensorsWriter | HDF5Writer, tensors: list[TensorPlan], seed: int,
         threads: int | None, progress: Callable[[int], None] | None) -> None:
    from .engine import generate

    try:
        generate(tensors, seed, writer.write, threads, progress, ordered=writer.ordered,
                 processes=getattr(writer, "forkable", False), place=getattr(writer, "place", None))
    finally:
        writer.close()


def write(plan: Plan, out: Path, *, fmt: str | None = None, force: bool = False,
          threads: int | None = None, progress: Callable[[int], None] | None = None,
          max_shard_size: int | None = None, shard: tuple[int, int] | None = None,
          direct_io: bool = True) -> Path:
    """Make every tensor of ``plan`` into ``out`` (safetensors or HDF5), atomically.

    With ``max_shard_size`` (bytes), ``out`` is a directory that receives the shards
    and the index; ``shard=(k, n)`` makes only shard ``k`` of ``n`` (and the index).
    ``direct_io``: write safetensors data with ``O_DIRECT`` where the file system
    allows it (``io/direct.py``); the bytes are the same either way.
    """
    _check_platform()
    if max_shard_size is not None or shard is not None:
        return write_sharded(plan, out, max_shard_size, shard, force=force, threads=threads,
                             progress=progress, fmt=fmt, direct_io=direct_io)
    from .io.atomic import Atomic

    kind = output_format(out, fmt)
    tensors = plan.file_order()
    check_output(out, kind, [t.name for t in tensors], plan.nbytes)
    meta = metadata(plan, tensors)
    with Atomic([out], force) as atomic:
        tmp = atomic.tmp(out)
        if kind == "safetensors":
            from .io.safetensors import SafetensorsWriter

            writer: SafetensorsWriter | HDF5Writer = SafetensorsWriter(tmp, tensors, meta, direct_io)
        else:
            from .io.hdf5 import HDF5Writer

            writer = HDF5Writer(tmp, tensors, meta)
        _run(writer, tensors, plan.seed, threads, progress)
        atomic.commit()
    return out


def shard_files(plan: Plan, max_shard_size: int) -> list[tuple[str, list[TensorPlan]]]:
    """(file name, tensors) of every shard of ``plan``: a pure function of the plan."""
    from .io.index import Sharding, assign

    sharding = Sharding(assign(plan.file_order(), max_shard_size))
    return list(zip(sharding.names(), sharding.shards))


def sharded_nbytes(plan: Plan, max_shard_size: int | None, shard: tuple[int, int] | None) -> int:
    """Bytes of tensor data a (possibly one-shard) run writes: the progress total."""
    if shard is None or max_shard_size is None:
        return plan.nbytes
    files = shard_files(plan, max_shard_size)
    k = shard[0]
    return sum(t.nbytes for t in files[k - 1][1]) if k <= len(files) else 0


def write_sharded(plan: Plan, outdir: Path, max_shard_size: int | None,
                  shard: tuple[int, int] | None = None, *, force: bool = False,
                  threads: int | None = None, progress: Callable[[int], None] | None = None,
                  fmt: str | None = None, direct_io: bool = True) -> Path:
    """Shards of ``plan`` and ``model.safetensors.index.json`` into directory ``outdir``."""
    from .io.atomic import Atomic
    from .io.index import INDEX_NAME, Sharding, assign
    from .io.safetensors import SafetensorsWriter

    if max_shard_size is None:
        raise UsageError("--shard needs --max-shard-size: the shard boundaries depend on it")
    if fmt not in (None, "safetensors"):
        raise UsageError("--max-shard-size writes safetensors shards; HDF5 output is one file")
    if outdir.suffix.lower() in FORMATS:
        raise UsageError(f"{outdir}: with --max-shard-size, -o names a directory "
                         f"(e.g. -o {outdir.with_suffix('')}/); the shards are named "
                         "model-00001-of-0000N.safetensors")
    if outdir.exists() and not outdir.is_dir():
        raise UsageError(f"{outdir}: is not a directory")
    sharding = Sharding(assign(plan.file_order(), max_shard_size))
    names = sharding.names()
    todo = list(range(1, sharding.n + 1))
    if shard is not None:
        k, n = shard
        if n != sharding.n:
            raise UsageError(f"--shard {k}/{n}: with --max-shard-size {max_shard_size} bytes "
                             f"this model has {sharding.n} shard(s), not {n}")
        todo = [k]
    index = sharding.index_bytes() if sharding.n > 1 else None
    index_path = outdir / INDEX_NAME
    # Shards made on several machines each bring the same index: an identical one is
    # left as it is, not an error.
    write_index = index is not None and not (
        shard is not None and index_path.is_file() and index_path.read_bytes() == index)
    check_output(outdir, "safetensors", [t.name for t in plan.tensors],
                 sum(t.nbytes for k in todo for t in sharding.shards[k - 1]))
    created = not outdir.exists()
    if created:
        if not outdir.parent.is_dir():
            raise UsageError(f"{outdir}: the directory {outdir.parent} does not exist")
        outdir.mkdir()
    targets = [outdir / names[k - 1] for k in todo] + ([index_path] if write_index else [])
    # A full run replaces the whole checkpoint: files of another sharding left beside
    # it would be loaded instead (Transformers reads model.safetensors before an index).
    stale = [] if shard is not None else _stale_layout(outdir, {p.name for p in targets})
    if stale and not force:
        raise UsageError(f"{outdir}: already holds {stale[0].name}"
                         f"{f' and {len(stale) - 1} more checkpoint file(s)' if len(stale) > 1 else ''}"
                         "; use --force to replace the checkpoint")
    try:
        with Atomic(targets, force) as atomic:
            for k in todo:
                tensors = sharding.shards[k - 1]
                tmp = atomic.tmp(outdir / names[k - 1])
                writer = SafetensorsWriter(tmp, tensors, metadata(plan, tensors), direct_io)
                _run(writer, tensors, plan.seed, threads, progress)
            if write_index:
                atomic.tmp(index_path).write_bytes(index)  # type: ignore[arg-type]
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


def _stale_layout(outdir: Path, keep: set[str]) -> list[Path]:
    """Checkpoint files in ``outdir`` (initgen's and Transformers' names) not in ``keep``."""
    import re

    from .io.index import INDEX_NAME, SINGLE_NAME

    if not outdir.is_dir():
        return []
    return sorted(p for p in outdir.iterdir() if p.name not in keep and (
        p.name in (SINGLE_NAME, INDEX_NAME)
        or re.fullmatch(r"model-\d{5}-of-\d{5}\.safetensors", p.name)))
