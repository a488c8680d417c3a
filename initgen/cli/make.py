"""`initgen make`: spec → weight file (or a directory of shards)."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import UsageError
from ..threads import MAX_THREADS
from .options import emit, load_plan, max_bytes, spec_options, storage_option, storage_options
from .progress import progress_bar


@click.command()
@spec_options
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(readable=False),
    help="Output file: .safetensors; NAME.weights.h5 for Keras 3's load_weights; "
    ".h5/.hdf5 for plain HDF5 (/layer/weight). With --max-shard-size, a directory "
    "(created if missing), or NAME.weights.json for Keras shards. A URL "
    "(s3://bucket/w.safetensors, gs://, az://, any fsspec protocol; needs initgen[cloud]) "
    "writes to object storage.",
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
    type=click.IntRange(1, MAX_THREADS),
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
    """Make the weights described by SPEC into a file, or a model directory.

    SPEC is a spec file, or a Transformers config.json (or a directory holding one):
    then -o names a directory that from_pretrained loads (config.json copied
    unchanged, model.safetensors or shards + index as save_pretrained names them).
    The whole spec and every option are checked before any work; files are
    written under temporary names and renamed at the end, so an error, Ctrl-C or
    SIGTERM leaves nothing behind.

    \b
      initgen make specs/llama.yaml -o llama.safetensors
      initgen make specs/llama.yaml -o llama/ --max-shard-size 2GB
      initgen make specs/llama.yaml -o llama/ --max-shard-size 2GB --shard 2/3
      initgen make specs/llama.yaml -o s3://bucket/llama/ --max-shard-size 2GB
      initgen make specs/llama.yaml -o s3://bucket/llama/ --max-shard-size 2GB --dask local
      initgen make Llama-3.1-8B/config.json -o llama-8b/ --max-shard-size 5GB
    """
    from ..configs import is_config_source
    from ..storage import is_url
    from ..units import format_bytes, parse_size
    from ..writers import output_format, sharded_tensors, write
    from ..writers.atomic import check_target
    from ..writers.sharding import parse_shard

    url = is_url(output)
    out: Path | str = output if url else Path(output)
    options = storage_options(storage)
    shard_bytes = (
        parse_size(max_shard_size, "--max-shard-size", positive=True) if max_shard_size is not None else None
    )
    which = parse_shard(shard) if shard is not None else None
    config = is_config_source(spec)
    if (dask or index_only or count_shards) and shard_bytes is None and not config:
        flag = "--dask" if dask else "--index-only" if index_only else "--count-shards"
        raise UsageError(f"{flag} needs --max-shard-size: it makes shards")
    if dask and (which or index_only):
        raise UsageError("--dask makes every shard and the index; leave out --shard and --index-only")
    if config:
        if url or dask or index_only:
            raise UsageError(
                f"{spec}: a model directory from a config is written to a local directory, by one "
                "process; leave out the URL, --dask and --index-only"
            )
        shard_bytes = _model_dir_options(spec, Path(output), sets, fmt, shard_bytes)
    elif shard_bytes is None and which is None and not url:
        if output_format(Path(output), fmt) != "keras" or not output.endswith(".json"):
            check_target(Path(output), force)
    plan = load_plan(spec, sets, seed, dtype, check=False)
    if count_shards:
        from ..writers import shard_files

        emit(str(len(shard_files(plan, shard_bytes))))  # type: ignore[arg-type]
        return
    if fmt == "keras" or (fmt is None and output.lower().endswith((".weights.h5", ".weights.json"))):
        # the tensors Keras' layout makes, for the summary
        from ..plan.keras import keras_plan

        plan = keras_plan(plan)[0]
    made = [] if index_only else sharded_tensors(plan, shard_bytes, which)
    total = sum(t.nbytes for t in made)
    label = out.name if isinstance(out, Path) else output.rstrip("/").rsplit("/", 1)[-1]
    written: Path | str = out
    with progress_bar(label, quiet, data=True) as progress:
        if config:
            from ..configs import read_config
            from ..writers import write_model_dir

            raw = Path(read_config(spec)[1]).read_bytes()
            written = write_model_dir(
                plan,
                Path(output),
                raw,
                max_shard_size=shard_bytes,
                shard=which,
                force=force,
                threads=threads,
                progress=progress,
                direct_io=direct_io,
                max_bytes=max_bytes(),
            )
        elif dask:
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
                storage_options=options,
                index_only=index_only,
            )
    if not quiet:
        if index_only:
            click.echo(f"wrote the index of {out}: {len(plan.tensors)} tensors", err=True)
            return
        what = f"shard {which[0]}/{which[1]} of " if which else ""
        click.echo(
            f"wrote {what}{written}{'/ (config.json and weights)' if config else ''}: {len(made)} "
            f"tensors, {sum(t.numel for t in made):,} params, {format_bytes(total)} (seed {plan.seed})",
            err=True,
        )


def _model_dir_options(spec: str, out: Path, sets: tuple[str, ...], fmt: str | None, size: int | None) -> int:
    """The checks a model directory's options need; returns its shard size."""
    from ..checkpoint import SAVE_PRETRAINED_SHARD_SIZE
    from ..errors import UsageError

    if sets:
        raise UsageError(
            f"{spec}: --set would change the model, but its config.json is copied unchanged; "
            "edit the config (num_hidden_layers, hidden_size, ...), or make a spec with "
            "`initgen from-config` and --set that"
        )
    if fmt not in (None, "safetensors"):
        raise UsageError(f"{spec}: a model directory holds safetensors files; drop --format {fmt}")
    if out.suffix.lower() in (".safetensors", ".h5", ".hdf5"):
        raise UsageError(
            f"{out}: from a config, -o names a model directory (e.g. -o {out.with_suffix('')}/), "
            "which gets config.json and the weights"
        )
    return size or SAVE_PRETRAINED_SHARD_SIZE


COMMANDS = [make]
