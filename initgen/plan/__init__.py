"""Spec → plan: one :class:`TensorPlan` per tensor (shape, dtype, fans, scheme and the
exact distribution), and the limits a plan must respect before any work starts."""

from __future__ import annotations

from .build import build_plan, tensor_name
from .limits import DEFAULT_MAX_BYTES, MAX_WHOLE_VALUES, check_plan, name_problem
from .tensors import Plan, TensorPlan

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_WHOLE_VALUES",
    "Plan",
    "TensorPlan",
    "build_plan",
    "check_plan",
    "name_problem",
    "tensor_name",
]
