"""Spec → plan: every layer's tensors, each with the scheme that applies to it, its
fans and the exact distribution its values come from.
"""

from __future__ import annotations

import math
from typing import Any

from ..dtypes import DTYPES
from ..errors import SpecError, UsageError, one_of, suggest
from ..layers import LAYER_TYPES, LayerValueError, TensorDecl
from ..schemes import Context, Dist, get_scheme
from ..schemes.fans import Fans, layout_fans
from ..schemes.presets import PRESETS
from ..spec import LayerSpec, Spec
from ..spec.expr import substitute
from ..spec.yamlpos import Path
from .tensors import Plan, TensorPlan

ROLE_DEFAULTS = {"bias": "zeros", "norm": "ones"}


def _init_for(layer: LayerSpec, decl: TensorDecl, spec: Spec) -> tuple[Any, Path, str]:
    """Which init applies to ``decl``, the key path it came from and its source
    (``explicit``, ``rule``, ``preset`` or ``type default``: shown by ``initgen plan``).

    Order: the layer's per-tensor init (by tensor key, then by role), the layer's
    plain init (weights only), the tensor's preset (unit_forget_bias), the framework
    preset's row (``defaults:``), its role's default (bias 0, norm 1), its own default,
    the activation rule, the layer type's default. With ``defaults:``, only the spec's
    own ``rules:`` apply to an activation, and before the preset.
    Returns ``None`` for the init when the tensor's preset applies.
    """
    init, path = layer.init, (*layer.path, "init")
    per_tensor = isinstance(init, dict) and "scheme" not in init
    if per_tensor:
        for k in (decl.key, decl.role):
            if k in init:
                return init[k], (*path, k), "explicit"
    elif init is not None and decl.role == "weight":
        return init, path, "explicit"
    if decl.preset is not None:
        return None, path, "preset" if decl.preset[0] in layer.preset_keys else "explicit"
    rules = spec.rules if spec.defaults is None else spec.own_rules
    act = layer.activation
    if spec.defaults is not None:
        if act is not None and act in rules and decl.role == "weight":
            return rules[act], ("rules", act), "rule"
        row = PRESETS[spec.defaults].inits.get(layer.type, {})
        if decl.role in row:
            return _with_keys(row[decl.role], layer, spec), ("defaults",), "preset"
    if decl.role in ROLE_DEFAULTS:
        return ROLE_DEFAULTS[decl.role], path, "type default"
    if decl.default is not None:
        return decl.default, path, "type default"
    if act is not None and spec.defaults is None:
        if act not in rules:
            raise spec.pos.error(
                (*layer.path, "activation"),
                f"unknown activation '{act}'; known: {one_of(rules)} (or add it to `rules:`)",
                hint=suggest(act, rules),
            )
        rule_path = ("rules", act)
        return rules[act], rule_path if rule_path in spec.pos.lines else (*layer.path, "activation"), "rule"
    return LAYER_TYPES[layer.type].default_init, (*layer.path, "type"), "type default"


def _with_keys(init: Any, layer: LayerSpec, spec: Spec) -> Any:
    """A preset's init with ``${...}`` evaluated over the layer's keys (``hidden``)."""
    try:
        return (
            substitute(init, layer.args)
            if isinstance(init, str)
            else ({k: substitute(v, layer.args) for k, v in init.items()} if isinstance(init, dict) else init)
        )
    except SpecError as e:
        raise spec.pos.error(layer.path, e.message, e.hint) from None


def _check_tensor_keys(layer: LayerSpec, decls: list[TensorDecl], spec: Spec) -> None:
    """Per-tensor init keys and ``names`` keys must name this layer's tensors."""
    keys = [d.key for d in decls if d.key]
    init = layer.init
    if isinstance(init, dict) and "scheme" not in init:
        allowed = list(dict.fromkeys([*keys, *(d.role for d in decls)]))
        for k in init:
            if k not in allowed:
                raise spec.pos.error(
                    (*layer.path, "init", k),
                    f"this {layer.type} layer has no tensor or role '{k}'; allowed: {one_of(allowed)}",
                    hint=suggest(k, allowed),
                )
    modules = [*keys, *dict.fromkeys(k.partition(".")[0] for k in keys if "." in k)]
    for k in layer.names:
        if k not in modules:
            raise spec.pos.error(
                (*layer.path, "names", k),
                f"this {layer.type} layer has no tensor '{k}' to rename; "
                f"its tensors: {one_of(modules) or 'one, named by the layer'}",
                hint=suggest(k, modules),
            )


def tensor_name(layer: LayerSpec, decl: TensorDecl) -> str:
    """``names`` renames a tensor key (``q_proj.weight``) or its first part (``q_proj``)."""
    if decl.full_name:
        return layer.name
    key = decl.key
    if key in layer.names:
        key = layer.names[key]
    else:
        head, dot, tail = key.partition(".")
        if dot and head in layer.names:
            key = f"{layer.names[head]}.{tail}"
    return f"{layer.name}.{key}"


def _scheme_args(init: Any, path: Path, spec: Spec) -> tuple[str, dict[str, Any]]:
    if isinstance(init, str):
        return init, {}
    if isinstance(init, dict):
        if "scheme" not in init:
            raise spec.pos.error(path, "an init mapping needs 'scheme' (or tensor keys such as weight/bias)")
        return init["scheme"], {k: v for k, v in init.items() if k != "scheme"}
    raise spec.pos.error(path, f"init must be a scheme name or a mapping, got {init!r}")


def _fans(d: TensorDecl, layout: str) -> Fans:
    return d.fans if d.fans is not None else layout_fans(d.shape, layout)


