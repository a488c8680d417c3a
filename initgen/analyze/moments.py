"""Mergeable moments: :class:`Partial` is the count, mean, M2, extremes and special
counts of part of a tensor; partials merge with Chan et al.'s update in any grouping
to those of the whole (merged in chunk order, the sums do not depend on threads)."""

from __future__ import annotations

import math
from dataclasses import dataclass

HIST_BINS = 32


@dataclass
class Partial:
    """Accumulated statistics of part of a tensor (one block, chunk, or a merge)."""

    n: int = 0  # finite values
    mean: float = 0.0
    m2: float = 0.0
    zeros: int = 0
    nan: int = 0
    inf: int = 0
    lo: float = math.inf  # finite min and max
    hi: float = -math.inf

    def merge(self, o: Partial) -> Partial:
        """Chan et al.'s update: combine (n, mean, M2) of two disjoint parts."""
        n = self.n + o.n
        if not self.n:
            self.mean, self.m2 = o.mean, o.m2
        elif o.n:
            d = o.mean - self.mean
            self.mean += d * o.n / n
            self.m2 += o.m2 + d * d * self.n * o.n / n
        self.n = n
        self.zeros += o.zeros
        self.nan += o.nan
        self.inf += o.inf
        self.lo = min(self.lo, o.lo)
        self.hi = max(self.hi, o.hi)
        return self
