"""The arena plan: one offset per arena tensor, the arena size, and its independent check."""

from __future__ import annotations

from dataclasses import dataclass

from tinyc.errors import IRError
from tinyc.ir import Graph
from tinyc.memory.algos import ALGORITHMS
from tinyc.memory.liveness import BufferReq, buffer_requests


@dataclass(frozen=True)
class ArenaPlan:
    offsets: dict[str, int]
    size: int
    reqs: tuple[BufferReq, ...]
    algorithm: str


def plan_memory(graph: Graph, algorithm: str = "greedy_by_size", align: int = 16) -> ArenaPlan:
    reqs = buffer_requests(graph, align)
    offsets = ALGORITHMS[algorithm](reqs)
    size = max((offsets[r.name] + r.size for r in reqs), default=0)
    size = (size + align - 1) // align * align
    plan = ArenaPlan(offsets, size, tuple(reqs), algorithm)
    verify_plan(plan)
    return plan


def verify_plan(plan: ArenaPlan) -> None:
    """Raise IRError unless every buffer is aligned, inside the arena, and disjoint in
    address from every buffer live at the same time."""
    reqs = sorted(plan.reqs, key=lambda r: plan.offsets[r.name])
    for req in reqs:
        off = plan.offsets[req.name]
        if off % req.align or off < 0 or off + req.size > plan.size:
            raise IRError(f"memory plan: {req.name} at {off} (+{req.size}) is misplaced")
    for i, a in enumerate(reqs):
        a_off = plan.offsets[a.name]
        for b in reqs[i + 1 :]:
            b_off = plan.offsets[b.name]
            if b_off >= a_off + a.size:
                break
            if a.overlaps_in_time(b) and a.size and b.size:
                raise IRError(f"memory plan: {a.name} and {b.name} overlap while both live")
