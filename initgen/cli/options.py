"""Options shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from ..dtypes import WEIGHT_DTYPES
from ..errors import OutputLost
from ..schemes.presets import PRESETS

PRESET_NAMES = tuple(PRESETS)

if TYPE_CHECKING:
    from ..plan import Plan


def spec_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """SPEC plus --set/--seed/--dtype/--max-bytes: everything that decides a plan.

    SPEC is a spec file, or a Transformers ``config.json`` (or a directory holding one),
    which :mod:`initgen.configs` turns into a spec.
    """
    f = click.option(
        "--dtype",
        type=click.Choice(WEIGHT_DTYPES),
        help="Replace the spec's dtype (layers that set their own keep it).",
    )(f)
    f = click.option("--seed", type=click.IntRange(min=0), help="Replace the spec's seed.")(f)
    f = click.option(
        "--defaults",
        type=click.Choice(PRESET_NAMES),
        expose_value=False,
        callback=_defaults,
        help="Replace the spec's `defaults:`: every tensor without an init follows that "
        "framework's own default for its layer type.",
    )(f)
    f = click.option(
        "--max-bytes",
        metavar="SIZE",
        expose_value=False,
        callback=_max_bytes,
        help="Refuse a spec that makes more than SIZE of tensors (default 1TB).",
    )(f)
    f = click.option(
        "--set",
        "sets",
        multiple=True,
        metavar="VAR=VALUE",
        help="Replace a var of the spec (repeatable), e.g. --set n_layer=2.",
    )(f)
    f = click.argument("spec", type=click.Path(readable=False))(f)
    return f


def format_option(choices: tuple[str, ...] = ("table", "json", "markdown")) -> Callable[..., Any]:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        help="Output format: table for people, json for programs.",
    )


def max_bytes() -> int:
    """--max-bytes of the running command, or the default."""
    from ..plan import DEFAULT_MAX_BYTES

    ctx = click.get_current_context(silent=True)
    return int(ctx.meta.get("initgen.max_bytes", DEFAULT_MAX_BYTES)) if ctx else DEFAULT_MAX_BYTES


def load_plan(
    spec: str, sets: tuple[str, ...], seed: int | None, dtype: str | None, *, check: bool = True
) -> Plan:
    """The plan of SPEC with the command's options; ``check``: run the plan's limits
    here (``make`` leaves them to :func:`initgen.write`, which runs them itself)."""
    from ..configs import is_config_source, load_config_spec
    from ..plan import build_plan, check_plan
    from ..spec import load_spec, parse_overrides

    ctx = click.get_current_context(silent=True)
    defaults = ctx.meta.get("initgen.defaults") if ctx else None
    overrides = parse_overrides(list(sets))
    if is_config_source(spec):
        if defaults is not None:
            from ..errors import UsageError

            raise UsageError(
                f"{spec}: --defaults applies to specs; a config's tensors follow its family's "
                "own init (Transformers' _init_weights)"
            )
        loaded = load_config_spec(spec, overrides, dtype)
    else:
        loaded = load_spec(spec, overrides, dtype=dtype, defaults=defaults)
    plan = build_plan(loaded, seed)
    if check:
        check_plan(plan, max_bytes())
    return plan


def _max_bytes(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """--max-bytes is read through max_bytes(), so commands need not pass it along."""
    if value is not None:
        from ..units import parse_size

        ctx.meta["initgen.max_bytes"] = parse_size(value, "--max-bytes")


def _defaults(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """--defaults is read by load_plan, so commands need not pass it along."""
    if value is not None:
        ctx.meta["initgen.defaults"] = value


def emit(text: str | None) -> None:
    """Write a command's output to stdout, as it is (click would drop escape sequences
    in names); a stream that cannot take it raises OutputLost."""
    if text is not None:
        try:
            click.echo(text, color=True)
        except OSError as e:
            raise OutputLost(e) from None


storage_option = click.option(
    "--storage-option",
    "storage",
    multiple=True,
    metavar="KEY=VALUE",
    help="An fsspec option for s3://, gs://, az://… URLs (repeatable), e.g. "
    "endpoint_url=http://127.0.0.1:9000; credentials come from the store's usual "
    "configuration (environment, config files) too.",
)


def storage_options(items: tuple[str, ...]) -> dict[str, Any] | None:
    """--storage-option values as fsspec keyword arguments (None when there are none)."""
    from ..storage import parse_storage_options

    return parse_storage_options(items) or None
