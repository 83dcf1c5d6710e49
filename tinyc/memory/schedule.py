"""Scheduling: the node order that keeps the peak of live memory lowest.

Every topological order of the graph computes the same result, but not with the same
memory: on a residual block, running the shortcut branch first or last decides which
tensors are alive together. The peak of an order is the largest, over its steps, of the
bytes live during that step (storages from `tinyc.memory.liveness`, plus the node's own
workspace; with `inplace`, a node
whose input dies there and may be overwritten by its output is credited the bytes it saves,
net of its scratch).

Algorithm (dynamic programming over executed-node sets, the exact method of Serenity,
Ahn et al., MLSys 2020): a state is the set S of nodes already run, a bitmask. Which
storages are live after S depends on S alone, not on the order that reached it, so the
minimal peak to reach S is the minimum, over the ready nodes n last run, of
max(peak(S - n), bytes during n). States are expanded layer by layer (|S| = 0, 1, ...),
ties broken by node index, so the result is deterministic. On a chain there is one state
per layer; on a small branchy graph (ResNet blocks, random test graphs) a few hundred.
When a layer grows beyond `beam` states, or its states have more ready nodes to try than
`_TRIES_PER_STATE * beam` (a wide graph: each state fans out over many ready nodes, so
the work grows with the width, not just the number of states), only the best states
(lowest peak, then fewest live bytes) that fit both caps are kept: the search turns into
a beam-search heuristic and `exact` is False. `Schedule.explored` counts the (state,
node) steps tried, the search's work, which the caps bound by about
n * `_TRIES_PER_STATE` * `beam`.

The result never loses to the order the graph came in: when it is not strictly better,
that order is kept, so straight chains (and ties) keep their order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tinyc.memory.liveness import Storages, overlap_gain

#: ready nodes a layer may try per state of its beam, on average: graphs with at most this
#: many ready nodes per state are only ever capped by the state count, as before the cap
_TRIES_PER_STATE = 4
#: states a layer always keeps, however wide the graph
_MIN_BEAM = 16

#: one search layer: state -> (peak, live bytes after, ready nodes)
_Layer = dict[int, tuple[int, int, tuple[int, ...]]]


@dataclass(frozen=True)
class Schedule:
    """A node order (indices into graph.nodes) and its memory profile."""

    order: tuple[int, ...]
    peak: int
    #: bytes live during each step
    profile: tuple[int, ...]
    #: True when the search was exhaustive (no beam pruning)
    exact: bool
    #: (state, node) steps the search tried: its work, bounded by the beam caps
    explored: int = 0


class _Tables:
    """Bitmask tables of a graph's storages, for O(degree) state transitions."""

    def __init__(self, storages: Storages, inplace: bool) -> None:
        graph = storages.graph
        self.n = len(graph.nodes)
        index = {id(node): i for i, node in enumerate(graph.nodes)}
        self.deps = [0] * self.n
        self.succ: list[list[int]] = [[] for _ in range(self.n)]
        for i, node in enumerate(graph.nodes):
            for value in node.inputs:
                if value is not None and value.producer is not None:
                    j = index.get(id(value.producer))
                    if j is not None and not self.deps[i] >> j & 1:
                        self.deps[i] |= 1 << j
                        self.succ[j].append(i)
        arena = [st for st in storages.arena if st.producers]
        key = {st.name: k for k, st in enumerate(arena)}
        self.size = [st.size for st in arena]
        self.prod = [sum(1 << p for p in st.producers) for st in arena]
        self.touch = [sum(1 << t for t in st.touchers) for st in arena]
        self.produces: list[list[int]] = [[] for _ in range(self.n)]
        self.touches: list[list[int]] = [[] for _ in range(self.n)]
        for k, st in enumerate(arena):
            for p in sorted(st.producers):
                self.produces[p].append(k)
            for t in sorted(st.touchers):
                self.touches[t].append(k)
        #: per node, the workspace bytes its kernel needs during its step
        self.work = [storages.workspaces.get(i, 0) for i in range(self.n)]
        #: per node, (input storage, bytes saved) of its overlap choices, in preference order
        self.credits: list[list[tuple[int, int]]] = [[] for _ in range(self.n)]
        if inplace:
            for node, choices in storages.choices.items():
                self.credits[node] = [
                    (key[c.src], max(overlap_gain(storages, c), 0)) for c in choices
                ]

    def step(self, done: int, live: int, node: int) -> tuple[int, int]:
        """Bytes live during `node`'s step and after it, from the state `done`."""
        bit = 1 << node
        during = live
        for k in self.produces[node]:
            if not self.prod[k] & done:
                during += self.size[k]
        after_done = done | bit
        credit = 0
        for src, gain in self.credits[node]:
            if not self.touch[src] & ~after_done:  # the input dies here: usable
                credit = gain
                break
        after = during
        for k in self.touches[node]:
            if not self.touch[k] & ~after_done:
                after -= self.size[k]
        return during - credit + self.work[node], after

    def ready(self, done: int) -> list[int]:
        return [i for i in range(self.n) if not done >> i & 1 and self.deps[i] & ~done == 0]


