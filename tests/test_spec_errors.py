"""Every class of spec mistake, with the exact message a user reads: file:line, key
path, what was given, what is allowed, and the nearest valid word."""

from __future__ import annotations

import pytest

from initgen.errors import SpecError
from initgen.plan import build_plan
from initgen.spec import load_spec

# A two-line preamble, so the first layer is on line 4.
HEAD = "initgen: 1\nvars: {hidden: 8}\nlayers:\n"

CASES = [
    (
        "lone_surrogate_in_a_name",
        HEAD + '  - {name: "a\\ud800b", type: dense, in: 4, out: 2}\n',
        "s.yaml:4: layers[0].name: 'a\\ud800b' holds a lone surrogate (an escape from \\ud800 to \\udfff), which no file can store",
    ),
    (
        "unknown_top",
        "initgen: 1\nlayerz: []\n",
        "s.yaml:2: layerz: unknown key 'layerz' in the spec; allowed: defaults, description, dtype, initgen, layers, layout, name, rules, seed or vars; did you mean 'layers'?",
    ),
    (
        "unknown_layer_key",
        HEAD + "  - {name: fc, type: dense, in: 4, out: 2, bais: false}\n",
        "s.yaml:4: layers[0].bais: unknown key 'bais' in a dense layer; allowed: activation, bias, dtype, in, init, layout, name, names, negative_slope, out or type; did you mean 'bias'?",
    ),
    (
        "unknown_type",
        HEAD + "  - {name: fc, type: dens, in: 4, out: 2}\n",
        "s.yaml:4: layers[0].type: unknown layer type 'dens'; allowed: attention, batchnorm, conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d, dense, embedding, gru, layernorm, lstm, rmsnorm, rnn or tensor; did you mean 'dense'?",
    ),
    (
        "bad_value_dtype",
        HEAD + "  - {name: fc, type: dense, in: 4, out: 2, dtype: float31}\n",
        "s.yaml:4: layers[0].dtype: 'float31' is not one of bfloat16, float16, float32, float64, float8_e4m3fn or float8_e5m2; did you mean 'float32'?",
    ),
    (
        "bad_value_bool",
        HEAD + "  - {name: fc, type: dense, in: 4, out: 2, bias: yes please}\n",
        "s.yaml:4: layers[0].bias: expected true or false, got 'yes please'",
    ),
    (
        "bad_scheme_param",
        HEAD
        + "  - {name: fc, type: dense, in: 4, out: 2, init: {scheme: variance_scaling, mode: fan_inn}}\n",
        "s.yaml:4: layers[0].init.mode: 'fan_inn' is not one of fan_avg, fan_in or fan_out; did you mean 'fan_in'?",
    ),
    (
        "unknown_scheme",
        HEAD + "  - {name: fc, type: dense, in: 4, out: 2, init: he_normall}\n",
        "s.yaml:4: layers[0].init: unknown scheme 'he_normall'; did you mean 'he_normal'?",
    ),
    (
        "missing_field",
        HEAD + "  - {name: fc, type: dense, in: 4}\n",
        "s.yaml:4: layers[0]: missing key 'out' for a dense layer; it needs in and out",
    ),
    (
        "missing_type",
        HEAD + "  - {name: fc, in: 4}\n",
        "s.yaml:4: layers[0]: missing key 'type'; one of attention, batchnorm, conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d, dense, embedding, gru, layernorm, lstm, rmsnorm, rnn or tensor",
    ),
    (
        "duplicate",
        HEAD + "  - {name: fc, type: dense, in: 4, out: 2}\n  - {name: fc, type: dense, in: 2, out: 2}\n",
        "s.yaml:5: layers[1]: duplicate tensor name 'fc.weight' (first made by the layer at line 4)",
    ),
    (
        "undefined_var",
        HEAD + "  - {name: fc, type: dense, in: 4, out: '${hiden}'}\n",
        "s.yaml:4: layers[0].out: undefined var 'hiden' in '${hiden}'; did you mean 'hidden'?",
    ),
    (
        "bad_expr",
        HEAD + "  - {name: fc, type: dense, in: 4, out: '${hidden +* 2}'}\n",
        "s.yaml:4: layers[0].out: bad expression '${hidden +* 2}': not valid arithmetic",
    ),
    (
        "eval_attempt",
        HEAD + "  - {name: fc, type: dense, in: 4, out: '${__import__(\"os\")}'}\n",
        "s.yaml:4: layers[0].out: bad expression '${__import__(\"os\")}': only numbers, vars, + - * / // % ** and abs, ceil, floor, int, max, min, round, sqrt are allowed",
    ),
    (
        "nonpositive",
        HEAD + "  - {name: fc, type: dense, in: 4, out: '${hidden - 8}'}\n",
        "s.yaml:4: layers[0].out: expected a positive whole number, got 0",
    ),
    (
        "groups",
        HEAD + "  - {name: c, type: conv2d, in: 6, out: 4, kernel: 3, groups: 4}\n",
        "s.yaml:4: layers[0].groups: groups=4 must divide in=6",
    ),
    (
        "kernel_len",
        HEAD + "  - {name: c, type: conv2d, in: 6, out: 4, kernel: [3, 3, 3]}\n",
        "s.yaml:4: layers[0].kernel: a 2-d kernel needs 2 sizes (or one number), got 3",
    ),
    (
        "names_key",
        HEAD + "  - {name: fc, type: dense, in: 4, out: 2, names: {wieght: w}}\n",
        "s.yaml:4: layers[0].names.wieght: this dense layer has no tensor 'wieght' to rename; its tensors: bias or weight; did you mean 'weight'?",
    ),
    (
        "init_key",
        HEAD + "  - {name: fc, type: dense, in: 4, out: 2, init: {wieght: zeros}}\n",
        "s.yaml:4: layers[0].init.wieght: this dense layer has no tensor or role 'wieght'; allowed: bias or weight; did you mean 'weight'?",
    ),
    (
        "kv_heads",
        HEAD + "  - {name: a, type: attention, dim: 16, heads: 4, kv_heads: 3}\n",
        "s.yaml:4: layers[0].kv_heads: kv_heads=3 must divide heads=4",
    ),
    (
        "fused_glorot",
        HEAD + "  - {name: a, type: attention, dim: 16, heads: 4, kv_heads: 2, qkv: true}\n",
        "s.yaml:4: layers[0].type: glorot_uniform gives the fused projections of 'qkv_proj.weight' different distributions (fans 16/16 vs 16/8); use separate projections (qkv: false) or a scheme that depends on fan_in only",
    ),
    (
        "fan_conv",
        HEAD + "  - {name: c, type: conv_transpose2d, in: 6, out: 4, kernel: 3, fan_convention: tf}\n",
        "s.yaml:4: layers[0].fan_convention: 'tf' is not one of initgen or torch",
    ),
    (
        "activation",
        HEAD + "  - {name: fc, type: dense, in: 4, out: 2, activation: rellu}\n",
        "s.yaml:4: layers[0].activation: unknown activation 'rellu'; known: elu, gelu, leaky_relu, linear, mish, none, prelu, relu, relu6, selu, sigmoid, silu, softmax, swish or tanh (or add it to `rules:`); did you mean 'relu'?",
    ),
]


