"""`python -m initgen` runs the CLI."""

from .cli import run

if __name__ == "__main__":  # not when a spawned process (a Dask worker) re-imports it
    run()
