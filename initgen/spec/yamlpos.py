"""YAML → plain Python objects plus the line of every key path.

The YAML is read with PyYAML's safe loader (no arbitrary objects), composed into
nodes so that each value keeps its position, then turned into dicts, lists and
scalars. Merge keys (``<<``) and anchors/aliases work as in ``yaml.safe_load``; the
number of values an alias may expand to is bounded, so an "alias bomb" is refused.
"""

from __future__ import annotations

from typing import Any

from ..errors import SpecError

Path = tuple[str | int, ...]
MAX_NODES = 200_000  # values a spec may expand to through aliases


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
        return SpecError(message, file=self.file, line=self.line(path),
                         key=render_path(path) or None, hint=hint)


def load_yaml(text: str, file: str) -> tuple[Any, Positions]:
    """Parse ``text``; return the data and the positions of its key paths."""
    import yaml

    pos = Positions(file)

    class Loader(yaml.SafeLoader):
        pass

    loader = Loader(text)
    count = 0

    def walk(node: yaml.Node, path: Path) -> Any:
        nonlocal count
        count += 1
        if count > MAX_NODES:
            raise pos.error(path, f"the spec expands to more than {MAX_NODES} values "
                                  "(anchors/aliases nested too deep?)")
        pos.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            loader.flatten_mapping(node)
            out: dict[Any, Any] = {}
            for knode, vnode in node.value:
                key = loader.construct_object(knode, deep=True)
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    raise SpecError("mapping keys must be plain words", file=file,
                                    line=knode.start_mark.line + 1, key=render_path(path) or None)
                key = str(key) if not isinstance(key, str) else key
                if key in out:
                    raise SpecError(f"duplicate key '{key}'", file=file,
                                    line=knode.start_mark.line + 1, key=render_path(path) or None)
                pos.lines[(*path, key)] = knode.start_mark.line + 1
                out[key] = walk(vnode, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [walk(item, (*path, i)) for i, item in enumerate(node.value)]
        return loader.construct_object(node, deep=True)

    try:
        try:
            node = loader.get_single_node()
        except yaml.composer.ComposerError as e:
            line = e.problem_mark.line + 1 if e.problem_mark else None
            raise SpecError("a spec is a single YAML document (found more than one)",
                            file=file, line=line) from None
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            problem = getattr(e, "problem", None) or str(e).splitlines()[0]
            raise SpecError(f"not valid YAML: {problem}", file=file,
                            line=mark.line + 1 if mark else None) from None
        if node is None:
            raise SpecError("the spec is empty", file=file)
        try:
            return walk(node, ()), pos
        except RecursionError:
            raise SpecError("the spec is nested too deeply", file=file) from None
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            raise SpecError(f"not valid YAML: {getattr(e, 'problem', e)}", file=file,
                            line=mark.line + 1 if mark else None) from None
    finally:
        loader.dispose()
