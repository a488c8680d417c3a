"""Atomic output: write beside the target under a temporary name, rename at the end.

An error, Ctrl-C or SIGTERM before :meth:`Atomic.commit` removes the temporary
files, so the target is either the complete new file or untouched.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from .. import interrupt
from ..errors import OutputError, UsageError

TMP_MARK = ".initgen-tmp"


def check_target(target: Path, force: bool) -> None:
    """Refuse before any work: an existing target without --force, a missing dir."""
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"{target}: the directory {parent} does not exist")
    if target.is_dir():
        raise UsageError(f"{target}: is a directory")
    check_regular(target)
    if (target.exists() or target.is_symlink()) and not force:
        raise UsageError(f"{target}: already exists; use --force to replace it")


def check_regular(target: Path) -> None:
    """Refuse a target that is a device, pipe or socket: the finished file is renamed
    over it, which would replace /dev/null itself."""
    if target.exists() and not target.is_file() and not target.is_dir():
        raise UsageError(
            f"{target}: is not a regular file (a device, pipe or socket); initgen "
            "renames the finished file over its target, so write to a file instead"
        )


def tmp_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}{TMP_MARK}")


class Atomic:
    """Temporary files for a set of targets, renamed over them on :meth:`commit`."""

    def __init__(self, targets: list[Path], force: bool) -> None:
        for t in targets:
            check_target(t, force)
        self.pairs = [(tmp_path(t), t) for t in targets]
        self.committed = False

    def tmp(self, target: Path) -> Path:
        return next(tmp for tmp, t in self.pairs if t == target)

    def commit(self) -> None:
        interrupt.check()  # a signal whose exception was lost must not let the write complete
        for tmp, target in self.pairs:
            try:
                os.replace(tmp, target)
            except OSError as e:
                raise OutputError(
                    f"{target}: cannot rename the finished file into place: {e.strerror}"
                ) from None
        self.committed = True

    def cleanup(self) -> None:
        for tmp, _ in self.pairs:
            try:
                tmp.unlink()
            except OSError:  # never made (a read-only directory), or gone: keep the first error
                pass

    def __enter__(self) -> Atomic:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self.committed:
            self.cleanup()


def os_error(path: Path, e: OSError) -> OutputError:
    """A one-line message for an OSError met while writing ``path``."""
    import errno

    reason = {
        errno.ENOSPC: "no space left on the device",
        errno.EFBIG: "file too large for this file system or its limits",
        errno.EACCES: "permission denied",
        errno.EROFS: "read-only file system",
        errno.EDQUOT: "disk quota exceeded",
    }.get(e.errno or 0, e.strerror or str(e))
    if path.name.endswith(TMP_MARK):  # name the target, not the temporary file that is removed
        path = path.with_name(path.name[1:].rsplit(".", 2)[0])
    return OutputError(f"{path}: cannot write: {reason}")
