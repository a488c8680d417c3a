"""The `initgen` command: a thin layer over the library.

Every command parses options, calls one library function and renders. Errors are
InitgenError subclasses raised deep down and turned into one line on stderr and
an exit status here, once: 2 for usage/spec errors, 1 for runtime failures.
"""

from __future__ import annotations

import signal
import sys
from typing import Any

import click

from .. import __version__
from ..errors import InitgenError

EXIT_INTERRUPTED = 130


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so cleanup (temp files) runs."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Terminated


class InitgenGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
        try:
            return super().invoke(ctx)
        except InitgenError as e:
            click.echo(f"error: {e}", err=True)
            raise click.exceptions.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            click.echo("interrupted; no output was written", err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
        except _Terminated:
            click.echo("terminated; no output was written", err=True)
            raise click.exceptions.Exit(128 + signal.SIGTERM) from None
        finally:
            signal.signal(signal.SIGTERM, previous)


@click.group(cls=InitgenGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="initgen")
def main() -> None:
    """Make correctly initialized weight files from an architecture spec.

    \b
      initgen make specs/mlp-mnist.yaml -o w.safetensors
      initgen stats w.safetensors
      initgen plan specs/gpt2.yaml --set n_layer=2

    Exit status: 0 ok, 1 runtime failure or failed check, 2 usage or spec error.
    """


def _register() -> None:
    from . import info, inspect, make, planning

    for module in (make, inspect, planning, info):
        for cmd in module.COMMANDS:
            main.add_command(cmd)


_register()


def run() -> None:  # console-script entry point
    main(prog_name="initgen")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
