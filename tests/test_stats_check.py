"""`initgen stats --check` and `--expect`: pass on every file initgen makes, fail
(naming the tensor and why) on a tensor scaled, shifted or holding a NaN."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from helpers import SMALL, SPECS

# Overrides that make each shipped spec small enough for a test; a spec without a
# row is checked as it is if it is small, else skipped with a request for a row.
SPEC_FILES = sorted(p.stem for p in SPECS.glob("*.yaml"))


def make(cli, tmp_path, spec: str, out: str, *extra: str):
    sets = [a for s in SMALL.get(spec, []) for a in ("--set", s)]
    if spec not in SMALL:
        plan = json.loads(cli("plan", SPECS / f"{spec}.yaml", "--format", "json").stdout)
        if plan["bytes"] > 20_000_000:
            pytest.skip(f"add a row for {spec} to SMALL in this test")
    r = cli("make", SPECS / f"{spec}.yaml", "-o", tmp_path / out, "-q", *sets, *extra)
    assert r.exit_code == 0, r.output
    return tmp_path / out


@pytest.mark.parametrize("spec", SPEC_FILES)
@pytest.mark.parametrize(
    "variant",
    [
        ("w.safetensors",),
        ("w.h5",),
        ("w.safetensors", "--dtype", "bfloat16"),
        ("w.safetensors", "--dtype", "float8_e4m3fn"),
        ("w.safetensors", "--dtype", "float16", "--seed", "7"),
    ],
)
def test_check_passes_on_every_file_initgen_makes(cli, tmp_path, spec, variant):
    path = make(cli, tmp_path, spec, *variant)
    r = cli("stats", path, "--check", "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["check"] == {"passed": True, "failures": []}


def edit(path, name: str, change) -> None:
    """Rewrite a safetensors file with one tensor changed, keeping its metadata."""
    with safe_open(str(path), "numpy") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    tensors[name] = change(tensors[name].copy())
    save_file(tensors, str(path), metadata=meta)


def nan_at_7(a):
    a.reshape(-1)[7] = np.nan
    return a


SIGMA = (2 / 784) ** 0.5  # he_normal std of fc1.weight [256, 784]
N = 256 * 784
U32 = 2.0**-24  # float32 unit roundoff
# The published large-sample standard errors, 6 of them, plus float32 rounding:
# SE(mean) = σ/√n; SE(std) = σ/√(2n) for normal data, plus the σ/n small-sample bias.
STD_TOL = 6 * SIGMA / (2 * N) ** 0.5 + SIGMA / N + U32 * SIGMA
MEAN_TOL = 6 * SIGMA / N**0.5 + U32 * SIGMA
WHY = "for 200,704 float32 values of he_normal"


@pytest.mark.parametrize(
    "change, reason",
    [
        (
            lambda a: a * 2,
            lambda a: (
                f"std {a.std():.6g} departs from the expected {SIGMA:.6g} "
                f"({a.std() / SIGMA:.3g}× expected); tolerance ±{STD_TOL:.3g} {WHY}"
            ),
        ),
        (
            lambda a: a * 1.05,
            lambda a: (
                f"std {a.std():.6g} departs from the expected {SIGMA:.6g} "
                f"({a.std() / SIGMA:.3g}× expected); tolerance ±{STD_TOL:.3g} {WHY}"
            ),
        ),
        (
            lambda a: a + np.float32(0.01),
            lambda a: f"mean {a.mean():.6g} departs from the expected 0; tolerance ±{MEAN_TOL:.3g} {WHY}",
        ),
        (nan_at_7, lambda a: "1 NaN and 0 Inf values"),
    ],
)
def test_check_fails_naming_the_tensor(cli, tmp_path, change, reason):
    path = make(cli, tmp_path, "mlp-mnist", "w.safetensors")
    edit(path, "fc1.weight", change)
    with safe_open(str(path), "numpy") as f:
        why = reason(f.get_tensor("fc1.weight").astype(np.float64))
    r = cli("stats", path, "--check", "--format", "json")
    assert r.exit_code == 1
    assert r.stderr == f"check failed: fc1.weight: {why}\nerror: {path}: 1 tensor failed the checks\n"
    assert json.loads(r.stdout)["check"] == {
        "passed": False,
        "failures": [{"tensor": "fc1.weight", "reason": why}],
    }


def test_check_tolerance_is_not_looser_than_needed(cli, tmp_path):
    """×1.003 is inside 6 standard errors of the std of 200,704 values (0.95 %); it
    passes, while ×1.05 (above) fails: the tolerance follows the size."""
    path = make(cli, tmp_path, "mlp-mnist", "w.safetensors")
    edit(path, "fc1.weight", lambda a: a * 1.003)
    assert cli("stats", path, "--check").exit_code == 0
    edit(path, "fc3.bias", lambda a: a + np.float32(1e-3))  # zeros must be exactly zero
    r = cli("stats", path, "--check")
    assert r.exit_code == 1 and "check failed: fc3.bias: mean 0.001 departs from the expected 0" in r.stderr


def test_check_on_foreign_file_looks_for_nan_and_inf_only(cli, tmp_path):
    save_file(
        {"w": np.full(10, 5.0, np.float32), "x": np.array([1, np.inf], np.float32)},
        str(tmp_path / "f.safetensors"),
    )
    r = cli("stats", tmp_path / "f.safetensors", "--check")
    assert r.exit_code == 1 and "check failed: x: 0 NaN and 1 Inf values" in r.stderr
    assert "w:" not in r.stderr


@pytest.fixture
def foreign(tmp_path):
    r = np.random.default_rng(0)
    save_file(
        {f"h.{i}.w": r.normal(0, 0.02, 10_000).astype(np.float32) for i in range(3)}
        | {"h.1.b": np.zeros(4, np.float32)},
        str(tmp_path / "f.safetensors"),
    )
    return tmp_path / "f.safetensors"


@pytest.mark.parametrize(
    "rule, failures",
    [
        ("h.*.w:std=0.02±5%", []),
        ("h.*.w:std=0.02+-5%,mean=0±0.001", []),
        ("h.*:absmax<=0.2", []),
        ("h.*.b:zeros=1", []),
        ("h.*.w:std=0.03±5%", ["h.0.w", "h.1.w", "h.2.w"]),
        ("h.1.*:max>0", ["h.1.b"]),
        ("nothing.*:std=1", ["nothing.*"]),
    ],
)
def test_expect_rules(cli, foreign, rule, failures):
    r = cli("stats", foreign, "--expect", rule, "--format", "json")
    check = json.loads(r.stdout)["check"]
    assert [f["tensor"] for f in check["failures"]] == failures
    assert r.exit_code == (1 if failures else 0)


@pytest.mark.parametrize(
    "args, said",
    [
        (["--expect", "h.*.w:std=0.02±5%"], "check passed: 3 tensors checked\n"),
        (["--expect", "h.1.b:zeros=1", "--expect", "h.1.*:absmax<1"], "check passed: 2 tensors checked\n"),
        (["--check"], "check passed: 4 tensors checked\n"),
        (["--check", "--expect", "h.1.b:zeros=1"], "check passed: 4 tensors checked\n"),
        (["--check", "-q"], ""),
    ],
)
def test_a_passed_check_says_how_many_tensors_it_checked(cli, foreign, args, said):
    r = cli("stats", foreign, "--format", "json", *args)
    assert r.exit_code == 0 and r.stderr == said


def test_expect_failure_message(cli, foreign):
    r = cli("stats", foreign, "--expect", "h.1.*:max>0")
    assert "check failed: h.1.b: max 0 fails max>0 (--expect 'h.1.*:max>0')\n" in r.stderr


def test_a_failed_condition_shows_the_value_in_full_where_six_digits_would_seem_to_pass(cli, tmp_path):
    path = tmp_path / "c.safetensors"
    save_file({"c": np.full(8, 0.1, np.float32)}, str(path))
    r = cli("stats", path, "--expect", "c:mean=0.1,max<=0.1,min=0.1±1e-7,max<0.2")
    assert r.exit_code == 1
    assert [line for line in r.stderr.splitlines() if line.startswith("check failed")] == [
        "check failed: c: mean 0.10000000149011612 fails mean=0.1 (--expect 'c:mean=0.1,max<=0.1,min=0.1±1e-7,max<0.2')",
        "check failed: c: max 0.10000000149011612 fails max<=0.1 (--expect 'c:mean=0.1,max<=0.1,min=0.1±1e-7,max<0.2')",
    ]


@pytest.mark.parametrize(
    "rule, message",
    [
        ("std=0.02", "--expect 'std=0.02': expected GLOB:KEY=VALUE[±TOL[%]], e.g. 'h.*.weight:std=0.02±5%'"),
        (
            "h.*:sd=0.02",
            "--expect 'h.*:sd=0.02': unknown key 'sd'; known: absmax, inf, max, mean, min, nan, "
            "p0.1, p1, p50, p99, p99.9, std or zeros",
        ),
        (
            "h.*:std~0.02",
            "--expect 'h.*:std~0.02': cannot read 'std~0.02'; expected KEY OP VALUE[±TOL[%]] "
            "with KEY one of absmax, inf, max, mean, min, nan, p0.1, p1, p50, p99, p99.9, std or "
            "zeros and OP one of "
            "=, <=, >=, <, >",
        ),
        ("h.*:std=0.02±-1", "--expect 'h.*:std=0.02±-1': 'std=0.02±-1' has a negative tolerance"),
    ],
)
def test_bad_expect_rule_is_usage_error(cli, foreign, rule, message):
    r = cli("stats", foreign, "--expect", rule)
    assert r.exit_code == 2 and r.output == f"error: {message}\n"


def _scheme_names() -> list[str]:
    from initgen.schemes import SCHEMES

    return list(SCHEMES)


# Shapes a scheme needs beyond the default [48, 40] (dirac: a convolution kernel).
SHAPE = {"dirac": [16, 8, 3, 3]}
ARGS = {
    "constant": "{scheme: constant, value: 0.3}",
    "sparse": "{scheme: sparse, sparsity: 0.4}",
    "normal": "{scheme: normal, mean: 0.5, std: 0.1}",
    "uniform": "{scheme: uniform, low: 1.0, high: 3.0}",
}


@pytest.mark.parametrize("scheme", _scheme_names())
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "float8_e5m2"])
def test_check_passes_for_every_scheme_and_dtype(cli, write_spec, tmp_path, scheme, dtype):
    """The tolerance holds for each kind of distribution (the scheme table) in each
    dtype, over several seeds, on a tensor small enough for the size term to matter."""
    shape = SHAPE.get(scheme, [48, 40])
    spec = write_spec(
        f"initgen: 1\nname: one\nlayers:\n  - {{name: t, type: tensor, shape: {shape}, "
        f"init: {ARGS.get(scheme, scheme)}}}\n"
    )
    for seed in range(3):
        out = tmp_path / f"{seed}.safetensors"
        r = cli("make", spec, "-o", out, "-q", "--dtype", dtype, "--seed", seed)
        assert r.exit_code == 0, r.output
        r = cli("stats", out, "--check")
        assert r.exit_code == 0, r.stderr


@pytest.mark.parametrize("std", ['"abc"', "[1]", "-0.5", "true"])
def test_edited_recorded_expectations_are_ignored_not_a_traceback(cli, tmp_path, std):
    """A file's metadata can be edited or corrupt: an expectation that is not a finite
    non-negative number counts as not recorded (no check of that statistic)."""
    import json as _json

    import numpy as _np
    from safetensors.numpy import save_file as _save

    meta = {
        "format": "pt",
        "initgen.seed": "0",
        "initgen.tensors": _json.dumps(
            {
                "w": {
                    "scheme": "normal",
                    "dist": {
                        "kind": "normal",
                        "mean": 0.0,
                        "std": _json.loads(std),
                        "params": {"mean": 0.0, "std": 1.0},
                    },
                }
            }
        ),
    }
    _save({"w": _np.linspace(-1, 1, 1000, dtype=_np.float32)}, str(tmp_path / "f.safetensors"), metadata=meta)
    r = cli("stats", tmp_path / "f.safetensors", "--check", "--format", "json")
    assert r.exit_code == 0, r.output
    assert _json.loads(r.stdout)["tensors"][0]["expected_std"] is None


def test_off_centre_truncation_gets_the_generous_kurtosis_bound():
    from initgen.analyze.checks import KURTOSIS, UNKNOWN_KURTOSIS

    centred = {"mean": 0.0, "std": 1.0, "a": -2.0, "b": 2.0}
    off = {"mean": 0.0, "std": 1.0, "a": 0.0, "b": 10.0}  # kurtosis ≈ 3.87 > 3
    assert KURTOSIS["truncated_normal"](centred) == 3.0
    assert KURTOSIS["truncated_normal"](off) == UNKNOWN_KURTOSIS
