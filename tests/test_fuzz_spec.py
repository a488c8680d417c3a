"""Spec fuzzing: whatever a spec file holds, initgen gives a plan or a located SpecError.

Mutations start from the shipped specs (so most of the spec language is reached)
and change one thing: a value (wrong type, huge/negative/zero/float/non-finite
number, odd string, expression), a missing or extra key, deep nesting, YAML
anchors/aliases and merge keys, extra documents, non-UTF-8 bytes, truncation.
The property: no exception other than SpecError, and a SpecError names the file
and the line (and the key path when the YAML itself is valid). Through the CLI:
exit status 0 or 2, one error line, never a traceback.

``INITGEN_FUZZ_EXAMPLES`` sets the examples per property (``make fuzz`` uses many).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from initgen.cli import main
from initgen.errors import SpecError
from initgen.plan import build_plan
from initgen.spec import load_spec

SPECS = sorted((Path(__file__).parent.parent / "specs").glob("*.yaml"))
EXAMPLES = int(os.environ.get("INITGEN_FUZZ_EXAMPLES", "30"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize="INITGEN_FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Errors that concern the whole file, not a place in it.
FILE_LEVEL = ("the spec is empty", "the spec is nested too deeply")


def shipped() -> list[tuple[str, object]]:
    return [(p.name, yaml.safe_load(p.read_text())) for p in SPECS]


# Values a user might type where any other value belongs. Sizes stay below the
# repeat limit's slow zone or far above it: the limits, not the clock, must refuse.
NUMBERS = st.one_of(
    st.sampled_from(
        [
            0,
            -1,
            1,
            2,
            3,
            10**9,
            10**15,
            10**18,
            2**63,
            10**30,
            0.5,
            2.0,
            -0.0,
            1e308,
            float("inf"),
            float("-inf"),
            float("nan"),
        ]
    ),
    st.integers(-5, 5),
    st.floats(allow_nan=True, allow_infinity=True),
)
WORDS = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "relu",
            "he_normal",
            "orthogonal",
            "dense",
            "torch",
            "keras",
            "float32",
            "bfloat16",
            "a/b",
            "a..b",
            ".a",
            "a.",
            "__metadata__",
            "\0",
            "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
            "名前",
            "\u202e",
            "${dim}",
            "${dim * 10**9}",
            "${1/0}",
            "${",
            "${x}",
            "${2**2**2**2**2}",
            "${sqrt(-1)}",
            "${int(1e300)}",
            "yes",
            "null",
            "~",
            "*a",
            "&a",
            "<<",
            "!!python/object:os.system",
        ]
    ),
    st.text(max_size=12),
)
LEAVES = st.one_of(NUMBERS, WORDS, st.booleans(), st.none())
VALUES = st.recursive(
    LEAVES,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(WORDS, inner, max_size=3)),
    max_leaves=8,
)


def _paths(obj: object, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*path, i))
    return out


def _get(obj: object, path: tuple) -> object:
    for part in path:
        obj = obj[part]  # type: ignore[index]
    return obj


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, object]:
    """A shipped spec with one to three structural changes."""
    import copy

    name, data = draw(st.sampled_from(shipped()))
    data = copy.deepcopy(data)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(data)))
        action = draw(st.sampled_from(["replace", "delete", "add", "nest"]))
        if not path:
            if action == "replace":
                data = draw(VALUES)
            continue
        parent, key = _get(data, path[:-1]), path[-1]
        if action == "replace":
            parent[key] = draw(VALUES)  # type: ignore[index]
        elif action == "delete":
            del parent[key]  # type: ignore[attr-defined]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(WORDS)] = draw(VALUES)
        elif action == "add" and isinstance(parent, list):
            parent.insert(draw(st.integers(0, len(parent))), draw(VALUES))
        else:  # nest: wrap the value in lists/mappings/groups
            value = parent[key]  # type: ignore[index]
            wraps = [
                lambda v: [v],
                lambda v: {"k": v},
                lambda v: {"group": "g.", "layers": [v]},
                lambda v: {"repeat": 2, "prefix": "r${i}.", "layers": [v]},
            ]
            depth = draw(st.integers(1, 40))
            for _ in range(depth):  # repeats only a few deep: 2**40 layers is the limit's job,
                # tested once below, not in every example
                value = draw(st.sampled_from(wraps if depth <= 4 else wraps[:3]))(value)
            parent[key] = value  # type: ignore[index]
    return name, data


def check_spec_text(text: str | bytes, name: str = "fuzz.yaml", *, needs_key: bool = False) -> None:
    """The property: a plan, or a SpecError located in ``name``."""
    try:
        if isinstance(text, bytes):
            with tempfile.TemporaryDirectory() as d:
                path = Path(d) / name
                path.write_bytes(text)
                build_plan(load_spec(path))
            return
        build_plan(load_spec(name, text=text))
    except SpecError as e:
        assert str(e) and e.message, "an empty error message"
        assert e.file is not None and e.file.endswith(name), f"no file in {e}"
        if e.message not in FILE_LEVEL:
            assert e.line is not None, f"no line in {e}"
        if needs_key and e.line is not None and e.line > 1:
            assert e.key or "''" in e.message, f"no key path in {e}"  # an empty key has no path


def dump(data: object) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10**6)


@FUZZ
@given(mutated())
def test_mutated_specs_give_a_plan_or_a_located_error(case: tuple[str, object]) -> None:
    name, data = case
    check_spec_text(dump(data), name, needs_key=True)


@FUZZ
@given(st.sampled_from(SPECS), st.data())
def test_text_edits_give_a_plan_or_a_located_error(spec: Path, data: st.DataObject) -> None:
    """Byte-level edits: truncation, insertion, deletion, YAML punctuation, bad bytes."""
    raw = spec.read_bytes()
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw)))
        edit = data.draw(st.sampled_from(["truncate", "insert", "delete", "punct", "byte"]))
        if edit == "truncate":
            raw = raw[:at]
        elif edit == "insert":
            raw = raw[:at] + data.draw(st.text(max_size=8)).encode() + raw[at:]
        elif edit == "delete":
            raw = raw[:at] + raw[at + data.draw(st.integers(1, 20)) :]
        elif edit == "punct":
            raw = (
                raw[:at]
                + data.draw(
                    st.sampled_from(
                        [
                            b"&a ",
                            b"*a",
                            b"<<: ",
                            b"\n---\n",
                            b"[",
                            b"{",
                            b"- ",
                            b": ",
                            b"!!binary ",
                            b"\t",
                            b"%YAML 1.1\n",
                            b"? ",
                            b"|\n",
                            b"'",
                            b'"',
                            b"#",
                        ]
                    )
                )
                + raw[at:]
            )
        else:
            raw = raw[:at] + bytes([data.draw(st.integers(0x80, 0xFF))]) + raw[at:]
    check_spec_text(raw, spec.name)


ANCHORED = """\
initgen: 1
vars: {{hidden: 8}}
layers:
  - &dense {{name: fc1, type: dense, in: 4, out: "${{hidden}}", activation: relu}}
  - {{<<: [*dense], name: fc2, in: "${{hidden}}"{extra}}}
