"""Planner invariants on random inputs.

- Random lifetimes (with random overlap rules between a buffer and one born the step it
  dies): every strategy's placement passes an independent pairwise check, is aligned, and
  is never below the live-bytes floor; the best is never above greedy-by-size.
- Random graphs (tests/strategies.py): `plan_memory` (whose verifier runs on every plan)
  gives an arena between the in-place-aware live-bytes floor of its schedule and
  TFLite Micro's greedy-by-size on the same schedule, and no larger than with every stream
  kernel its placement used kept; the schedule never peaks above the
  graph's own order; and, for a few graphs, the planned C matches the interpreter under
  ASan/UBSan (in-place kernels, views and all).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.strategies import Case, graphs, make_node
from tinyc.compiler import Options, compile_graph
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
from tinyc.interp import run_graph
from tinyc.ir import DType, Graph, TensorType, Value
from tinyc.memory import ALGORITHMS, BufferReq, MemoryProblem, build_storages, plan_memory
from tinyc.memory.algos import arena_size, greedy_by_size
from tinyc.memory.plan import buffer_offsets
from tinyc.memory.schedule import memory_profile
from tinyc.ops.registry import BlockStream

#: ops with C kernels, mixing the in-place kinds (activations, binary, depthwise/pointwise
#: Conv, Gemm, BatchNorm) with views (Reshape family, Concat) and plain ops
C_OPS = (
    "Conv", "Conv>Relu", "Conv>Conv>Conv", "Conv>BatchNormalization>Conv", "Gemm>Gemm",
    "Gemm", "Add", "Mul", "Relu>Sigmoid", "BatchNormalization", "Reshape>Conv", "Flatten",
    "Concat", "Squeeze", "Unsqueeze", "Identity", "MaxPool", "GlobalAveragePool",
    "Transpose",
)  # fmt: skip


@st.composite
def conv_chains(draw: st.DrawFn) -> Case:
    """A chain of the ops that have overlapping kernels, on random small shapes: depthwise
    (any stride, padding, dilation), pointwise, stride-1 `same` dense convs, activations,
    a residual Add, and a Gemm head; each one's input dies there unless an Add reads it."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    g = Graph("chain")
    c, h, w = draw(st.integers(1, 6)), draw(st.integers(1, 7)), draw(st.integers(1, 7))
    x = g.add_input("x", TensorType(DType.F32, (1, c, h, w)))

    def const(*shape: int) -> Value:
        data = (rng.standard_normal(shape) * 0.4).astype(np.float32)
        return g.add_const(f"w{len(g.constants)}", data)

    cur, keep = x, None
    for _ in range(draw(st.integers(2, 6))):
        c, h, w = cur.shape[1], cur.shape[2], cur.shape[3]
        kind = draw(st.sampled_from(["dw", "pw", "same", "relu", "add", "keep"]))
        if kind == "dw":
            k, s, d = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
            pads = [draw(st.integers(0, (k - 1) * d)) for _ in range(4)]
            if (h + pads[0] + pads[2] - (k - 1) * d - 1) < 0 or (
                w + pads[1] + pads[3] - (k - 1) * d - 1
            ) < 0:
                continue
            cur = make_node(g, "Conv", [cur, const(c, 1, k, k), const(c)], group=c,
                            strides=[s, s], dilations=[d, d], pads=pads).outputs[0]
        elif kind == "pw":
            m = draw(st.integers(1, 8))
            cur = make_node(g, "Conv", [cur, const(m, c, 1, 1)], pads=[0, 0, 0, 0],
                            activation=draw(st.sampled_from(["", "Relu"]))).outputs[0]
        elif kind == "same":
            m, d = draw(st.integers(1, 6)), draw(st.integers(1, 2))
            cur = make_node(g, "Conv", [cur, const(m, c, 3, 3), const(m)],
                            dilations=[d, 1], pads=[d, 1, d, 1]).outputs[0]
        elif kind == "relu":
            cur = make_node(g, "Relu", [cur]).outputs[0]
        elif kind == "keep":
            keep = cur
        elif keep is not None and keep.shape == cur.shape and keep is not cur:
            cur = make_node(g, "Add", [keep, cur]).outputs[0]
    flat = make_node(g, "Flatten", [cur]).outputs[0]
    head = make_node(g, "Gemm", [flat, const(flat.shape[1], 3)]).outputs[0]
    g.outputs = [make_node(g, "Relu", [head]).outputs[0]]
    return g, {"x": rng.standard_normal(x.shape).astype(np.float32)}


