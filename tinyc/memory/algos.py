"""Offset assignment: give every buffer a byte offset so that two buffers live at the same
step never share a byte, except where an overlap rule allows it, in as small an arena as
possible. This is dynamic storage allocation, NP-hard in general; every strategy here
has the one signature `(problem) -> offsets` and `tinyc.memory.plan` keeps the best plan.

Placement (shared by all strategies): buffers are placed one at a time, each at the lowest
aligned offset that is valid against the buffers already placed and live at the same
time. The candidates are 0, the aligned end of each such buffer, and, for a buffer that
may overlap a placed partner (`problem.allow`, keyed (input, output)), the partner's
offset plus each useful delta of the rule (`_rule_deltas`). The lowest valid offset is
always among them: a feasible region starts at 0, at a neighbour's end, or where a rule
starts to allow it.

Strategies, in the order they are tried:
- greedy_by_size: largest first, ties in order of first use (then name). TFLite Micro's
  GreedyMemoryPlanner: its stable sort keeps equal sizes in tensor order.
- greedy_by_conflicts: the buffer that conflicts with the most bytes of other buffers
  first (TVM USMP greedy_by_conflicts); good when a few buffers span the whole model.
- best_fit: size order, but each buffer goes into the valid gap that wastes the fewest
  bytes (the tightest gap) instead of the lowest one.
- hill_climb: local search over placement orders: swap two buffers, keep the swap when
  the arena does not grow (TVM USMP hill_climb). Seeded `random.Random(0)`, fixed budget.
- branch_and_bound: for at most `BNB_MAX` buffers, every placement order by depth-first
  search, cutting a branch once its arena reaches the best found or the lower bound.
  Near-exact: it is exact over lowest-fit placements, which is what all strategies place.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from tinyc.memory.liveness import BufferReq, Overlap
from tinyc.ops.registry import BlockStream

BNB_MAX = 8
BNB_BUDGET = 20_000


def align_up(x: int, align: int) -> int:
    return (x + align - 1) // align * align


@dataclass(frozen=True)
class MemoryProblem:
    """Buffers to place, and which pairs may overlap: allow[(input, output)] is the rule
    that `offset(output) - offset(input)` must satisfy when their bytes intersect."""

    reqs: tuple[BufferReq, ...]
    allow: Mapping[tuple[str, str], Overlap] = field(default_factory=dict)
    #: known lower bound on the arena (max live bytes at a step); strategies stop there
    floor: int = 0

    def partners(self) -> dict[str, list[tuple[str, Overlap, int]]]:
        """name -> [(partner, rule, sign)]: sign +1 when `name` is the rule's output."""
        out: dict[str, list[tuple[str, Overlap, int]]] = {}
        for (src, dst), rule in sorted(self.allow.items()):
            out.setdefault(dst, []).append((src, rule, 1))
            out.setdefault(src, []).append((dst, rule, -1))
        return out


def arena_size(problem: MemoryProblem, offsets: Mapping[str, int]) -> int:
    top = max((offsets[r.name] + r.size for r in problem.reqs), default=0)
    align = max((r.align for r in problem.reqs), default=1)
    return align_up(top, align)