"""


@pytest.mark.parametrize("extra, fc2_bias", [("", True), (", bias: false", False)])
def test_anchors_and_merge_keys(extra: str, fc2_bias: bool) -> None:
    """Merge keys work as YAML defines them: the mapping's own keys win over the merge."""
    plan = build_plan(load_spec("a.yaml", text=ANCHORED.format(extra=extra)))
    shapes = {t.name: t.shape for t in plan.tensors}
    assert shapes["fc1.weight"] == (8, 4) and shapes["fc2.weight"] == (8, 8)
    assert ("fc2.bias" in shapes) == fc2_bias


def test_anchor_errors_are_located() -> None:
    with pytest.raises(SpecError) as e:
        load_spec("a.yaml", text=ANCHORED.format(extra=", in: 3"))
    assert (e.value.line, e.value.key) == (5, "layers[1]") and "duplicate key 'in'" in str(e.value)
    with pytest.raises(SpecError) as e:
        load_spec("a.yaml", text="initgen: 1\nbase: &b {type: dense}\nlayers: [{<<: *b, name: x}]\n")
    assert (e.value.line, e.value.key) == (2, "base") and "unknown key 'base'" in str(e.value)
    with pytest.raises(SpecError) as e:
        load_spec("a.yaml", text="initgen: 1\nlayers: [*nowhere]\n")
    assert e.value.line == 2 and "not valid YAML: found undefined alias 'nowhere'" in str(e.value)


BOMB = (
    "initgen: 1\n"
    + "".join(f"l{k}: &l{k} [{', '.join([f'*l{k - 1}'] * 9 if k else ['x'] * 9)}]\n" for k in range(10))
    + "layers: [*l9]\n"
)

