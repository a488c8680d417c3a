"""`initgen verify`: regenerate every tensor of a file made by initgen and compare bytes.

A file made by initgen records, per tensor, the plan its values came from
(``initgen.tensors``: scheme, args, distribution, fans) and the seed and stream
version; names, shapes and dtypes are in the file itself. That is everything the
engine needs to make each chunk again, alone, so verification streams: one chunk
regenerated and compared at a time (whole-tensor schemes: one tensor), in
``threads`` workers, reporting the first differing tensor in file order.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import CheckFailed, FileFormatError
from .io.readers import WeightFile, open_weights
from .stats import default_threads, recorded_plans


@dataclass
class Verified:
    file: str
    tensors: int
    params: int
    seed: int


def _plans(wf: WeightFile) -> tuple[int, list]:
    from .plan import TensorPlan
    from .sampling import STREAM_VERSION

    meta = wf.metadata
    if "initgen.seed" not in meta or "initgen.tensors" not in meta:
        raise FileFormatError(f"{wf.path}: has no initgen metadata (initgen.seed, initgen.tensors); "
                              "only files made by initgen can be verified")
    stream = meta.get("initgen.stream")
    if stream != STREAM_VERSION:
        raise CheckFailed(f"{wf.path}: made with stream '{stream}'; this initgen makes "
                          f"'{STREAM_VERSION}', so its tensors cannot be regenerated here")
    try:
        seed = int(meta["initgen.seed"])
    except ValueError:
        raise FileFormatError(f"{wf.path}: initgen.seed {meta['initgen.seed']!r} is not an integer") from None
    recorded = recorded_plans(meta)
    plans = []
    for info in wf.tensors:
        rec = recorded.get(info.name)
        if not isinstance(rec, dict):
            raise CheckFailed(f"{wf.path}: tensor '{info.name}' has no recorded plan, "
                              "so it cannot be regenerated")
        try:
            plans.append(TensorPlan.from_json({**rec, "name": info.name, "shape": list(info.shape),
                                               "dtype": info.dtype}))
        except (KeyError, TypeError, ValueError) as e:
            raise FileFormatError(f"{wf.path}: the recorded plan of tensor '{info.name}' is "
                                  f"malformed ({e!r})") from None
    return seed, plans


def verify(path: str | Path, *, threads: int | None = None,
           progress: Callable[[int, int], None] | None = None) -> Verified:
    """Regenerate and compare every tensor; raise CheckFailed naming the first that differs."""
    from .engine import make_chunk, tasks

    with open_weights(path) as wf:
        seed, plans = _plans(wf)
        work = []
        for t in plans:
            start = 0
            for chunk, count in tasks(t):
                work.append((t, chunk, start, count))
                start += count

        def compare(item: tuple) -> str | None:
            t, chunk, start, count = item
            try:
                made = make_chunk(t, seed, chunk, count)
                have = np.ascontiguousarray(wf.values(t.name, start, count), dtype=made.dtype)
                a, b = made.view(np.uint8), have.view(np.uint8)
                if np.array_equal(a, b):
                    return None
                i = int(np.flatnonzero((a != b).reshape(count, -1).any(axis=1))[0])
                return (f"{t.name}: differs from the values regenerated from its plan "
                        f"({t.scheme}, seed {seed}) at element {start + i:,}: file has "
                        f"{float(have[i]):.9g}, regenerated {float(made[i]):.9g}")
            finally:
                wf.release(t.name, start, count)

        total, done = sum(t.numel for t in plans), 0
        pool = ThreadPoolExecutor(threads or default_threads())
        try:
            for item, bad in zip(work, pool.map(compare, work)):
                if bad:
                    raise CheckFailed(f"{path}: {bad}")
                done += item[3]
                if progress:
                    progress(done, total)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # stop at the first difference
        return Verified(str(path), len(plans), sum(t.numel for t in plans), seed)
