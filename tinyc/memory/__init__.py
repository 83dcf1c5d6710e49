"""Static memory planning: schedule, liveness with views and in-place overlaps, offset
assignment by several strategies, an independent verifier, and the plan report."""

from tinyc.memory.algos import ALGORITHMS, MemoryProblem, greedy_by_size
from tinyc.memory.liveness import BufferReq, arena_values, build_storages, flat_requests
from tinyc.memory.plan import ArenaPlan, PlanStats, plan_memory
from tinyc.memory.schedule import Schedule, memory_profile, schedule
from tinyc.memory.verify import verify_plan

__all__ = [
    "ALGORITHMS",
    "ArenaPlan",
    "BufferReq",
    "MemoryProblem",
    "PlanStats",
    "Schedule",
    "arena_values",
    "build_storages",
    "flat_requests",
    "greedy_by_size",
    "memory_profile",
    "plan_memory",
    "schedule",
    "verify_plan",
]
