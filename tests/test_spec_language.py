"""The spec language: vars and ${...} arithmetic, --set, repeat/as/prefix, group,
per-layer and per-block layout/dtype, rules. Expected values are computed here."""

from __future__ import annotations

import math

import pytest

from initgen.errors import SpecError
from initgen.plan import build_plan
from initgen.spec import load_spec, parse_overrides
from initgen.spec.expr import FUNCTIONS, evaluate


def plan(text: str, sets: list[str] | None = None) -> dict:
    spec = load_spec("s.yaml", parse_overrides(sets or []), text="initgen: 1\n" + text)
    return {t.name: t for t in build_plan(spec).tensors}


@pytest.mark.parametrize(
    "expr, env, expected",
    [
        ("a + b - 1", {"a": 5, "b": 3}, 7),
        ("a * b / 4", {"a": 6, "b": 2}, 3.0),
        ("a // 4", {"a": 7}, 1),
        ("a % 4", {"a": 7}, 3),
        ("2 ** 10", {}, 1024),
        ("2 ** -2", {}, 0.25),
        ("1.1 ** 3", {}, 1.1 * 1.1 * 1.1),  # repeated products, no libm pow
        ("0.02 / sqrt(2 * n)", {"n": 12}, 0.02 / math.sqrt(24)),
        ("max(a, 3) + min(a, 3) + abs(-a)", {"a": 5}, 13),
        ("(d // h)**2 + 1", {"d": 224, "h": 16}, 197),
        ("-a + +a", {"a": 2}, 0),
    ],
)
def test_arithmetic(expr, env, expected):
    got = evaluate(expr, env)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    "expr, message",
    [
        ("2 ** 0.5", "only whole exponents are allowed (use sqrt() for a square root) in '${2 ** 0.5}'"),
        ("1 / 0", "division by zero in '${1 / 0}'"),
        ("2 ** 100", "exponent too large in '${2 ** 100}'"),
        ("int(1e300)", "'${int(1e300)}' is too large (1e+300)"),
        (
            "log(2)",
            "bad expression '${log(2)}': only numbers, vars, + - * / // % ** and abs, ceil, "
            "floor, int, max, min, round, sqrt are allowed",
        ),
        (
            "a.b",
            "bad expression '${a.b}': only numbers, vars, + - * / // % ** and abs, ceil, "
            "floor, int, max, min, round, sqrt are allowed",
        ),
        (
            "open('x')",
            "bad expression '${open('x')}': only numbers, vars, + - * / // % ** and abs, "
            "ceil, floor, int, max, min, round, sqrt are allowed",
        ),
    ],
)
def test_refused_expressions(expr, message):
    with pytest.raises(SpecError) as err:
        evaluate(expr, {"a": 1})
    assert err.value.message == message


def test_only_exactly_rounded_functions():
    """Vars feed scheme parameters: every function must give the same bits everywhere."""
    assert set(FUNCTIONS) == {"sqrt", "ceil", "floor", "min", "max", "abs", "int", "round"}


def test_vars_build_on_earlier_vars_and_set_recomputes_them():
    text = (
        "vars: {n: 12, std: '${0.02 / sqrt(2 * n)}'}\n"
        "layers: [{name: fc, type: dense, in: 4, out: 4, init: {scheme: normal, std: '${std}'}}]\n"
    )
    assert plan(text)["fc.weight"].dist.params["std"] == 0.02 / math.sqrt(24)
    assert plan(text, ["n=2"])["fc.weight"].dist.params["std"] == 0.02 / math.sqrt(4)
    assert plan(text, ["std=0.5"])["fc.weight"].dist.params["std"] == 0.5
    assert plan(text, ["n=${3 * 2}"])["fc.weight"].dist.params["std"] == 0.02 / math.sqrt(12)


