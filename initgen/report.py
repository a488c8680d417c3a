"""Rendering of plans and statistics: rich tables for people, JSON, CSV and Markdown
for programs and documents."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from .errors import OutputLost, one_line
from .units import format_bytes


def fmt_num(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def render(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fmt: str,
    data: Any,
    footer: Sequence[Any] | None = None,
) -> str | None:
    """Render ``rows`` as a table or markdown, or ``data`` as JSON.

    For ``table`` the rich table is printed to stdout here and None is returned.
    """
    if fmt == "json":
        return json.dumps(data, indent=2, allow_nan=False, default=str)
    if fmt == "csv":  # full precision, no footer: one header line and one line per row
        import csv
        import io

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(columns)
        w.writerows(
            [["" if c is None else repr(c) if isinstance(c, float) else c for c in row] for row in rows]
        )
        return buf.getvalue().rstrip("\n")
    # a name's newlines, tabs and escape sequences shown as escapes: one line per row
    title = one_line(title)
    cells = [[one_line(fmt_num(c)) for c in row] for row in rows]
    if fmt == "markdown":

        def md(cells: Sequence[str]) -> str:
            return "| " + " | ".join(c.replace("\\", "\\\\").replace("|", "\\|") for c in cells) + " |"

        lines = [f"### {title}", "", md(columns), "|" + "|".join("---" for _ in columns) + "|"]
        lines += [md(r) for r in cells]
        if footer:
            lines.append(md([fmt_num(c) for c in footer]))
        return "\n".join(lines)
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_footer=bool(footer))
    for i, col in enumerate(columns):
        right = i > 0 and col not in ("shape", "dtype", "scheme", "layer", "histogram")
        table.add_column(
            col, justify="right" if right else "left", footer=fmt_num(footer[i]) if footer else ""
        )
    from rich.text import Text

    for r in cells:  # plain text: a cell such as "[a, b]" is not rich markup
        table.add_row(*(Text(c) for c in r))
    import sys

    # Piped output is for logs and CI: no width limit, no box drawing.
    tty = sys.stdout.isatty()
    if not tty:
        from rich import box

        table.box = box.ASCII2
    try:
        Console(soft_wrap=False, width=None if tty else 240).print(table)
    except OSError as e:
        raise OutputLost(e) from None
    return None


SPARK = " ▁▂▃▄▅▆▇█"  # an empty bin is blank, any other at least ▁


def sparkline(hist: dict[str, Any] | None, width: int = 16) -> str:
    """A histogram's counts as block characters, ``width`` wide (bins merged in runs)."""
    if not hist:
        return ""
    counts = hist["counts"]
    per = max(1, len(counts) // width)
    merged = [sum(counts[i : i + per]) for i in range(0, len(counts), per)]
    top = max(merged) or 1
    return "".join(SPARK[0] if c == 0 else SPARK[1 + min(7, (c * 8 - 1) // top)] for c in merged)


def shape_text(shape: list[int]) -> str:
    return "×".join(map(str, shape)) or "scalar"


STATS_COLUMNS = [
    "tensor",
    "shape",
    "dtype",
    "mean",
    "std",
    "min",
    "max",
    "p1",
    "p50",
    "p99",
    "absmax",
    "zeros",
    "nan/inf",
    "histogram",
    "scheme",
    "expected std",
]


def _row(t: Any, fmt: str, members: int | None = None) -> list[Any]:
    shape = (
        shape_text(t.shape)
        if members is None
        else f"{members} × {shape_text(t.shape)}"
        if t.shape
        else f"{members} tensors"
    )
    if fmt == "csv":
        zeros: Any = t.zero_fraction
        nan_inf: Any = t.nan + t.inf
        hist: Any = " ".join(map(str, t.hist["counts"])) if t.hist else None
    else:
        zeros = None if t.zero_fraction is None else f"{100 * t.zero_fraction:.3g}%"
        nan_inf = f"{t.nan}/{t.inf}" if t.nan or t.inf else ""
        hist = sparkline(t.hist)
    return [
        t.name,
        shape,
        t.dtype,
        t.mean,
        t.std,
        t.min,
        t.max,
        *_pcts(t),
        t.absmax,
        zeros,
        nan_inf,
        hist,
        t.scheme,
        t.expected_std,
    ]


def _pcts(t: Any) -> list[Any]:
    q = t.quantiles or {}
    return [q.get("p1"), q.get("p50"), q.get("p99")]


def stats_view(
    fs: Any,
    fmt: str,
    *,
    groups: list[Any] | None = None,
    failures: list[Any] | None = None,
    checked: bool = False,
) -> str | None:
    """Per-tensor rows, or per-group rows when ``groups`` is given (JSON always holds
    every tensor, plus ``groups`` and ``check`` when present; see docs/stats.md)."""
    data = fs.to_json()
    if groups is not None:
        data["groups"] = [
            {
                "pattern": g.stats.name,
                "members": g.members,
                **{k: v for k, v in vars(g.stats).items() if k != "name"},
            }
            for g in groups
        ]
        rows = [_row(g.stats, fmt, g.members) for g in groups]
    else:
        rows = [_row(t, fmt) for t in fs.tensors]
    if checked:
        data["check"] = {
            "passed": not failures,
            "failures": [{"tensor": f.tensor, "reason": f.reason} for f in failures or []],
        }
    dtypes = ", ".join(f"{k}×{v}" for k, v in fs.dtypes().items())
    footer = [
        f"{len(fs.tensors)} tensors",
        f"{fs.params:,} params",
        dtypes,
        *[""] * 10,
        format_bytes(fs.nbytes),
        "",
        "",
    ]
    return render(fs.file, STATS_COLUMNS, rows, fmt, finite_json(data), footer)


def plan_view(plan: Any, fmt: str) -> str | None:
    cols = ["tensor", "shape", "dtype", "scheme", "from", "fan_in", "fan_out", "expected std", "bytes"]
    rows = [
        [
            t.name,
            shape_text(list(t.shape)),
            t.dtype,
            t.scheme,
            t.source,
            t.fan_in,
            t.fan_out,
            t.dist.std,
            format_bytes(t.nbytes),
        ]
        for t in plan.tensors
    ]
    footer = [
        f"{len(plan.tensors)} tensors",
        f"{plan.params:,} params",
        "",
        "",
        "",
        "",
        "",
        "",
        format_bytes(plan.nbytes),
    ]
    data = plan.to_json()
    for t, row in zip(plan.tensors, data["tensors"]):
        row["from"] = t.source
    return render(f"{plan.name} (seed {plan.seed})", cols, rows, fmt, data, footer)


def finite_json(obj: Any) -> Any:
    """JSON has no NaN/Infinity: write them as strings "nan", "inf", "-inf"."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [finite_json(v) for v in obj]
    return obj
