"""Every scheme × layout × layer kind: fans, the expected std/limit, and sample moments.

The expectations are written here from the published definitions (torch.nn.init,
Keras initializers, jax.nn.initializers), not taken from initgen. Sample checks use
tolerances derived from the sample size: 6 standard errors of the mean (σ/√n) and of
the standard deviation (σ·√((κ−1)/(4n)), κ the kurtosis: 3 for a normal and an upper
bound for a truncated one, 9/5 for a uniform).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from initgen.errors import SpecError
from initgen.generate.tasks import make_tensor
from initgen.plan import TensorPlan
from initgen.schemes import ALIASES, ALL_NAMES, SCHEMES, Context, get_scheme
from initgen.schemes.fans import (
    Fans,
    compute_fans,
    conv_transpose_fans,
    conv_transpose_shape,
    embedding_fans,
    layout_fans,
)
from initgen.schemes.gains import gain

TRUNC_STD_2 = 0.87962566103423978  # checked below against a numerical integral


def truncated_moments(mean: float, std: float, a: float, b: float) -> tuple[float, float]:
    """Mean and std of N(mean, std²) restricted to [a, b], by Simpson's rule."""
    x = np.linspace(a, b, 200_001)
    w = np.ones_like(x)
    w[1:-1:2], w[2:-1:2] = 4, 2
    dens = np.exp(-0.5 * ((x - mean) / std) ** 2) * w
    z = dens.sum()
    m = (x * dens).sum() / z
    return m, math.sqrt(((x - m) ** 2 * dens).sum() / z)


@dataclass(frozen=True)
class Expect:
    kind: str  # "uniform" | "normal" | "truncated" | "exact" (deterministic structure)
    std: float
    mean: float = 0.0
    lo: float = -math.inf
    hi: float = math.inf
    sigma: float = 0.0  # truncated: the normal's σ before truncation


def uniform_limit(limit: float, centre: float = 0.0) -> Expect:
    return Expect("uniform", 2 * limit / math.sqrt(12), centre, centre - limit, centre + limit)


def trunc(mean: float, sigma: float, lo: float, hi: float) -> Expect:
    m, s = truncated_moments(mean, sigma, lo, hi)
    return Expect("truncated", s, m, lo, hi, sigma)


def normal_or_trunc(std: float, distribution: str) -> Expect:
    """Keras' truncated variant: σ' = std / 0.8796…, cut at ±2σ'."""
    if distribution in ("truncated_normal",):
        return trunc(0.0, std / TRUNC_STD_2, -2 * std / TRUNC_STD_2, 2 * std / TRUNC_STD_2)
    if distribution == "uniform":
        return uniform_limit(math.sqrt(3) * std)
    return Expect("normal", std)


@dataclass(frozen=True)
class Case:
    shape: tuple[int, ...]
    fans: Fans
    layout: str = "torch"
    activation: str | None = None
    slope: float | None = None

    @property
    def out_rows(self) -> int:  # torch's "rows": the output axis
        return self.shape[-1] if self.layout != "torch" else self.shape[0]


def he_gain(c: Case, a: dict) -> float:
    slope = a.get("negative_slope")
    if slope is None:
        slope = (c.slope if c.slope is not None else 0.01) if c.activation == "leaky_relu" else 0.0
    nl = a.get("nonlinearity", "leaky_relu")
    return {
        "leaky_relu": math.sqrt(2 / (1 + slope**2)),
        "relu": math.sqrt(2),
        "tanh": 5 / 3,
        "linear": 1.0,
        "sigmoid": 1.0,
        "selu": 0.75,
    }[nl]


def glorot_gain(c: Case, a: dict) -> float:
    g = a.get("gain", 1.0)
    if g == "auto":
        g = {"tanh": 5 / 3, "relu": math.sqrt(2), None: 1.0, "sigmoid": 1.0}[c.activation]
    return g


def point(c: Case, count: int, value: float = 1.0) -> Expect:
    p = count / math.prod(c.shape)
    return Expect("exact", abs(value) * math.sqrt(p * (1 - p)), value * p)


