"""Shards on a Dask distributed cluster: one task per shard, the index written last.

The client checks every target first (existing files refused without ``force``),
then submits :func:`make_shard` once per shard; each worker makes its shard exactly
as ``initgen make … --shard K/N`` would (so the bytes equal a local run's) and
writes it straight to the output: a directory every worker sees, or object storage.
As shards finish the progress bar moves; when all are there the client removes
what killed attempts left behind (temporary files, unfinished multipart uploads),
writes the index and deletes stale checkpoint files.

A worker that dies mid-shard is Dask's business: the scheduler runs the task again
elsewhere (up to its ``allowed-failures``) and the new attempt writes the same bytes.
A shard that fails for good, Ctrl-C or SIGTERM: a stop event tells running tasks to
give up at their next chunk (queued ones as they start), and once every task has
ended every shard of this run is removed.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

from ..checkpoint import INDEX_NAME, is_checkpoint_file
from ..errors import InitgenError, OutputError, UsageError
from ..plan import DEFAULT_MAX_BYTES, Plan
from ..progress import Counter, Progress
from ..storage import StorageOptions, check_store, is_url, open_store, protocol, store_error
from .atomic import TMP_MARK
from .common import FORMATS, preflight
from .remote import join, refuse_existing
from .sharding import Sharding, assign
from .uploads import abort_pending

STOP_POLL = 0.5  # seconds between a task's looks at the stop event
DRAIN_SECONDS = 60.0  # how long a stopped run waits for running tasks to give up


class Cancelled(Exception):
    """The client asked running shard tasks to stop."""


def make_shard(
    plan: Plan,
    out: str,
    max_shard_size: int,
    k: int,
    n: int,
    storage_options: StorageOptions | None,
    stop: str,
    threads: int | None,
) -> int:
    """Run on a worker: shard ``k`` of ``n`` into ``out``, no index; returns ``k``."""
    from distributed import Event

    from .single import write

    event = Event(stop)
    last = [0.0]

    if event.is_set():
        raise Cancelled(f"shard {k}/{n} stopped by the client")

    def check(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= STOP_POLL:
            last[0] = now
            if event.is_set():
                raise Cancelled(f"shard {k}/{n} stopped by the client")

    write(
        plan,
        out,
        max_shard_size=max_shard_size,
        shard=(k, n),
        force=True,  # the client checked the targets; a retried attempt replaces its own
        threads=threads,
        progress=check,
        storage_options=storage_options,
        index=False,
    )
    return k


def write_on_dask(
    plan: Plan,
    out: str,
    max_shard_size: int,
    address: str,
    *,
    force: bool = False,
    threads: int | None = None,
    progress: Progress | None = None,
    storage_options: StorageOptions | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> str:
    """Make every shard of ``plan`` as a task on the Dask scheduler at ``address``
    (``tcp://…``, or ``local`` for a :class:`LocalCluster`), then the index.
    ``threads``: generation threads per task (default 1: Dask's workers are the
    parallelism). Returns ``out``."""
    preflight(plan, max_bytes)
    try:
        import distributed
    except ImportError:
        raise UsageError("--dask needs the dask extra: pip install 'initgen[dask]'") from None
    sharding = Sharding(assign(plan.file_order(), max_shard_size))
    names, n = sharding.names(), sharding.n
    target = Target(out, storage_options)
    stale = target.check(names, force)
    token = uuid.uuid4().hex[:12]
    client, cluster = connect(distributed, address, n)
    add = Counter(sum(t.nbytes for t in plan.tensors), progress).add if progress else None
    stop = distributed.Event(f"initgen-stop-{token}", client=client)
    keys = {f"initgen-shard-{k:05d}-of-{n:05d}-{token}": k for k in range(1, n + 1)}
    futures: list[Any] = []
    try:
        for key, k in keys.items():
            args = (plan, out, max_shard_size, k, n, storage_options, stop.name, threads or 1)
            futures.append(client.submit(make_shard, *args, key=key, pure=False, retries=1))
        for fut in distributed.as_completed(futures):
            k = keys[fut.key]
            if fut.status != "finished":
                error = fut.exception()
                first = str(error).strip().split(". ")[0].splitlines()[0] if str(error).strip() else ""
                raise OutputError(f"shard {k}/{n} ({names[k - 1]}) failed: {first or type(error).__name__}")
            if add:
                add(sum(t.nbytes for t in sharding.shards[k - 1]))
        target.clean(names)  # what killed attempts left behind
        if n > 1:
            from .single import write

            write(plan, out, max_shard_size=max_shard_size, index_only=True, storage_options=storage_options)
        target.remove(stale)
    except BaseException:
        stop.set()
        drain(distributed, futures)
        client.cancel(futures)
        target.remove(names)
        target.clean(names)
        target.undo()
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return out


def connect(distributed: Any, address: str, n: int) -> tuple[Any, Any]:
    """A client of the scheduler at ``address``; ``local`` starts a LocalCluster."""
    import logging

    if address == "local":
        import warnings

        workers = max(1, min(n, os.cpu_count() or 1))
        with warnings.catch_warnings():  # "port 8787 is in use": another cluster's; any port will do
            warnings.simplefilter("ignore")
            cluster = distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
        return distributed.Client(cluster), cluster
    try:
        return distributed.Client(address, timeout=10), None
    except ValueError as e:
        raise UsageError(f"--dask {address}: {e} (e.g. tcp://scheduler:8786, or local)") from None
    except OSError as e:
        raise OutputError(f"--dask {address}: cannot reach the scheduler ({e})") from None


def drain(distributed: Any, futures: list[Any]) -> None:
    """Wait (bounded) until every task has ended: with the stop event set, running
    tasks give up at their next chunk and queued ones as they start. (Cancelling
    first would not do: the scheduler forgets a cancelled task its worker still runs.)"""
    try:
        distributed.wait(futures, timeout=DRAIN_SECONDS)
    except Exception:  # a timeout, or the scheduler gone: clean up what can be cleaned
        pass


class Target:
    """The output of a Dask run: a shared directory or a prefix in object storage."""

    def __init__(self, out: str, storage_options: StorageOptions | None) -> None:
        self.out = out
        self.remote = is_url(out) and protocol(out) != "file"
        self.created = False
        if self.remote:
            self.fs, self.path = open_store(out, storage_options)
        else:
            self.dir = Path(out.split("://", 1)[1] if is_url(out) else out)

    def check(self, names: list[str], force: bool) -> list[str]:
        """Refuse existing targets without ``force``; the stale files to delete at the end."""
        if self.remote:
            check_store(self.fs, self.out)
            objects = [(join(self.out, x), join(self.path, x)) for x in [*names, INDEX_NAME]]
            try:
                return refuse_existing(self.fs, self.out, self.path, objects, force, full=True)
            except InitgenError:
                raise
            except Exception as e:
                raise store_error(self.out, e) from None
        d = self.dir
        if d.suffix.lower() in FORMATS:
            raise UsageError(
                f"{d}: with --max-shard-size, -o names a directory (e.g. -o {d.with_suffix('')}/)"
            )
        if d.exists() and not d.is_dir():
            raise UsageError(f"{d}: is not a directory")
        if not d.exists():
            if not d.parent.is_dir():
                raise UsageError(f"{d}: the directory {d.parent} does not exist")
            d.mkdir()
            self.created = True
        found = sorted(p.name for p in d.iterdir() if is_checkpoint_file(p.name))
        if found and not force:
            raise UsageError(f"{d / found[0]}: already exists; use --force to replace it")
        return [x for x in found if x not in names and x != INDEX_NAME]

    def remove(self, names: list[str]) -> None:
        for name in names:
            try:
                if self.remote:
                    if self.fs.exists(join(self.path, name)):
                        self.fs.rm_file(join(self.path, name))
                else:
                    (self.dir / name).unlink(missing_ok=True)
            except Exception:
                pass

    def clean(self, names: list[str]) -> None:
        """Temporary files and unfinished uploads of attempts that were killed."""
        if self.remote:
            abort_pending(self.fs, [join(self.path, x) for x in names])
            return
        for name in names:
            for tmp in self.dir.glob(f".{name}.*{TMP_MARK}"):
                tmp.unlink(missing_ok=True)

    def undo(self) -> None:
        if self.created:
            try:
                self.dir.rmdir()
            except OSError:
                pass
