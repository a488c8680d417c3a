"""The one progress-bar builder for `make`, `stats` and `verify`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from ..progress import Progress


@contextmanager
def progress_bar(label: str, quiet: bool, *, data: bool = False) -> Iterator[Progress | None]:
    """A transient bar on stderr when it is a terminal, else nothing.

    Yields a ``progress(done, total)`` callable (or None): bytes with a transfer speed
    when ``data`` is true, else a plain count.
    """
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        ProgressColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns: list[str | ProgressColumn] = ["[progress.description]{task.description}", BarColumn()]
    if data:
        columns += [DownloadColumn(), TransferSpeedColumn()]
    columns.append(TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)
