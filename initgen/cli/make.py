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
      initgen make Llama-3.1-8B/config.json -o llama-8b/ --max-shard-size 5GB
    """
    from ..configs import is_config_source
    from ..units import format_bytes, parse_size
    from ..writers import output_format, sharded_nbytes, write
    from ..writers.atomic import check_target
    from ..writers.sharding import parse_shard

    out = Path(output)
    shard_bytes = (
        parse_size(max_shard_size, "--max-shard-size", positive=True) if max_shard_size is not None else None
    )
    which = parse_shard(shard) if shard is not None else None
    config = is_config_source(spec)
    if config:
        shard_bytes = _model_dir_options(spec, out, sets, fmt, shard_bytes)
    elif shard_bytes is None and which is None:
        if output_format(out, fmt) != "keras" or not out.name.endswith(".json"):
            check_target(out, force)
    plan = load_plan(spec, sets, seed, dtype, check=False)
    if fmt == "keras" or (fmt is None and out.name.lower().endswith((".weights.h5", ".weights.json"))):
        # the tensors Keras' layout makes, for the summary
        from ..plan.keras import keras_plan

        plan = keras_plan(plan)[0]
    total = sharded_nbytes(plan, shard_bytes, which)
    with progress_bar(out.name, quiet, data=True) as progress:
        if config:
            from ..configs import read_config
            from ..writers import write_model_dir

            raw = Path(read_config(spec)[1]).read_bytes()
            written = write_model_dir(
                plan,
                out,
                raw,
                max_shard_size=shard_bytes,
                shard=which,
                force=force,
                threads=threads,
                progress=progress,
                direct_io=direct_io,
                max_bytes=max_bytes(),
            )
        else:
            written = write(
                plan,
                out,
                fmt=fmt,
                max_shard_size=shard_bytes,
                shard=which,
                force=force,
                threads=threads,
                progress=progress,
                direct_io=direct_io,
                max_bytes=max_bytes(),
            )
    if not quiet:
        what = f"shard {which[0]}/{which[1]} of " if which else ""
        click.echo(
            f"wrote {what}{written}{'/ (config.json and weights)' if config else ''}: {len(plan.tensors)} "
            f"tensors, {plan.params:,} params, {format_bytes(total)} (seed {plan.seed})",
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
