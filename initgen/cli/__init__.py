"""The `initgen` command: a thin layer over the library.

Every command parses options, calls one library function and renders. Errors are
InitgenError subclasses raised deep down and turned into one line on stderr and
an exit status here, once: 2 for usage/spec errors, 1 for runtime failures.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
from typing import Any, NoReturn

import click

from .. import __version__, interrupt
from ..errors import InitgenError, OutputLost, one_line, os_error_text

EXIT_INTERRUPTED = 130


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so cleanup (temp files) runs."""


# Signals met during a command are recorded in initgen.interrupt. The exception a
# handler raises can surface as another one when it interrupts C code (h5py turns it
# into TypeError/OSError), or be lost in a weakref callback, so the recorded signal,
# not the exception's type, decides how the command ends.


def _on_signal(signum: int, frame: Any) -> None:
    interrupt.request(signum)
    raise KeyboardInterrupt if signum == signal.SIGINT else _Terminated


def _quiet_unraisable(hook: Any) -> Any:
    """An unraisable hook that drops our own signal exceptions: raised where Python
    cannot propagate them (a weakref callback, ``__del__``), they would be printed
    as a traceback; the signal is recorded in initgen.interrupt and honoured anyway."""

    def unraisable(u: Any) -> None:
        if not isinstance(u.exc_value, (KeyboardInterrupt, _Terminated)):
            hook(u)

    return unraisable


def _stopped(signum: int) -> click.exceptions.Exit:
    interrupted = signum == signal.SIGINT
    click.echo(f"{'interrupted' if interrupted else 'terminated'}; no output was written", err=True)
    return click.exceptions.Exit(EXIT_INTERRUPTED if interrupted else 128 + signum)


class InitgenGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        interrupt.clear()
        previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        previous_hook = sys.unraisablehook
        sys.unraisablehook = _quiet_unraisable(previous_hook)
        try:
            return super().invoke(ctx)
        except (KeyboardInterrupt, _Terminated, interrupt.Stopped):
            raise _stopped(interrupt.pending() or signal.SIGINT) from None
        except OutputLost as e:
            _output_lost(e)
        except InitgenError as e:
            if interrupt.pending():
                raise _stopped(interrupt.pending()) from None  # type: ignore[arg-type]
            click.echo(f"error: {one_line(str(e))}", err=True)
            raise click.exceptions.Exit(e.exit_code) from None
        except OSError as e:  # one no layer below turned into an InitgenError
            if interrupt.pending():
                raise _stopped(interrupt.pending()) from None  # type: ignore[arg-type]
            _os_error(e)
        except Exception:
            if interrupt.pending():
                raise _stopped(interrupt.pending()) from None  # type: ignore[arg-type]
            raise
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            sys.unraisablehook = previous_hook


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
    from . import fromconfig, info, inspect, make, planning

    for module in (make, fromconfig, inspect, planning, info):
        for cmd in module.COMMANDS:
            main.add_command(cmd)


_register()


def _os_error(e: OSError) -> NoReturn:
    """One line and exit 1 for a system error no step turned into an InitgenError."""
    _say(f"error: {one_line(os_error_text(e))}")
    raise click.exceptions.Exit(1) from None


def _output_lost(e: OutputLost) -> NoReturn:
    """Exit 1 when stdout cannot take the output: silently for a closed pipe (as
    `head` expects), with one line for anything else (a full disk). What is still
    buffered for stdout is dropped, not written (and failed again) at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    if e.errno != errno.EPIPE:
        _say(f"error: {one_line(str(e))}")
    raise click.exceptions.Exit(1) from None


def _say(line: str) -> None:
    try:
        click.echo(line, err=True)
    except OSError:
        pass  # stderr is gone too: the exit status still says it


def run() -> None:  # console-script entry point
    try:
        main(prog_name="initgen")
    except OSError as e:  # help or version text that stdout cannot take
        try:
            _output_lost(OutputLost(e))
        except click.exceptions.Exit as stop:
            sys.exit(stop.exit_code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
