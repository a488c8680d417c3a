"""Limits that keep a spec, a plan or a write from running away.

A spec is a few lines of YAML, but ``repeat``, ``${...}`` and anchors can make it
describe petabytes. Everything here is checked before any work starts, and every
refusal says which limit was hit and how to raise it:

- ``--max-bytes`` (default :data:`DEFAULT_MAX_BYTES`): the most bytes of tensor data a
  plan may describe (``make``, ``plan`` and ``validate``). A typo such as
  ``dim: 40960000`` fails at once instead of after filling a disk.
- :data:`MAX_WHOLE_VALUES`: whole-tensor schemes (``orthogonal``, ...) hold the
  tensor in memory in float64, so a single such tensor is bounded.
- free disk space: ``make`` refuses when the target's file system has less room
  than the file needs, instead of failing halfway through.
- tensor names: never empty, never ``__metadata__`` (safetensors keeps its metadata
  under that key), and for HDF5 a name must map to a unique group path.
- the output is a file or nothing: never a device or pipe (renaming over ``/dev/null``
  would replace it).
- reading HDF5: the file's structure is first read in a child process with a time
  limit, because the HDF5 library can loop forever or crash on some corrupt files.
"""

from __future__ import annotations

import math
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import FileFormatError, OutputError, SpecError, UsageError

if TYPE_CHECKING:
    from .plan import Plan
    from .spec import Spec

DEFAULT_MAX_BYTES = 10**12  # 1 TB: 250 B float32 parameters; beyond that a typo is likelier
MAX_WHOLE_VALUES = 1 << 27  # 134 M values: 1 GiB as float64, held whole by orthogonal & co.
DISK_MARGIN = 1 << 20  # room for headers and metadata beyond the tensors' bytes

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9,
          "gb": 10**9, "t": 10**12, "tb": 10**12, "p": 10**15, "pb": 10**15,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "pib": 2**50}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")


def size_bytes(text: str) -> int | None:
    """``"500GB"`` → 500_000_000_000, exactly; decimal (KB … PB) or binary (KiB … PiB)
    units; None if ``text`` is not a size."""
    m = _SIZE.fullmatch(text)
    unit = m.group(2).lower() if m else ""
    if not m or unit not in _UNITS:
        return None
    from fractions import Fraction  # exact: "1.1TB" is 1100000000000, not 1099999999999

    return int(Fraction(m.group(1)) * _UNITS[unit])


def parse_size(text: str) -> int:
    """``--max-bytes``: a size.

    >>> parse_size("1.5TB"), parse_size("2GiB"), parse_size("1024")
    (1500000000000, 2147483648, 1024)
    """
    size = size_bytes(text)
    if size is None:
        raise UsageError(f"--max-bytes {text!r}: expected a size such as 500GB, 2TiB or 1000000")
    return size


def human(n: int) -> str:
    """Bytes for a message, in decimal units: 4000000000000 → '4 TB'."""
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 999.5 or unit == "PB":  # 999.9 KB shows as 1 MB, not 1e+03 KB
            return f"{n:g} {unit}" if unit == "B" else f"{n:.3g} {unit}" if n < 1000 else f"{n:,.0f} {unit}"
        n /= 1000  # type: ignore[assignment]
    raise AssertionError


def _layer_paths(spec: Spec) -> dict[str, tuple[str | int, ...]]:
    return {layer.name: layer.path for layer in spec.layers}


