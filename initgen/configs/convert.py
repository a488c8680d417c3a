"""A Transformers ``config.json`` → the family, head, vars, flags and dtype of its spec.

Every key of the config is checked: the family's template reads it (a var, a flag or
a limit), accepts it (a key of the config class that does not change tensors), or
it is one of Transformers' generic keys. A key outside all of those that is a near
miss of a key the template reads is refused, so a typo such as ``num_hiden_layers``
cannot silently give a checkpoint of the default size; other unknown keys (stray
keys of Hub configs, such as ``use_mrope``) change nothing in Transformers either, and
are listed in the spec's comments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..dtypes import WEIGHT_DTYPES
from ..errors import SpecError, one_of, suggest
from .family import Family, Head, families
from .keys import GENERIC, REFUSED

WRITE_A_SPEC = (
    "write a spec instead (docs/spec.md); `initgen from-config` on a config of a "
    "supported family gives a starting point"
)
TYPO_CUTOFF = 0.85  # difflib ratio from which an unknown key is taken for a misspelling
DTYPE_ALIASES = {
    "float": "float32",
    "half": "float16",
    "double": "float64",
    "bf16": "bfloat16",
    "fp16": "float16",
    "fp32": "float32",
}


@dataclass(frozen=True)
class VarValue:
    """A var of the rendered spec: its value (a number or "${expr}") and its source key."""

    name: str
    value: Any
    key: str
    given: bool  # the config set it (else the config class's default)


@dataclass(frozen=True)
class Resolved:
    """What the spec is made from."""

    family: Family
    head: Head
    vars: tuple[VarValue, ...]
    flags: dict[str, bool]
    dtype: str
    dtype_key: str | None
    unknown: tuple[str, ...] = ()  # keys no template or Transformers class names: ignored
    pad: VarValue | None = None  # the padding row Transformers zeroes, if any


def pad_value(config: dict[str, Any], family: Family, source: str) -> VarValue | None:
    """The embedding row Transformers zeroes: the config's pad_token_id (null: none),
    else its class's default."""
    p = family.padding
    if p is None:
        return None
    value = config[p.key] if p.key in config else p.default
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SpecError(
            f"expected a token id (a whole number ≥ 0) or null, got {_show(value)}", file=source, key=p.key
        )
    return VarValue("pad", value, p.key, p.key in config)


def supported() -> str:
    """ "bert (BertForMaskedLM, BertModel), gpt2 (...) ..." for messages."""
    return "; ".join(f"{f.model_type} ({', '.join(f.heads)})" for f in families().values())


def _refuse(message: str, source: str, key: str, hint: str = WRITE_A_SPEC) -> SpecError:
    return SpecError(f"{message}; supported: {supported()}", file=source, key=key, hint=hint)


def family_of(config: dict[str, Any], source: str) -> Family:
    """The template for the config's ``model_type``."""
    known = families()
    model_type = config.get("model_type")
    if model_type is None:
        raise _refuse("the config has no model_type, so its family is unknown", source, "model_type")
    if not isinstance(model_type, str) or model_type not in known:
        hint = suggest(model_type, known)
        raise _refuse(
            f"{_show(model_type)} is not a supported model_type",
            source,
            "model_type",
            f"{hint}; or {WRITE_A_SPEC}" if hint else WRITE_A_SPEC,
        )
    return known[model_type]


def head_of(config: dict[str, Any], family: Family, source: str) -> Head:
    """The architecture named in ``architectures``, or the family's default head."""
    archs = config.get("architectures")
    if archs is None or archs == []:
        return family.default_head
    if not isinstance(archs, list) or len(archs) != 1 or not isinstance(archs[0], str):
        raise _refuse(f"expected one architecture name, got {archs!r}", source, "architectures")
    if archs[0] not in family.heads:
        raise _refuse(
            f"{_show(archs[0])} is not a supported head of model_type "
            f"{family.model_type} (its heads: {one_of(family.heads)})",
            source,
            "architectures",
        )
    return family.heads[archs[0]]


