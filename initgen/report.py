"""Rendering of plans and statistics: rich tables for people, JSON and Markdown for
programs and documents."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

FORMATS = ("table", "json", "markdown")


def fmt_num(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1000
    raise AssertionError


def render(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str,
           data: Any, footer: Sequence[Any] | None = None) -> str | None:
    """Render ``rows`` as a table or markdown, or ``data`` as JSON.

    For ``table`` the rich table is printed to stdout here and None is returned.
    """
    if fmt == "json":
        return json.dumps(data, indent=2, allow_nan=False, default=str)
    cells = [[fmt_num(c) for c in row] for row in rows]
    if fmt == "markdown":
        lines = [f"### {title}", "", "| " + " | ".join(columns) + " |",
                 "|" + "|".join("---" for _ in columns) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in cells]
        if footer:
            lines.append("| " + " | ".join(fmt_num(c) for c in footer) + " |")
        return "\n".join(lines)
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_footer=bool(footer))
    for i, col in enumerate(columns):
        right = i > 0 and col not in ("shape", "dtype", "scheme", "layer")
        table.add_column(col, justify="right" if right else "left",
                         footer=fmt_num(footer[i]) if footer else "")
    from rich.text import Text

    for r in cells:  # plain text: a cell such as "[a, b]" is not rich markup
        table.add_row(*(Text(c) for c in r))
    import sys

    # Piped output is for logs and CI: no width limit, no box drawing.
    tty = sys.stdout.isatty()
    if not tty:
        from rich import box

        table.box = box.ASCII2
    Console(soft_wrap=False, width=None if tty else 240).print(table)
    return None


def stats_view(fs: Any, fmt: str) -> str | None:
    cols = ["tensor", "shape", "dtype", "mean", "std", "min", "max", "scheme", "expected std"]
    rows = [[t.name, "×".join(map(str, t.shape)) or "scalar", t.dtype, t.mean, t.std, t.min, t.max,
             t.scheme, t.expected_std] for t in fs.tensors]
    footer = [f"{len(fs.tensors)} tensors", f"{fs.params:,} params", "", "", "", "", "", "", ""]
    return render(fs.file, cols, rows, fmt, _finite(fs.to_json()), footer)


def plan_view(plan: Any, fmt: str) -> str | None:
    cols = ["tensor", "shape", "dtype", "scheme", "fan_in", "fan_out", "expected std", "bytes"]
    rows = [[t.name, "×".join(map(str, t.shape)), t.dtype, t.scheme, t.fan_in, t.fan_out,
             t.dist.std, human_bytes(t.nbytes)] for t in plan.tensors]
    footer = [f"{len(plan.tensors)} tensors", f"{plan.params:,} params", "", "", "", "", "",
              human_bytes(plan.nbytes)]
    return render(f"{plan.name} (seed {plan.seed})", cols, rows, fmt, plan.to_json(), footer)


def _finite(obj: Any) -> Any:
    """JSON has no NaN/Infinity: write them as strings "nan", "inf", "-inf"."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj
