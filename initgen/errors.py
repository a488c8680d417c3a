"""The one exception hierarchy of initgen.

Every error a user can cause is an :class:`InitgenError`; the CLI turns it into a
one-line message and its ``exit_code`` (2 for usage and spec errors, 1 for runtime
failures), so no traceback ever reaches a user.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class InitgenError(Exception):
    """Base class: a message for a person and the exit status the CLI should use."""

    exit_code = 1


class UsageError(InitgenError):
    """A bad command-line option or combination of options."""

    exit_code = 2


class SpecError(InitgenError):
    """A problem in a spec, located by file, line and key path.

    >>> str(SpecError("'fan_inn' is not one of fan_in, fan_out", file="s.yaml", line=3,
    ...               key="layers[0].init.mode"))
    "s.yaml:3: layers[0].init.mode: 'fan_inn' is not one of fan_in, fan_out"
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.key = key
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        key = f"{self.key}: " if self.key else ""
        hint = f"; {self.hint}" if self.hint else ""
        return f"{where}{key}{self.message}{hint}"


class FileFormatError(InitgenError):
    """A weight file that cannot be read: corrupt, truncated or of an unknown kind."""


class OutputError(InitgenError):
    """The output cannot be written (exists, directory missing, disk full...)."""


class OutputLost(OutputError):
    """The command's output (stdout) could not be written: a full disk, a closed pipe."""

    def __init__(self, cause: OSError) -> None:
        self.errno = cause.errno
        super().__init__(f"cannot write the output: {cause.strerror or cause}")


class CheckFailed(InitgenError):
    """A `stats --check` or `verify` found a problem; exit status 1."""


def suggest(word: object, allowed: Iterable[str]) -> str | None:
    """Return "did you mean 'x'?" for the nearest allowed word, or None."""
    if not isinstance(word, str):
        return None
    match = difflib.get_close_matches(word, list(allowed), n=1, cutoff=0.6)
    return f"did you mean '{match[0]}'?" if match else None


def one_of(allowed: Iterable[str]) -> str:
    """Render allowed words for a message: "a, b or c"."""
    words = sorted(allowed)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]


def all_of(words: Iterable[str]) -> str:
    """Render words that are all needed, in order: "a, b and c".

    >>> all_of(["in", "out"])
    'in and out'
    """
    words = list(words)
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else "".join(words)


def one_line(text: str) -> str:
    """``text`` with every character that is not printable (newlines, tabs, control
    and invisible format characters) written as its escape, so that a message quoting
    a user's key or value stays on one line and shows what was there.

    >>> one_line("unknown key 'a\\nb'")
    "unknown key 'a\\\\nb'"
    """
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def storable(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (it holds no lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def os_error_text(e: OSError) -> str:
    """An OSError nothing more specific caught, as a message: the path it names and
    what the system said ("nox/s.yaml: Permission denied")."""
    what = e.strerror or str(e) or type(e).__name__
    return f"{e.filename}: {what}" if e.filename is not None else what
