"""Workers: how many to use by default, and how a worker process is forked."""

from __future__ import annotations

import os


def default_threads() -> int:
    """The cores this process may run on (its affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def fork() -> int:
    """``os.fork()``, without Python 3.12+'s warning about forking a process that has
    threads: initgen's children use none of the parent's locks."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()
