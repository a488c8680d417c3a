"""The one progress protocol: ``progress(done, total)``.

Long work (``write``, ``read_stats``, ``verify``) takes an optional callable that it
calls with how much is done and the total, in the same unit (bytes written, values
read). Workers report increments from any thread; :class:`Counter` turns them into
``(done, total)`` calls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

Progress = Callable[[int, int], None]


class Counter:
    """Adds increments from any thread and reports the running ``(done, total)``.

    >>> seen = []
    >>> c = Counter(10, lambda done, total: seen.append((done, total)))
    >>> c.add(4); c.add(6); seen
    [(4, 10), (10, 10)]
    """

    def __init__(self, total: int, report: Progress) -> None:
        self.total = total
        self.done = 0
        self._report = report
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        with self._lock:
            self.done += n
            self._report(self.done, self.total)
