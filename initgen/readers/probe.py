"""Reading an HDF5 file's structure in a child process first, with a time limit.

The HDF5 library can loop forever or crash on some corrupt files, deep in C where no
signal handler runs; the reader calls :func:`probe_hdf5` before it opens a file.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import FileFormatError

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
            raise FileFormatError(
                f"{path}: not a valid HDF5 file: the HDF5 library did not finish "
                f"reading its structure in {limit:g} s (a corrupt file makes it loop)"
            )
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    if os.WIFSIGNALED(status):
        raise FileFormatError(
            f"{path}: not a valid HDF5 file: the HDF5 library crashed reading it "
            f"(signal {os.WTERMSIG(status)})"
        )


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
