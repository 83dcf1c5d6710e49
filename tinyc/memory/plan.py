"""The arena plan: where every activation lives, in which order the nodes run, which
kernels run in place, and the proof that it is safe.

`plan_memory` tries several plans and keeps the smallest arena:

1. Storages (`liveness.build_storages`): views (Reshape & co., contiguous Concat slices)
   share their source's bytes; storages of graph inputs/outputs stay in the caller's buffers.
2. Two schedules (`schedule.schedule`): the order with the lowest peak without overlaps,
   and the order with the lowest peak when in-place/streamed kernels are credited.
3. Variants of the problem on those schedules: views only; views plus the overlaps that
   save bytes; views plus every usable overlap; and each schedule flat (every tensor its
   own buffer, TFLite Micro's problem), so the result never loses to greedy-by-size.
   Node workspaces (`OpDef.workspace`) are buffers of their own in every variant, live at
   their node's step only.
4. Every offset strategy of `algos.ALGORITHMS` on every variant; the smallest arena wins,
   ties keep the earlier try (fewer overlaps, simpler strategy). Strategies stop early
   once a variant's live-bytes floor is reached.
5. `verify.verify_plan` re-derives lifetimes and overlaps from the graph and the ops'
   declarations alone and rejects any byte shared without a declared reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from tinyc.errors import UsageError
from tinyc.ir import Graph
from tinyc.ir.limits import check_target_int
from tinyc.memory.algos import ALGORITHMS, MemoryProblem, align_up, arena_size, greedy_by_size
from tinyc.memory.liveness import (
    BufferReq,
    Lifetimes,
    Overlap,
    OverlapChoice,
    Storages,
    buffer_requests,
    build_storages,
    flat_requests,
    lifetimes,
    overlap_gain,
    workspace_name,
)
from tinyc.memory.schedule import schedule

ALIGNMENTS = (1, 2, 4, 8, 16, 32, 64)


@dataclass(frozen=True)
class PlanStats:
    """The figures the report and the benchmarks print."""

    #: bytes of all arena tensors added up: the arena with no reuse at all
    activations: int = 0
    #: lowest peak of live bytes over all schedules, views shared, no in-place
    lower_bound: int = 0
    lower_bound_exact: bool = True
    #: TFLite Micro: every tensor its own buffer, greedy by size, on the same schedule
    greedy_by_size: int = 0
    #: the step whose live buffers reach highest in the arena, and what is live there
    peak_step: int = -1
    peak_buffers: tuple[str, ...] = ()
    #: every try: (variant, strategy, arena bytes)
    tries: tuple[tuple[str, str, int], ...] = ()


@dataclass(frozen=True)
class ArenaPlan:
    """Byte offsets of every arena value, the arena size, and how the plan was made.

    Node-keyed fields use indices into the `graph.nodes` list given to `plan_memory`."""

    offsets: dict[str, int]
    size: int
    reqs: tuple[BufferReq, ...]
    algorithm: str
    align: int = 16
    #: execution order (indices into graph.nodes); empty means graph order
    order: tuple[int, ...] = ()
    #: value -> (caller buffer, byte offset) for views of graph inputs/outputs
    homes: dict[str, tuple[str, int]] = field(default_factory=dict)
    #: value -> the arena buffer (req name) holding it
    buffer_of: dict[str, str] = field(default_factory=dict)
    #: node index -> overlap its kernel runs with (its output placed over its input)
    overlaps: dict[int, Overlap] = field(default_factory=dict)
    #: node index -> byte offset of that node's scratch (size: the overlap's `scratch`)
    scratch: dict[int, int] = field(default_factory=dict)
    #: node index -> byte offset of that node's workspace (size: `OpDef.workspace`)
    workspace: dict[int, int] = field(default_factory=dict)
    variant: str = ""
    stats: PlanStats = field(default_factory=PlanStats)

    def node_order(self, count: int) -> list[int]:
        return list(self.order) if self.order else list(range(count))


@dataclass(frozen=True)
class _Variant:
    name: str
    life: Lifetimes
    reqs: list[BufferReq]
    allow: dict[tuple[str, str], Overlap]
    overlaps: list[OverlapChoice]
    flat: bool


def _variants(graph: Graph, storages: Storages, align: int) -> tuple[list[_Variant], int, bool]:
    plain = schedule(storages, inplace=False)
    credited = schedule(storages, inplace=True)
    out: list[_Variant] = []
    life_plain = lifetimes(storages, plain.order)
    reqs, allow = buffer_requests(storages, life_plain)
    out.append(_Variant("views", life_plain, reqs, allow, [], False))
    life_ip = lifetimes(storages, credited.order)
    usable = [life_ip.valid[n] for n in sorted(life_ip.valid)]
    saving = [c for c in usable if overlap_gain(storages, c) > 0]
    for name, chosen in (("in-place", saving), ("in-place-all", usable)):
        if chosen:
            reqs, allow = buffer_requests(storages, life_ip, chosen)
            out.append(_Variant(name, life_ip, reqs, allow, chosen, False))
    for name, sched in (("flat", plain), ("flat-in-place-order", credited)):
        life = lifetimes(storages, sched.order)
        out.append(_Variant(name, life, flat_requests(graph, sched.order, align), {}, [], True))
    return out, plain.peak, plain.exact


def _floor(reqs: list[BufferReq], overlaps: list[OverlapChoice], life: Lifetimes) -> int:
    """Live bytes at the busiest step, net of overlaps: no placement can go below it."""
    if not reqs:
        return 0
    steps = max(r.last for r in reqs) + 1
    live = [0] * steps
    for r in reqs:
        for s in range(r.first, r.last + 1):
            live[s] += r.size
    sizes = {r.name: r.size for r in reqs}
    for c in overlaps:
        live[life.step[c.node]] -= min(sizes[c.src], sizes[c.dst])
    return max(live)


def plan_memory(graph: Graph, algorithm: str = "auto", align: int = 16) -> ArenaPlan:
    """Plan the arena of `graph` (see module doc); `algorithm` restricts the strategies to
    one name of `ALGORITHMS` ("auto": all of them, best wins)."""
    from tinyc.memory.verify import verify_plan

    if align not in ALIGNMENTS:
        raise UsageError(f"alignment {align}: use one of {', '.join(map(str, ALIGNMENTS))}")
    if algorithm != "auto" and algorithm not in ALGORITHMS:
        raise UsageError(f"unknown memory planner '{algorithm}' (use auto or "
                         f"{', '.join(ALGORITHMS)})")
    strategies = list(ALGORITHMS) if algorithm == "auto" else [algorithm]
    storages = build_storages(graph, align)
    variants, bound, bound_exact = _variants(graph, storages, align)

    tries: list[tuple[str, str, int]] = []
    best: tuple[int, int, int, dict[str, int]] | None = None
    for vi, var in enumerate(variants):
        floor = align_up(_floor(var.reqs, var.overlaps, var.life), align)
        problem = MemoryProblem(tuple(var.reqs), var.allow, floor)
        for si, name in enumerate(strategies):
            offsets = ALGORITHMS[name](problem)
            size = arena_size(problem, offsets)
            tries.append((var.name, name, size))
            if best is None or size < best[0]:
                best = (size, vi, si, offsets)
            if size <= floor:
                break
    assert best is not None
    _, vi, si, offsets = best
    var = variants[vi]
    plan = _assemble(graph, storages, var, offsets, strategies[si], align)
    check_target_int(plan.size, "the planned arena size in bytes")

    flat_order = variants[0].life.order
    flat = MemoryProblem(tuple(flat_requests(graph, var.life.order, align)))
    stats = PlanStats(
        activations=sum(r.size for r in flat_requests(graph, flat_order, align)),
        lower_bound=bound,
        lower_bound_exact=bound_exact,
        greedy_by_size=arena_size(flat, greedy_by_size(flat)),
        peak_step=_peak_step(plan),
        tries=tuple(tries),
    )
    stats = replace(stats, peak_buffers=_live_at(plan, stats.peak_step))
    plan = replace(plan, stats=stats)
    verify_plan(graph, plan)
    return plan


def _assemble(
    graph: Graph,
    storages: Storages,
    var: _Variant,
    offsets: dict[str, int],
    algorithm: str,
    align: int,
) -> ArenaPlan:
    """Turn buffer offsets into value offsets; drop overlaps the placement did not use."""
    reqs = {r.name: r for r in var.reqs}
    value_offsets: dict[str, int] = {}
    homes: dict[str, tuple[str, int]] = {}
    buffer_of: dict[str, str] = {}
    work_buffers = {workspace_name(n): n for n in storages.workspaces}
    workspace = {n: offsets[name] for name, n in work_buffers.items()}
    if var.flat:
        for r in var.reqs:
            if r.name not in work_buffers:
                value_offsets[r.name] = offsets[r.name]
                buffer_of[r.name] = r.name
    else:
        for st in storages.items:
            for member, off in st.members.items():
                if st.home:
                    if member not in {v.name for v in graph.inputs + graph.outputs}:
                        homes[member] = (st.home, off)
                elif st.name in offsets:
                    value_offsets[member] = offsets[st.name] + off
                    buffer_of[member] = st.name
    overlaps: dict[int, Overlap] = {}
    scratch: dict[int, int] = {}
    for choice in var.overlaps:
        src, dst = reqs[choice.src], reqs[choice.dst]
        a, b = offsets[src.name], offsets[dst.name]
        scratch_req = f"scratch@{choice.node}"
        if a < b + dst.size and b < a + src.size:
            overlaps[choice.node] = choice.behavior
            if choice.behavior.scratch:
                scratch[choice.node] = offsets[scratch_req]
        else:
            reqs.pop(scratch_req, None)  # placed apart: the ordinary kernel, no scratch
    kept = tuple(reqs.values())
    size = align_up(max((offsets[r.name] + r.size for r in kept), default=0),
                    max([align] + [r.align for r in kept]))
    return ArenaPlan(
        offsets=value_offsets,
        size=size,
        reqs=kept,
        algorithm=algorithm,
        align=align,
        order=var.life.order,
        homes=homes,
        buffer_of=buffer_of,
        overlaps=overlaps,
        scratch=scratch,
        workspace=workspace,
        variant=var.name,
    )


def buffer_offsets(plan: ArenaPlan) -> dict[str, int]:
    """Offset of each placed buffer (storage, scratch or workspace) of the plan."""
    out: dict[str, int] = {}
    for value, buf in plan.buffer_of.items():
        out.setdefault(buf, plan.offsets[value])
        out[buf] = min(out[buf], plan.offsets[value])
    for node, off in plan.scratch.items():
        out[f"scratch@{node}"] = off
    for node, off in plan.workspace.items():
        out[workspace_name(node)] = off
    return out


def _peak_step(plan: ArenaPlan) -> int:
    offs = buffer_offsets(plan)
    if not plan.reqs:
        return -1
    steps = max(r.last for r in plan.reqs) + 1
    top, live = [0] * steps, [0] * steps
    for r in plan.reqs:
        for s in range(r.first, r.last + 1):
            top[s] = max(top[s], offs.get(r.name, 0) + r.size)
            live[s] += r.size
    # the step reaching highest in the arena; among those, the one with most bytes live
    return max(range(steps), key=lambda s: (top[s], live[s], -s))


def _live_at(plan: ArenaPlan, step: int) -> tuple[str, ...]:
    offs = buffer_offsets(plan)
    live = [r for r in plan.reqs if r.first <= step <= r.last]
    return tuple(r.name for r in sorted(live, key=lambda r: (offs.get(r.name, 0), r.name)))
