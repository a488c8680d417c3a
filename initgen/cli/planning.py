"""`initgen plan` and `initgen validate`: what a spec makes, without making it."""

from __future__ import annotations

import click

from .options import emit, format_option, load_plan, spec_options


@click.command()
@spec_options
@format_option()
def plan(spec: str, sets: tuple[str, ...], seed: int | None, dtype: str | None, fmt: str) -> None:
    """Show every tensor SPEC makes: shape, dtype, scheme, fans, expected std, bytes."""
    from ..report import plan_view

    emit(plan_view(load_plan(spec, sets, seed, dtype), fmt))


@click.command()
@spec_options
def validate(spec: str, sets: tuple[str, ...], seed: int | None, dtype: str | None) -> None:
    """Check SPEC completely (keys, values, shapes, names, schemes); exit 2 if bad."""
    from ..units import format_bytes

    p = load_plan(spec, sets, seed, dtype)
    emit(f"{spec}: ok: {len(p.tensors)} tensors, {p.params:,} params, {format_bytes(p.nbytes)}")


COMMANDS = [plan, validate]
