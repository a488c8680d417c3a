"""initgen: correctly initialized weight files from an architecture spec.

The library is usable without the CLI::

    from initgen import load_spec, build_plan, write, read_stats
    plan = build_plan(load_spec("specs/mlp-mnist.yaml"))
    write(plan, Path("w.safetensors"))
    stats = read_stats("w.safetensors")

Heavy modules (NumPy, h5py, safetensors) are imported on first use.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_API = {
    "load_spec": ("initgen.spec", "load_spec"),
    "build_plan": ("initgen.plan", "build_plan"),
    "write": ("initgen.make", "write"),
    "read_stats": ("initgen.stats", "read_stats"),
    "make_tensor": ("initgen.engine", "make_tensor"),
}
__all__ = [*_API, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _API:
        import importlib

        module, attr = _API[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'initgen' has no attribute {name!r}")
