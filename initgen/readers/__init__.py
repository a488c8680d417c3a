"""Open any weight file: safetensors (by memory map), HDF5, or a sharded set
(safetensors with its index, Keras ``.weights.h5`` shards with ``NAME.weights.json``).

Every problem with a file is a :class:`~initgen.errors.FileFormatError` naming it.
"""

from __future__ import annotations

from pathlib import Path

from ..checkpoint import SINGLE_NAME
from ..errors import FileFormatError
from ..paths import PathLike
from ..storage import StorageOptions, is_url, protocol
from .base import TensorInfo, WeightFile
from .hdf5 import HDF5File
from .safetensors import SafetensorsFile
from .sharded import ShardedFile

__all__ = ["HDF5File", "SafetensorsFile", "ShardedFile", "TensorInfo", "WeightFile", "open_weights"]

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def open_weights(path: PathLike, storage_options: StorageOptions | None = None) -> WeightFile:
    """Open a safetensors file, an HDF5 file, a sharded safetensors set (its
    ``*.safetensors.index.json`` or the directory holding it), a model directory
    holding ``model.safetensors`` (which is read first, as Transformers loads it), or
    a sharded Keras set (its ``NAME.weights.json``), by content. A URL (``s3://…``,
    any fsspec protocol) is read by range requests (:mod:`.remote`)."""
    if is_url(path):
        url = str(path)
        if protocol(url) != "file":
            from .remote import open_remote

            return open_remote(url, storage_options)
        path = url.split("://", 1)[1]
    path = Path(path)
    if not path.exists():
        raise FileFormatError(f"{path}: no such file or directory")
    if path.name.lower().endswith(".weights.json"):
        from .keras_sharded import open_keras_index

        return open_keras_index(path)
    if path.is_dir() and (path / SINGLE_NAME).is_file():
        path = path / SINGLE_NAME
    elif path.is_dir() or path.name.endswith(".index.json"):
        return ShardedFile.open(path)
    if not path.is_file():
        raise FileFormatError(f"{path}: is not a regular file (a pipe or a device?); give a weight file")
    with open(path, "rb") as f:
        magic = f.read(8)
    if magic == HDF5_MAGIC:
        from .hdf5 import HDF5File

        return HDF5File(path)
    if path.suffix.lower() in (".h5", ".hdf5", ".keras") and not magic.startswith(b"PK"):
        raise FileFormatError(f"{path}: not an HDF5 file (no HDF5 signature)")
    if magic.startswith(b"PK"):
        raise FileFormatError(
            f"{path}: is a zip archive (a .keras or torch file?); "
            "initgen reads safetensors and HDF5 (.h5, .weights.h5)"
        )
    return SafetensorsFile(path)
