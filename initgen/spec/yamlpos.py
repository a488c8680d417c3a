"""YAML → plain Python objects plus the line of every key path.

The YAML is read with PyYAML's safe loader (no arbitrary objects), composed into
nodes so that each value keeps its position, then turned into dicts, lists and
scalars. Merge keys (``<<``) and anchors/aliases work as in ``yaml.safe_load``; the
number of values an alias may expand to is bounded, so an "alias bomb" is refused.
"""

from __future__ import annotations

import functools
from typing import Any

from ..errors import SpecError, storable

Path = tuple[str | int, ...]
MAX_NODES = 200_000  # values a spec may expand to through aliases


UNSTORABLE = "holds a lone surrogate (an escape from \\ud800 to \\udfff), which no file can store"


def render_path(path: Path) -> str:
    """('layers', 3, 'init') → 'layers[3].init'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class Positions:
    """Line numbers of key paths; a path without its own line uses its parent's."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[Path, int] = {}

    def line(self, path: Path) -> int | None:
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]

    def error(self, path: Path, message: str, hint: str | None = None) -> SpecError:
        return SpecError(
            message, file=self.file, line=self.line(path), key=render_path(path) or None, hint=hint
        )


# YAML 1.1 (PyYAML) reads 2e-2 and 1.0e6 as strings: a float needs a dot and a signed
# exponent there. Specs are full of such numbers, so they are floats, as in YAML 1.2.
_EXPONENT_FLOAT = r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"


@functools.cache
def spec_loader() -> type:
    """PyYAML's safe loader, with YAML 1.2's exponent floats."""
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float", re.compile(_EXPONENT_FLOAT), list("-+0123456789.")
    )
    return Loader


def load_yaml(text: str, file: str) -> tuple[Any, Positions]:
    """Parse ``text``; return the data and the positions of its key paths."""
    import yaml

    pos = Positions(file)
    Loader = spec_loader()
    try:
        loader = Loader(text)
    except yaml.reader.ReaderError as e:  # the reader refuses control characters up front
        raise SpecError(
            f"not valid YAML: character {e.character:#06x} is not allowed",
            file=file,
            line=text.count("\n", 0, e.position) + 1,
        ) from None
    count = 0

    def walk(node: yaml.Node, path: Path) -> Any:
        nonlocal count
        count += 1
        if count > MAX_NODES:
            raise pos.error(
                path, f"the spec expands to more than {MAX_NODES} values (anchors/aliases nested too deep?)"
            )
        pos.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            if not hasattr(node, "merged"):  # an aliased node is flattened once
                own = sum(k.tag != "tag:yaml.org,2002:merge" for k, _ in node.value)
                loader.flatten_mapping(node)
                node.merged = len(node.value) - own  # type: ignore[attr-defined]
            out: dict[Any, Any] = {}
            own_keys: set[str] = set()  # merged pairs come first; the mapping's own override them
            for index, (knode, vnode) in enumerate(node.value):
                key = loader.construct_object(knode, deep=True)
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    raise SpecError(
                        "mapping keys must be plain words",
                        file=file,
                        line=knode.start_mark.line + 1,
                        key=render_path(path) or None,
                    )
                key = str(key) if not isinstance(key, str) else key
                if not storable(key):
                    raise SpecError(
                        f"key {key!r} {UNSTORABLE}",
                        file=file,
                        line=knode.start_mark.line + 1,
                        key=render_path(path) or None,
                    )
                if index >= node.merged:  # type: ignore[attr-defined]
                    if key in own_keys:
                        raise SpecError(
                            f"duplicate key '{key}'",
                            file=file,
                            line=knode.start_mark.line + 1,
                            key=render_path(path) or None,
                        )
                    own_keys.add(key)
                where = (*path, key)
                pos.lines[where] = knode.start_mark.line + 1
                out[key] = walk(vnode, where)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [walk(item, (*path, i)) for i, item in enumerate(node.value)]
        value = loader.construct_object(node, deep=True)
        if isinstance(value, str) and not storable(value):
            raise pos.error(path, f"{value!r} {UNSTORABLE}")
        return value

    try:
        try:
            node = loader.get_single_node()
        except yaml.composer.ComposerError as e:
            line = e.problem_mark.line + 1 if e.problem_mark else None
            single = "another document" in (e.problem or "")  # also raised for an undefined alias
            raise SpecError(
                "a spec is a single YAML document (found more than one)"
                if single
                else f"not valid YAML: {e.problem}",
                file=file,
                line=line,
            ) from None
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            problem = getattr(e, "problem", None) or str(e).splitlines()[0]
            raise SpecError(
                f"not valid YAML: {problem}", file=file, line=mark.line + 1 if mark else None
            ) from None
        except RecursionError:  # the composer recurses once per nesting level
            raise SpecError("the spec is nested too deeply", file=file) from None
        if node is None:
            raise SpecError("the spec is empty", file=file)
        try:
            return walk(node, ()), pos
        except RecursionError:
            raise SpecError("the spec is nested too deeply", file=file) from None
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            raise SpecError(
                f"not valid YAML: {getattr(e, 'problem', e)}", file=file, line=mark.line + 1 if mark else None
            ) from None
    finally:
        loader.dispose()
