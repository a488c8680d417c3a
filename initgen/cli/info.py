"""`initgen schemes` and `initgen schema`: reference information."""

from __future__ import annotations

from typing import Any

import click

from .options import emit, format_option


@click.command()
@click.argument("name", required=False)
@format_option()
def schemes(name: str | None, fmt: str) -> None:
    """List every initialization scheme with its aliases, parameters and formula.

    With NAME (a scheme or alias), list that scheme's parameters in full.
    """
    from ..report import render
    from ..schemes import SCHEMES, get_scheme

    chosen = list(SCHEMES.values()) if name is None else [get_scheme(name)]
    data: list[dict[str, Any]] = [
        {
            "name": s.name,
            "aliases": list(s.aliases),
            "formula": s.formula,
            "whole_tensor": s.whole_tensor,
            "frameworks": s.refs,
            "params": [p.to_json() for p in s.all_params],
        }
        for s in chosen
    ]
    if name is not None and fmt != "json":
        s = chosen[0]
        rows = [[p["name"], p["default"], ", ".join(p["choices"]), p["doc"]] for p in data[0]["params"]]
        title = f"{s.name} ({', '.join(s.aliases) or 'no aliases'}): {s.formula}"
        emit(render(title, ["parameter", "default", "choices", "meaning"], rows, fmt, {"schemes": data}))
        return
    rows = [
        [
            d["name"],
            ", ".join(d["aliases"]),
            ", ".join(f"{p['name']}={p['default']}" for p in d["params"]),
            d["formula"],
            d["frameworks"],
        ]
        for d in data
    ]
    emit(
        render(
            "initialization schemes",
            ["scheme", "aliases", "parameters", "formula", "torch / Keras / JAX"],
            rows,
            fmt,
            {"schemes": data},
        )
    )


@click.command()
def schema() -> None:
    """Print the JSON Schema of the spec format (version 1)."""
    import json

    from ..spec.schema import json_schema

    emit(json.dumps(json_schema(), indent=2))


COMMANDS = [schemes, schema]
