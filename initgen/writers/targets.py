"""What can be checked about an output before writing it: the target's kind, the
tensor names the format can hold, and the free space on its file system."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from ..errors import OutputError, UsageError
from ..plan import name_problem
from ..units import format_bytes
from .atomic import check_regular

DISK_MARGIN = 1 << 20  # room for headers and metadata beyond the tensors' bytes


def hdf5_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be an HDF5 dataset path (dots become groups), or None."""
    if "/" in name:
        return f"tensor name {name!r} contains '/', which HDF5 reads as a group separator"
    if "\0" in name:
        return f"tensor name {name!r} contains a NUL character, which HDF5 names cannot hold"
    if any(not part for part in name.split(".")):
        return (
            f"tensor name {name!r} has an empty part between dots (a leading, trailing or "
            "doubled '.'), which has no HDF5 group path"
        )
    return None


def check_hdf5_names(names: Iterable[str]) -> None:
    """Every name maps to its own HDF5 path, and no dataset is also a group.

    ``a`` and ``a.b`` cannot both be stored: ``/a`` would be a dataset and the group
    holding ``/a/b``. Rejected rather than escaped, so that a tensor's name and its HDF5
    path always say the same thing to other tools.
    """
    names = sorted(names)
    for name in names:
        why = hdf5_name_problem(name)
        if why:
            raise UsageError(f"cannot write HDF5: {why}; write .safetensors or rename the tensor")
    taken = set(names)
    for name in names:
        parts = name.split(".")
        for k in range(1, len(parts)):
            prefix = ".".join(parts[:k])
            if prefix in taken:
                raise UsageError(
                    f"cannot write HDF5: tensor '{prefix}' would be both a dataset and "
                    f"the group holding '{name}'; write .safetensors or rename one of them"
                )


def check_free_space(target: Path, nbytes: int) -> None:
    """Refuse to start a write that the target's file system has no room for."""
    parent = target.parent if str(target.parent) else Path(".")
    try:
        free = shutil.disk_usage(parent).free
    except OSError:
        return  # cannot tell (a missing directory is reported by the target check)
    need = nbytes + DISK_MARGIN
    if need > free:
        raise OutputError(
            f"{target}: needs {format_bytes(need)} but only {format_bytes(free)} is free on "
            f"{parent}; free some space or write elsewhere"
        )


def check_output(target: Path, kind: str, names: Iterable[str], nbytes: int) -> None:
    """Everything about an output that can be checked before writing it."""
    check_regular(target)
    names = list(names)
    for name in names:
        why = name_problem(name)
        if why:
            raise UsageError(f"cannot write {target}: {why}")
    if kind == "hdf5":
        check_hdf5_names(names)
    check_free_space(target, nbytes)
