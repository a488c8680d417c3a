"""Tasks: each tensor cut into chunks of ``sampling.CHUNK`` values, and the values of one task.

Each chunk draws from its own stream, so a task's values do not depend on which
worker makes it, in what order, or what else is made. Whole-tensor schemes
(orthogonal, ...) are one task holding that tensor (chunk index −1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np

from ..dtypes import DTYPES
from ..plan import TensorPlan
from .exactmath import Scratch
from .narrow import NARROW, in_range, pack_pairs, signs_apart, to_narrow
from .sampling import (
    CHUNK,
    CHUNK_SAMPLERS,
    WORK_BLOCK,
    fill_chunk,
    fill_normal_pairs,
    fill_pieces,
    work_dtype,
)
from .whole_tensor import WHOLE_SAMPLERS

Sink = Callable[[TensorPlan, int, np.ndarray], None]
Place = Callable[[TensorPlan, int], int]  # (tensor, first element) → wanted address residue
Task = tuple[TensorPlan, int, int, int]  # (tensor, chunk index, value count, first element)
Added = Callable[[int], None]  # bytes just handed to the sink


def tasks(t: TensorPlan) -> Iterator[tuple[int, int]]:
    """(chunk index, value count) of each task of tensor ``t``; chunk −1 = whole tensor."""
    if t.dist.kind in WHOLE_SAMPLERS:
        yield -1, t.numel
        return
    for i, start in enumerate(range(0, t.numel, CHUNK)):
        yield i, min(CHUNK, t.numel - start)


def make_chunk(
    t: TensorPlan,
    seed: int,
    chunk: int,
    count: int,
    buffers: Scratch | None = None,
    residue: int | None = None,
    *,
    raw: bool = False,
) -> np.ndarray:
    """Values of one task, flat, in the tensor's output dtype.

    With ``buffers`` the result is a view of a reused buffer, valid until the next
    call with the same buffers; without, a fresh array. With ``buffers`` and
    ``residue``, a chunk's result starts at an address ≡ ``residue`` modulo
    ``exactmath.PLACE`` (for direct I/O; whole-tensor results are not placed).
    With ``raw``, element-wise bfloat16 comes as its uint16 bits: writers need no
    ml_dtypes (slow to import).
    """
    if chunk >= 0 and t.dtype in NARROW and t.dist.kind in CHUNK_SAMPLERS:
        codes = buffers.get("out", count, np.uint16, residue) if buffers else np.empty(count, np.uint16)
        narrow_chunk(t, seed, chunk, codes, buffers)
        return codes if raw and DTYPES[t.dtype].viewed else codes.view(DTYPES[t.dtype].np)
    out = DTYPES[t.dtype].np
    wdt = work_dtype(out)
    if chunk < 0:
        values = WHOLE_SAMPLERS[t.dist.kind](t.dist.params, seed, t.name, t.shape, wdt).reshape(-1)
        return values if values.dtype == out else values.astype(out)
    if t.dist.kind not in CHUNK_SAMPLERS:
        raise AssertionError(f"no sampler for {t.dist.kind}")
    same = wdt == out
    work = (
        buffers.get("chunk", count, wdt, residue if same else None) if buffers else np.empty(count, dtype=wdt)
    )
    draw(t, seed, chunk, work)
    if same:
        return work
    res = buffers.get("out", count, out, residue) if buffers else np.empty(count, dtype=out)
    np.copyto(res, work, casting="unsafe")  # round to nearest even (ml_dtypes for bf16/fp8)
    return res


def narrow_chunk(t: TensorPlan, seed: int, chunk: int, codes: np.ndarray, buffers: Scratch | None) -> None:
    """Chunk ``chunk`` of element-wise tensor ``t`` (bfloat16 or float16) as codes.

    Made in float32 a cache-sized piece at a time, each piece rounded on its bits
    straight into the output's while still in cache; normal pieces stay in
    Box-Muller's pair layout until rounded (narrow.pack_pairs).
    """
    kind, p, count = t.dist.kind, t.dist.params, codes.size
    checked = in_range(kind, p, t.dtype)
    if kind == "normal" and checked:
        apart = signs_apart(p, t.dtype)  # magnitudes and sign bits

        def pack(z: np.ndarray, signs: np.ndarray | None, start: int, n: int) -> None:
            pack_pairs(z, codes[start : start + n], t.dtype, signs)

        fill_normal_pairs(p, seed, t.name, chunk, count, pack, apart)
    else:
        n = min(count, WORK_BLOCK)
        work = buffers.get("piece", n, np.float32) if buffers else np.empty(n, dtype=np.float32)

        def done(piece: np.ndarray, start: int) -> None:
            to_narrow(piece, codes[start : start + piece.size], t.dtype, checked)

        fill_pieces(kind, p, seed, t.name, chunk, count, work, done)
    if "zero_row" in p:  # +0 is code 0 in both formats
        zero_row(codes, int(p["zero_row"]), t.shape, chunk * CHUNK)


def draw(t: TensorPlan, seed: int, chunk: int, work: np.ndarray) -> None:
    """Chunk ``chunk`` of element-wise tensor ``t`` into ``work`` (the working dtype),
    with its ``zero_row`` (a padding row) set to 0."""
    fill_chunk(t.dist.kind, t.dist.params, seed, t.name, chunk, work)
    if "zero_row" in t.dist.params:
        zero_row(work, int(t.dist.params["zero_row"]), t.shape, chunk * CHUNK)


def zero_row(values: np.ndarray, row: int, shape: tuple[int, ...], start: int) -> None:
    """Set the part of row ``row`` (first axis) that falls in ``values`` to 0, where
    ``values`` are a tensor's elements from ``start`` on, in row-major order."""
    width = math.prod(shape[1:])
    lo, hi = max(row * width, start), min((row + 1) * width, start + values.size)
    if lo < hi:
        values[lo - start : hi - start] = 0


def make_tensor(t: TensorPlan, seed: int) -> np.ndarray:
    """One whole tensor, exactly as it appears in a file made from its plan.

    Args:
        t: the tensor's plan (one of ``build_plan(...).tensors``).
        seed: the plan's seed.

    Returns:
        A NumPy array of ``t.shape`` in ``t.dtype`` (bfloat16 and float8 as ml_dtypes).

    Raises:
        AssertionError: ``t.dist`` names no sampler (a hand-made plan; ``build_plan``
            only makes plans this initgen can generate).

    >>> from initgen import build_plan, load_spec
    >>> spec = load_spec("s.yaml", text="initgen: 1\\nlayers: [{name: fc, type: dense, in: 4, out: 2}]")
    >>> plan = build_plan(spec)
    >>> make_tensor(plan.tensors[0], plan.seed).shape
    (2, 4)
    """
    out = np.empty(t.numel, dtype=DTYPES[t.dtype].np)
    start = 0
    for chunk, count in tasks(t):
        out[start : start + count] = make_chunk(t, seed, chunk, count)
        start += count
    return out.reshape(t.shape)


def task_list(tensors: list[TensorPlan]) -> list[Task]:
    """Every task as (tensor, chunk, count, first element), in file order."""
    work = []
    for t in tensors:
        start = 0
        for chunk, count in tasks(t):
            work.append((t, chunk, count, start))
            start += count
    return work


def work_list(tensors: list[TensorPlan]) -> list[Task]:
    """:func:`task_list`, whole tensors first.

    Whole-tensor tasks are slow and single-threaded; starting them first lets the
    other threads fill in with chunks instead of waiting on one at the end.
    """
    return sorted(task_list(tensors), key=lambda w: w[1] >= 0)