@pytest.mark.parametrize("text, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_exact_message(text, message):
    with pytest.raises(SpecError) as err:
        build_plan(load_spec("s.yaml", text=text))
    assert str(err.value) == message


def test_every_message_names_file_line_and_key():
    for name, _text, message in CASES:
        assert message.startswith("s.yaml:"), name
        where, _, rest = message.partition(": ")
        assert where.split(":")[1].isdigit(), name
        assert rest.split(": ")[0].replace("[", ".").split(".")[0] in ("layers", "layerz"), name


def test_a_key_no_file_can_store_is_refused_where_it_is():
    with pytest.raises(SpecError) as err:
        load_spec("s.yaml", text='initgen: 1\nlayers:\n  - {"k\\udc00": 1}\n')
    assert str(err.value) == (
        "s.yaml:3: layers[0]: key 'k\\udc00' holds a lone surrogate (an escape from \\ud800 to "
        "\\udfff), which no file can store"
    )


def test_set_of_an_unknown_var():
    with pytest.raises(SpecError) as err:
        load_spec("s.yaml", {"hiden": 3}, text=HEAD + "  - {name: fc, type: dense, in: 4, out: 2}\n")
    assert str(err.value) == (
        "--set hiden: the spec has no var 'hiden'; its vars: hidden; did you mean 'hidden'?"
    )


def test_set_with_a_bad_expression_is_located_at_the_var(tmp_path):
    text = HEAD + "  - {name: fc, type: dense, in: 4, out: '${hidden}'}\n"
    with pytest.raises(SpecError) as err:
        load_spec("s.yaml", {"hidden": "${1 +}"}, text=text)
    assert str(err.value) == "s.yaml:2: vars.hidden: bad expression '${1 +}': not valid arithmetic"


def test_cli_prints_the_message_and_exits_2(cli, write_spec):
    path = write_spec(HEAD + "  - {name: fc, type: dense, in: 4, out: '${hiden}'}\n")
    result = cli("validate", path)
    assert result.exit_code == 2
    assert result.output == (
        f"error: {path}:4: layers[0].out: undefined var 'hiden' in '${{hiden}}'; did you mean 'hidden'?\n"
    )


def test_cli_duplicate_name_across_repeats(cli, write_spec):
    path = write_spec(
        HEAD + "  - repeat: 2\n    prefix: blk.\n    layers:\n"
        "      - {name: fc, type: dense, in: 4, out: 4}\n"
    )
    result = cli("plan", path)
    assert result.exit_code == 2
    assert result.output == (
        f"error: {path}:7: layers[0].layers[0]: duplicate tensor name "
        "'blk.fc.weight' (first made by the layer at line 7)\n"
    )
