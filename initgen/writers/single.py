"""Plan → one weight file (safetensors or HDF5), generated and written atomically.

The file is written under a temporary name beside its target and renamed into place
only when it is complete. Sharded checkpoints are :mod:`.sharded`'s.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Union

from .. import __version__
from ..errors import UsageError
from ..plan import DEFAULT_MAX_BYTES, Plan, TensorPlan, check_plan
from ..progress import Counter, Progress
from .targets import check_output

if TYPE_CHECKING:
    from .hdf5 import HDF5Writer
    from .safetensors import SafetensorsWriter

PathLike = Union[str, "os.PathLike[str]"]

FORMATS = {".safetensors": "safetensors", ".h5": "hdf5", ".hdf5": "hdf5"}


def output_format(path: Path, fmt: str | None = None) -> str:
    if fmt:
        return fmt
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise UsageError(
            f"{path}: cannot tell the format from the extension '{path.suffix}'; "
            "use .safetensors, .h5 or .hdf5, or --format"
        ) from None


def metadata(plan: Plan, tensors: list[TensorPlan]) -> dict[str, str]:
    """What a file made by initgen records: enough to regenerate every tensor in it."""
    from ..generate.sampling import STREAM_DOC, STREAM_VERSION

    per_tensor = {
        t.name: {k: v for k, v in t.to_json().items() if k not in ("name", "shape", "dtype")} for t in tensors
    }
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


def run_writer(
    writer: SafetensorsWriter | HDF5Writer,
    tensors: list[TensorPlan],
    seed: int,
    threads: int | None,
    add: Callable[[int], None] | None,
) -> None:
    from ..generate.engine import generate

    try:
        generate(
            tensors,
            seed,
            writer.write,
            threads,
            add,
            ordered=writer.ordered,
            processes=getattr(writer, "forkable", False),
            place=getattr(writer, "place", None),
        )
    finally:
        writer.close()


def preflight(plan: Plan, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """The checks every write runs before any work: the platform and the plan's limits."""
    if sys.byteorder != "little":
        raise UsageError("initgen writes little-endian files and runs only on little-endian machines")
    check_plan(plan, max_bytes)


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
) -> Path:
    """Make every tensor of ``plan`` into ``out``, atomically.

    Args:
        plan: what to make (:func:`initgen.build_plan`).
        out: a ``.safetensors``, ``.h5`` or ``.hdf5`` file; with ``max_shard_size``, a
            directory that receives the shards and ``model.safetensors.index.json``.
        fmt: ``"safetensors"`` or ``"hdf5"`` (default: from the extension).
        force: replace an existing output.
        threads: parallel workers (default: all cores); the bytes do not depend on it.
        progress: called with ``(bytes done, bytes total)`` as data is written.
        max_shard_size: bytes per shard; ``shard=(k, n)`` makes only shard ``k`` of ``n``.
        direct_io: write safetensors data with ``O_DIRECT`` where the file system
            allows it (:mod:`initgen.writers.direct`); the bytes are the same either way.
        max_bytes: refuse a plan that makes more tensor bytes than this.

    Returns:
        The path written.

    Raises:
        SpecError: the plan is over ``max_bytes`` or another limit (nothing is written).
        UsageError: a bad option or target (an existing file without ``force``...).
        OutputError: the output cannot be written (no space, no permission...); no
            partial file is left behind.
    """
    out = Path(out)
    if max_shard_size is not None or shard is not None:
        from .sharded import write_sharded

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