def test_repeat_as_prefix_nested_and_group():
    text = """vars: {n: 2}
layers:
  - repeat: ${n}
    as: i
    prefix: h.${i}.
    layers:
      - {name: fc, type: dense, in: "${4 + i}", out: 4, bias: false}
      - repeat: 2
        as: j
        prefix: sub${i * 10 + j}.
        layers: [{name: ln, type: rmsnorm, dim: 4}]
  - group: head.
    layers: [{name: out, type: dense, in: 4, out: 2, bias: false}]
  - repeat: 0
    layers: [{name: never, type: dense, in: 1, out: 1}]
"""
    by = plan(text)
    assert list(by) == [
        "h.0.fc.weight",
        "h.0.sub0.ln.weight",
        "h.0.sub1.ln.weight",
        "h.1.fc.weight",
        "h.1.sub10.ln.weight",
        "h.1.sub11.ln.weight",
        "head.out.weight",
    ]
    assert by["h.1.fc.weight"].shape == (4, 5)
    assert len(plan(text, ["n=5"])) == 5 * 3 + 1


def test_layout_and_dtype_per_block_and_layer():
    text = """dtype: float16
layout: torch
layers:
  - {name: a, type: dense, in: 3, out: 2, bias: false}
  - group: "g."
    layout: keras
    dtype: bfloat16
    layers:
      - {name: b, type: dense, in: 3, out: 2, bias: false}
      - {name: c, type: dense, in: 3, out: 2, bias: false, layout: torch, dtype: float64}
"""
    by = plan(text)
    assert (by["a.weight"].shape, by["a.weight"].dtype) == ((2, 3), "float16")
    assert (by["g.b.kernel"].shape, by["g.b.kernel"].dtype) == ((3, 2), "bfloat16")
    assert (by["g.c.weight"].shape, by["g.c.weight"].dtype) == ((2, 3), "float64")


def test_rules_map_activations_to_schemes():
    text = """rules: {gelu: lecun_normal, tanh: {scheme: glorot_normal, gain: 2}}
layers:
  - {name: a, type: dense, in: 9, out: 3, activation: gelu}
  - {name: b, type: dense, in: 9, out: 3, activation: tanh}
  - {name: c, type: dense, in: 9, out: 3, activation: relu}
"""
    by = plan(text)
    assert by["a.weight"].dist.params["std"] == pytest.approx(1 / 3, rel=1e-15)
    assert by["b.weight"].dist.params["std"] == pytest.approx(2 * math.sqrt(2 / 12), rel=1e-15)
    assert by["c.weight"].dist.params["std"] == pytest.approx(math.sqrt(2 / 9), rel=1e-15)


def test_parse_overrides_reads_yaml_values():
    assert parse_overrides(["a=2", "b=0.5", "c=${a * 2}", "d=x"]) == {
        "a": 2,
        "b": 0.5,
        "c": "${a * 2}",
        "d": "x",
    }
    with pytest.raises(SpecError, match="expected KEY=VALUE"):
        parse_overrides(["novalue"])


def test_exponent_floats_are_numbers_as_in_yaml_1_2():
    """PyYAML (YAML 1.1) reads 2e-2 as a string; specs read it as 0.02, in values,
    vars and --set, while strings that merely contain an e stay strings."""
    from initgen.plan import build_plan
    from initgen.spec import load_spec, parse_overrides

    text = (
        "initgen: 1\nvars: {s: 2e-2, n: 1e3}\nlayers:\n"
        '  - {name: a1e2, type: dense, in: "${n}", out: 4, init: {scheme: normal, std: 1.5E-2}}\n'
        '  - {name: b, type: dense, in: 4, out: 4, init: {scheme: normal, std: "${s}"}}\n'
    )
    plan = {t.name: t for t in build_plan(load_spec("t.yaml", text=text)).tensors}
    assert plan["a1e2.weight"].shape == (4, 1000)
    assert plan["a1e2.weight"].dist.std == 0.015 and plan["b.weight"].dist.std == 0.02
    assert parse_overrides(["s=3e-2", "name=e5x"]) == {"s": 0.03, "name": "e5x"}
