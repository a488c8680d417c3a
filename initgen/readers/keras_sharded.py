"""A sharded Keras 3 weight set read as one file: ``NAME.weights.json`` (``{"metadata":
{"total_size": ...}, "weight_map": {"/layers/dense/vars": ["NAME_00000.weights.h5"]}}``)
and the ``NAME_0000k.weights.h5`` shards beside it. Tensors are named by their dataset
paths, as in one ``.weights.h5`` file; initgen's per-tensor records are merged across
shards."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import FileFormatError
from .hdf5 import HDF5File
from .sharded import ShardedFile, merged_metadata


def open_keras_index(index: Path) -> ShardedFile:
    def bad(msg: str) -> FileFormatError:
        return FileFormatError(f"{index}: not a valid Keras weights index: {msg}")

    try:
        doc = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise bad(f"cannot read it as JSON ({e})") from None
    wmap = doc.get("weight_map") if isinstance(doc, dict) else None
    if not isinstance(wmap, dict):
        raise bad("no 'weight_map' object of variable group → shard files")
    names: list[str] = []
    for files in wmap.values():
        for f in files if isinstance(files, list) else [files]:
            if not isinstance(f, str) or Path(f).name != f:
                raise bad(f"shard {f!r} is not a file name in the index's directory")
            names.append(f)
    shards: dict[str, HDF5File] = {}
    try:
        for shard in dict.fromkeys(names):
            if not (index.parent / shard).is_file():
                raise bad(f"shard '{shard}' does not exist")
            shards[shard] = HDF5File(index.parent / shard)
    except BaseException:
        for f in shards.values():
            f.close()
        raise
    owner: dict[str, str] = {}
    for shard, hf in shards.items():
        for t in hf.tensors:
            if t.name in owner:
                raise bad(f"tensor '{t.name}' is in both '{owner[t.name]}' and '{shard}'")
            owner[t.name] = shard
    metadata = merged_metadata({}, shards.values())
    out = ShardedFile(index, shards, owner, metadata)  # type: ignore[arg-type]
    out.format = "keras-sharded"
    return out
