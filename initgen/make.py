"""Spec → file: plan, generate and write atomically. The library behind `initgen make`."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .errors import UsageError
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
    """What a file made by initgen records: enough to regenerate every tensor."""
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


def write(plan: Plan, out: Path, *, fmt: str | None = None, force: bool = False,
          threads: int | None = None, progress: Callable[[int], None] | None = None) -> Path:
    """Make every tensor of ``plan`` into ``out`` (safetensors or HDF5), atomically."""
    from .engine import generate
    from .io.atomic import Atomic

    if sys.byteorder != "little":
        raise UsageError("initgen writes little-endian files and runs only on little-endian machines")
    kind = output_format(out, fmt)
    tensors = plan.file_order()
    meta = metadata(plan, tensors)
    with Atomic([out], force) as atomic:
        tmp = atomic.tmp(out)
        if kind == "safetensors":
            from .io.safetensors import SafetensorsWriter

            writer: SafetensorsWriter | HDF5Writer = SafetensorsWriter(tmp, tensors, meta)
        else:
            from .io.hdf5 import HDF5Writer

            writer = HDF5Writer(tmp, tensors, meta)
        try:
            generate(tensors, plan.seed, writer.write, threads, progress)
        finally:
            writer.close()
        atomic.commit()
    return out
