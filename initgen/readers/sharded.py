"""Sharded safetensors checkpoints read as one file.

A sharded set is ``model-0000k-of-0000n.safetensors`` files plus
``model.safetensors.index.json`` (``{"metadata": {...}, "weight_map": {tensor:
shard file}}``), the layout Transformers writes and reads. Give the index, or the
directory that holds it. Every shard is validated; the weight map must agree with
the shards (each listed tensor in its shard, no tensor in two shards).
Metadata is the index's ``metadata`` merged with the shards' ``__metadata__``;
initgen's per-tensor records (``initgen.tensors``) are merged across shards.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from ..checkpoint import INDEX_NAME, SINGLE_NAME
from ..errors import FileFormatError
from .base import TensorInfo, WeightFile
from .safetensors import SafetensorsFile


def find_index(directory: Path) -> Path:
    """The index file of a checkpoint directory."""
    if (directory / INDEX_NAME).is_file():
        return directory / INDEX_NAME
    found = sorted(directory.glob("*.safetensors.index.json"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise FileFormatError(
            f"{directory}: is a directory without a {SINGLE_NAME} or {INDEX_NAME} "
            "(give a weight file, or a checkpoint directory)"
        )
    names = ", ".join(p.name for p in found)
    raise FileFormatError(f"{directory}: has several indexes ({names}); give one of them")


class ShardedFile(WeightFile):
    format = "safetensors-sharded"

    def __init__(
        self,
        index: Path | str,
        shards: dict[str, SafetensorsFile],
        owner: dict[str, str],
        metadata: dict[str, str],
    ) -> None:
        self.path = index  # type: ignore[assignment]
        self.shards = shards
        self.owner = owner  # tensor → shard file name
        self.metadata = metadata
        self.tensors = [t for name in owner for t in [shards[owner[name]].info(name)]]

    @classmethod
    def open(cls, path: Path) -> ShardedFile:
        index = find_index(path) if path.is_dir() else path

        def shard_file(shard: str) -> SafetensorsFile | None:
            file = index.parent / shard
            return SafetensorsFile(file) if file.is_file() else None

        try:
            text = index.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise FileFormatError(
                f"{index}: not a valid safetensors index: cannot read it as JSON ({e})"
            ) from None
        return cls.from_index(index, text, shard_file)

    @classmethod
    def from_index(
        cls, index: Path | str, text: str, shard_file: Callable[[str], SafetensorsFile | None]
    ) -> ShardedFile:
        """The set described by the index ``text``; ``shard_file(name)`` opens a shard
        beside the index, or gives None if there is none."""

        def bad(msg: str) -> FileFormatError:
            return FileFormatError(f"{index}: not a valid safetensors index: {msg}")

        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise bad(f"cannot read it as JSON ({e})") from None
        wmap = doc.get("weight_map") if isinstance(doc, dict) else None
        if not isinstance(wmap, dict) or not all(isinstance(v, str) for v in wmap.values()):
            raise bad("no 'weight_map' object of tensor name → shard file")
        meta = doc.get("metadata") or {}
        shards: dict[str, SafetensorsFile] = {}
        for shard in dict.fromkeys(wmap.values()):
            if Path(shard).name != shard:
                raise bad(f"shard '{shard}' is not a file name in the index's directory")
            opened = shard_file(shard)
            if opened is None:
                raise bad(f"shard '{shard}' does not exist")
            shards[shard] = opened
        owner: dict[str, str] = {}
        for shard, sf in shards.items():
            for t in sf.tensors:
                if t.name in owner:
                    raise bad(f"tensor '{t.name}' is in both '{owner[t.name]}' and '{shard}'")
                if wmap.get(t.name) != shard:
                    raise bad(
                        f"tensor '{t.name}' is in '{shard}' but the weight map says {wmap.get(t.name)!r}"
                    )
                owner[t.name] = shard
        for name, shard in wmap.items():
            if name not in owner:
                raise bad(f"tensor '{name}' is listed for '{shard}' but that shard does not hold it")
        metadata = {str(k): str(v) for k, v in meta.items()} if isinstance(meta, dict) else {}
        return cls(index, shards, owner, merged_metadata(metadata, shards.values()))

    def info(self, name: str) -> TensorInfo:
        return self.shards[self.owner[name]].info(name)

    def values(self, name: str, start: int, count: int) -> np.ndarray:
        return self.shards[self.owner[name]].values(name, start, count)

    def raw(self, name: str, start: int, count: int) -> np.ndarray:
        return self.shards[self.owner[name]].raw(name, start, count)

    def release(self, name: str, start: int, count: int) -> None:
        self.shards[self.owner[name]].release(name, start, count)

    def close(self) -> None:
        for sf in self.shards.values():
            sf.close()


def merged_metadata(metadata: dict[str, str], shards: Iterable[WeightFile]) -> dict[str, str]:
    """``metadata`` with the shards' own added (the first shard's value of a key wins),
    and initgen's per-tensor records (``initgen.tensors``) merged across shards."""
    records: dict[str, object] = {}
    for sf in shards:
        for k, v in sf.metadata.items():
            if k == "initgen.tensors":
                try:
                    records.update(json.loads(v))
                except (json.JSONDecodeError, TypeError, ValueError):
                    pass
            else:
                metadata.setdefault(k, v)
    if records:
        metadata["initgen.tensors"] = json.dumps(records, sort_keys=True, separators=(",", ":"))
    return metadata
