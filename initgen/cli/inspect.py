"""`initgen stats`, `initgen verify` and `initgen diff`: looking at weight files."""

from __future__ import annotations

import click

from ..threads import MAX_THREADS
from .options import emit, format_option, storage_option, storage_options
from .progress import progress_bar

SUMMARY_LIMIT = 64  # more tensors than this: the table shows layer patterns unless --all

threads_option = click.option(
    "--threads", type=click.IntRange(1, MAX_THREADS), help="Worker threads (default: all cores)."
)
quiet_option = click.option("-q", "--quiet", is_flag=True, help="No progress bar or messages on stderr.")


@click.command()
@click.argument("file", type=click.Path(readable=False))
@format_option(("table", "json", "markdown", "csv"))
@click.option(
    "--tensors",
    "globs",
    multiple=True,
    metavar="GLOB",
    help="Only tensors whose name matches GLOB (repeatable), e.g. 'h.*.attn.*'.",
)
@click.option(
    "--group",
    is_flag=True,
    help="Aggregate by layer pattern: numeric name parts become * (h.*.attn.c_attn.weight).",
)
@click.option(
    "--all",
    "show_all",
    is_flag=True,
    help=f"List every tensor even when there are more than {SUMMARY_LIMIT}.",
)
@click.option(
    "--check", is_flag=True, help="Exit 1 if a tensor has NaN/Inf or departs from its recorded scheme."
)
@click.option(
    "--expect",
    "rules",
    multiple=True,
    metavar="RULE",
    help="Exit 1 unless matching tensors obey RULE (repeatable): "
    "'GLOB:std=0.02±5%,mean=0±0.001'; keys mean std min max absmax zeros nan inf "
    "p0.1 p1 p50 p99 p99.9; "
    "ops = <= >= < >.",
)
@threads_option
@storage_option
@quiet_option
def stats(
    file: str,
    fmt: str,
    globs: tuple[str, ...],
    group: bool,
    show_all: bool,
    check: bool,
    rules: tuple[str, ...],
    threads: int | None,
    storage: tuple[str, ...],
    quiet: bool,
) -> None:
    """Statistics of every tensor in FILE: safetensors (any dtype), a sharded
    checkpoint (its index or directory), or HDF5 (initgen, Keras .weights.h5 / .h5).
    FILE may be a URL (s3://bucket/w.safetensors), read by range requests.

    Streams in bounded memory: count, mean, std, min, max, abs-max, zeros, NaN/Inf,
    a 32-bin histogram and quantiles (p0.1 p1 p50 p99 p99.9) per tensor. For files
    made by initgen each tensor's scheme and expected std are shown. The JSON shape is documented in
    docs/stats.md: {"file", "format", "initgen", "totals", "tensors": [...],
    "groups"?, "check"?}.
    """
    from ..analyze.checks import check_rules, check_stats, parse_rule, rule_matches
    from ..analyze.grouping import group_stats
    from ..analyze.stats import read_stats, recorded_plans
    from ..errors import CheckFailed, one_line
    from ..report import stats_view

    parsed = [parse_rule(r) for r in rules]  # a bad rule is a usage error before any work
    with progress_bar("stats", quiet) as progress:
        fs = read_stats(
            file, threads=threads, tensors=globs, progress=progress, storage_options=storage_options(storage)
        )
    groups = None
    if group or (fmt != "json" and not show_all and len(fs.tensors) > SUMMARY_LIMIT):
        groups = group_stats(fs.tensors, fs.tables)
        if not group and not quiet:
            click.echo(
                f"{len(fs.tensors)} tensors shown as {len(groups)} layer patterns; --all lists every tensor",
                err=True,
            )
    checked = check or bool(parsed)
    failures = []
    if check:
        failures += check_stats(fs, recorded_plans(fs.metadata))
    failures += check_rules(fs, parsed)
    emit(stats_view(fs, fmt, groups=groups, failures=failures, checked=checked))
    if failures:
        for f in failures:
            click.echo(f"check failed: {one_line(str(f))}", err=True)
        names = len({f.tensor for f in failures})
        raise CheckFailed(f"{file}: {names} tensor{'s' if names != 1 else ''} failed the checks")
    if checked and not quiet:
        n = len(fs.tensors) if check else len(rule_matches(fs, parsed))
        click.echo(f"check passed: {n} tensor{'s' if n != 1 else ''} checked", err=True)


@click.command()
@click.argument("file", type=click.Path(readable=False))
@threads_option
@storage_option
@quiet_option
def verify(file: str, threads: int | None, storage: tuple[str, ...], quiet: bool) -> None:
    """Regenerate every tensor of FILE (made by initgen) from its recorded plans and
    seed, and compare bytes; exit 1 naming the first tensor that differs."""
    from ..analyze.verify import verify as run_verify

    with progress_bar("verify", quiet) as progress:
        v = run_verify(file, threads=threads, progress=progress, storage_options=storage_options(storage))
    emit(f"{file}: ok: {v.tensors} tensors, {v.params:,} values regenerated bit for bit (seed {v.seed})")


@click.command()
@click.argument("a", type=click.Path(readable=False))
@click.argument("b", type=click.Path(readable=False))
@format_option(("table", "json", "markdown", "csv"))
@click.option("--all", "show_all", is_flag=True, help="Also list tensors that are the same.")
@threads_option
@storage_option
def diff(a: str, b: str, fmt: str, show_all: bool, threads: int | None, storage: tuple[str, ...]) -> None:
    """Compare weight files A and B: tensors only in one, shape/dtype changes,
    byte-identical or not, and per-tensor statistics moves (B − A).

    Exit status 0 when every tensor is in both with the same shape, dtype and bytes,
    1 when anything differs (like diff(1)), 2 for usage errors.
    """
    from ..analyze.diff import diff_files, diff_view

    d = diff_files(a, b, threads=threads, storage_options=storage_options(storage))
    emit(diff_view(d, fmt, show_all))
    if not d.same:
        raise click.exceptions.Exit(1)


COMMANDS = [stats, verify, diff]