def _rule_deltas(rule: Overlap, in_size: int, out_size: int, align: int) -> list[int]:
    """Deltas (output - input) worth trying: flush starts, flush ends, the rule's limit."""
    deltas = {0, in_size - out_size}
    if isinstance(rule, BlockStream):
        limit = rule.max_delta
        if limit is not None:
            deltas.add(limit // align * align)
    else:
        plane = rule.pixels * rule.itemsize
        for k in range(-rule.out_planes + 1, rule.in_planes):
            deltas.add(k * plane)
    return sorted(d for d in deltas if d % align == 0 and rule.permits(d))


#: a placed buffer live with the one being placed: (offset, end, rule other -> this one,
#: rule this one -> other)
Live = tuple[int, int, Overlap | None, Overlap | None]


class _Placer:
    """Places buffers one at a time (see module doc); cheap to reuse across orders."""

    def __init__(self, problem: MemoryProblem) -> None:
        self.problem = problem
        self.reqs = {r.name: r for r in problem.reqs}
        self.partners = problem.partners()
        conflicts: dict[str, list[BufferReq]] = {r.name: [] for r in problem.reqs}
        reqs = sorted(problem.reqs, key=lambda r: r.first)
        for i, a in enumerate(reqs):
            for b in reqs[i + 1 :]:
                if b.first > a.last:
                    break
                conflicts[a.name].append(b)
                conflicts[b.name].append(a)
        self.conflicts = conflicts
        #: per buffer, each buffer live with it: (name, size, its rule into this one, this
        #: one's rule into it), looked up once for every order placed
        allow = problem.allow
        self._neighbours = {
            name: [(o.name, o.size, allow.get((o.name, name)), allow.get((name, o.name)))
                   for o in others]
            for name, others in conflicts.items()
        }
        #: (buffer, partner, sign) -> the rule's deltas, in the buffer's direction: the
        #: sizes and alignment never change, and every order places the pair again
        self._deltas: dict[tuple[str, str, int], list[int]] = {}

    def _partner_deltas(self, req: BufferReq, partner: str, rule: Overlap,
                        sign: int) -> list[int]:
        key = (req.name, partner, sign)
        deltas = self._deltas.get(key)
        if deltas is None:
            p = self.reqs[partner]
            sizes = (p.size, req.size) if sign > 0 else (req.size, p.size)
            deltas = [sign * d for d in _rule_deltas(rule, sizes[0], sizes[1], req.align)]
            self._deltas[key] = deltas
        return deltas

    def scan(self, req: BufferReq, placed: Mapping[str, int]) -> tuple[list[int], list[Live]]:
        """The candidate offsets of `req`, lowest first, and the placed buffers live with
        it that have bytes (an empty buffer never collides), in one pass."""
        align = req.align
        cands = {0}
        live: list[Live] = []
        for name, size, into, out_of in self._neighbours[req.name]:
            off = placed.get(name)
            if off is None:
                continue
            end = off + size
            cands.add(align_up(end, align))
            if size:
                live.append((off, end, into, out_of))
        for partner, rule, sign in self.partners.get(req.name, ()):
            base = placed.get(partner)
            if base is None:
                continue
            for d in self._partner_deltas(req, partner, rule, sign):
                cand = base + d
                if cand >= 0 and cand % align == 0:
                    cands.add(cand)
        return sorted(cands), live

    @staticmethod
    def fits(off: int, size: int, live: list[Live]) -> bool:
        """No byte of [off, off + size) collides with a live buffer, unless a rule allows
        the overlap (`problem.allow`)."""
        if not size:
            return True
        end = off + size
        for other_off, other_end, into, out_of in live:
            if end <= other_off or other_end <= off:
                continue
            if into is not None and into.permits(off - other_off):
                continue
            if out_of is not None and out_of.permits(other_off - off):
                continue
            return False
        return True

    def lowest(self, req: BufferReq, placed: Mapping[str, int]) -> int:
        cands, live = self.scan(req, placed)
        for off in cands:
            if self.fits(off, req.size, live):
                return off
        raise AssertionError("unreachable: the end of every placed buffer is a candidate")

    def place_all(self, order: Sequence[BufferReq]) -> dict[str, int]:
        placed: dict[str, int] = {}
        for req in order:
            placed[req.name] = self.lowest(req, placed)
        return placed

    def place_within(self, order: Sequence[BufferReq], known: Mapping[str, int], start: int,
                     limit: int) -> dict[str, int] | None:
        """`place_all(order)` when no buffer ends above `limit` bytes, else None (as soon
        as one does). The first `start` buffers take their offsets from `known`, a
        placement of an order with the same first `start` buffers: a prefix places the
        same whatever follows it."""
        placed = {r.name: known[r.name] for r in order[:start]}
        for req in order[start:]:
            off = self.lowest(req, placed)
            if off + req.size > limit:
                return None
            placed[req.name] = off
        return placed


def place_in_order(problem: MemoryProblem, order: Sequence[BufferReq]) -> dict[str, int]:
    """Lowest-fit placement of the buffers in `order` (see module doc)."""
    return _Placer(problem).place_all(order)


def relocate(
    problem: MemoryProblem, offsets: Mapping[str, int], name: str, limit: int
) -> dict[str, int] | None:
    """`offsets` with buffer `name` moved to its lowest valid offset against all the
    others, or None when that offset does not keep it below `limit` bytes: a cheap repair
    after a rule is taken away, before a full placement."""
    placer = _Placer(problem)
    req = placer.reqs[name]
    others = {k: v for k, v in offsets.items() if k != name}
    off = placer.lowest(req, others)
    if off + req.size > limit:
        return None
    return {**others, name: off}


def _size_order(problem: MemoryProblem) -> list[BufferReq]:
    return sorted(problem.reqs, key=lambda r: (-r.size, r.first, r.name))


def greedy_by_size(problem: MemoryProblem) -> dict[str, int]:
    return place_in_order(problem, _size_order(problem))


def greedy_by_conflicts(problem: MemoryProblem) -> dict[str, int]:
    placer = _Placer(problem)
    weight = {r.name: sum(o.size for o in placer.conflicts[r.name]) for r in problem.reqs}
    order = sorted(problem.reqs, key=lambda r: (-weight[r.name], -r.size, r.name))
    return placer.place_all(order)


def best_fit(problem: MemoryProblem) -> dict[str, int]:
    placer = _Placer(problem)
    placed: dict[str, int] = {}
    for req in _size_order(problem):
        best: tuple[int, int] | None = None
        cands, live = placer.scan(req, placed)
        for off in cands:
            if not placer.fits(off, req.size, live):
                continue
            above = [
                placed[o.name]
                for o in placer.conflicts[req.name]
                if o.name in placed and placed[o.name] >= off + req.size
            ]
            waste = min(above) - (off + req.size) if above else 1 << 62
            if best is None or (waste, off) < best:
                best = (waste, off)
        assert best is not None
        placed[req.name] = best[1]
    return placed


def hill_climb(problem: MemoryProblem, iterations: int | None = None) -> dict[str, int]:
    placer = _Placer(problem)
    order = _size_order(problem)
    best = placer.place_all(order)
    best_size = arena_size(problem, best)
    n = len(order)
    if n < 2:
        return best
    rng = random.Random(0)
    for _ in range(iterations if iterations is not None else min(400, 20 * n)):
        if best_size <= problem.floor:
            break
        i, j = rng.randrange(n), rng.randrange(n)
        if i == j:
            continue
        order[i], order[j] = order[j], order[i]
        # `best` places the order before the swap; a buffer above best_size rejects it
        trial = placer.place_within(order, best, min(i, j), best_size)
        if trial is not None and (size := arena_size(problem, trial)) <= best_size:
            best, best_size = trial, size
        else:
            order[i], order[j] = order[j], order[i]
    return best


def branch_and_bound(problem: MemoryProblem) -> dict[str, int]:
    """Exhaustive over placement orders for small problems; greedy_by_size otherwise."""
    reqs = _size_order(problem)
    if len(reqs) > BNB_MAX:
        return greedy_by_size(problem)
    placer = _Placer(problem)
    best = placer.place_all(reqs)
    best_size = arena_size(problem, best)
    align = max((r.align for r in reqs), default=1)
    budget = [BNB_BUDGET]

    def search(placed: dict[str, int], rest: list[BufferReq], top: int) -> None:
        nonlocal best, best_size
        if budget[0] <= 0 or best_size <= problem.floor:
            return
        if not rest:
            if align_up(top, align) < best_size:
                best, best_size = dict(placed), align_up(top, align)
            return
        for i, req in enumerate(rest):
            budget[0] -= 1
            off = placer.lowest(req, placed)
            new_top = max(top, off + req.size)
            if align_up(new_top, align) >= best_size:
                continue
            placed[req.name] = off
            search(placed, rest[:i] + rest[i + 1 :], new_top)
            del placed[req.name]

    search({}, reqs, 0)
    return best


Strategy = Callable[[MemoryProblem], dict[str, int]]

ALGORITHMS: dict[str, Strategy] = {
    "greedy_by_size": greedy_by_size,
    "greedy_by_conflicts": greedy_by_conflicts,
    "best_fit": best_fit,
    "hill_climb": hill_climb,
    "branch_and_bound": branch_and_bound,
}
