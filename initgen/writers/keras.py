"""Keras 3 ``.weights.h5`` files, and their sharded variant.

The plan comes from :func:`initgen.plan.keras.keras_plan`: each tensor is named by
its dataset path (``layers.dense.vars.0`` is ``/layers/dense/vars/0``). As Keras'
``H5IOStore`` writes them: an empty root group ``/vars``, each ``vars`` group with a
``name`` attribute (here the spec layer's name; Keras ignores it on load), float
datasets as native little-endian IEEE types, and bfloat16 as a 2-byte opaque type with
the string attribute ``dtype = "bfloat16"`` (Keras ≥ 3.1 reads it back as bfloat16).
initgen's own records (seed, stream, each tensor's plan) are attributes of the file
and of each dataset, which Keras does not read, so ``initgen verify`` and ``stats``
work on these files too.

Sharded (``--max-shard-size``): ``NAME_00000.weights.h5``, ``NAME_00001.weights.h5``,
… beside ``NAME.weights.json`` (``{"metadata": {"total_size": bytes}, "weight_map":
{"/layers/dense/vars": ["NAME_00000.weights.h5"]}}``), as Keras'
``ShardedH5IOStore`` writes them; tensors are taken in model order and a new shard
begins when the next tensor would take the current one over the size.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..errors import UsageError
from ..plan import TensorPlan
from .hdf5 import HDF5Writer, storage_dtype

SUFFIX, INDEX_SUFFIX = ".weights.h5", ".weights.json"


def is_keras_name(path: Path) -> bool:
    """Keras' ``load_weights`` reads the new layout only from these names."""
    name = path.name.lower()
    return name.endswith(SUFFIX) or name.endswith(INDEX_SUFFIX)


def keras_storage(dtype: str) -> np.dtype:
    return np.dtype("V2") if dtype == "bfloat16" else storage_dtype(dtype)


class KerasWriter(HDF5Writer):
    """One ``.weights.h5`` file (or shard); ``groups``: each ``vars`` group → its name."""

    def __init__(
        self, path: Path, tensors: list[TensorPlan], metadata: Mapping[str, str], groups: Mapping[str, str]
    ) -> None:
        super().__init__(path, tensors, metadata)
        try:
            root = self.f.require_group("vars")
            root.attrs["name"] = str(metadata.get("initgen.spec", ""))
            for group in sorted({t.name.rpartition(".vars.")[0] + "/vars" for t in tensors}):
                path_ = group.replace(".", "/")
                self.f[path_].attrs["name"] = groups.get(path_, "")
        except BaseException:
            self.f.close()
            raise

    def _create(self, t: TensorPlan) -> None:
        ds = self.f.create_dataset(
            "/" + t.name.replace(".", "/"), shape=t.shape, dtype=keras_storage(t.dtype), track_times=False
        )
        if t.dtype == "bfloat16":
            ds.attrs["dtype"] = "bfloat16"  # a variable-length str: what Keras compares
        self._record(ds, t)


def shard_base(out: Path, max_shard_size: int | None) -> tuple[Path, str]:
    """The directory and NAME of a sharded Keras output ``NAME.weights.h5|json``."""
    name = out.name
    for suffix in (SUFFIX, INDEX_SUFFIX):
        if name.lower().endswith(suffix):
            return out.parent, name[: -len(suffix)]
    raise UsageError(f"{out}: a Keras file is named NAME.weights.h5 (or NAME.weights.json when sharded)")


def keras_shards(tensors: list[TensorPlan], max_shard_size: int) -> list[list[TensorPlan]]:
    """Tensors in model order, a new shard when the next would pass ``max_shard_size``."""
    shards: list[list[TensorPlan]] = [[]]
    size = 0
    for t in tensors:
        if shards[-1] and size + t.nbytes > max_shard_size:
            shards.append([])
            size = 0
        shards[-1].append(t)
        size += t.nbytes
    return shards


def keras_index(base: str, shards: list[list[TensorPlan]]) -> bytes:
    """``NAME.weights.json``: every ``vars`` group → the shard files holding it."""
    weight_map: dict[str, list[str]] = {}
    for k, tensors in enumerate(shards):
        for t in tensors:
            group = "/" + t.name.rpartition(".vars.")[0].replace(".", "/") + "/vars"
            files = weight_map.setdefault(group, [])
            if shard_name(base, k) not in files:
                files.append(shard_name(base, k))
    total = float(sum(t.nbytes for s in shards for t in s))
    doc = {"metadata": {"total_size": total}, "weight_map": weight_map}
    return (json.dumps(doc, indent=4) + "\n").encode()


def shard_name(base: str, k: int) -> str:
    """The file name of shard ``k`` (0-based, as Keras counts).

    >>> shard_name("model", 1)
    'model_00001.weights.h5'
    """
    return f"{base}_{k:05d}{SUFFIX}"