def _resolve(layer: LayerSpec, d: TensorDecl, spec: Spec) -> tuple[str, dict[str, Any], Dist, Fans]:
    """The scheme name, its arguments and the distribution of one tensor."""
    init, path, _ = _init_for(layer, d, spec)
    fans = _fans(d, layer.layout)
    if init is None and d.preset is not None:
        return d.preset[0], {}, d.preset[1], fans
    scheme_name, args = _scheme_args(init, path, spec)
    key_path = (*path, "scheme") if isinstance(init, dict) else path
    try:
        scheme = get_scheme(scheme_name)
    except SpecError as e:
        raise spec.pos.error(key_path, e.message, e.hint) from None

    def dist_for(f: Fans, shape: tuple[int, ...]) -> Dist:
        ctx = Context(shape, f, layer.activation, layer.negative_slope, layer.layout)
        try:
            return scheme.dist(ctx, args)
        except SpecError as e:
            # "mode: 'fan_inn' is not ..." → at init.mode, when the init is a mapping
            param, sep, rest = e.message.partition(": ")
            if sep and isinstance(init, dict) and param in args:
                raise spec.pos.error((*path, param), rest, e.hint) from None
            raise spec.pos.error(path, e.message, e.hint) from None

    dist = base = dist_for(fans, d.shape)
    if d.dtype is not None and DTYPES[d.dtype].integer and dist.kind != "constant":
        raise spec.pos.error(
            path,
            f"'{d.key}' is an integer {d.dtype} buffer; only zeros, "
            f"ones or constant apply to it, not {scheme.name}",
        )
    if (
        d.dtype is not None
        and DTYPES[d.dtype].integer
        and not (float(dist.mean).is_integer() and abs(dist.mean) <= 2**24)
    ):
        # integer buffers are filled through float32 (exact for whole numbers up to 2^24)
        raise spec.pos.error(
            path,
            f"'{d.key}' is an integer {d.dtype} buffer; its value must be "
            f"a whole number of at most 2^24 in size, not {dist.mean:g}",
        )
    if d.blocks > 1 and dist.kind == "orthogonal":
        dist = _blocked(dist, d, layer.layout)
    elif d.block_fans and scheme.whole_tensor:
        raise spec.pos.error(
            path,
            f"{scheme.name} cannot be made per projection on '{d.key}', "
            "whose projections differ in size (kv_heads < heads); use separate "
            "projections (qkv: false)",
        )
    for f in d.block_fans:
        if dist_for(f, d.shape) != base:
            raise spec.pos.error(
                path,
                f"{scheme.name} gives the fused projections of "
                f"'{d.key}' different distributions (fans {fans.fan_in:g}/"
                f"{fans.fan_out:g} vs {f.fan_in:g}/{f.fan_out:g}); use separate "
                "projections (qkv: false) or a scheme that depends on fan_in only",
            )
    return scheme.name, args, dist, fans


def _blocked(dist: Dist, d: TensorDecl, layout: str) -> Dist:
    """An orthogonal scheme made per gate block: ``blocks`` equal slices of the output
    axis (rows in torch layout, the last axis in Keras'), each its own orthogonal matrix."""
    rows = d.shape[-1] if dist.params.get("last_axis_out") else d.shape[0]
    size, other = rows // d.blocks, math.prod(d.shape) // rows
    std = abs(float(dist.params["gain"])) / math.sqrt(max(size, other))
    return Dist("orthogonal", {**dist.params, "blocks": d.blocks}, 0.0, std)


def plan_layer(layer: LayerSpec, spec: Spec) -> list[TensorPlan]:
    ltype = LAYER_TYPES[layer.type]
    try:
        decls = ltype.tensors(layer.args, layer.layout)
    except LayerValueError as e:
        path = (*layer.path, e.key) if e.key else layer.path
        raise spec.pos.error(path, str(e)) from None
    _check_tensor_keys(layer, decls, spec)
    out = []
    for d in decls:
        scheme, args, dist, fans = _resolve(layer, d, spec)
        out.append(
            TensorPlan(
                tensor_name(layer, d),
                d.shape,
                d.dtype or layer.dtype,
                scheme,
                args,
                dist,
                fans.fan_in,
                fans.fan_out,
                layer.name,
                _init_for(layer, d, spec)[2],
            )
        )
    return out


def build_plan(spec: Spec, seed: int | None = None) -> Plan:
    """Resolve every tensor of ``spec`` into a :class:`Plan`.

    Args:
        spec: a loaded spec (:func:`initgen.load_spec`).
        seed: replaces the spec's ``seed:`` when given.

    Returns:
        The plan: one :class:`TensorPlan` per tensor, in the spec's order.

    Raises:
        SpecError: an unknown scheme or activation, bad scheme parameters, a tensor
            name made twice, keys that name no tensor of their layer.
        UsageError: ``seed`` is not a whole number ≥ 0.

    >>> from initgen import load_spec
    >>> spec = load_spec("s.yaml", text="initgen: 1\\nlayers: [{name: fc, type: dense, in: 4, out: 2}]")
    >>> [(t.name, t.shape, t.scheme) for t in build_plan(spec).tensors]
    [('fc.weight', (2, 4), 'glorot_uniform'), ('fc.bias', (2,), 'zeros')]
    """
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise UsageError(f"seed must be a whole number ≥ 0, got {seed!r}")
    tensors: list[TensorPlan] = []
    seen: dict[str, LayerSpec] = {}
    for layer in spec.layers:
        for t in plan_layer(layer, spec):
            if t.name in seen:
                first = spec.pos.line(seen[t.name].path)
                raise spec.pos.error(
                    layer.path, f"duplicate tensor name '{t.name}' (first made by the layer at line {first})"
                )
            seen[t.name] = layer
            tensors.append(t)
    return Plan(spec.name, spec.seed if seed is None else seed, tensors, spec)