EXPANSIONS = {
    "alias bomb": (BOMB, "more than 200000 values"),
    "repeat 10**9": (
        "initgen: 1\nlayers:\n  - repeat: 1000000000\n    layers: [{name: a, type: dense, in: 2, out: 2}]\n",
        "over the limit",
    ),
    "nested empty repeats": (
        "initgen: 1\nlayers:\n  - repeat: 100000\n    layers:\n      - {repeat: 100000, layers: []}\n",
        "repeat blocks run more than",
    ),
    "deep lists": ("initgen: 1\nlayers: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    "deep mappings": ("initgen: 1\nvars: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n", "nested too deeply"),
    "deep groups": (
        "initgen: 1\nlayers:\n"
        + "".join("  " * k + f"  - group: g{k}.\n" + "  " * k + "    layers:\n" for k in range(400))
        + "  " * 400
        + "  - {name: a, type: dense, in: 2, out: 2}\n",
        "",
    ),
}


@pytest.mark.parametrize("name", list(EXPANSIONS))
def test_expansion_limits_refuse_early(name: str) -> None:
    text, message = EXPANSIONS[name]
    start = time.perf_counter()
    try:
        build_plan(load_spec("x.yaml", text=text))
    except SpecError as e:
        assert message in str(e), str(e)
    else:
        assert not message, "expected a refusal"
    assert time.perf_counter() - start < 10  # refused early, not after the work


HUGE = {
    "tensor of 10**15 values": "layers: [{name: a, type: tensor, shape: [1000000000000000]}]",
    "dense 10**9 x 10**9": "layers: [{name: a, type: dense, in: 1000000000, out: 1000000000}]",
    "dims from an expression": "vars: {n: 1000000}\nlayers: [{name: a, type: dense, in: '${n * n}', out: '${n}'}]",
}


@pytest.mark.parametrize("name", list(HUGE))
@pytest.mark.parametrize("command", ["validate", "plan", "make"])
def test_huge_plans_are_refused_with_the_limit_named(name: str, command: str, tmp_path: Path) -> None:
    spec = tmp_path / "huge.yaml"
    spec.write_text("initgen: 1\n" + HUGE[name] + "\n")
    out = tmp_path / "w.safetensors"
    args = [command, str(spec)] + (["-o", str(out)] if command == "make" else [])
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2, r.output
    assert "over the limit of 1 TB; if that is meant, raise it with --max-bytes" in r.output
    assert f"{spec}:" in r.output and "layers[0]" in r.output
    assert "Traceback" not in r.output and not list(tmp_path.glob("*.safetensors*"))


def test_max_bytes_raises_and_lowers_the_limit(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("initgen: 1\nlayers: [{name: a, type: tensor, shape: [250, 1000]}]\n")  # 1 MB
    ok = CliRunner().invoke(main, ["validate", str(spec), "--max-bytes", "1MB"])
    assert ok.exit_code == 0, ok.output
    low = CliRunner().invoke(main, ["validate", str(spec), "--max-bytes", "999999"])
    assert low.exit_code == 2 and "over the limit of 1 MB (999,999 bytes)" in low.output
    assert "the plan makes 1 MB of tensors" in low.output and "--max-bytes 1MB" in low.output
    huge = tmp_path / "h.yaml"
    huge.write_text("initgen: 1\n" + HUGE["tensor of 10**15 values"] + "\n")
    r = CliRunner().invoke(main, ["validate", str(huge), "--max-bytes", "4PB"])
    assert r.exit_code == 0 and "1,000,000,000,000,000 params" in r.output


@settings(
    max_examples=max(EXAMPLES // 3, 5),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated())
def test_cli_validate_never_shows_a_traceback(case: tuple[str, object]) -> None:
    name, data = case
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / name
        path.write_text(dump(data), encoding="utf-8")
        for args in (["validate", str(path)], ["plan", str(path), "--format", "json"]):
            r = CliRunner().invoke(main, args)
            assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
            assert r.exit_code in (0, 2), r.output
            assert "Traceback" not in r.output
            if r.exit_code == 2:
                assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
            elif args[0] == "plan":
                json.loads(r.stdout)  # a plan a program can read


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"", "the spec is empty"),
        (b"# only a comment\n", "the spec is empty"),
        (b"initgen: 1\nname: caf\xe9\n", ":2: is not UTF-8 text"),
        (b"\xff\xfe\x00i\x00n", ":1: is not UTF-8 text"),
        (b"initgen: 1\n---\ninitgen: 1\n", ":2: a spec is a single YAML document"),
        (b"initgen: !!python/name:os.system ''\n", ":1: not valid YAML: could not determine a constructor"),
    ],
)
def test_file_level_errors(raw: bytes, message: str, tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(raw)
    r = CliRunner().invoke(main, ["validate", str(path)])
    assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output, r.output
