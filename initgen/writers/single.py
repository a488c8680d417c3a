"""Plan → one weight file (safetensors or HDF5), generated and written atomically.

The file is written under a temporary name beside its target and renamed into place
only when it is complete. Sharded checkpoints are :mod:`.sharded`'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UsageError
from ..paths import PathLike
from ..plan import DEFAULT_MAX_BYTES, Plan
from ..progress import Counter, Progress
from ..storage import StorageOptions, is_url, protocol
from .common import metadata, output_format, preflight, run_writer
from .keras import is_keras_name
from .remote import write_index_url, write_url
from .sharded import write_index, write_sharded
from .targets import check_output

if TYPE_CHECKING:
    from .hdf5 import HDF5Writer
    from .safetensors import SafetensorsWriter


def write(
    plan: Plan,
    out: PathLike,
    *,
    fmt: str | None = None,
    force: bool = False,
    threads: int | None = None,
    progress: Progress | None = None,
    max_shard_size: int | None = None,
    shard: tuple[int, int] | None = None,
    direct_io: bool = True,
    max_bytes: int = DEFAULT_MAX_BYTES,
    storage_options: StorageOptions | None = None,
    index: bool = True,
    index_only: bool = False,
) -> Path | str:
    """Make every tensor of ``plan`` into ``out``, atomically.

    Args:
        plan: what to make (:func:`initgen.build_plan`).
        out: a ``.safetensors``, ``.h5`` or ``.hdf5`` file; with ``max_shard_size``, a
            directory that receives the shards and ``model.safetensors.index.json``.
            ``NAME.weights.h5`` is a Keras 3 file (:mod:`initgen.writers.keras`), and
            with ``max_shard_size`` its shards beside ``NAME.weights.json``. A URL
            (``s3://bucket/w.safetensors``, any fsspec protocol) writes to object storage
            (safetensors only; needs ``initgen[cloud]``).
        fmt: ``"safetensors"``, ``"hdf5"`` or ``"keras"`` (default: from the name).
        force: replace an existing output.
        threads: parallel workers (default: all cores); the bytes do not depend on it.
        progress: called with ``(bytes done, bytes total)`` as data is written.
        max_shard_size: bytes per shard; ``shard=(k, n)`` makes only shard ``k`` of ``n``.
        direct_io: write safetensors data with ``O_DIRECT`` where the file system
            allows it (:mod:`initgen.writers.direct`); the bytes are the same either way.
        max_bytes: refuse a plan that makes more tensor bytes than this.
        storage_options: fsspec options for a URL (credentials, ``endpoint_url``...).
        index: with ``shard``, also write the index (a Dask client writes it itself).
        index_only: write only the sharded checkpoint's index, once every shard is there.

    Returns:
        The path written (the URL, as given, for object storage).

    Raises:
        SpecError: the plan is over ``max_bytes`` or another limit (nothing is written).
        UsageError: a bad option or target (an existing file without ``force``...).
        OutputError: the output cannot be written (no space, no permission...); no
            partial file is left behind.
    """
    if is_url(out):
        target = str(out)
        if protocol(target) != "file":
            if index_only:
                return write_index_url(plan, target, _need_size(max_shard_size), storage_options)
            return write_url(
                plan,
                target,
                fmt=fmt,
                force=force,
                threads=threads,
                progress=progress,
                max_shard_size=max_shard_size,
                shard=shard,
                storage_options=storage_options,
                max_bytes=max_bytes,
                index=index,
            )
        out = target.split("://", 1)[1]
    out = Path(out)
    if index_only:
        return write_index(plan, out, _need_size(max_shard_size))
    if fmt == "keras" or (fmt is None and is_keras_name(out)):
        from .keras_write import write_keras

        return write_keras(
            plan,
            out,
            max_shard_size,
            shard,
            force=force,
            threads=threads,
            progress=progress,
            max_bytes=max_bytes,
        )
    if max_shard_size is not None or shard is not None:
        return write_sharded(
            plan,
            out,
            max_shard_size,
            shard,
            force=force,
            threads=threads,
            progress=progress,
            fmt=fmt,
            direct_io=direct_io,
            max_bytes=max_bytes,
            index=index,
        )
    preflight(plan, max_bytes)
    from .atomic import Atomic

    kind = output_format(out, fmt)
    tensors = plan.file_order()
    check_output(out, kind, [t.name for t in tensors], plan.nbytes)
    meta = metadata(plan, tensors)
    add = Counter(plan.nbytes, progress).add if progress else None
    with Atomic([out], force) as atomic:
        tmp = atomic.tmp(out)
        if kind == "safetensors":
            from .safetensors import SafetensorsWriter

            writer: SafetensorsWriter | HDF5Writer = SafetensorsWriter(tmp, tensors, meta, direct_io)
        else:
            from .hdf5 import HDF5Writer

            writer = HDF5Writer(tmp, tensors, meta)
        run_writer(writer, tensors, plan.seed, threads, add)
        atomic.commit()
    return out


def _need_size(max_shard_size: int | None) -> int:
    if max_shard_size is None:
        raise UsageError("--index-only needs --max-shard-size: the index depends on it")
    return max_shard_size
