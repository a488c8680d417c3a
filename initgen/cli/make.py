"""`initgen make`: spec → weight file (or a directory of shards)."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import UsageError
from .options import load_plan, max_bytes, spec_options, storage_option, storage_options
from .progress import progress_bar


@click.command()
@spec_options
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(),
    help="Output file: .safetensors, or .h5/.hdf5 for HDF5. With --max-shard-size, "
    "a directory (created if missing). A URL (s3://bucket/w.safetensors, gs://, az://, "
    "any fsspec protocol; needs initgen[cloud]) writes to object storage.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["safetensors", "hdf5"]),
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
@storage_option
@click.option(
    "--dask",
    metavar="ADDRESS",
    help="Make the shards (--max-shard-size) as tasks on a Dask scheduler (tcp://host:8786), "
    "or 'local' for a LocalCluster; -o must be a URL or a directory every worker sees. "
    "Needs initgen[dask].",
)
@click.option(
    "--index-only",
    is_flag=True,
    help="Write only model.safetensors.index.json (with --max-shard-size), once every "
    "shard is there: the last step when shards are made by separate --shard K/N jobs.",
)
@click.option(
    "--count-shards",
    is_flag=True,
    help="Print how many shards --max-shard-size makes (the N of --shard K/N) and exit.",
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
    storage: tuple[str, ...],
    dask: str | None,
    index_only: bool,
    count_shards: bool,
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
      initgen make specs/llama.yaml -o s3://bucket/llama/ --max-shard-size 2GB
      initgen make specs/llama.yaml -o s3://bucket/llama/ --max-shard-size 2GB --dask local
    """
    from ..storage import is_url
    from ..units import format_bytes, parse_size
    from ..writers import output_format, sharded_nbytes, write
    from ..writers.atomic import check_target
    from ..writers.sharding import parse_shard

    url = is_url(output)
    out: Path | str = output if url else Path(output)
    options = storage_options(storage)
    shard_bytes = (
        parse_size(max_shard_size, "--max-shard-size", positive=True) if max_shard_size is not None else None
    )
    which = parse_shard(shard) if shard is not None else None
    if (dask or index_only or count_shards) and shard_bytes is None:
        flag = "--dask" if dask else "--index-only" if index_only else "--count-shards"
        raise UsageError(f"{flag} needs --max-shard-size: it makes shards")
    if dask and (which or index_only):
        raise UsageError("--dask makes every shard and the index; leave out --shard and --index-only")
    if shard_bytes is None and which is None and not url:
        output_format(Path(output), fmt)
        check_target(Path(output), force)
    plan = load_plan(spec, sets, seed, dtype, check=False)
    if count_shards:
        from ..writers import shard_files

        click.echo(len(shard_files(plan, shard_bytes)))  # type: ignore[arg-type]
        return
    total = 0 if index_only else sharded_nbytes(plan, shard_bytes, which)
    label = out.name if isinstance(out, Path) else output.rstrip("/").rsplit("/", 1)[-1]
    with progress_bar(label, quiet, data=True) as progress:
        if dask:
            from ..writers.cluster import write_on_dask

            write_on_dask(
                plan,
                output,
                shard_bytes,  # type: ignore[arg-type]
                dask,
                force=force,
                threads=threads,
                progress=progress,
                storage_options=options,
                max_bytes=max_bytes(),
            )
        else:
            write(
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
                storage_options=options,
                index_only=index_only,
            )
    if not quiet:
        if index_only:
            click.echo(f"wrote the index of {out}: {len(plan.tensors)} tensors", err=True)
            return
        what = f"shard {which[0]}/{which[1]} of " if which else ""
        click.echo(
            f"wrote {what}{out}: {len(plan.tensors)} tensors, {plan.params:,} params, "
            f"{format_bytes(total)} (seed {plan.seed})",
            err=True,
        )


COMMANDS = [make]
