"""`initgen make`: spec → weight file."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .options import load_plan, spec_options


@click.command()
@spec_options
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Output file: .safetensors, or .h5/.hdf5 for HDF5.")
@click.option("--format", "fmt", type=click.Choice(["safetensors", "hdf5"]),
              help="Output format (default: from the extension).")
@click.option("--force", is_flag=True, help="Replace the output if it exists (atomically).")
@click.option("--threads", type=click.IntRange(min=1), help="Worker threads (default: all cores).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary on stderr.")
def make(spec: str, sets: tuple[str, ...], seed: int | None, dtype: str | None, output: str,
         fmt: str | None, force: bool, threads: int | None, quiet: bool) -> None:
    """Make the weights described by SPEC into a file.

    The whole spec and every option are checked before any work; the file is
    written under a temporary name and renamed at the end, so an error or Ctrl-C
    leaves nothing behind.
    """
    from ..io.atomic import check_target
    from ..make import output_format, write
    from ..report import human_bytes

    out = Path(output)
    output_format(out, fmt)
    check_target(out, force)
    plan = load_plan(spec, sets, seed, dtype)
    show = not quiet and sys.stderr.isatty()
    if show:
        from rich.progress import (BarColumn, DownloadColumn, Progress, TimeRemainingColumn,
                                   TransferSpeedColumn)
        from rich.console import Console

        with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                      TransferSpeedColumn(), TimeRemainingColumn(),
                      console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task(out.name, total=plan.nbytes)
            write(plan, out, fmt=fmt, force=force, threads=threads,
                  progress=lambda n: bar.advance(task, n))
    else:
        write(plan, out, fmt=fmt, force=force, threads=threads)
    if not quiet:
        click.echo(f"wrote {out}: {len(plan.tensors)} tensors, {plan.params:,} params, "
                   f"{human_bytes(plan.nbytes)} (seed {plan.seed})", err=True)


COMMANDS = [make]
