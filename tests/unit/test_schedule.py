"""The schedule search's work stays bounded on wide graphs.

A layer of the exact search holds up to `beam` states, and each state tries every ready
node, so on a wide graph (many independent branches) the work grows with the width. The
search counts its (state, node) steps in `Schedule.explored`; these tests bound that count
instead of timing the search.
"""

from __future__ import annotations

import random

import pytest

from tests.strategies import make_node
from tinyc.ir import DType, Graph, TensorType, Value
from tinyc.memory.liveness import build_storages
from tinyc.memory.schedule import Schedule, memory_profile, schedule

NODES = 30
UNARY = ("Relu", "Sigmoid", "Tanh", "Abs", "Neg")


def fan(n: int = NODES) -> Graph:
    """n - 1 independent unary branches of x, summed: every branch is ready at once."""
    g = Graph("fan")
    x = g.add_input("x", TensorType(DType.F32, (1, 64)))
    branches = [make_node(g, UNARY[i % len(UNARY)], [x]).outputs[0] for i in range(n - 1)]
    g.outputs = [make_node(g, "Sum", branches).outputs[0]]
    return g


def wide_random(seed: int, n: int = NODES) -> Graph:
    """n nodes that mostly read the input or an early value, so many are ready together;
    whatever nothing reads is summed into the output."""
    rng = random.Random(seed)
    g = Graph("wide")
    values: list[Value] = [g.add_input("x", TensorType(DType.F32, (1, 64)))]
    for _ in range(n - 1):
        src = rng.choice(values[: max(1, len(values) // 4)])
        if rng.random() < 0.3 and len(values) > 1:
            node = make_node(g, "Add", [src, rng.choice(values)])
        else:
            node = make_node(g, rng.choice(UNARY), [src])
        values.append(node.outputs[0])
    g.outputs = [make_node(g, "Sum", [v for v in values[1:] if not v.uses]).outputs[0]]
    return g


def work_bound(n: int) -> int:
    """The most (state, node) steps the capped search may try on an n-node graph: per layer
    at most 4 ready nodes per state of the default beam, or 16 states with n each."""
    beam = max(16, min(512, 20_000 // n))
    return n * max(4 * beam, 16 * n)


def check_order(graph: Graph, sched: Schedule) -> None:
    """A topological order of every node, whose profile is the one reported."""
    assert sorted(sched.order) == list(range(len(graph.nodes)))
    position = {id(graph.nodes[i]): step for step, i in enumerate(sched.order)}
    for node in graph.nodes:
        for value in node.inputs:
            if value is not None and value.producer is not None:
                assert position[id(value.producer)] < position[id(node)]
    assert sched.peak == max(sched.profile)


@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("build", [fan, lambda: wide_random(0), lambda: wide_random(1)],
                         ids=["fan", "wide0", "wide1"])
def test_wide_graph_search_is_bounded(build, inplace: bool) -> None:  # noqa: ANN001
    graph = build()
    assert len(graph.nodes) == NODES
    storages = build_storages(graph)
    sched = schedule(storages, inplace=inplace)
    assert 0 < sched.explored <= work_bound(NODES)
    assert not sched.exact  # too wide for the exact search: it fell back to the beam
    check_order(graph, sched)
    given = memory_profile(storages, range(NODES), inplace=inplace)
    assert sched.peak <= max(given)


def test_narrow_graph_stays_exact() -> None:
    """A chain has one state per layer: exact, one step tried per node."""
    g = Graph("chain")
    v = g.add_input("x", TensorType(DType.F32, (1, 64)))
    for i in range(NODES):
        v = make_node(g, UNARY[i % len(UNARY)], [v]).outputs[0]
    g.outputs = [v]
    sched = schedule(build_storages(g))
    assert sched.exact and sched.explored == NODES
    assert sched.order == tuple(range(NODES))
