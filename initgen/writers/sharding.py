"""Sharded safetensors checkpoints: which tensor goes in which file, and the index.

The layout is Transformers' (``save_pretrained(max_shard_size=...)``):
``model-00001-of-00003.safetensors`` … plus ``model.safetensors.index.json`` holding
``{"metadata": {"total_size": N}, "weight_map": {tensor: file}}``, where ``N`` is the
sum of the tensors' byte sizes. A model that fits in one shard is one
``model.safetensors`` and no index (file names: :mod:`initgen.checkpoint`), as Transformers writes it.

Assignment is a pure function of the plan: tensors in file order, greedily — a
tensor starts a new shard when adding it would push the current one past the
limit; a tensor larger than the limit gets a shard of its own. So shard k of n is
the same on every machine, and ``--shard k/n`` can make it alone.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ..checkpoint import shard_name
from ..errors import UsageError
from ..plan import TensorPlan


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/5"`` → (2, 5): make only shard 2 of 5 (1-based)."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise UsageError(f"--shard: '{text}' is not k/n with 1 ≤ k ≤ n (e.g. --shard 2/5)")
    return int(m.group(1)), int(m.group(2))


def assign(tensors: list[TensorPlan], max_bytes: int) -> list[list[TensorPlan]]:
    """Split ``tensors`` (in file order) into shards of at most ``max_bytes`` each."""
    shards: list[list[TensorPlan]] = []
    size = 0
    for t in tensors:
        if not shards or (shards[-1] and size + t.nbytes > max_bytes):
            shards.append([])
            size = 0
        shards[-1].append(t)
        size += t.nbytes
    return shards or [[]]


@dataclass(frozen=True)
class Sharding:
    """Files of a sharded checkpoint: shard file names and their tensors."""

    shards: list[list[TensorPlan]]

    @property
    def n(self) -> int:
        return len(self.shards)

    def names(self) -> list[str]:
        return [shard_name(k, self.n) for k in range(1, self.n + 1)]

    def index_bytes(self) -> bytes:
        """``model.safetensors.index.json``, as Transformers writes it (sorted, indent 2)."""
        weight_map = {t.name: name for name, tensors in zip(self.names(), self.shards) for t in tensors}
        total = sum(t.nbytes for tensors in self.shards for t in tensors)
        doc = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
        return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")