def fan(c: Case, mode: str) -> float:
    return {
        "fan_in": c.fans.fan_in,
        "fan_out": c.fans.fan_out,
        "fan_avg": (c.fans.fan_in + c.fans.fan_out) / 2,
    }[mode]


# scheme → (case, args) → what the values must follow. Every scheme needs a row.
EXPECTED = {
    "zeros": lambda c, a: Expect("exact", 0.0, 0.0),
    "ones": lambda c, a: Expect("exact", 0.0, 1.0),
    "constant": lambda c, a: Expect("exact", 0.0, a.get("value", 0.0)),
    "uniform": lambda c, a: uniform_limit(
        (a.get("high", 0.05) - a.get("low", -0.05)) / 2, (a.get("high", 0.05) + a.get("low", -0.05)) / 2
    ),
    "normal": lambda c, a: Expect("normal", a.get("std", 0.05), a.get("mean", 0.0)),
    "truncated_normal": lambda c, a: trunc(
        a.get("mean", 0.0),
        a.get("std", 0.05),
        a.get("a", a.get("mean", 0.0) - a.get("cut", 2.0) * a.get("std", 0.05)),
        a.get("b", a.get("mean", 0.0) + a.get("cut", 2.0) * a.get("std", 0.05)),
    ),
    "glorot_uniform": lambda c, a: uniform_limit(
        glorot_gain(c, a) * math.sqrt(6 / (c.fans.fan_in + c.fans.fan_out))
    ),
    "glorot_normal": lambda c, a: normal_or_trunc(
        glorot_gain(c, a) * math.sqrt(2 / (c.fans.fan_in + c.fans.fan_out)), a.get("distribution", "normal")
    ),
    "he_uniform": lambda c, a: uniform_limit(he_gain(c, a) * math.sqrt(3 / fan(c, a.get("mode", "fan_in")))),
    "he_normal": lambda c, a: normal_or_trunc(
        he_gain(c, a) / math.sqrt(fan(c, a.get("mode", "fan_in"))), a.get("distribution", "normal")
    ),
    "lecun_uniform": lambda c, a: uniform_limit(math.sqrt(3 / c.fans.fan_in)),
    "lecun_normal": lambda c, a: normal_or_trunc(
        math.sqrt(1 / c.fans.fan_in), a.get("distribution", "normal")
    ),
    "variance_scaling": lambda c, a: normal_or_trunc(
        math.sqrt(a.get("scale", 1.0) / fan(c, a.get("mode", "fan_in"))),
        a.get("distribution", "truncated_normal"),
    ),
    "torch_default": lambda c, a: uniform_limit(1 / math.sqrt(c.fans.fan_in)),
    "orthogonal": lambda c, a: Expect(
        "exact", a.get("gain", 1.0) / math.sqrt(max(c.out_rows, math.prod(c.shape) // c.out_rows))
    ),
    "identity": lambda c, a: point(c, min(c.shape), a.get("gain", 1.0)),
    "dirac": lambda c, a: point(c, min(c.out_rows, c.shape[-2] if c.layout != "torch" else c.shape[1])),
    "sparse": lambda c, a: Expect(
        "exact",
        a.get("std", 0.01) * math.sqrt((c.out_rows - math.ceil(a["sparsity"] * c.out_rows)) / c.out_rows),
    ),
}
NEEDS = {
    "identity": lambda c: len(c.shape) == 2,
    "sparse": lambda c: len(c.shape) == 2,
    "dirac": lambda c: len(c.shape) >= 3,
    "orthogonal": lambda c: len(c.shape) >= 2,
}
DEFAULT_ARGS = {"sparse": {"sparsity": 0.25}}


def test_every_scheme_has_an_expectation():
    assert set(EXPECTED) == set(SCHEMES)


# layer kind → (fans written out independently, shape in torch layout, in keras layout)
KINDS = {
    "dense": (Fans(300, 100), (100, 300), (300, 100)),
    "conv1d": (Fans(8 * 5, 16 * 5), (16, 8, 5), (5, 8, 16)),
    "conv2d_groups4": (Fans(16 // 4 * 9, 32 * 9), (32, 4, 3, 3), (3, 3, 4, 32)),
    "conv3d": (Fans(4 * 27, 8 * 27), (8, 4, 3, 3, 3), (3, 3, 3, 4, 8)),
    "conv_transpose2d": (Fans(16 // 2 * 16, 8 * 16), (16, 4, 4, 4), (4, 4, 4, 16)),
    "conv_transpose2d_torch": (Fans(8 // 2 * 16, 16 * 16), (16, 4, 4, 4), (4, 4, 4, 16)),
    "embedding": (Fans(64, 1000), (1000, 64), (1000, 64)),
    "tensor_axes": (Fans(8, 768), (8, 12, 64), (8, 12, 64)),
}


def initgen_fans(kind: str, shape: tuple[int, ...], layout: str) -> Fans:
    """The fans initgen's functions give for this layer (what a layer type calls)."""
    if kind == "conv_transpose2d":
        assert shape == conv_transpose_shape(16, 8, (4, 4), 2, layout)
        return conv_transpose_fans(16, 8, (4, 4), 2)
    if kind == "conv_transpose2d_torch":
        return conv_transpose_fans(16, 8, (4, 4), 2, "torch")
    if kind == "embedding":
        return embedding_fans(1000, 64)
    if kind == "tensor_axes":
        return compute_fans(shape, 0, (1, 2))
    return layout_fans(shape, layout)


MATRIX = [(s, k, lay) for s in SCHEMES for k in KINDS for lay in ("torch", "keras")]


@pytest.mark.parametrize("name,kind,layout", MATRIX, ids=["-".join(m) for m in MATRIX])
def test_fans_and_expected_std(name, kind, layout):
    want_fans, torch_shape, keras_shape = KINDS[kind]
    shape = torch_shape if layout == "torch" else keras_shape
    fans = initgen_fans(kind, shape, layout)
    assert fans == want_fans
    case = Case(shape, fans, layout, "relu")
    args = DEFAULT_ARGS.get(name, {})
    scheme = SCHEMES[name]
    if not NEEDS.get(name, lambda c: True)(case):
        with pytest.raises(SpecError, match=name):
            scheme.dist(Context(shape, fans, "relu", None, layout), args)
        return
    d = scheme.dist(Context(shape, fans, "relu", None, layout), args)
    want = EXPECTED[name](case, args)
    assert d.std == pytest.approx(want.std, rel=1e-12, abs=1e-15)
    assert d.mean == pytest.approx(want.mean, rel=1e-12, abs=1e-15)
    if want.kind == "uniform":
        assert (d.params["low"], d.params["high"]) == pytest.approx((want.lo, want.hi), rel=1e-12)


# --- sample moments ----------------------------------------------------------------------

DENSE = Case((256, 512), Fans(512, 256))
CONV = Case((128, 64, 3, 3), Fans(64 * 9, 128 * 9))
KCONV = Case((3, 3, 64, 128), Fans(64 * 9, 128 * 9), "keras")
BIG = Case((1100, 1000), Fans(1000, 1100))  # more than one chunk of 2^20 values
LEAKY = Case((256, 512), Fans(512, 256), activation="leaky_relu", slope=0.1)
TANH = Case((256, 512), Fans(512, 256), activation="tanh")

# (scheme, args, case, dtype): samples of 73 728 to 1 100 000 values
VARIANTS = [
    ("zeros", {}, DENSE, "float32"),
    ("ones", {}, DENSE, "float32"),
    ("constant", {"value": 0.3}, DENSE, "float32"),
    ("uniform", {}, DENSE, "float32"),
    ("uniform", {"low": -1, "high": 3}, CONV, "float64"),
    ("normal", {}, BIG, "float32"),
    ("normal", {"mean": 1.5, "std": 2}, CONV, "float64"),
    ("normal", {"std": 0.02, "scale": 1 / math.sqrt(2 * 12)}, DENSE, "float32"),  # GPT-2 residual
    ("truncated_normal", {}, DENSE, "float32"),
    ("truncated_normal", {"std": 1.0, "cut": 1.0}, DENSE, "float64"),
    ("truncated_normal", {"std": 1.0, "a": -2.0, "b": 2.0}, DENSE, "float32"),  # torch's default
    ("truncated_normal", {"mean": 0.5, "std": 1.0, "a": 0.0, "b": 3.0}, CONV, "float32"),
    ("truncated_normal", {"std": 1.0, "a": -0.25, "b": 0.5}, CONV, "float64"),
    ("glorot_uniform", {}, DENSE, "float32"),
    ("glorot_uniform", {"gain": "auto"}, TANH, "float32"),
    ("glorot_uniform", {}, KCONV, "float32"),
    ("glorot_normal", {}, CONV, "float32"),
    ("glorot_normal", {"distribution": "truncated_normal"}, DENSE, "float32"),
    ("he_uniform", {}, CONV, "float32"),
    ("he_uniform", {"mode": "fan_out"}, CONV, "float64"),
    ("he_uniform", {}, LEAKY, "float32"),
    ("he_uniform", {"negative_slope": 0.2}, DENSE, "float32"),
    ("he_normal", {}, DENSE, "float32"),
    ("he_normal", {"distribution": "truncated_normal"}, CONV, "float32"),
    ("he_normal", {"nonlinearity": "tanh", "scale": 0.5}, DENSE, "float32"),
    ("he_normal", {"mode": "fan_out", "nonlinearity": "relu"}, KCONV, "float32"),
    ("lecun_uniform", {}, DENSE, "float32"),
    ("lecun_normal", {}, CONV, "float32"),
    ("lecun_normal", {"distribution": "truncated_normal"}, DENSE, "float64"),
    *[
        ("variance_scaling", {"scale": s, "mode": m, "distribution": d}, CONV, "float32")
        for s, m, d in [
            (1.0, "fan_in", "truncated_normal"),
            (2.0, "fan_out", "normal"),
            (0.5, "fan_avg", "uniform"),
            (1 / 3, "fan_in", "untruncated_normal"),
            (2.0, "fan_avg", "truncated_normal"),
        ]
    ],
    ("torch_default", {}, DENSE, "float32"),
    ("torch_default", {"scale": 2.0}, CONV, "float64"),
    ("orthogonal", {}, DENSE, "float32"),
    ("orthogonal", {"gain": 2.0}, CONV, "float64"),
    ("identity", {"gain": 3.0}, DENSE, "float32"),
    ("dirac", {}, CONV, "float32"),
    ("dirac", {}, KCONV, "float32"),
    ("sparse", {"sparsity": 0.3}, DENSE, "float32"),
]


def sample(name: str, args: dict, case: Case, dtype: str, seed: int = 7):
    d = get_scheme(name).dist(Context(case.shape, case.fans, case.activation, case.slope, case.layout), args)
    plan = TensorPlan(f"{name}.weight", case.shape, dtype, name, args, d, case.fans.fan_in, case.fans.fan_out)
    return d, make_tensor(plan, seed)


@pytest.mark.parametrize(
    "name,args,case,dtype", VARIANTS, ids=[f"{v[0]}-{i}" for i, v in enumerate(VARIANTS)]
)
def test_sample_moments(name, args, case, dtype):
    scale = args.get("scale", 1.0) if name != "variance_scaling" else 1.0
    base = {k: v for k, v in args.items() if k != "scale" or name == "variance_scaling"}
    want = EXPECTED[name](case, base)
    want_mean, want_std = want.mean * scale, want.std * scale
    d, x = sample(name, args, case, dtype)
    assert x.dtype == np.dtype(dtype) and x.shape == case.shape
    assert d.std == pytest.approx(want_std, rel=1e-9, abs=1e-15)
    assert d.mean == pytest.approx(want_mean, rel=1e-9, abs=1e-15)
    v = x.astype(np.float64).reshape(-1)
    n = v.size
    if name in ("orthogonal", "sparse"):  # random values in an exact structure
        assert abs(v.mean()) < 6 * want_std / math.sqrt(n)
        rms = math.sqrt((v * v).mean())  # the expected std is the RMS (mean 0)
        if name == "orthogonal":  # Σx² = min(rows, cols)·gain² exactly
            assert rms == pytest.approx(want_std, rel=1e-6 if dtype == "float32" else 1e-12)
        else:  # the non-zero values are N(0, std²): RMS² of m of them has rel. s.e. √(2/m)
            m = np.count_nonzero(v)
            assert abs(rms - want_std) < 6 * want_std * math.sqrt(1 / (2 * m))
        return
    if want.kind == "exact":
        eps = float(np.finfo(dtype).eps)  # the values are the dtype's rounding of exact ones
        assert v.mean() == pytest.approx(want_mean, rel=eps, abs=1e-12)
        assert v.std() == pytest.approx(want_std, rel=1e-9, abs=eps * abs(want_mean))
        return
    kurtosis = {"uniform": 1.8, "normal": 3.0, "truncated": 3.0}[want.kind]
    assert abs(v.mean() - want_mean) < 6 * want_std / math.sqrt(n)
    assert abs(v.std() - want_std) < 6 * want_std * math.sqrt((kurtosis - 1) / (4 * n))
    if want.kind in ("uniform", "truncated"):
        lo, hi = np.asarray([want.lo * scale, want.hi * scale]).astype(dtype)
        assert v.min() >= lo and v.max() <= hi, "a value outside the bounds"
        if want.kind == "uniform":  # both ends are reached: P(min > lo + 30w/n) ≈ e^-30
            width = (hi - lo) * 30 / n
            assert v.min() < lo + width and v.max() > hi - width


def test_truncated_constant_is_the_std_of_a_unit_normal_cut_at_2():
    assert truncated_moments(0.0, 1.0, -2.0, 2.0)[1] == pytest.approx(TRUNC_STD_2, rel=1e-10)


@pytest.mark.parametrize(
    "args",
    [
        {"std": 1.0},
        {"std": 0.3, "cut": 1.5, "mean": 2.0},
        {"std": 1.0, "a": -2.0, "b": 2.0},
        {"std": 2.0, "mean": 1.0, "a": 0.0, "b": 5.0},
    ],
)
def test_truncated_analytic_std_matches_integral(args):
    d = SCHEMES["truncated_normal"].dist(Context((10, 10), Fans(10, 10)), args)
    want = EXPECTED["truncated_normal"](DENSE, args)
    assert (d.mean, d.std) == pytest.approx((want.mean, want.std), rel=1e-9, abs=1e-12)
    assert (d.params["a"], d.params["b"]) == pytest.approx((want.lo, want.hi))


# --- gains, aliases, parameters --------------------------------------------------------


@pytest.mark.parametrize(
    "nonlinearity,param,want",
    [
        ("linear", None, 1.0),
        ("conv1d", None, 1.0),
        ("conv2d", None, 1.0),
        ("conv3d", None, 1.0),
        ("conv_transpose1d", None, 1.0),
        ("conv_transpose2d", None, 1.0),
        ("conv_transpose3d", None, 1.0),
        ("sigmoid", None, 1.0),
        ("tanh", None, 5 / 3),
        ("relu", None, math.sqrt(2)),
        ("leaky_relu", None, math.sqrt(2 / (1 + 0.01**2))),
        ("leaky_relu", 0.2, math.sqrt(2 / 1.04)),
        ("leaky_relu", 0.0, math.sqrt(2)),
        ("selu", None, 0.75),
    ],
)
def test_gains_are_torchs_calculate_gain(nonlinearity, param, want):
    assert gain(nonlinearity, param) == pytest.approx(want, rel=1e-15)


def test_unknown_gain_name():
    with pytest.raises(ValueError, match="no gain is defined for 'gelu'"):
        gain("gelu")


@pytest.mark.parametrize(
    "alias,canonical",
    [
        ("xavier_uniform", "glorot_uniform"),
        ("xavier_normal", "glorot_normal"),
        ("kaiming_uniform", "he_uniform"),
        ("kaiming_normal", "he_normal"),
        ("eye", "identity"),
    ],
)
def test_aliases(alias, canonical):
    assert ALIASES[alias] == canonical and get_scheme(alias) is SCHEMES[canonical]
    assert alias in ALL_NAMES and canonical in ALL_NAMES


def test_torch_default_matches_kaiming_uniform_with_a_sqrt5():
    ctx = Context((256, 512), Fans(512, 256))
    a = SCHEMES["torch_default"].dist(ctx)
    b = SCHEMES["he_uniform"].dist(ctx, {"negative_slope": math.sqrt(5)})
    assert a.params["high"] == pytest.approx(b.params["high"], rel=1e-14)
    assert a.params["high"] == pytest.approx(1 / math.sqrt(512), rel=1e-14)


def test_gain_accepts_a_nonlinearity_name():
    ctx = Context((256, 512), Fans(512, 256))
    a = SCHEMES["glorot_uniform"].dist(ctx, {"gain": "tanh"})
    assert a.params["high"] == pytest.approx(5 / 3 * math.sqrt(6 / 768), rel=1e-14)


ERRORS = [
    ("he_normal", {"mode": "fan_avgg"}, "mode: 'fan_avgg' is not one of fan_in or fan_out"),
    ("he_normal", {"slope": 0.1}, "unknown parameter 'slope' for scheme he_normal"),
    ("glorot_uniform", {"gain": "auto"}, "no entry for activation 'gelu'"),
    ("glorot_uniform", {"gain": "tanhh"}, "gain: 'tanhh' is not a number, 'auto' or one of"),
    ("sparse", {}, "scheme sparse needs 'sparsity'"),
    ("sparse", {"sparsity": 1.5}, "sparsity must be within [0, 1]"),
    ("normal", {"scale": -1}, "scale must be positive"),
    ("truncated_normal", {"a": 1.0}, "give both a and b"),
    ("truncated_normal", {"std": 1.0, "a": 5.0, "b": 6.0}, "needs at least 1% of the mass"),
    ("truncated_normal", {"std": 1.0, "a": 2.4, "b": 9.0}, "holds 0.0082 of N(0, 1²)"),
    ("uniform", {"low": 1, "high": 0}, "low must not exceed high"),
    ("dirac", {"groups": 3}, "groups=3 must divide the 64 output channels"),
    ("variance_scaling", {"scale": 0}, "scale must be positive"),
]


@pytest.mark.parametrize("name,args,message", ERRORS, ids=[f"{e[0]}-{i}" for i, e in enumerate(ERRORS)])
def test_parameter_errors(name, args, message):
    shape = (64, 32, 3, 3) if name == "dirac" else (64, 32)
    ctx = Context(shape, layout_fans(shape, "torch"), "gelu")
    with pytest.raises(SpecError) as e:
        SCHEMES[name].dist(ctx, args)
    assert message in e.value.message


def test_zero_fan_is_an_error():
    with pytest.raises(SpecError, match="fan_in is 0"):
        SCHEMES["he_normal"].dist(Context((4, 0), Fans(0, 4)))


# --- `initgen schemes` ---------------------------------------------------------------------


def test_schemes_command_lists_every_scheme_alias_and_parameter(cli):
    import json

    data = {s["name"]: s for s in json.loads(cli("schemes", "--format", "json").output)["schemes"]}
    assert set(data) == set(SCHEMES)
    for name, scheme in SCHEMES.items():
        assert data[name]["aliases"] == list(scheme.aliases)
        assert data[name]["formula"] == scheme.formula
        assert [p["name"] for p in data[name]["params"]] == [p.name for p in scheme.all_params]
    assert {
        "name": "sparsity",
        "default": "required",
        "doc": "fraction of each column set to zero",
        "choices": [],
    } in data["sparse"]["params"]
    table = cli("schemes").output
    for name in ALL_NAMES:
        assert name in table
    assert "[a, b]" in table  # cells are plain text, not markup


def test_schemes_command_for_one_scheme(cli):
    out = cli("schemes", "kaiming_normal").output
    assert out.splitlines()[0].strip().startswith("he_normal (kaiming_normal): N(0, gain²/fan)")
    for param in ("mode", "negative_slope", "nonlinearity", "distribution", "scale"):
        assert param in out
    bad = cli("schemes", "he_normall")
    assert bad.exit_code == 2 and "did you mean 'he_normal'?" in bad.output


# --- through a spec: layer fans, bias fans, fan_convention, scale ------------------------------

SPEC = """\
initgen: 1
name: t
vars: {n_layer: 12}
layers:
  - {name: up, type: conv_transpose2d, in: 16, out: 8, kernel: 4, groups: 2, init: torch_default}
  - {name: up_t, type: conv_transpose2d, in: 16, out: 8, kernel: 4, groups: 2,
     fan_convention: torch, init: {weight: torch_default, bias: torch_default}}
  - {name: fc, type: dense, in: 300, out: 100, init: {weight: torch_default, bias: torch_default}}
  - {name: proj, type: dense, in: 768, out: 768, bias: false,
     init: {scheme: normal, std: 0.02, scale: "${1 / sqrt(2 * n_layer)}"}}
  - {name: conv, type: conv2d, in: 8, out: 16, kernel: 3, activation: relu,
     init: {scheme: he_normal, mode: fan_out, distribution: truncated_normal}}
"""


def test_schemes_through_a_spec(write_spec):
    from initgen.plan import build_plan
    from initgen.spec import load_spec

    plan = {t.name: t for t in build_plan(load_spec(write_spec(SPEC))).tensors}
    # torch: nn.ConvTranspose2d(16, 8, 4, groups=2).weight is [16, 4, 4, 4]; its default
    # bound is 1/√fan_in with fan_in = size(1)·16 = 64 (the swapped fan)
    assert plan["up_t.weight"].shape == (16, 4, 4, 4)
    assert plan["up_t.weight"].dist.params["high"] == pytest.approx(1 / math.sqrt(4 * 16))
    assert plan["up_t.bias"].dist.params["high"] == pytest.approx(1 / math.sqrt(4 * 16))
    # initgen's connectivity fans: in/groups·∏k = 8·16
    assert plan["up.weight"].dist.params["high"] == pytest.approx(1 / math.sqrt(8 * 16))
    # nn.Linear(300, 100): weight and bias U(±1/√300)
    assert plan["fc.weight"].dist.params["high"] == pytest.approx(1 / math.sqrt(300))
    assert plan["fc.bias"].dist.params["high"] == pytest.approx(1 / math.sqrt(300))
    # GPT-2's residual projection: std 0.02/√(2·n_layer)
    assert plan["proj.weight"].dist.std == pytest.approx(0.02 / math.sqrt(24))
    # Keras-style he_normal on fan_out = 16·9: values' std √(2/144), σ' = that / 0.8796…
    conv = plan["conv.weight"].dist
    assert conv.std == pytest.approx(math.sqrt(2 / 144), rel=1e-9)
    assert conv.params["std"] == pytest.approx(math.sqrt(2 / 144) / TRUNC_STD_2)
    assert conv.params["b"] == pytest.approx(2 * math.sqrt(2 / 144) / TRUNC_STD_2)


def test_schemes_markdown_rows_have_one_cell_per_column(cli):
    rows = [r for r in cli("schemes", "--format", "markdown").output.splitlines() if r.startswith("|")]
    assert len(rows) == 2 + len(SCHEMES)
    assert {r.count("|") for r in rows} == {6}
