"""`initgen make`: spec → weight file (or a directory of shards)."""

from __future__ import annotations

from pathlib import Path

import click

from .options import load_plan, max_bytes, spec_options
from .progress import progress_bar


@click.command()
@spec_options
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(),
    help="Output file: .safetensors; NAME.weights.h5 for Keras 3's load_weights; "
    ".h5/.hdf5 for plain HDF5 (/layer/weight). With --max-shard-size, a directory "
    "(created if missing), or NAME.weights.json for Keras shards.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["safetensors", "hdf5", "keras"]),
    help="Output format (default: from the extension).",
)
@click.option(
    "--max-shard-size",
    metavar="SIZE",
    help="Split into safetensors shards of at most SIZE (e.g. 2GB, 500MiB) plus "
    "model.safetensors.index.json, as Transformers does.",
)
@click.option(
    "--shard",
    metavar="K/N",
    help="Make only shard K of N (with --max-shard-size); byte-identical to that "
    "shard of a full run, so shards can be made on different machines.",
)
@click.option("--force", is_flag=True, help="Replace the output if it exists (atomically).")
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="Parallel workers (default: all cores); the output does not depend on it.",
)
@click.option(
    "--direct-io/--no-direct-io",
    default=True,
    show_default=True,
    help="Write safetensors data with O_DIRECT where the file system allows it, "
    "bypassing the page cache (faster and steadier for large files; the bytes "
    "are the same either way).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary on stderr.")
def make(
    spec: str,
    sets: tuple[str, ...],
    seed: int | None,
    dtype: str | None,
    output: str,
    fmt: str | None,
    max_shard_size: str | None,
    shard: str | None,
    force: bool,
    threads: int | None,
    direct_io: bool,
    quiet: bool,
) -> None:
    """Make the weights described by SPEC into a file.

    The whole spec and every option are checked before any work; files are
    written under temporary names and renamed at the end, so an error, Ctrl-C or
    SIGTERM leaves nothing behind.

    \b
      initgen make specs/llama.yaml -o llama.safetensors
      initgen make specs/llama.yaml -o llama/ --max-shard-size 2GB
      initgen make specs/llama.yaml -o llama/ --max-shard-size 2GB --shard 2/3
    """
    from ..units import format_bytes, parse_size
    from ..writers import output_format, sharded_nbytes, write
    from ..writers.atomic import check_target
    from ..writers.sharding import parse_shard

    out = Path(output)
    shard_bytes = (
        parse_size(max_shard_size, "--max-shard-size", positive=True) if max_shard_size is not None else None
    )
    which = parse_shard(shard) if shard is not None else None
    if shard_bytes is None and which is None:
        if output_format(out, fmt) != "keras" or not out.name.endswith(".json"):
            check_target(out, force)
    plan = load_plan(spec, sets, seed, dtype, check=False)
    if fmt == "keras" or (fmt is None and out.name.lower().endswith((".weights.h5", ".weights.json"))):
        # the tensors Keras' layout makes, for the summary
        from ..plan.keras import keras_plan

        plan = keras_plan(plan)[0]
    total = sharded_nbytes(plan, shard_bytes, which)
    with progress_bar(out.name, quiet, data=True) as progress:
        written = write(
            plan,
            out,
            fmt=fmt,
            force=force,
            threads=threads,
            max_shard_size=shard_bytes,
            shard=which,
            direct_io=direct_io,
            max_bytes=max_bytes(),
            progress=progress,
        )
    if not quiet:
        what = f"shard {which[0]}/{which[1]} of " if which else ""
        click.echo(
            f"wrote {what}{written}: {len(plan.tensors)} tensors, {plan.params:,} params, "
            f"{format_bytes(total)} (seed {plan.seed})",
            err=True,
        )


COMMANDS = [make]
