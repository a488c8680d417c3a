"""`initgen from-config`: a Transformers config.json → the equivalent initgen spec."""

from __future__ import annotations

from pathlib import Path

import click

from .options import emit


@click.command("from-config")
@click.argument("config", type=click.Path(readable=False))
@click.option(
    "-o", "--output", type=click.Path(readable=False), help="Write the spec to this file (default: stdout)."
)
@click.option("--force", is_flag=True, help="Replace the output if it exists.")
def from_config(config: str, output: str | None, force: bool) -> None:
    """Write the initgen spec of a Transformers CONFIG (a config.json, or a directory
    holding one): the config's numbers as vars, the family's layers and init rules.

    `initgen make` of that spec gives the same tensors, byte for byte, as
    `initgen make CONFIG`; edit it, shrink it with --set, or keep it in a repository.

    \b
      initgen from-config Llama-3.1-8B/config.json -o llama-8b.yaml
      initgen make llama-8b.yaml --set n_layer=2 -o tiny.safetensors
    """
    from ..configs import config_spec_text, read_config
    from ..spec import load_spec

    data, source = read_config(config)
    text = config_spec_text(data, source)
    load_spec(source, text=text)  # the text is a valid spec, or this is our bug, not the user's
    if output is None:
        emit(text.rstrip("\n"))
        return
    from ..writers.atomic import Atomic

    out = Path(output)
    with Atomic([out], force) as atomic:
        atomic.tmp(out).write_text(text, encoding="utf-8")
        atomic.commit()
    click.echo(f"wrote {out}: the spec of {source}", err=True)


COMMANDS = [from_config]
