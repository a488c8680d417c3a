"""initgen: correctly initialized weight files from an architecture spec.

The library is usable without the CLI, which is built on it::

    import initgen
    plan = initgen.build_plan(initgen.load_spec("specs/mlp-mnist.yaml"))
    initgen.write(plan, "w.safetensors")
    stats = initgen.read_stats("w.safetensors")

Names are imported on first use, so ``import initgen`` (and ``initgen --help``) stays
fast; type checkers see the real signatures through the imports below.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import InitgenError, SpecError

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .analyze.diff import FileDiff
    from .analyze.diff import diff_files as diff
    from .analyze.stats import FileStats, TensorStats, read_stats
    from .analyze.verify import Verified, verify
    from .generate.tasks import make_tensor
    from .plan import Plan, TensorPlan, build_plan, check_plan
    from .spec import Spec, load_spec
    from .writers import write

_LAZY = {
    "load_spec": ("initgen.spec", "load_spec"),
    "Spec": ("initgen.spec", "Spec"),
    "build_plan": ("initgen.plan", "build_plan"),
    "check_plan": ("initgen.plan", "check_plan"),
    "Plan": ("initgen.plan", "Plan"),
    "TensorPlan": ("initgen.plan", "TensorPlan"),
    "write": ("initgen.writers", "write"),
    "make_tensor": ("initgen.generate.tasks", "make_tensor"),
    "read_stats": ("initgen.analyze.stats", "read_stats"),
    "FileStats": ("initgen.analyze.stats", "FileStats"),
    "TensorStats": ("initgen.analyze.stats", "TensorStats"),
    "verify": ("initgen.analyze.verify", "verify"),
    "Verified": ("initgen.analyze.verify", "Verified"),
    "diff": ("initgen.analyze.diff", "diff_files"),
    "FileDiff": ("initgen.analyze.diff", "FileDiff"),
}
__all__ = [
    "FileDiff",
    "FileStats",
    "InitgenError",
    "Plan",
    "Spec",
    "SpecError",
    "TensorPlan",
    "TensorStats",
    "Verified",
    "__version__",
    "build_plan",
    "check_plan",
    "diff",
    "load_spec",
    "make_tensor",
    "read_stats",
    "verify",
    "write",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value  # once imported, a plain attribute
        return value
    raise AttributeError(f"module 'initgen' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
