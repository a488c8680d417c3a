"""The spec language: YAML with positions → a checked, expanded :class:`Spec`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..errors import SpecError
from ..paths import PathLike
from .model import LayerSpec, Spec, parse_spec
from .yamlpos import Positions, load_yaml, render_path, spec_loader

__all__ = ["LayerSpec", "Positions", "Spec", "load_spec", "parse_overrides", "read_text", "render_path"]

MAX_SPEC_BYTES = 16 * 1024 * 1024


def load_spec(
    source: PathLike,
    overrides: Mapping[str, Any] | None = None,
    *,
    text: str | None = None,
    dtype: str | None = None,
    defaults: str | None = None,
) -> Spec:
    """Read and check a spec.

    Args:
        source: the spec file, or the name shown in errors when ``text`` is given.
        overrides: values that replace vars (``--set``), e.g. ``{"n_layer": 2}``.
        text: the spec's YAML, instead of reading ``source``.
        dtype: replaces the spec's ``dtype:``.
        defaults: replaces the spec's ``defaults:`` (a framework preset: torch, keras,
            flax or transformers).

    Returns:
        The checked, expanded :class:`Spec` (every layer resolved).

    Raises:
        SpecError: anything wrong with the file or its contents, naming file, line and key.

    >>> spec = load_spec("mlp.yaml", text="initgen: 1\\nlayers: [{name: fc, type: dense, in: 4, out: 2}]")
    >>> [layer.name for layer in spec.layers]
    ['fc']
    """
    name = str(source)
    if text is None:
        text = read_text(
            source,
            MAX_SPEC_BYTES,
            "a spec",
            directory="is a directory without a config.json; give a spec file, a config.json, "
            "or a model directory that holds one",
        )
    data, pos = load_yaml(text, name)
    if dtype is not None and isinstance(data, dict):
        data = {**data, "dtype": dtype}
    if defaults is not None and isinstance(data, dict):
        data = {**data, "defaults": defaults}
    return parse_spec(data, pos, overrides)


def read_text(source: PathLike, limit: int, what: str, *, directory: str) -> str:
    """The UTF-8 text of a small input file (a spec, a config.json).

    Every problem is a :class:`SpecError` naming the file: missing, a directory (with
    the ``directory`` message), unreadable, over ``limit`` bytes, not UTF-8 (with the line).
    """
    name = str(source)
    try:
        with open(source, "rb") as f:  # at most limit + 1 bytes: a pipe or device may not end
            raw = f.read(limit + 1)
            size = os.fstat(f.fileno()).st_size
    except FileNotFoundError:
        raise SpecError("no such file", file=name) from None
    except IsADirectoryError:
        raise SpecError(directory, file=name) from None
    except OSError as e:
        raise SpecError(f"cannot read: {e.strerror}", file=name) from None
    if len(raw) > limit:
        said = f"is {size} bytes" if size > limit else f"is more than {limit} bytes"
        raise SpecError(f"{said}; {what} may be at most {limit}", file=name)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SpecError("is not UTF-8 text", file=name, line=raw[: e.start].count(b"\n") + 1) from None


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``["n_layer=2", "hidden=${64*2}"]`` → ``{"n_layer": 2, "hidden": "${64*2}"}``."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SpecError(f"--set {item!r}: expected KEY=VALUE")
        try:
            out[key.strip()] = yaml.load(value, Loader=spec_loader()) if value.strip() else ""
        except yaml.YAMLError:
            out[key.strip()] = value
    return out
