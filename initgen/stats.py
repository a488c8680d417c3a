"""Streaming per-tensor statistics over any supported file.

Values are read in chunks of ``CHUNK_VALUES`` and accumulated in float64 with
Chan's parallel update of (count, mean, M2), so memory stays bounded and the std
is accurate even for large tensors.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .io.readers import WeightFile, open_weights

CHUNK_VALUES = 1 << 22


@dataclass
class TensorStats:
    name: str
    shape: list[int]
    dtype: str
    count: int
    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    scheme: str | None = None
    expected_mean: float | None = None
    expected_std: float | None = None


@dataclass
class FileStats:
    file: str
    format: str
    tensors: list[TensorStats]
    metadata: dict[str, str]

    @property
    def params(self) -> int:
        return sum(t.count for t in self.tensors)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "format": self.format,
            "totals": {"tensors": len(self.tensors), "params": self.params},
            "tensors": [asdict(t) for t in self.tensors],
        }


def _accumulate(wf: WeightFile, name: str) -> tuple[int, float, float, float, float]:
    n, mean, m2 = 0, 0.0, 0.0
    lo, hi = math.inf, -math.inf
    for chunk in wf.chunks(name, CHUNK_VALUES):
        x = chunk.astype(np.float64)
        k = x.size
        if not k:
            continue
        cm = float(np.add.reduce(x) / k)
        d = x - cm
        cm2 = float(np.add.reduce(d * d))
        delta = cm - mean
        total = n + k
        mean += delta * k / total
        m2 += cm2 + delta * delta * n * k / total
        n = total
        lo, hi = min(lo, float(x.min())), max(hi, float(x.max()))
    return n, mean, m2, lo, hi


def read_stats(path: str | Path) -> FileStats:
    """Statistics of every tensor in a weight file."""
    with open_weights(path) as wf:
        recorded = _recorded(wf.metadata)
        out = []
        for info in wf.tensors:
            n, mean, m2, lo, hi = _accumulate(wf, info.name)
            rec = recorded.get(info.name, {})
            dist = rec.get("dist", {})
            out.append(TensorStats(
                info.name, list(info.shape), info.dtype, n,
                mean if n else None, math.sqrt(m2 / n) if n else None,
                lo if n else None, hi if n else None,
                rec.get("scheme"), dist.get("mean"), dist.get("std"),
            ))
        return FileStats(str(path), wf.format, out, wf.metadata)


def _recorded(meta: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Per-tensor plans recorded by initgen, if the file has them."""
    try:
        value = json.loads(meta.get("initgen.tensors", "{}"))
        return value if isinstance(value, dict) else {}
    except json.JSONDecodeError:
        return {}
