"""Plan → weight files: safetensors (single or sharded) and HDF5, written atomically by
streaming, in bounded memory."""

from __future__ import annotations

from .common import FORMATS, metadata, output_format, preflight
from .sharded import shard_files, sharded_tensors, write_model_dir, write_sharded
from .single import write

__all__ = [
    "FORMATS",
    "metadata",
    "output_format",
    "preflight",
    "shard_files",
    "sharded_tensors",
    "write",
    "write_model_dir",
    "write_sharded",
]
