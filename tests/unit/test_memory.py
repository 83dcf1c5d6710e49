"""Memory planning on named graphs: every figure below is worked out by hand in the graph's
docstring (ASCII lifetime diagram: one column per schedule step, `=` live, `#` the step a
kernel writes its output over its input), and checked against the planner.

Every conv is float32 [1,4,8,8] -> [1,m,8,8], 3x3 with padding 1 unless noted, so a
4-channel activation is 1024 B. The graph input and output live in the caller's buffers.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.strategies import make_node
from tinyc.compiler import Options, load_model, optimize
from tinyc.errors import IRError
from tinyc.ir import DType, Graph, TensorType, Value
from tinyc.memory import plan_memory, verify_plan
from tinyc.memory.report import render_ascii, report_data
from tinyc.ops.registry import BlockStream, PlaneStream

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"


class _G:
    """A tiny graph builder: x is a graph input [1,4,8,8]."""

    def __init__(self) -> None:
        self.g = Graph("t")
        self.x = self.g.add_input("x", TensorType(DType.F32, (1, 4, 8, 8)))
        self.rng = np.random.default_rng(0)

    def const(self, *shape: int) -> Value:
        data = (self.rng.standard_normal(shape) * 0.3).astype(np.float32)
        return self.g.add_const(f"w{len(self.g.constants)}", data)

    def conv(self, x: Value, m: int = 4, k: int = 3, **attrs: object) -> Value:
        pad = k // 2
        w = self.const(m, x.shape[1], k, k)
        return make_node(self.g, "Conv", [x, w, self.const(m)], pads=[pad] * 4, **attrs).outputs[0]

    def op(self, op: str, *inputs: Value, **attrs: object) -> Value:
        return make_node(self.g, op, list(inputs), **attrs).outputs[0]

    def done(self, *outputs: Value) -> Graph:
        self.g.outputs = list(outputs)
        return self.g


def chain() -> Graph:
    """Stride-1 `same` convs stream row by row over their dying input.

        step    0   1   2   3
        a       ==#
        b           #=#           (b over a, 2 rows x 4 channels x 8 floats of scratch)
        c               #=====    (c over b; y, the graph output, is the caller's)
    Without in-place two activations are live at steps 1 and 2: no reuse 3072, bound
    2048, greedy 2048. Ours 1024 + 256 = 1280."""
    t = _G()
    a = t.conv(t.x)
    b = t.conv(a)
    c = t.conv(b)
    return t.done(t.conv(c))


def chain_in_place() -> Graph:
    """Relu overwrites its input; the 1x1 conv 4 -> 8 streams pixel by pixel over it.

        step    0   1   2   3
        a       ==#
        b           #=#           (Relu: b over a)
        c               #===      (1x1 conv, 2048 B over b, + 64 B scratch at step 2:
                                   4 pixels x min(4, 8) channels, ops/conv.py CONV1X1_TILE)
    no reuse 1024+1024+2048 = 4096; bound (no in-place) 1024+2048 = 3072 at step 2;
    greedy 3072; ours max(1024, 2048) + 64 = 2112 at step 2."""
    t = _G()
    a = t.conv(t.x)
    b = t.op("Relu", a)
    c = t.conv(b, m=8, k=1)
    return t.done(t.op("GlobalAveragePool", c))


def fanout() -> Graph:
    """a feeds a Relu and a conv; given order a, c=Relu(a), b=Conv(a), y=Add(b, c).

        given order           best order (Relu last reader of a: in place)
        step  0   1   2   3   step  0   1   2   3
        a     ==========      a     ======#
        c         ==========  b         ==========
        b             ======  c             #=====
    Without in-place every order peaks at a+b+c = 3072 (the bound, and greedy). Running the
    conv first lets the Relu overwrite a: ours 2048, order [a, b, c, y]."""
    t = _G()
    a = t.conv(t.x)
    c = t.op("Relu", a)
    b = t.conv(a)
    return t.done(t.op("Add", b, c))


def residual() -> Graph:
    """A residual block: a is needed until the Add.

        step    0   1   2   3   4
        a       ==============
        b           ==#
        c               #=#
        d                   #=====
    Without in-place a, b, c are live at step 2: bound 3072, greedy 3072. b cannot be
    written over a (a is read later), but c streams over b (+256 B of rows) and the Add
    overwrites c: ours 1024 + 1024 + 256 = 2304 at step 2."""
    t = _G()
    a = t.conv(t.x)
    b = t.conv(a)
    c = t.conv(b)
    d = t.op("Add", a, c)
    return t.done(t.conv(d))


def branches() -> Graph:
    """Two wide branches reduced to 64 B each; given order p1, q1, p2, q2, y.

        given order                 best order
        step  0   1   2   3   4     step  0   1   2   3   4
        p1    ==========            p1    ======
        q1        ==========        p2        ==============
        p2            ==========    q1            ======
        q2                ======    q2                ======
    p1, q1 are 4096 B. Given order peaks at 8192; running each branch to its end first
    peaks at 4096 + 64 + 64 = 4224 (bound, greedy and ours)."""
    t = _G()
    p1 = t.conv(t.x, m=16)
    q1 = t.conv(t.x, m=16)
    p2 = t.op("GlobalAveragePool", p1)
    q2 = t.op("GlobalAveragePool", q1)
    return t.done(t.op("Add", p2, q2))


def views() -> Graph:
    """Concat inputs are written straight into their slice; Flatten is a view.

        step    0   1   2   3   4
        p       ==========          512 B at offset 0 of k
        q           ======          512 B at offset 512 of k
        k               ======      1024 B
        f                   ======  the same 1024 B
    One storage of 1024 B from step 0 to 4: ours 1024. No reuse 3072; bound 1024; greedy
    (every tensor its own buffer) 2048 at step 2."""
    t = _G()
    p = t.conv(t.x, m=2)
    q = t.conv(t.x, m=2)
    k = t.op("Concat", p, q, axis=1)
    f = t.op("Flatten", k)
    return t.done(t.op("Gemm", f, t.const(256, 10)))


#: name -> (builder, no reuse, lower bound, greedy-by-size, ours, order or None)
CASES: dict[str, tuple[Callable[[], Graph], int, int, int, int, list[int] | None]] = {
    "chain": (chain, 3072, 2048, 2048, 1280, [0, 1, 2, 3]),
    "chain_in_place": (chain_in_place, 4096, 3072, 3072, 2112, [0, 1, 2, 3]),
    "fanout": (fanout, 3072, 3072, 3072, 2048, [0, 2, 1, 3]),
    "residual": (residual, 4096, 3072, 3072, 2304, [0, 1, 2, 3, 4]),
    "branches": (branches, 8320, 4224, 4224, 4224, [0, 2, 1, 3, 4]),
    "views": (views, 3072, 1024, 2048, 1024, None),
}


@pytest.mark.parametrize("name", list(CASES))
def test_named_graph_plan(name: str) -> None:
    build, no_reuse, bound, greedy, ours, order = CASES[name]
    graph = build()
    plan = plan_memory(graph, align=16)
    assert plan.stats.activations == no_reuse
    assert plan.stats.lower_bound == bound
    assert plan.stats.lower_bound_exact
    assert plan.stats.greedy_by_size == greedy
    assert plan.size == ours
    if order is not None:
        assert list(plan.node_order(len(graph.nodes))) == order
    verify_plan(graph, plan)


def test_in_place_kinds_are_the_declared_ones() -> None:
    graph = chain_in_place()
    plan = plan_memory(graph)
    assert plan.overlaps[1] == BlockStream(0, 256, 4, 4)  # Relu: one float per block
    assert plan.overlaps[2] == PlaneStream(0, 64, 4, 8, 4, 64)  # 1x1 conv 4 -> 8 channels
    assert plan.scratch[2] + 64 <= plan.size
    assert plan.offsets["v1"] == plan.offsets["v0"]  # Relu wrote over its input


def test_views_share_one_storage() -> None:
    graph = views()
    plan = plan_memory(graph)
    p, q, k, f = (plan.offsets[n] for n in ("v0", "v1", "v2", "v3"))
    assert (p, q, f) == (k, k + 512, k)
    assert plan.buffer_of["v0"] == plan.buffer_of["v3"] == "v2"


def test_view_of_a_graph_output_lives_in_the_callers_buffer() -> None:
    t = _G()
    a = t.conv(t.x)
    graph = t.done(t.op("Flatten", a))
    plan = plan_memory(graph)
    assert plan.homes == {"v0": ("output0", 0)}
    assert plan.size == 0


def test_alignment_is_per_target() -> None:
    for align in (4, 8, 16):
        plan = plan_memory(chain_in_place(), align=align)
        assert all(off % align == 0 for off in plan.offsets.values())
        assert plan.size % align == 0
    assert plan_memory(chain_in_place(), align=4).size == 2112


def streams_where_they_pay() -> Graph:
    """Four 1x1 convs 4 -> 4 -> 4 -> 16 -> 16 channels, each may stream over its input.

        step    0   1   2   3   4
        a       ==#                 1024 B
        b           #=#             1024 B (over a: 64 B of scratch)
        c               #=#         4096 B (over b: 64 B of scratch)
        d                   #=====  4096 B (over c: 256 B of scratch)
    (scratch: 4 pixels x min(cin, cout) floats, ops/conv.py CONV1X1_TILE.)
    Without overlaps step 3 holds c + d = 8192 B; streaming d over c makes it 4096 + 256,
    the smallest peak, 4352. Step 2 then needs c over b too (else b + c = 5120 > 4352).
    Step 1 holds a + b = 2048 B either way: b's stream kernel buys nothing, so b runs the
    ordinary kernel and lands beside a (at 1024, inside c's bytes-to-be)."""
    t = _G()
    a = t.conv(t.x, k=1)
    b = t.conv(a, k=1)
    c = t.conv(b, m=16, k=1)
    d = t.conv(c, m=16, k=1)
    return t.done(t.op("GlobalAveragePool", d))


def test_stream_kernels_only_where_they_lower_the_peak() -> None:
    graph = streams_where_they_pay()
    forced = plan_memory(graph, align=16, keep_all_streams=True)
    plan = plan_memory(graph, align=16)
    assert forced.size == plan.size == 4352
    assert sorted(forced.overlaps) == [1, 2, 3]  # the placement put b over a
    assert sorted(plan.overlaps) == [2, 3]
    assert sorted(plan.scratch) == [2, 3]
    assert plan.offsets["v1"] >= plan.offsets["v0"] + 1024  # b beside a
    verify_plan(graph, plan)


# -- the verifier rejects what is unsafe --------------------------------------------------


def _tampered(graph: Graph, **changes: object) -> None:
    plan = plan_memory(graph)
    bad = dataclasses.replace(plan, **changes)
    with pytest.raises(IRError, match="memory plan"):
        verify_plan(graph, bad)


def test_verifier_rejects_two_live_tensors_sharing_bytes() -> None:
    graph = residual()
    plan = plan_memory(graph)
    offsets = dict(plan.offsets, v1=plan.offsets["v0"])  # b over a while a is read later
    _tampered(graph, offsets=offsets)


def test_verifier_rejects_an_overlap_whose_input_is_read_later() -> None:
    graph = fanout()
    plan = plan_memory(graph)
    # keep the placement (c over a) but run the Relu before the conv that still reads a
    _tampered(graph, order=(0, 1, 2, 3), overlaps=plan.overlaps)


def test_verifier_rejects_a_delta_the_kernel_does_not_allow() -> None:
    graph = chain_in_place()
    plan = plan_memory(graph)
    offsets = dict(plan.offsets, v1=plan.offsets["v0"] + 16)  # Relu writes ahead of reads
    _tampered(graph, offsets=offsets, size=plan.size + 16)


def test_verifier_rejects_undeclared_overlaps_and_missing_scratch() -> None:
    graph = chain_in_place()
    plan = plan_memory(graph)
    _tampered(graph, overlaps={**plan.overlaps, 0: BlockStream(0, 1, 4, 4)})
    _tampered(graph, scratch={})


def test_verifier_rejects_bad_schedules_and_unjustified_views() -> None:
    graph = chain()
    _tampered(graph, order=(1, 0, 2, 3))
    _tampered(graph, order=(0, 1, 2))
    _tampered(graph, homes={"v0": ("input0", 0)})


# -- the overlap rules match the access pattern they describe ------------------------------


def _block_trace_safe(blocks: int, ib: int, ob: int, delta: int) -> bool:
    """Simulate: read input block b, then write output block b, for b in order. Unsafe
    when a write lands on an input byte that is read later."""
    for b in range(blocks):
        for w in range(b * ob, (b + 1) * ob):
            pos = w + delta  # byte of the input under this write
            if (b + 1) * ib <= pos < blocks * ib:
                return False
    return True


def _plane_trace_safe(pixels: int, cin: int, cout: int, delta: int) -> bool:
    """Simulate a 1x1 conv pixel by pixel (element units): read (c, p) for every c, then
    write (m, p) for every m."""
    for p in range(pixels):
        for m in range(cout):
            pos = m * pixels + p + delta
            c, q = divmod(pos, pixels)
            if 0 <= c < cin and 0 <= pos and q > p:
                return False
    return True


def _intersect(delta: int, in_size: int, out_size: int) -> bool:
    return delta < in_size and -delta < out_size


@pytest.mark.parametrize("blocks", [1, 2, 3, 5])
@pytest.mark.parametrize(("ib", "ob"), [(1, 1), (4, 2), (2, 4), (3, 3), (5, 1), (1, 6)])
def test_block_stream_rule_is_exact(blocks: int, ib: int, ob: int) -> None:
    rule = BlockStream(0, blocks, ib, ob)
    for delta in range(-blocks * ob - 2, blocks * ib + 2):
        if _intersect(delta, blocks * ib, blocks * ob):
            assert rule.permits(delta) == _block_trace_safe(blocks, ib, ob, delta), delta


@pytest.mark.parametrize(("pixels", "cin", "cout"), [(1, 2, 3), (3, 2, 2), (4, 2, 3), (5, 3, 1)])
def test_plane_stream_rule_is_exact(pixels: int, cin: int, cout: int) -> None:
    rule = PlaneStream(0, pixels, cin, cout, 1)
    for delta in range(-cout * pixels - 1, cin * pixels + 1):
        if _intersect(delta, cin * pixels, cout * pixels):
            assert rule.permits(delta) == _plane_trace_safe(pixels, cin, cout, delta), delta


# -- a real model ---------------------------------------------------------------------------


def _example(name: str) -> Graph:
    options = Options()
    graph, _ = optimize(load_model(MODELS / f"{name}.onnx", options), options)
    return graph


def test_kws_trace() -> None:
    """KWS DS-CNN after -O1 (Relu fused): a 10x4 stride-2 conv from the input, four
    depthwise + pointwise pairs on [1,64,25,5] (32000 B), pool, Flatten, Gemm, Softmax.

        step     0   1   2   3   4   5   6   7   8   9  10  11  12
        conv0    ==#
        dw1          #=#                          (in place, channel by channel)
        pw1              #=#                      (in place, pixel by pixel)
        ...                                       (same for the other three pairs)
        pool                                  ====
        flatten                                   ====  (a view of pool's bytes)
    Without in-place two 32000 B activations are live at every conv: bound 64000. With it
    one is, plus the largest scratch: the 1x1 conv's 4 pixels of 64 channels (1024 B, more
    than the depthwise conv's 25x5 plane of 500 B): 32000 + 1024 = 33024 <= 0.6x.
    (The portable kernels' plan: the Cortex-M4's adds each depthwise conv's padded plane.)"""
    graph = _example("kws_dscnn")
    plan = plan_memory(graph, kernel_dirs=("ref",))
    st = plan.stats
    assert st.lower_bound == 64000 and st.lower_bound_exact
    assert plan.size == 33024 <= 0.6 * st.lower_bound
    assert plan.size <= st.greedy_by_size
    assert len(plan.overlaps) == 8
    assert st.peak_step == 2
    assert st.peak_buffers == ("/net/net.4/Conv_output_0", "/net/net.7/Conv_output_0",
                               "scratch@2")
    timeline = render_ascii(report_data(graph, plan, "kws"))
    assert "   1  Conv (streamed)" in timeline and "<- peak" in timeline
    assert "arena 33024 B" in timeline


@pytest.mark.parametrize("name", ["kws_dscnn", "vww_mobilenet", "resnet8", "ad_autoencoder",
                                  "digits_cnn"])
def test_example_models_meet_the_targets(name: str) -> None:
    plan = plan_memory(_example(name))
    st = plan.stats
    assert plan.size <= st.greedy_by_size
    if name != "digits_cnn":  # the MLPerf Tiny models
        assert plan.size <= st.lower_bound


def test_cli_plan_explain_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    from tinyc.cli import main

    model = str(MODELS / "kws_dscnn.onnx")
    assert main(["plan", model]) == 0
    out = capsys.readouterr().out
    assert "arena 33024 B" in out and "lower bound without in-place 64000 B" in out
    assert main(["plan", model, "--explain"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if line[:4].strip().isdigit()]
    assert len(rows) == 13 and rows[2].endswith("<- peak")
    assert main(["plan", model, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["arena_bytes"] == 33024 and len(data["steps"]) == 13
    assert {b["kind"] for b in data["buffers"]} == {"tensor", "scratch"}


# -- per-node workspace (OpDef.workspace) -------------------------------------------------


@pytest.fixture
def conv_workspace(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, int]], None]:
    """Give Conv nodes, by name, a workspace of so many bytes (this test only)."""
    from tinyc.ops import get_op

    def give(sizes: dict[str, int]) -> None:
        monkeypatch.setattr(get_op("Conv"), "workspace",
                            lambda node, kernel_dirs=None: sizes.get(node.name, 0))

    return give


def test_workspace_is_a_buffer_live_at_its_step_only(
    conv_workspace: Callable[[dict[str, int]], None],
) -> None:
    """chain() with 48 B of workspace at step 1: that step holds b over a (1024), the
    row scratch (256) and the workspace, 1328 B; step 2 is unchanged at 1280. The flat
    (no reuse) figure counts the workspace too."""
    conv_workspace({"n1": 48})
    graph = chain()
    plan = plan_memory(graph, align=16)
    assert plan.size == 1328
    assert plan.stats.activations == 3072 + 48
    assert set(plan.workspace) == {1}
    off = plan.workspace[1]
    assert off % 16 == 0 and off + 48 <= plan.size
    (req,) = [r for r in plan.reqs if r.name == "work@1"]
    assert (req.size, req.first, req.last) == (48, 1, 1)
    verify_plan(graph, plan)
    data = report_data(graph, plan)
    (buf,) = [b for b in data["buffers"] if b["kind"] == "workspace"]
    assert (buf["offset"], buf["size"]) == (off, 48)
    assert [s["workspace"] for s in data["steps"]] == [0, 48, 0, 0]
    assert "work@1 (workspace of step 1)" in render_ascii(data)


def test_workspace_reaches_the_kernel_and_moves_the_schedule(
    conv_workspace: Callable[[dict[str, int]], None],
) -> None:
    """The emitter hands the kernel its workspace; the scheduler counts it at its step."""
    from tinyc.backend.context import EmitContext
    from tinyc.memory import build_storages, memory_profile

    conv_workspace({"n1": 40})
    graph = chain()
    plan = plan_memory(graph, align=16)
    ctx = EmitContext(graph, plan, "t")
    assert ctx.workspace(graph.nodes[1]) == f"(&tinyc_arena.i8[{plan.workspace[1]}])"
    assert ctx.workspace(graph.nodes[0]) == "NULL"
    storages = build_storages(graph, 16)
    assert storages.workspaces == {1: 40}
    assert memory_profile(storages, [0, 1, 2, 3])[1] == 2048 + 40  # a and b, plus it


def test_verifier_rejects_missing_shared_or_unasked_workspace(
    conv_workspace: Callable[[dict[str, int]], None],
) -> None:
    conv_workspace({"n1": 32})
    graph = chain()
    plan = plan_memory(graph)
    _tampered(graph, workspace={})  # asked for, not planned
    _tampered(graph, workspace={**plan.workspace, 2: plan.workspace[1]})  # not asked for
    _tampered(graph, workspace={1: plan.offsets["v1"]})  # over b, live at that step
    _tampered(graph, workspace={1: plan.workspace[1] + 4})  # misaligned
    _tampered(graph, workspace={1: plan.size - 16})  # past the end of the arena
