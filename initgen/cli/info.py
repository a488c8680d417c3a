"""`initgen schemes` and `initgen schema`: reference information."""

from __future__ import annotations

import click

from .options import emit, format_option


@click.command()
@format_option()
def schemes(fmt: str) -> None:
    """List every initialization scheme with its aliases, parameters and formula."""
    from ..report import render
    from ..schemes import SCHEMES

    rows, data = [], []
    for s in SCHEMES.values():
        params = ", ".join(f"{p.name}={p.default}" for p in s.params)
        rows.append([s.name, ", ".join(s.aliases), params, s.formula])
        data.append({"name": s.name, "aliases": list(s.aliases), "formula": s.formula,
                     "whole_tensor": s.whole_tensor,
                     "params": [{"name": p.name, "default": p.default, "doc": p.doc,
                                 "choices": list(p.choices)} for p in s.params]})
    emit(render("initialization schemes", ["scheme", "aliases", "parameters", "formula"], rows,
                fmt, {"schemes": data}))


@click.command()
def schema() -> None:
    """Print the JSON Schema of the spec format (version 1)."""
    import json

    from ..spec.schema import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


COMMANDS = [schemes, schema]
