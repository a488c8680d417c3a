"""`python -m initgen` runs the CLI."""

from .cli import run

run()