def check_plan(plan: Plan, spec: Spec, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Refuse a plan over ``max_bytes``, a whole-tensor scheme over memory, a bad name.

    Errors point at the layer that makes the offending tensor.
    """
    paths = _layer_paths(spec)

    def error(layer: str, message: str) -> SpecError:
        return spec.pos.error(paths.get(layer, ("layers",)), message)

    for t in plan.tensors:
        why = name_problem(t.name)
        if why:
            raise error(t.layer, why)
    for t in plan.tensors:
        numbers = [t.dist.mean, t.dist.std, *t.dist.params.values()]
        bad = [v for v in numbers if isinstance(v, float) and not math.isfinite(v)]
        if bad:  # e.g. he_normal with fan_in 5e-324, or uniform over ±1e308
            raise error(t.layer, f"tensor '{t.name}': the scheme {t.scheme} gives a distribution that "
                        f"is not finite (mean {t.dist.mean:g}, std {t.dist.std:g}, fans {t.fan_in:g}/"
                        f"{t.fan_out:g}); check the init parameters and fans")
        largest = _largest(t.dtype)
        if abs(t.dist.mean) + 6 * t.dist.std > largest:  # 6 std: all but ~2e-9 of normal values
            raise error(t.layer, f"tensor '{t.name}': the scheme {t.scheme} gives mean {t.dist.mean:.3g} "
                        f"and std {t.dist.std:.3g}, so its values would overflow {t.dtype} (largest "
                        f"{largest:.3g}); check the init parameters and fans, or use a wider dtype")
    total = plan.nbytes
    if total > max_bytes:
        big = max(plan.tensors, key=lambda t: t.nbytes)
        raise error(big.layer, f"the plan makes {human(total)} of tensors (the largest, "
                    f"'{big.name}' {list(big.shape)}, is {human(big.nbytes)}), over the limit "
                    f"of {_exact(max_bytes)}; if that is meant, raise it with "
                    f"--max-bytes {_hint_size(total)}")
    whole = _whole_kinds()
    for t in plan.tensors:
        if t.dist.kind in whole and t.numel > MAX_WHOLE_VALUES:
            raise error(t.layer, f"tensor '{t.name}' {list(t.shape)} has {t.numel:,} values; "
                        f"the scheme {t.scheme} makes a tensor whole in memory and is limited "
                        f"to {MAX_WHOLE_VALUES:,} values; use an element-wise scheme for it")


def _exact(n: int) -> str:
    """``human(n)``, with the exact count when that rounds: '1 MB (999,999 bytes)'."""
    text = human(n)
    return text if parse_size(text.replace(" ", "").replace(",", "")) == n else f"{text} ({n:,} bytes)"


def _largest(dtype: str) -> float:
    """The largest finite value of an output dtype."""
    import numpy as np

    from .dtypes import DTYPES

    d = DTYPES[dtype].np
    if d.kind in "iu":
        return float(np.iinfo(d).max)
    if DTYPES[dtype].module == "ml_dtypes":
        import ml_dtypes

        return float(ml_dtypes.finfo(d).max)
    return float(np.finfo(d).max)


def _hint_size(n: int) -> str:
    """A round size ≥ n that --max-bytes accepts: 4000000004000000000 → '4001PB'."""
    for unit, scale in (("PB", 10**15), ("TB", 10**12), ("GB", 10**9), ("MB", 10**6)):
        if n >= scale:
            return f"{-(-n // scale)}{unit}"
    return str(n)


def _whole_kinds() -> frozenset[str]:
    try:
        from .whole import WHOLE_SAMPLERS
    except ImportError:  # pragma: no cover - no whole-tensor schemes
        return frozenset()
    return frozenset(WHOLE_SAMPLERS)


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a tensor name in any file, or None."""
    if not isinstance(name, str) or not name:
        return "a tensor name cannot be empty"
    if name == "__metadata__":
        return "'__metadata__' cannot be a tensor name: safetensors keeps the file's metadata under it"
    return None


def hdf5_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be an HDF5 dataset path (dots become groups), or None."""
    if "/" in name:
        return f"tensor name {name!r} contains '/', which HDF5 reads as a group separator"
    if "\0" in name:
        return f"tensor name {name!r} contains a NUL character, which HDF5 names cannot hold"
    if any(not part for part in name.split(".")):
        return (f"tensor name {name!r} has an empty part between dots (a leading, trailing or "
                "doubled '.'), which has no HDF5 group path")
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
                raise UsageError(f"cannot write HDF5: tensor '{prefix}' would be both a dataset and "
                                 f"the group holding '{name}'; write .safetensors or rename one of them")


def check_free_space(target: Path, nbytes: int) -> None:
    """Refuse to start a write that the target's file system has no room for."""
    parent = target.parent if str(target.parent) else Path(".")
    try:
        free = shutil.disk_usage(parent).free
    except OSError:
        return  # cannot tell (a missing directory is reported by the target check)
    need = nbytes + DISK_MARGIN
    if need > free:
        raise OutputError(f"{target}: needs {human(need)} but only {human(free)} is free on "
                          f"{parent}; free some space or write elsewhere")


def check_output(target: Path, kind: str, names: Iterable[str], nbytes: int) -> None:
    """Everything about an output that can be checked before writing it."""
    if target.exists() and not target.is_file() and not target.is_dir():
        # the finished file is renamed over the target: that would replace /dev/null itself
        raise UsageError(f"{target}: is not a regular file (a device, pipe or socket); initgen "
                         "renames the finished file over its target, so write to a file instead")
    names = list(names)
    for name in names:
        why = name_problem(name)
        if why:
            raise UsageError(f"cannot write {target}: {why}")
    if kind == "hdf5":
        check_hdf5_names(names)
    check_free_space(target, nbytes)


HDF5_PROBE_SECONDS = 10.0  # reading a sound file's structure takes milliseconds


def probe_hdf5(path: Path, seconds: float | None = None) -> None:
    """Read an HDF5 file's structure in a child process first, with a time limit.

    The HDF5 library can loop forever, or crash, on some corrupt files (a damaged
    heap under an attribute, say), deep in C where no signal handler runs. A child
    that does the same reads the reader is about to do (open, attributes, the tree of
    groups and datasets, each dataset's attributes and chunk index) shows whether they
    finish; a child that hangs is killed, one that crashes is reported, and this process
    never starts them. Where there is no fork (Windows) the probe is skipped.
    """
    import os
    import time

    if not hasattr(os, "fork"):  # pragma: no cover
        return
    import h5py  # noqa: F401  (imported here, not in each child)

    limit = HDF5_PROBE_SECONDS if seconds is None else seconds
    pid = os.fork()
    if pid == 0:  # the child: any Python-level failure is fine, the parent reports it
        code = 0
        try:
            import faulthandler

            faulthandler.disable()  # no crash dumps or HDF5 noise from the child
            os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
            _walk_hdf5(path)
        except BaseException:
            code = 3
        finally:
            os._exit(code)
    deadline = time.monotonic() + limit
    delay = 0.001
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise FileFormatError(f"{path}: not a valid HDF5 file: the HDF5 library did not finish "
                                  f"reading its structure in {limit:g} s (a corrupt file makes it loop)")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    if os.WIFSIGNALED(status):
        raise FileFormatError(f"{path}: not a valid HDF5 file: the HDF5 library crashed reading it "
                              f"(signal {os.WTERMSIG(status)})")


def _walk_hdf5(path: Path) -> None:
    import h5py

    with h5py.File(path, "r") as f:
        for key in f.attrs:
            f.attrs[key]

        def visit(name: str, obj: object) -> None:
            for key in obj.attrs:  # type: ignore[attr-defined]
                obj.attrs[key]  # type: ignore[attr-defined]
            if isinstance(obj, h5py.Dataset):
                obj.id.get_storage_size()
                if obj.chunks is not None:
                    obj.id.get_num_chunks()

        f.visititems(visit)