def memory_profile(storages: Storages, order: Sequence[int], inplace: bool = False) -> list[int]:
    """Bytes live during each step of `order` (with overlap credits when `inplace`)."""
    tables = _Tables(storages, inplace)
    return _profile(tables, order)


def _profile(tables: _Tables, order: Sequence[int]) -> list[int]:
    done, live, out = 0, 0, []
    for node in order:
        during, live = tables.step(done, live, node)
        done |= 1 << node
        out.append(during)
    return out


def schedule(storages: Storages, inplace: bool = False, beam: int | None = None) -> Schedule:
    """The order of `storages.graph`'s nodes with the lowest peak (see module doc)."""
    tables = _Tables(storages, inplace)
    n = tables.n
    given = tuple(range(n))
    given_profile = _profile(tables, given)
    if n == 0:
        return Schedule((), 0, (), True)
    if beam is None:
        beam = max(_MIN_BEAM, min(512, 20_000 // n))
    # parent: state -> (previous state, node)
    layer: _Layer = {0: (0, 0, tuple(tables.ready(0)))}
    parent: dict[int, tuple[int, int]] = {}
    exact = True
    explored = 0
    for _ in range(n):
        nxt: _Layer = {}
        for done, (peak, live, ready) in layer.items():
            explored += len(ready)
            for node in ready:
                during, after = tables.step(done, live, node)
                state = done | 1 << node
                best = nxt.get(state)
                cand_peak = max(peak, during)
                if best is not None and best[0] <= cand_peak:
                    continue
                if best is None:
                    new_ready = [r for r in ready if r != node]
                    new_ready += [s for s in tables.succ[node] if tables.deps[s] & ~state == 0]
                    ready_t = tuple(sorted(new_ready))
                else:
                    ready_t = best[2]
                nxt[state] = (cand_peak, after, ready_t)
                parent[state] = (done, node)
        kept = _prune(nxt, beam)
        exact = exact and len(kept) == len(nxt)
        layer = kept
    state = (1 << n) - 1
    order: list[int] = []
    while state:
        state, node = parent[state]
        order.append(node)
    order.reverse()
    found = _profile(tables, order)
    if max(found) < max(given_profile):
        return Schedule(tuple(order), max(found), tuple(found), exact, explored)
    return Schedule(given, max(given_profile), tuple(given_profile), exact, explored)


def _prune(layer: _Layer, beam: int) -> _Layer:
    """The best states of `layer` (lowest peak, then live bytes, then state) within both
    caps: at most `beam` states, and at most `_TRIES_PER_STATE * beam` ready nodes among
    them, so a wide layer keeps fewer states (never fewer than `_MIN_BEAM`)."""
    tries = sum(len(ready) for _, _, ready in layer.values())
    if len(layer) <= beam and tries <= _TRIES_PER_STATE * beam:
        return layer
    kept: _Layer = {}
    budget = _TRIES_PER_STATE * beam
    for state in sorted(layer, key=lambda s: (layer[s][0], layer[s][1], s)):
        ready = layer[state][2]
        if len(kept) >= beam or (len(kept) >= _MIN_BEAM and len(ready) > budget):
            break
        kept[state] = layer[state]
        budget -= len(ready)
    return kept
