"""Stop requests from signals, honoured at safe points.

The CLI's signal handlers raise at once, but that exception can be lost: Python
ignores exceptions raised inside weakref callbacks and ``__del__`` methods, and a
signal may arrive while one runs. So a handler also records the request here, and
long work calls :func:`check` between chunks and before anything irreversible
(renaming a finished file into place): a lost exception delays the stop by one
chunk at most and can never let a write complete.
"""

from __future__ import annotations

_requested: list[int] = []


class Stopped(BaseException):
    """A recorded signal, raised at a safe point."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def request(signum: int) -> None:
    _requested.append(signum)


def pending() -> int | None:
    """The first signal received since :func:`clear`, or None."""
    return _requested[0] if _requested else None


def clear() -> None:
    _requested.clear()


def check() -> None:
    """Raise :class:`Stopped` if a signal has been received."""
    if _requested:
        raise Stopped(_requested[0])
