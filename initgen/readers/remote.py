"""Weight files in object storage (any fsspec URL), read by range requests.

The safetensors header is read with two ranged GETs (its length, then the JSON) and
validated exactly as a local file's; each ``values(name, start, count)`` is one
ranged GET of those bytes, so memory is bounded by the ranges the analysis asks
for, never the whole file. A sharded checkpoint is its index (or the prefix holding
it) plus its shards, each opened the same way. HDF5 needs random access that a
range per read makes slow; it is not read from object storage.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..checkpoint import INDEX_NAME, SINGLE_NAME
from ..errors import FileFormatError, InitgenError
from ..storage import StorageOptions, is_store_error, open_store, store_error
from .base import WeightFile
from .safetensors import SafetensorsFile
from .sharded import ShardedFile

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


class RemoteSafetensorsFile(SafetensorsFile):
    """A safetensors object, validated completely when opened, read by ranges."""

    def __init__(self, fs: Any, key: str, url: str) -> None:
        self.path = url  # type: ignore[assignment]
        self.fs, self.key = fs, key
        self._mm = None
        size = fs.size(key)
        self._parse(url, size, lambda offset, n: fs.cat_file(key, start=offset, end=offset + n))

    def _read(self, name: str, start: int, count: int, dt: np.dtype) -> np.ndarray:
        if count == 0:
            return np.empty(0, dtype=dt)
        offset = self.data_start + self.spans[name][0] + start * dt.itemsize
        try:
            raw = self.fs.cat_file(self.key, start=offset, end=offset + count * dt.itemsize)
        except Exception as e:
            if is_store_error(e):
                raise store_error(str(self.path), e, writing=False) from None
            raise
        return np.frombuffer(raw, dtype=dt, count=count)

    def release(self, name: str, start: int, count: int) -> None:
        pass  # nothing is kept


def open_remote(url: str, storage_options: StorageOptions | None = None) -> WeightFile:
    """Open the safetensors object or sharded checkpoint at ``url``."""
    fs, path = open_store(url, storage_options)
    try:
        return _open(fs, url, path.rstrip("/"))
    except InitgenError:
        raise
    except FileNotFoundError as e:
        if "bucket" in str(e).lower():
            raise store_error(url, e, writing=False) from None
        raise FileFormatError(f"{url}: no such file or directory") from None
    except Exception as e:
        if is_store_error(e):
            raise store_error(url, e, writing=False) from None
        raise


def _open(fs: Any, url: str, path: str) -> WeightFile:
    base = url.rstrip("/")
    if not path.endswith(".index.json") and fs.isdir(path) and fs.exists(f"{path}/{SINGLE_NAME}"):
        path, url = f"{path}/{SINGLE_NAME}", f"{base}/{SINGLE_NAME}"
    elif path.endswith(".index.json") or fs.isdir(path):
        index, where = (path, base) if path.endswith(".index.json") else (f"{path}/{INDEX_NAME}", base)
        index_url = url if path.endswith(".index.json") else f"{base}/{INDEX_NAME}"
        parent, parent_url = index.rsplit("/", 1)[0], index_url.rsplit("/", 1)[0]
        if not fs.exists(index):
            raise FileFormatError(
                f"{where}: is a directory without a {SINGLE_NAME} or {INDEX_NAME} "
                "(give a weight file, or a checkpoint directory)"
            )

        def shard_file(shard: str) -> SafetensorsFile | None:
            key = f"{parent}/{shard}"
            return RemoteSafetensorsFile(fs, key, f"{parent_url}/{shard}") if fs.exists(key) else None

        try:
            text = fs.cat_file(index).decode("utf-8")
        except UnicodeDecodeError as e:
            raise FileFormatError(
                f"{index_url}: not a valid safetensors index: cannot read it ({e})"
            ) from None
        return ShardedFile.from_index(index_url, text, shard_file)
    magic = fs.cat_file(path, start=0, end=8)
    if magic == HDF5_MAGIC:
        raise FileFormatError(f"{url}: is HDF5; initgen reads HDF5 from local files only (download it first)")
    if magic.startswith(b"PK"):
        raise FileFormatError(
            f"{url}: is a zip archive (a .keras or torch file?); "
            "initgen reads safetensors and HDF5 (.h5, .weights.h5)"
        )
    return RemoteSafetensorsFile(fs, path, url)
