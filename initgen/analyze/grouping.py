"""Aggregate tensor statistics by layer pattern: ``h.0.attn.c_attn.weight`` and
``h.11.attn.c_attn.weight`` are both ``h.*.attn.c_attn.weight``.

A pattern replaces every dotted name component made only of digits by ``*``, so
repeated blocks fold together while ``fc1`` or ``weight_ih_l0`` stay as they are.
Moments merge exactly (Chan's update over each tensor's count, mean and M2).
When the members share a dtype (or are all float32 and wider), their counted codes
(buckets) are added, so the group's histogram and quantiles are those of all its
values together, with the same exactness as a tensor's; otherwise the quantiles
are ``None`` and the histogram re-bins each tensor's bins by their centres onto the
group's [min, max] (exact in total, close enough to draw).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from .moments import Partial
from .stats import HIST_BINS, TensorStats
from .tables import TABLE_DTYPES, coarse_table, exact_table, summarize

Tables = dict[str, tuple[np.ndarray, np.ndarray]]

T = TypeVar("T")


def pattern(name: str) -> str:
    """A tensor name with its numeric parts made ``*``: the layer pattern it belongs to.

    >>> pattern("transformer.h.11.mlp.c_fc.weight")
    'transformer.h.*.mlp.c_fc.weight'
    """
    return ".".join("*" if part.isdigit() else part for part in name.split("."))


@dataclass
class Group:
    stats: TensorStats  # name = the pattern; shape = the members' shape if they all share it
    members: int


def _same(values: list[T]) -> T | None:
    return values[0] if all(v == values[0] for v in values) else None


def aggregate(pat: str, members: list[TensorStats], tables: Tables | None = None) -> Group:
    acc = Partial()  # moments merge as chunks of one tensor do: Chan's update
    zeros = 0.0
    lo, hi = math.inf, -math.inf
    for t in members:
        k = t.count - t.nan - t.inf
        if not k or t.mean is None or t.std is None:
            continue
        acc.merge(Partial(k, t.mean, t.std * t.std * k))
        zeros += (t.zero_fraction or 0.0) * k
        lo, hi = min(lo, t.min if t.min is not None else lo), max(hi, t.max if t.max is not None else hi)
    n, mean, m2 = acc.n, acc.mean, acc.m2
    hist = None
    if n:
        counts = [0] * HIST_BINS
        width = hi - lo
        for t in members:
            if not t.hist:
                continue
            tlo, thi, tc = t.hist["min"], t.hist["max"], t.hist["counts"]
            for i, c in enumerate(tc):
                if not c:
                    continue
                centre = tlo + (thi - tlo) * (i + 0.5) / len(tc) if thi > tlo else tlo
                j = (
                    HIST_BINS // 2
                    if width <= 0
                    else min(int((centre - lo) / width * HIST_BINS), HIST_BINS - 1)
                )
                counts[j] += c
        hist = {"min": lo, "max": hi, "counts": counts}
    quantiles = None
    kinds = {t.dtype if t.dtype in TABLE_DTYPES else "" for t in members}
    if n and tables and len(kinds) == 1 and all(t.name in tables for t in members):
        kind = kinds.pop()
        table = exact_table(kind) if kind else coarse_table()
        dense = np.zeros(table.values.size, dtype=np.int64)
        for t in members:
            codes, c = tables[t.name]
            dense[codes] += c
        s = summarize(table, dense, lo, hi)
        hist, quantiles = {"min": lo, "max": hi, "counts": s.hist}, s.quantiles
    shape = _same([t.shape for t in members])
    dtypes = sorted({t.dtype for t in members})
    stats = TensorStats(
        pat,
        list(shape) if isinstance(shape, list) else [],
        "/".join(dtypes),
        sum(t.count for t in members),
        sum(t.bytes for t in members),
        mean if n else None,
        math.sqrt(m2 / n) if n else None,
        lo if n else None,
        hi if n else None,
        max(abs(lo), abs(hi)) if n else None,
        zeros / n if n else None,
        sum(t.nan for t in members),
        sum(t.inf for t in members),
        hist,
        _same([t.scheme for t in members]),
        _same([t.expected_mean for t in members]),
        _same([t.expected_std for t in members]),
        _same([t.kind for t in members]),
        quantiles,
    )
    return Group(stats, len(members))


def group_stats(tensors: list[TensorStats], tables: Tables | None = None) -> list[Group]:
    """Groups in order of first appearance; ``tables`` (``FileStats.tables``) gives
    them exact histograms and quantiles."""
    by: dict[str, list[TensorStats]] = {}
    for t in tensors:
        by.setdefault(pattern(t.name), []).append(t)
    return [aggregate(p, ms, tables) for p, ms in by.items()]
