"""Transformers ``config.json`` → an initgen spec with the Hub's exact tensor layout.

A config's ``model_type`` picks a family template (``families/<model_type>.yaml``);
the config's numbers become the spec's vars, its structural switches (tied
embeddings, biases) pick the template's layers, and its ``dtype`` the spec's dtype.
``initgen from-config`` writes the spec text; making from a config goes through the
same text, so both give byte-identical files. See docs/from-config.md.

Only PyYAML is imported when a config is converted; this module itself imports nothing
heavy.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SpecError

if TYPE_CHECKING:
    from ..spec import Spec

__all__ = ["config_spec_text", "is_config_source", "load_config_spec", "read_config", "spec_source"]

MAX_CONFIG_BYTES = 16 * 1024 * 1024


def is_config_source(path: str | Path) -> bool:
    """True for a ``.json`` file, or a directory that holds a ``config.json``."""
    p = Path(path)
    try:
        if p.is_dir():
            return (p / "config.json").is_file()
    except OSError:  # unreachable (a name too long, no permission): reading it will say so
        pass
    return p.suffix.lower() == ".json"


def read_config(path: str | Path) -> tuple[dict[str, Any], str]:
    """Read a ``config.json`` (or a directory's); return its object and the file's path.

    Every problem (missing, unreadable, not JSON, not an object) is a SpecError naming
    the file, with the line of a JSON syntax error.
    """
    import json

    p = Path(path)
    if p.is_dir():
        if not (p / "config.json").is_file():
            raise SpecError("no config.json in this directory", file=str(p))
        p = p / "config.json"
    from ..spec import read_text

    name = str(p)
    text = read_text(p, MAX_CONFIG_BYTES, "a config", directory="is a directory, not a config file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise SpecError(f"not valid JSON: {e.msg} (column {e.colno})", file=name, line=e.lineno) from None
    except RecursionError:
        raise SpecError("not valid JSON: nested too deeply", file=name) from None
    if not isinstance(data, dict):
        raise SpecError(f"a config.json holds a JSON object, got {type(data).__name__}", file=name)
    return data, name


def config_spec_text(config: dict[str, Any], source: str) -> str:
    """The spec (YAML text) for a config: what ``initgen from-config`` writes.

    ``source`` names the config in messages and in the spec's comments. Raises
    SpecError for an unsupported family, head or key.
    """
    from .convert import resolve
    from .render import render

    return render(resolve(config, source), source)


def load_config_spec(
    path: str | Path, overrides: Mapping[str, Any] | None = None, dtype: str | None = None
) -> Spec:
    """Read a config and load its spec, as ``load_spec`` does for a spec file.

    ``overrides`` replace vars (``--set n_layer=2``); ``dtype`` replaces the config's.
    Errors found in the spec itself (sizes that do not fit together, such as heads not
    dividing the width) are located in it as "spec of <config>:<line>", the line of
    ``initgen from-config``'s output.
    """
    from ..spec import load_spec

    config, source = read_config(path)
    return load_spec(spec_source(source), overrides, text=config_spec_text(config, source), dtype=dtype)


def spec_source(source: str) -> str:
    """How errors name the spec made from the config at ``source``."""
    return f"spec of {source}"
