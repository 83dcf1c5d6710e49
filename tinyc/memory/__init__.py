"""Static memory planning: liveness over a schedule, offset assignment, verification."""

from tinyc.memory.algos import ALGORITHMS, greedy_by_size
from tinyc.memory.liveness import BufferReq, arena_values, buffer_requests
from tinyc.memory.plan import ArenaPlan, plan_memory, verify_plan

__all__ = [
    "ALGORITHMS",
    "ArenaPlan",
    "BufferReq",
    "arena_values",
    "buffer_requests",
    "greedy_by_size",
    "plan_memory",
    "verify_plan",
]
