"""`initgen stats`: statistics of any weight file."""

from __future__ import annotations

import click

from .options import emit, format_option


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@format_option()
def stats(file: str, fmt: str) -> None:
    """Per-tensor statistics of FILE (safetensors or HDF5, made by initgen or not).

    For files made by initgen, each tensor's scheme and expected std are shown.
    JSON output: {"file", "format", "totals": {"tensors", "params"}, "tensors": [
    {"name", "shape", "dtype", "count", "mean", "std", "min", "max", "scheme",
    "expected_mean", "expected_std"}]}.
    """
    from ..report import stats_view
    from ..stats import read_stats

    emit(stats_view(read_stats(file), fmt))


COMMANDS = [stats]
