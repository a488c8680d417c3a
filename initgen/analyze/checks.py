"""Checks that gate a pipeline: `initgen stats --check` and `--expect` rules.

``--check`` fails a tensor that holds NaN or ±Inf, and — for files made by initgen,
which record each tensor's distribution — a tensor whose mean or std departs from
the recorded expectation by more than a tolerance derived from its size and dtype:

* sampling: ``Z`` standard errors. The mean's is σ/√n; the std's is
  σ·√((κ−1)/(4n)) for a distribution of kurtosis κ (``KURTOSIS``), plus σ/n for the
  bias of the population std of a small sample.
* rounding to the stored dtype: rounding to nearest moves each value by at most
  u·|x| + δ (u the unit roundoff, δ half the smallest subnormal), so the mean and
  the std each move by at most u·rms + δ, rms = √(σ² + μ²). This is what lets
  bfloat16 and float8 files pass without loosening the float32 ones.
* deterministic kinds (constant, identity, dirac) have no sampling term at all.

Rules (``--expect 'GLOB:std=0.02±5%,mean=0±0.001'``) are for any file: KEY OP VALUE
with an optional ±tolerance (absolute, or % of VALUE).
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..errors import UsageError, one_of
from .stats import FileStats, TensorStats
from .tables import QUANTILES

Z = 6.0  # standard errors: a false alarm about once in 5·10⁸ checks

# Kurtosis of each recorded sampler kind (or an upper bound of it), from its params.
KURTOSIS: dict[str, Callable[[Mapping[str, Any]], float]] = {
    "normal": lambda p: 3.0,
    "uniform": lambda p: 1.8,
    "truncated_normal": lambda p: _truncated_kurtosis(p),
    "orthogonal": lambda p: 3.0,  # entries of a random orthogonal matrix: nearly normal
    # zero-inflated normal: a fraction f of N(0, s²) values, the rest 0 → 3/f
    "sparse": lambda p: 3.0 / max(1e-9, 1.0 - float(p.get("sparsity", 0.0))),
}


def _truncated_kurtosis(p: Mapping[str, Any]) -> float:
    """Truncating N(m, s²) symmetrically about m only lowers its kurtosis (≤ 3); an
    interval off-centre (torch's absolute a, b) can raise it (≈ 6.3 at 1% of the mass
    in one tail), so those get the generous bound."""
    try:
        off = abs((float(p["a"]) - float(p["mean"])) + (float(p["b"]) - float(p["mean"])))
        symmetric = off <= 1e-9 * max(1.0, abs(float(p["std"])))
    except (KeyError, TypeError, ValueError):
        symmetric = False
    return 3.0 if symmetric else UNKNOWN_KURTOSIS


EXACT_KINDS = {
    "constant",
    "identity",
    "dirac",
    "constant_slice",
}  # values fixed by the plan: no sampling error
UNKNOWN_KURTOSIS = 10.0  # kinds this table does not know yet: a generous bound


@dataclass(frozen=True)
class Failure:
    tensor: str
    reason: str

    def __str__(self) -> str:
        return f"{self.tensor}: {self.reason}"


def rounding(dtype: str) -> tuple[float, float]:
    """(unit roundoff u, half the smallest subnormal δ) of a float dtype."""
    from ..dtypes import np_dtype

    try:
        import ml_dtypes

        fi = ml_dtypes.finfo(np_dtype(dtype))
    except (TypeError, ValueError):
        return 0.0, 0.0  # integers and bool: stored exactly
    return float(fi.eps) / 2, float(fi.smallest_subnormal) / 2


def tolerances(t: TensorStats, params: Mapping[str, Any] | None = None) -> tuple[float, float]:
    """Allowed |mean − expected| and |std − expected| for tensor ``t``."""
    mu, sigma = t.expected_mean or 0.0, t.expected_std or 0.0
    n = max(t.count - t.nan - t.inf, 1)
    u, delta = rounding(t.dtype)
    rms = math.sqrt(sigma * sigma + mu * mu)
    fp = 1e-9 * rms + 1e-300  # float64 accumulation
    dtype_term = u * rms + delta + fp
    if t.kind in EXACT_KINDS:
        return dtype_term, dtype_term
    kappa = KURTOSIS.get(t.kind or "", lambda p: UNKNOWN_KURTOSIS)(params or {})
    mean_tol = Z * sigma / math.sqrt(n) + dtype_term
    std_tol = Z * sigma * math.sqrt(max(kappa - 1, 0.0) / (4 * n)) + sigma / n + dtype_term
    return mean_tol, std_tol


def check_stats(fs: FileStats, plans: Mapping[str, Mapping[str, Any]] | None = None) -> list[Failure]:
    """Every tensor that fails ``--check``, with the reason."""
    plans = plans or {}
    out = []
    for t in fs.tensors:
        if t.nan or t.inf:
            out.append(Failure(t.name, f"{t.nan:,} NaN and {t.inf:,} Inf values"))
            continue
        if t.expected_std is None or t.mean is None or t.std is None:
            continue
        params = (plans.get(t.name, {}).get("dist") or {}).get("params", {})
        mean_tol, std_tol = tolerances(t, params)
        n = t.count
        mu, sigma = t.expected_mean or 0.0, t.expected_std
        why = f"tolerance ±{{tol:.3g}} for {n:,} {t.dtype} values of {t.scheme or t.kind}"
        if abs(t.std - sigma) > std_tol:
            ratio = f" ({t.std / sigma:.3g}× expected)" if sigma else ""
            out.append(
                Failure(
                    t.name,
                    f"std {t.std:.6g} departs from the expected {sigma:.6g}"
                    f"{ratio}; " + why.format(tol=std_tol),
                )
            )
        if abs(t.mean - mu) > mean_tol:
            out.append(
                Failure(
                    t.name,
                    f"mean {t.mean:.6g} departs from the expected {mu:.6g}; " + why.format(tol=mean_tol),
                )
            )
    return out


# --- --expect rules ------------------------------------------------------------------


def _quantile(t: TensorStats, key: str) -> float | None:
    return (t.quantiles or {}).get(key)


KEYS: dict[str, Callable[[TensorStats], float | None]] = {
    "mean": lambda t: t.mean,
    "std": lambda t: t.std,
    "min": lambda t: t.min,
    "max": lambda t: t.max,
    "absmax": lambda t: t.absmax,
    "zeros": lambda t: t.zero_fraction,
    "nan": lambda t: float(t.nan),
    "inf": lambda t: float(t.inf),
    **{key: partial(_quantile, key=key) for key, _, _ in QUANTILES},
}
OPS: dict[str, Callable[[float, float, float], bool]] = {
    "=": lambda v, x, tol: abs(v - x) <= tol,
    "<=": lambda v, x, tol: v <= x + tol,
    ">=": lambda v, x, tol: v >= x - tol,
    "<": lambda v, x, tol: v < x,
    ">": lambda v, x, tol: v > x,
}
_COND = re.compile(
    r"^\s*(?P<key>[a-z][a-z0-9.]*?)\s*(?P<op><=|>=|=|<|>)\s*(?P<value>[-+0-9.eE]+|nan|inf)"
    r"\s*(?:(?:±|\+-|\+/-)\s*(?P<tol>[0-9.eE+-]+)\s*(?P<pct>%)?)?\s*$"
)


@dataclass(frozen=True)
class Condition:
    key: str
    op: str
    value: float
    tol: float  # absolute
    text: str


@dataclass(frozen=True)
class Rule:
    glob: str
    conditions: tuple[Condition, ...]
    text: str


def parse_rule(text: str) -> Rule:
    """``'h.*.weight:std=0.02±5%,mean=0±0.001'`` → a Rule; UsageError if malformed."""
    glob, sep, rest = text.rpartition(":")
    if not sep or not glob or not rest.strip():
        raise UsageError(
            f"--expect '{text}': expected GLOB:KEY=VALUE[±TOL[%]], e.g. 'h.*.weight:std=0.02±5%'"
        )
    conds = []
    for part in rest.split(","):
        m = _COND.match(part)
        if not m:
            raise UsageError(
                f"--expect '{text}': cannot read '{part.strip()}'; expected KEY OP VALUE"
                f"[±TOL[%]] with KEY one of {one_of(KEYS)} and OP one of =, <=, >=, <, >"
            )
        if m["key"] not in KEYS:
            raise UsageError(f"--expect '{text}': unknown key '{m['key']}'; known: {one_of(KEYS)}")
        try:
            value = float(m["value"])
            tol = float(m["tol"]) if m["tol"] else 0.0
        except ValueError:
            raise UsageError(f"--expect '{text}': '{part.strip()}' has a malformed number") from None
        if tol < 0:
            raise UsageError(f"--expect '{text}': '{part.strip()}' has a negative tolerance")
        if m["pct"]:
            tol = abs(value) * tol / 100
        conds.append(Condition(m["key"], m["op"], value, tol, part.strip()))
    return Rule(glob.strip(), tuple(conds), text)


def _shown(v: float, c: Condition) -> str:
    """``v`` in 6 digits, or in full where those would seem to pass (a float32 0.1 is
    0.10000000149011612, which fails ``=0.1``: 0.1 would not explain why)."""
    short = f"{v:.6g}"
    return repr(v) if OPS[c.op](float(short), c.value, c.tol) else short


def rule_matches(fs: FileStats, rules: list[Rule]) -> set[str]:
    """The names of the tensors that at least one rule applies to."""
    return {t.name for r in rules for t in fs.tensors if fnmatch.fnmatchcase(t.name, r.glob)}


def check_rules(fs: FileStats, rules: list[Rule]) -> list[Failure]:
    out = []
    for rule in rules:
        matched = [t for t in fs.tensors if fnmatch.fnmatchcase(t.name, rule.glob)]
        if not matched:
            out.append(Failure(rule.glob, f"no tensor matches (--expect '{rule.text}')"))
        for t in matched:
            for c in rule.conditions:
                v = KEYS[c.key](t)
                if v is None or not OPS[c.op](v, c.value, c.tol):
                    shown = "none (no finite values)" if v is None else _shown(v, c)
                    out.append(Failure(t.name, f"{c.key} {shown} fails {c.text} (--expect '{rule.text}')"))
    return out