def check_keys(config: dict[str, Any], family: Family, source: str) -> tuple[str, ...]:
    """Refuse keys that change tensors in ways the template does not model, and unknown keys
    that look like a misspelt key the template reads; return the other unknown keys."""
    import difflib

    known = family.keys | GENERIC
    unknown = []
    for key, value in config.items():
        if key in REFUSED:
            allowed, why = REFUSED[key]
            if not any(value == a and type(value) is type(a) for a in allowed):
                raise _refuse(f"{why}, which the {family.model_type} template does not model", source, key)
        elif key in family.limits:
            allowed = family.limits[key]
            if not any(value == a and type(value) is type(a) for a in allowed):
                models = one_of(_show(a) for a in allowed)
                raise _refuse(
                    f"{_show(value)} changes the tensors in a way the "
                    f"{family.model_type} template does not model (it models "
                    f"{models})",
                    source,
                    key,
                )
        elif key not in known:
            near = difflib.get_close_matches(key, sorted(family.tensor_keys), 1, TYPO_CUTOFF)
            if near:
                raise SpecError(
                    f"unknown key {key!r} for model_type {family.model_type!r} "
                    f"({family.config_class}), too close to {near[0]!r}, which "
                    "sets the tensors, to be taken as an unrelated key",
                    file=source,
                    key=key,
                    hint=f"did you mean {near[0]!r}?",
                )
            unknown.append(key)
    return tuple(unknown)


def _show(value: Any) -> str:
    import json

    return json.dumps(value)


def var_values(config: dict[str, Any], family: Family, source: str) -> tuple[VarValue, ...]:
    """The template's vars from the config (absent or null: the config class's default)."""
    out = []
    for rule in family.vars:
        key = next((k for k in (rule.key, *rule.aliases) if k and config.get(k) is not None), rule.key or "")
        value = config.get(key) if key else None
        if value is None:
            out.append(VarValue(rule.name, rule.default, rule.key or "", False))
            continue
        ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
        if rule.kind == "int" and not (ok and float(value).is_integer() and value > 0):
            raise SpecError(f"expected a positive whole number, got {_show(value)}", file=source, key=key)
        if rule.kind == "number" and not (ok and value >= 0):
            raise SpecError(f"expected a number ≥ 0, got {_show(value)}", file=source, key=key)
        out.append(VarValue(rule.name, int(value) if rule.kind == "int" else value, key, True))
    return tuple(out)


def flag_values(config: dict[str, Any], family: Family, source: str) -> dict[str, bool]:
    """The template's structural switches (absent or null: the config class's default)."""
    out: dict[str, bool] = {}
    for rule in family.flags:
        value = config.get(rule.key)
        if value is None:
            out[rule.name] = out[rule.default] if isinstance(rule.default, str) else rule.default
        elif rule.values is None and isinstance(value, bool):
            out[rule.name] = value
        elif rule.values is None:
            raise SpecError(f"expected true or false, got {_show(value)}", file=source, key=rule.key)
        elif any(value == v and type(value) is type(v) for v in rule.values):
            out[rule.name] = rule.values[value]
        else:
            models = one_of(_show(v) for v in (*rule.values, None))
            raise _refuse(
                f"{_show(value)} changes the tensors in a way the "
                f"{family.model_type} template does not model (it models {models})",
                source,
                rule.key,
            )
    return out


def dtype_of(config: dict[str, Any], source: str) -> tuple[str, str | None]:
    """The config's ``dtype`` (or legacy ``torch_dtype``), float32 when it has none."""
    for key in ("dtype", "torch_dtype"):
        value = config.get(key)
        if value is None:
            continue
        name = DTYPE_ALIASES.get(value, value) if isinstance(value, str) else value
        name = name.removeprefix("torch.") if isinstance(name, str) else name
        floats = list(WEIGHT_DTYPES)
        if name not in floats:
            raise SpecError(
                f"{_show(value)} is not a dtype initgen writes; one of {one_of(floats)}",
                file=source,
                key=key,
                hint=suggest(name, floats),
            )
        return name, key
    return "float32", None


def resolve(config: dict[str, Any], source: str) -> Resolved:
    """Check the config and resolve everything its spec is made from."""
    if not isinstance(config, dict):
        raise SpecError(f"a config holds a JSON object, got {type(config).__name__}", file=source)
    family = family_of(config, source)
    head = head_of(config, family, source)
    unknown = check_keys(config, family, source)
    dtype, dtype_key = dtype_of(config, source)
    return Resolved(
        family,
        head,
        var_values(config, family, source),
        flag_values(config, family, source),
        dtype,
        dtype_key,
        unknown,
        pad_value(config, family, source),
    )
