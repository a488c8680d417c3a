"""Plan → values: exact, seeded streams and samplers (:mod:`.sampling`, :mod:`.exactmath`),
whole-tensor schemes (:mod:`.whole_tensor`), tasks (:mod:`.tasks`) and the parallel
engine that hands chunks to a writer (:mod:`.engine`, :mod:`.worker`, :mod:`.processes`)."""

from __future__ import annotations

from .engine import generate
from .tasks import make_chunk, make_tensor, task_list

__all__ = ["generate", "make_chunk", "make_tensor", "task_list"]
