"""What every writer shares: the output format from a file name, the metadata a file
records, the pre-flight checks, and the loop that feeds a writer from the engine."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import PurePath
from typing import TYPE_CHECKING

from .. import __version__
from ..errors import UsageError
from ..plan import DEFAULT_MAX_BYTES, Plan, TensorPlan, check_plan

if TYPE_CHECKING:
    from .hdf5 import HDF5Writer
    from .safetensors import SafetensorsWriter
    from .stream import StreamWriter


FORMATS = {".safetensors": "safetensors", ".h5": "hdf5", ".hdf5": "hdf5"}


def output_format(path: PurePath, fmt: str | None = None) -> str:
    if fmt:
        return fmt
    if path.name.lower().endswith((".weights.h5", ".weights.json")):
        return "keras"
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise UsageError(
            f"{path}: cannot tell the format from the extension '{path.suffix}'; "
            "use .safetensors, .weights.h5 (Keras), .h5 or .hdf5, or --format"
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


def run_writer(
    writer: SafetensorsWriter | HDF5Writer | StreamWriter,
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
            file_order=getattr(writer, "file_order", False),
            raw=True,  # writers write bytes: bfloat16 as bits, without importing ml_dtypes
        )
    finally:
        writer.close()


def preflight(plan: Plan, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """The checks every write runs before any work: the platform and the plan's limits."""
    if sys.byteorder != "little":
        raise UsageError("initgen writes little-endian files and runs only on little-endian machines")
    check_plan(plan, max_bytes)