@st.composite
def problems(draw: st.DrawFn) -> MemoryProblem:
    align = draw(st.sampled_from([1, 4, 16]))
    reqs = []
    for i in range(draw(st.integers(1, 12))):
        first = draw(st.integers(0, 8))
        last = first + draw(st.integers(0, 4))
        reqs.append(BufferReq(f"b{i}", draw(st.integers(0, 300)), first, last, align))
    allow = {}
    taken: set[str] = set()
    for a in reqs:
        for b in reqs:
            if a is b or a.last != b.first or b.name in taken or (b.name, a.name) in allow:
                continue
            if not draw(st.booleans()):
                continue
            blocks = draw(st.integers(1, 3))
            allow[(a.name, b.name)] = BlockStream(0, blocks, a.size // blocks, b.size // blocks)
            taken.add(b.name)
    return MemoryProblem(tuple(reqs), allow)


def _floor(problem: MemoryProblem) -> int:
    """Bonferroni: the union of the live buffers is at least their sum minus every pairwise
    intersection, and only pairs with a rule may intersect (by at most the smaller)."""
    sizes = {r.name: r for r in problem.reqs}
    steps = max(r.last for r in problem.reqs) + 1
    live = [sum(r.size for r in problem.reqs if r.first <= s <= r.last) for s in range(steps)]
    for (a, b) in problem.allow:
        live[sizes[a].last] -= min(sizes[a].size, sizes[b].size)
    return max(live)


@settings(max_examples=100)
@given(problems())
def test_every_strategy_places_safely(problem: MemoryProblem) -> None:
    floor = _floor(problem)
    sizes = {}
    for name, strategy in ALGORITHMS.items():
        offsets = strategy(problem)
        reqs = problem.reqs
        for r in reqs:
            assert offsets[r.name] >= 0 and offsets[r.name] % r.align == 0, name
        for i, a in enumerate(reqs):
            for b in reqs[i + 1 :]:
                oa, ob = offsets[a.name], offsets[b.name]
                if not (a.overlaps_in_time(b) and a.size and b.size):
                    continue
                if oa + a.size <= ob or ob + b.size <= oa:
                    continue
                rule, delta = problem.allow.get((a.name, b.name)), ob - oa
                if rule is None:
                    rule, delta = problem.allow.get((b.name, a.name)), oa - ob
                assert rule is not None and rule.permits(delta), (name, a, b, oa, ob)
        sizes[name] = arena_size(problem, offsets)
        assert sizes[name] >= floor, name
    assert min(sizes.values()) <= arena_size(problem, greedy_by_size(problem))


@settings(max_examples=100)
@given(st.one_of(graphs(ops=C_OPS, max_nodes=10), conv_chains()))
def test_plan_is_between_the_floor_and_greedy_by_size(case: Case) -> None:
    graph, _ = case
    plan = plan_memory(graph)  # runs verify_plan
    st_ = plan.stats
    assert plan.size <= st_.greedy_by_size
    # stream kernels are given back only where the arena stays as small
    assert plan.size <= plan_memory(graph, keep_all_streams=True).size
    offs = buffer_offsets(plan)
    steps = len(graph.nodes)
    live = [0] * max(steps, 1)
    for r in plan.reqs:
        assert offs[r.name] + r.size <= plan.size
        for s in range(r.first, r.last + 1):
            live[s] += r.size
    sizes = {r.name: r.size for r in plan.reqs}
    order = plan.node_order(steps)
    for node, beh in plan.overlaps.items():
        n = graph.nodes[node]
        x, y = n.inputs[beh.input], n.outputs[0]
        assert x is not None
        live[order.index(node)] -= min(sizes[plan.buffer_of[x.name]], sizes[plan.buffer_of[y.name]])
    assert plan.size >= max(live)
    storages = build_storages(graph)
    assert max(memory_profile(storages, order, inplace=False), default=0) >= st_.lower_bound
    given_order = list(range(steps))
    assert st_.lower_bound <= max(memory_profile(storages, given_order), default=0)


@settings(max_examples=8)
@given(st.one_of(graphs(ops=C_OPS, min_nodes=3, max_nodes=8), conv_chains(), conv_chains()))
def test_planned_c_matches_the_interpreter(case: Case) -> None:
    graph, feeds = case
    import tempfile

    compiled = compile_graph(graph, Options(), "r")
    with tempfile.TemporaryDirectory() as tmp:
        compiled.code.write(Path(tmp))
        exe = build_host(Path(tmp), graph, "r", [*SANITIZE_FLAGS, "-O0"])
        got = run_host(exe, graph, [feeds[v.name] for v in graph.inputs])
    want = run_graph(graph, feeds)
    for g, e in zip(got, want, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)
