"""Resolved config → spec text: the template's layers with its switches applied.

``when:`` on a layer or block keeps it only if its condition holds (a flag name,
``not <flag>``, or a list of those, all of which must hold); ``{flag: key}`` as a value
becomes the flag's boolean. Both are gone from the text, which is plain spec YAML:
one flow mapping per layer, block mappings for ``group`` and ``repeat``.
"""

from __future__ import annotations

import json
import re
from pathlib import PurePath
from typing import Any

from .convert import Resolved, VarValue

PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
YAML_WORDS = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}
BLOCK_KEYS = ("group", "repeat", "as", "prefix", "layout", "dtype")
WIDTH = 96  # spec lines are folded at this width


def holds(cond: Any, flags: dict[str, bool]) -> bool:
    """Evaluate a ``when:`` condition against the flags."""
    if isinstance(cond, list):
        return all(holds(c, flags) for c in cond)
    if not isinstance(cond, str):
        raise TypeError(f"when: expected a flag name, got {cond!r}")
    negate, _, name = cond.rpartition(" ")
    if negate not in ("", "not") or name not in flags:
        raise ValueError(f"when: {cond!r} names no flag of the template")
    return flags[name] != (negate == "not")


def apply_flags(obj: Any, flags: dict[str, bool]) -> Any:
    """Drop items whose ``when`` fails, strip ``when``, replace ``{flag: key}``."""
    if isinstance(obj, list):
        out = []
        for item in obj:
            if isinstance(item, dict) and "when" in item:
                if not holds(item["when"], flags):
                    continue
                item = {k: v for k, v in item.items() if k != "when"}
            out.append(apply_flags(item, flags))
        return out
    if isinstance(obj, dict):
        if set(obj) == {"flag"}:
            return flags[obj["flag"]]
        return {k: apply_flags(v, flags) for k, v in obj.items()}
    return obj


def scalar(value: Any) -> str:
    """One YAML scalar that reads back as ``value`` (numbers exactly, via repr)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if value is None:
        return "null"
    text = str(value)
    if PLAIN.match(text) and text.lower() not in YAML_WORDS:
        return text
    return json.dumps(text, ensure_ascii=False)


def flow(value: Any) -> str:
    """A value in YAML flow style."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{scalar(k)}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return scalar(value)


def flow_lines(item: dict[str, Any], lead: str, width: int = WIDTH) -> list[str]:
    """A layer as a flow mapping starting with ``lead``, folded after commas at ``width``."""
    parts = [f"{scalar(k)}: {flow(v)}" for k, v in item.items()]
    lines, line = [], lead + "{" + parts[0]
    for part in parts[1:]:
        if len(line) + len(part) + 3 > width:
            lines.append(line + ",")
            line = " " * (len(lead) + 1) + part
        else:
            line += ", " + part
    return [*lines, line + "}"]


def emit_layers(items: list[Any], indent: int) -> list[str]:
    """Layers as YAML lines: a flow mapping per layer, block mappings for blocks."""
    pad, lines = " " * indent, []
    for item in items:
        if not any(k in item for k in ("group", "repeat")):
            lines += flow_lines(item, f"{pad}- ")
            continue
        keys = [k for k in BLOCK_KEYS if k in item]
        for n, key in enumerate(keys):
            lines.append(f"{pad}{'- ' if n == 0 else '  '}{key}: {scalar(item[key])}")
        lines.append(f"{pad}  layers:")
        lines += emit_layers(item["layers"], indent + 4)
    return lines


def with_padding(layers: list[Any], r: Resolved) -> list[Any]:
    """The template's embedding with ``zero_row: ${pad}`` in its init, when it pads."""
    if r.pad is None or r.family.padding is None:
        return layers
    name = r.family.padding.layer
    out = [
        {**item, "init": {**item["init"], "zero_row": "${pad}"}} if item.get("name") == name else item
        for item in layers
    ]
    if out == layers:
        raise ValueError(f"padding: the template has no top-level layer {name!r}")
    return out


def _var_line(v: VarValue, width: int) -> str:
    text = f"  {v.name}: {scalar(v.value)}"
    if not v.key:
        return text
    note = v.key if v.given else f"{v.key}: not set, the config class's default"
    return f"{text.ljust(width)}  # {note}"


def spec_name(source: str) -> str:
    """The spec's name: the config's directory for ``…/name/config.json``, else its stem."""
    path = PurePath(source)
    if path.name == "config.json" and path.parent.name not in ("", "."):
        return path.parent.name
    return path.stem or "model"


def render(r: Resolved, source: str) -> str:
    """The spec text for a resolved config."""
    fam, head = r.family, r.head
    base = with_padding(apply_flags(fam.layers, r.flags), r)
    variables = (*r.vars, *([r.pad] if r.pad else []))
    layers = [{"group": head.prefix, "layers": base}] if head.prefix else base
    layers = [*layers, *apply_flags(head.layers, r.flags)]
    switches = ", ".join(f"{k}: {scalar(v)}" for k, v in r.flags.items()) or "none"
    dtype_note = f"the config's {r.dtype_key}" if r.dtype_key else "the config sets no dtype"
    width = max(len(f"  {v.name}: {scalar(v.value)}") for v in variables)
    header = [
        f"# {head.name} (model_type {fam.model_type}, {fam.config_class}), made by",
        f"# `initgen from-config` from {source}.",
        (
            "# Tensor names, shapes and dtype are those of Transformers' save_pretrained for "
            f"this config (layout of {fam.modeling})."
        ),
        f"# Init, as Transformers' _init_weights: {fam.init}",
        *([f"# Note: {fam.notes}"] if fam.notes else []),
        *(
            [
                f"# The embedding row of pad_token_id ({r.pad.value}) is 0, as "
                "nn.Embedding(padding_idx) leaves it."
            ]
            if r.pad
            else []
        ),
        f"# Structural switches (from the config): {switches}.",
        *(
            [
                (
                    f"# Keys {fam.config_class} does not define (the model does not read them): "
                    f"{', '.join(r.unknown)}."
                )
            ]
            if r.unknown
            else []
        ),
        "# Vars hold the config's numbers: shrink with --set, e.g. --set n_layer=2.",
    ]
    body = [
        "initgen: 1",
        f"name: {scalar(spec_name(source))}",
        "seed: 0",
        f"dtype: {r.dtype}  # {dtype_note}",
        "layout: torch",
        "vars:",
        *(_var_line(v, width) for v in variables),
        "layers:",
        *emit_layers(layers, 2),
    ]
    return "\n".join([*_wrap(header), *body]) + "\n"


def _wrap(lines: list[str], width: int = 92) -> list[str]:
    """Comment lines folded at ``width``."""
    import textwrap

    out = lines[:2]  # the source path stays whole
    for line in lines[2:]:
        out += textwrap.wrap(
            line, width, subsequent_indent="#   ", break_on_hyphens=False, break_long_words=False
        ) or [line]
    return out
