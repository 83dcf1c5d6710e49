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
5. Stream kernels only where they pay: a streaming kernel (an overlap through scratch) is
   slower than the ordinary one, so each one of the winning variant is dropped again
   (greedily: the unused ones, then in schedule order) whenever its variant still fits
   the same arena without it. The arena stays the smallest found; only the kernels that
   lower it stream.
6. `verify.verify_plan` re-derives lifetimes and overlaps from the graph and the ops'
   declarations alone and rejects any byte shared without a declared reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from tinyc.errors import UsageError
from tinyc.ir import Graph
from tinyc.ir.limits import check_target_int
from tinyc.memory.algos import (
    ALGORITHMS,
    MemoryProblem,
    align_up,
    arena_size,
    greedy_by_size,
    relocate,
)
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
    runs_stream_kernel,
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
    #: the kernel variants the workspaces were sized for (None: the largest of any)
    kernel_dirs: tuple[str, ...] | None = None
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
        flat = flat_requests(graph, sched.order, align, storages.workspaces)
        out.append(_Variant(name, life, flat, {}, [], True))
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


@dataclass(frozen=True)
class _Placement:
    size: int
    strategy: str
    offsets: dict[str, int]


def _place(
    var: _Variant, strategies: list[str], align: int, target: int,
    tries: list[tuple[str, str, int]], label: str = "",
) -> _Placement:
    """The smallest placement of `var` by the strategies, in order; they stop once one
    reaches the live-bytes floor or `target` (no need to do better). Each try is logged
    under `label` (default: the variant's name)."""
    floor = max(align_up(_floor(var.reqs, var.overlaps, var.life), align), target)
    problem = MemoryProblem(tuple(var.reqs), var.allow, floor)
    best: _Placement | None = None
    for name in strategies:
        offsets = ALGORITHMS[name](problem)
        size = arena_size(problem, offsets)
        tries.append((label or var.name, name, size))
        if best is None or size < best.size:
            best = _Placement(size, name, offsets)
        if size <= floor:
            break
    assert best is not None
    return best


def _drop_needless_streams(
    storages: Storages, var: _Variant, placed: _Placement, strategies: list[str], align: int,
    tries: list[tuple[str, str, int]],
) -> tuple[_Placement, _Variant]:
    """Give back the ordinary kernel to every stream overlap the arena does not need.

    A stream kernel (`runs_stream_kernel`) is slower than the ordinary one, so it is only
    worth its place where it lowers the peak. Each stream overlap is removed from the
    variant in turn; the removal stands when the variant still fits the arena. First those
    the placement does not use: they go for free (the offsets stay valid, and their
    scratch goes too, so the arena is now the one the plan would have). Then the others,
    in schedule order: one without which more bytes are live at some step than the arena
    holds stays without a try; one whose output finds another place within the arena
    moves there (`relocate`); the rest get a full placement."""
    streams = [c for c in var.overlaps if runs_stream_kernel(c.behavior)]
    streams.sort(key=lambda c: (_overlap_used(var, placed.offsets, c), var.life.step[c.node]))
    for choice in streams:
        rest = [c for c in var.overlaps if c is not choice]
        reqs, allow = buffer_requests(storages, var.life, rest)
        problem = MemoryProblem(tuple(reqs), allow)
        names = {r.name for r in reqs}
        offsets: dict[str, int] | None = {k: v for k, v in placed.offsets.items() if k in names}
        if _overlap_used(var, placed.offsets, choice):
            if align_up(_floor(reqs, rest, var.life), align) > placed.size:
                continue
            offsets = relocate(problem, offsets, choice.dst, placed.size)
        trial = replace(var, reqs=reqs, allow=allow, overlaps=rest)
        if offsets is not None:
            placed = _Placement(arena_size(problem, offsets), placed.strategy, offsets)
        else:
            candidate = _place(trial, strategies, align, placed.size, tries,
                               f"{var.name} without stream@{choice.node}")
            if candidate.size > placed.size:
                continue
            placed = candidate
        var = trial
    return placed, var


def _overlap_used(var: _Variant, offsets: dict[str, int], choice: OverlapChoice) -> bool:
    """True when the placement puts the overlap's output bytes over its input's."""
    sizes = {r.name: r.size for r in var.reqs}
    a, b = offsets[choice.src], offsets[choice.dst]
    return a < b + sizes[choice.dst] and b < a + sizes[choice.src]


def plan_memory(
    graph: Graph, algorithm: str = "auto", align: int = 16, keep_all_streams: bool = False,
    kernel_dirs: tuple[str, ...] | None = None,
) -> ArenaPlan:
    """Plan the arena of `graph` (see module doc); `algorithm` restricts the strategies to
    one name of `ALGORITHMS` ("auto": all of them, best wins). `keep_all_streams` skips
    step 5, keeping every stream kernel the placement used (what the tests compare with).
    `kernel_dirs`: the target's kernel variants (`tinyc.mcu.targets.kernel_dirs`), so only
    the workspace its kernels use is reserved; None reserves every variant's."""
    from tinyc.memory.verify import verify_plan

    if align not in ALIGNMENTS:
        raise UsageError(f"alignment {align}: use one of {', '.join(map(str, ALIGNMENTS))}")
    if algorithm != "auto" and algorithm not in ALGORITHMS:
        raise UsageError(f"unknown memory planner '{algorithm}' (use auto or "
                         f"{', '.join(ALGORITHMS)})")
    strategies = list(ALGORITHMS) if algorithm == "auto" else [algorithm]
    storages = build_storages(graph, align, kernel_dirs)
    variants, bound, bound_exact = _variants(graph, storages, align)

    tries: list[tuple[str, str, int]] = []
    best: tuple[_Placement, _Variant] | None = None
    for var in variants:
        placed = _place(var, strategies, align, 0, tries)
        if best is None or placed.size < best[0].size:
            best = (placed, var)
    assert best is not None
    placed, var = best
    if not keep_all_streams:
        placed, var = _drop_needless_streams(storages, var, placed, strategies, align, tries)
    plan = replace(_assemble(graph, storages, var, placed.offsets, placed.strategy, align),
                   kernel_dirs=kernel_dirs)
    check_target_int(plan.size, "the planned arena size in bytes")

    flat_order = variants[0].life.order
    flat = MemoryProblem(tuple(flat_requests(graph, var.life.order, align, storages.workspaces)))
    stats = PlanStats(
        activations=sum(r.size for r in flat_requests(graph, flat_order, align,
                                                      storages.workspaces)),
        lower_bound=bound,
        lower_bound_exact=bound_exact,
        greedy_by_size=arena_size(flat, greedy_by_size(flat)),
        peak_step=_peak_step(plan),
        tries=tuple(tries),
    )
    stats = replace(stats, peak_buffers=_live_at(plan, stats.peak_step))
    plan = replace(plan, stats=stats)
    verify_plan(graph, plan, kernel_dirs)
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
