"""Plan → a Keras 3 ``NAME.weights.h5`` file, or with ``max_shard_size`` its shards
``NAME_0000k.weights.h5`` and ``NAME.weights.json`` (:mod:`.keras` has the layout),
written atomically like every other output."""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError
from ..plan import DEFAULT_MAX_BYTES, Plan
from ..plan.keras import keras_plan
from ..progress import Counter, Progress
from .common import metadata, preflight, run_writer
from .keras import INDEX_SUFFIX, KerasWriter, keras_index, keras_shards, shard_base, shard_name
from .targets import check_output


def write_keras(
    plan: Plan,
    out: Path,
    max_shard_size: int | None = None,
    shard: tuple[int, int] | None = None,
    *,
    force: bool = False,
    threads: int | None = None,
    progress: Progress | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Path:
    """``plan`` in Keras' layout into ``out`` (arguments as :func:`initgen.write`'s).

    Returns ``out``, or with ``max_shard_size`` the ``NAME.weights.json`` written.
    """
    from .atomic import Atomic

    if shard is not None:
        raise UsageError("--shard makes safetensors shards; a Keras .weights.h5 set is made whole")
    kplan, groups = keras_plan(plan)
    preflight(kplan, max_bytes)
    tensors = kplan.tensors  # model order: Keras reads each layer's vars by index
    if max_shard_size is None:
        if out.name.lower().endswith(INDEX_SUFFIX):
            raise UsageError(f"{out}: a .weights.json index needs --max-shard-size; write NAME.weights.h5")
        files = [(out, tensors)]
        index = None
    else:
        folder, base = shard_base(out, max_shard_size)
        shards = keras_shards(tensors, max_shard_size)
        files = [(folder / shard_name(base, k), s) for k, s in enumerate(shards)]
        out = folder / f"{base}{INDEX_SUFFIX}"
        index = keras_index(base, shards)
    for path, part in files:
        check_output(path, "hdf5", [t.name for t in part], sum(t.nbytes for t in part))
    add = Counter(kplan.nbytes, progress).add if progress else None
    targets = [p for p, _ in files] + ([out] if index is not None else [])
    with Atomic(targets, force) as atomic:
        for path, part in files:
            writer = KerasWriter(atomic.tmp(path), part, metadata(kplan, part), groups)
            run_writer(writer, part, kplan.seed, threads, add)
        if index is not None:
            atomic.tmp(out).write_bytes(index)
        atomic.commit()
    return out
