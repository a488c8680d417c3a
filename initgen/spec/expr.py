"""Safe arithmetic for ``${...}``: numbers, vars, + − × ÷ // % **, sqrt and friends.

Expressions are parsed with :mod:`ast` and evaluated by walking a whitelist of
node types; there is no ``eval``. Exponents and results are bounded so that an
expression cannot hang or exhaust memory.

A var often becomes a scheme parameter (``${0.02 / sqrt(2 * n_layer)}``), and one
ulp of difference there changes every byte of a tensor. So only operations that
give the same bits on every machine are offered: IEEE's exactly rounded + − × ÷ and
sqrt, integer arithmetic, and ``**`` with a whole exponent, computed by repeated
multiplication (C's ``pow``, ``log`` and ``exp`` differ between libms).
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import SpecError, suggest

Number = int | float


def _power(base: Number, exponent: Number) -> Number:
    """``base ** exponent`` for a whole exponent, by squaring: exactly rounded steps,
    so the same bits everywhere (integers stay exact integers)."""
    if isinstance(exponent, float):
        if not exponent.is_integer():
            raise SpecError("only whole exponents are allowed (use sqrt() for a square root)")
        exponent = int(exponent)
    if isinstance(base, int):
        return base**exponent if exponent >= 0 else 1 / base**-exponent
    result, factor, n = 1.0, base, abs(exponent)
    while n:
        if n & 1:
            result *= factor
        factor *= factor
        n >>= 1
    return result if exponent >= 0 else 1 / result


_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: _power,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": math.sqrt,
    "ceil": math.ceil,
    "floor": math.floor,
    "min": min,
    "max": max,
    "abs": abs,
    "int": int,
    "round": round,
}
CONSTANTS = {"pi": math.pi, "e": math.e}
_MAX_ABS = 10**18
TEMPLATE = re.compile(r"\$\{([^{}]*)\}")


def evaluate(expr: str, variables: Mapping[str, Any]) -> Number:
    """Evaluate ``expr`` with ``variables``; raise SpecError with a message."""
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError:
        raise SpecError(f"bad expression '${{{expr}}}': not valid arithmetic") from None

    def ev(node: ast.AST) -> Number:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, (int, float))
            and not isinstance(node.value, bool)
        ):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in variables:
                value = variables[node.id]
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise SpecError(f"var '{node.id}' is {value!r}, not a number")
                return value
            if node.id in CONSTANTS:
                return CONSTANTS[node.id]
            raise SpecError(
                f"undefined var '{node.id}' in '${{{expr}}}'", hint=suggest(node.id, [*variables, *CONSTANTS])
            )
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            left, right = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Pow) and abs(right) > 64 and abs(left) > 1:
                raise SpecError(f"exponent too large in '${{{expr}}}'")
            try:
                result = _BINOPS[type(node.op)](left, right)
            except ZeroDivisionError:
                raise SpecError(f"division by zero in '${{{expr}}}'") from None
            except SpecError as e:
                raise SpecError(f"{e.message} in '${{{expr}}}'") from None
            except OverflowError:
                raise SpecError(f"overflow in '${{{expr}}}'") from None
            if isinstance(result, complex):
                raise SpecError(f"'${{{expr}}}' is not a real number")
            if abs(result) > _MAX_ABS:
                raise SpecError(f"'${{{expr}}}' is too large ({result:.3g})")
            return result
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](ev(node.operand))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in FUNCTIONS
            and not node.keywords
        ):
            args = [ev(a) for a in node.args]
            try:
                result = FUNCTIONS[node.func.id](*args)
            except (ValueError, TypeError, OverflowError) as e:
                raise SpecError(f"{node.func.id}() failed in '${{{expr}}}': {e}") from None
            if abs(result) > _MAX_ABS:  # int(1e300) is a 301-digit integer
                raise SpecError(f"'${{{expr}}}' is too large ({float(result):.3g})")
            return result
        raise SpecError(
            f"bad expression '${{{expr}}}': only numbers, vars, + - * / // % ** "
            f"and {', '.join(sorted(FUNCTIONS))} are allowed"
        )

    return ev(tree)


def substitute(value: Any, variables: Mapping[str, Any]) -> Any:
    """Resolve ``${...}`` in a string: a whole-string template gives a number, a
    template inside text is formatted into the text. Non-strings pass through."""
    if not isinstance(value, str) or "${" not in value:
        return value
    whole = TEMPLATE.fullmatch(value.strip())
    if whole:
        return evaluate(whole.group(1), variables)

    def fmt(m: re.Match[str]) -> str:
        r = evaluate(m.group(1), variables)
        return str(int(r)) if isinstance(r, float) and r.is_integer() else str(r)

    out = TEMPLATE.sub(fmt, value)
    if "${" in out:
        raise SpecError(f"unclosed '${{' in {value!r}")
    return out
