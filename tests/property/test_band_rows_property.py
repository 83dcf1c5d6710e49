"""band-rows on random int8 conv chains (kernel sizes, strides, dilations, pads, depthwise,
residual adds from an earlier tensor or the graph input, a final whole-plane average pool
or none): the whole chain fused into one
QBanded node verifies, its interpreter reference gives bit for bit what the unfused layers
gave, and the generated C (ASan, UBSan; portable and Cortex-M4 kernels) gives the same; a
chain without adds also runs several rows a step (`band_rows` > 1, `bands.chain_schedule`)
when that schedule applies."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

from tests.unit.test_quant_ops import CONV, Builder, qp
from tinyc.compiler import Options, compile_graph
from tinyc.errors import IRError
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
from tinyc.interp import run_graph
from tinyc.ir import Node, Value
from tinyc.ir.text import print_graph
from tinyc.ir.verify import verify
from tinyc.mcu.targets import kernel_dirs
from tinyc.ops.bands import schedule
from tinyc.ops.qbanded import band_layers, chain_layout, chain_steps, halo_steps, members
from tinyc.passes.band_rows import candidates, fuse, plain_chain


@st.composite
def layer(draw: st.DrawFn) -> dict:
    if draw(st.integers(0, 3)) == 0:
        return {"kind": "add", "pick": draw(st.integers(0, 9))}
    k = draw(st.integers(1, 4))
    return {"kind": "dw" if draw(st.booleans()) else "conv", "m": draw(st.integers(1, 5)),
            "kernel_shape": [k, draw(st.integers(1, 3))],
            "strides": [draw(st.integers(1, 3)), draw(st.integers(1, 2))],
            "dilations": [draw(st.integers(1, 2)), 1],
            "pads": [draw(st.integers(0, 2)) for _ in range(4)],
            "act": draw(st.sampled_from([(-128, 127), (-20, 127), (-128, 50)]))}


def build(shape: tuple[int, int, int], layers: list[dict], seed: int,
          pool: str | None = None) -> Builder | None:
    b = Builder()
    b.rng = np.random.default_rng(seed)
    x = b.input((1, *shape), qp(0.05, -3))
    tensors: list[Value] = [x]
    made = 0
    for spec in layers:
        cur = tensors[-1]
        if spec["kind"] == "add":
            same = [t for t in tensors[:-1] if t.shape == cur.shape]
            if not same:
                continue
            other = same[spec["pick"] % len(same)]
            tensors.append(b.node("QAdd", [cur, other], qp(0.09, 4)))
            made += 1
            continue
        c, h, w = cur.shape[1:]
        kh, kw = spec["kernel_shape"]
        dh, (pt, pl, pb, pr) = spec["dilations"][0], spec["pads"]
        if (h + pt + pb - (kh - 1) * dh - 1) < 0 or (w + pl + pr - kw) < 0:
            return None
        depthwise = spec["kind"] == "dw" and c > 1
        m, group = (c, c) if depthwise else (spec["m"], 1)
        weights = b.weights((m, 1 if depthwise else c, kh, kw))
        attrs = {k: spec[k] for k in ("kernel_shape", "strides", "dilations", "pads")}
        tensors.append(b.node("QConv", [cur, weights, b.bias(m)], qp(0.07, -5), group=group,
                              act_min=spec["act"][0], act_max=spec["act"][1], **attrs))
        made += 1
    if pool == "QGlobalAveragePool":
        tensors.append(b.node(pool, [tensors[-1]], qp(0.03, 2)))
    elif pool == "QAveragePool":  # one window over the whole plane
        plane = list(tensors[-1].shape[2:])
        tensors.append(b.node(pool, [tensors[-1]], qp(0.03, 2), kernel_shape=plane,
                              strides=[1, 1], dilations=[1, 1], pads=[0, 0, 0, 0]))
    if made < 2:
        return None
    b.graph.outputs = [tensors[-1]]
    return b


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.filter_too_much,
                                                                 HealthCheck.too_slow])
@given(st.tuples(st.integers(1, 5), st.integers(1, 12), st.integers(1, 7)),
       st.lists(layer(), min_size=2, max_size=5), st.integers(0, 1000),
       st.sampled_from([None, "QGlobalAveragePool", "QAveragePool"]),
       st.sampled_from(["generic", "cortex-m4"]), st.sampled_from([1, 1, 2, 3, 5]))
def test_banded_chain_is_bit_exact(shape: tuple[int, int, int], layers: list[dict], seed: int,
                                   pool: str | None, target: str, rows: int) -> None:
    if rows > 1:  # the multi-row form runs plain chains
        layers = [spec for spec in layers if spec["kind"] != "add"]
    b = build(shape, layers, seed, pool)
    assume(b is not None)
    assert b is not None
    graph = b.graph
    verify(graph)
    want = run_graph(graph, b.feeds)
    runs = [r for r in candidates(graph) if len(r) == len(graph.nodes)]
    assume(runs)
    node = fuse(graph, runs[0], rows).node
    if rows > 1 and not plain_chain(node):
        note("no plain chain: one row a step")
        node.attrs.pop("band_rows")
    verify(graph)
    note(print_graph(graph))
    assert [n.op for n in graph.nodes] == ["QBanded"]
    np.testing.assert_array_equal(run_graph(graph, b.feeds)[0], want[0])
    np.testing.assert_array_equal(c_output(b, target), want[0])


def c_output(b: Builder, target: str) -> np.ndarray:
    """The generated C's output on b's feeds (ASan, UBSan; `target`'s kernels)."""
    with tempfile.TemporaryDirectory() as tmp:
        compiled = compile_graph(b.graph, Options(target=target), "q")
        compiled.code.write(Path(tmp))
        exe = build_host(Path(tmp), b.graph, "q", [*SANITIZE_FLAGS, "-O0"])
        return run_host(exe, b.graph, [b.feeds[v.name] for v in b.graph.inputs])[0]


def test_rings_hold_every_row_until_its_last_read() -> None:
    """Replaying the schedule with rings of the computed sizes: every row a step reads is
    still the row its slot holds (a residual block: conv 3x3 -> conv 3x3 -> add input)."""
    b = Builder()
    x = b.input((1, 2, 9, 4), qp(0.05, -3))
    attrs = dict(CONV)
    y1 = b.node("QConv", [x, b.weights((2, 2, 3, 3)), None], qp(0.07, 0), **attrs)
    y2 = b.node("QConv", [y1, b.weights((2, 2, 3, 3)), None], qp(0.07, 0), **attrs)
    b.graph.outputs = [b.node("QAdd", [y2, y1], qp(0.1, 0))]
    (run,) = [r for r in candidates(b.graph) if len(r) == 3]
    node = fuse(b.graph, run).node
    m = members(node)
    bls = band_layers(m)
    rows = [t.shape[2] for t in m.tensors]
    sched = schedule(bls, rows, m.n_inputs)
    # y1 rows r - 1 .. r + 1 for y2's 3x3 window while y2 row r waits for the add's y1 row
    assert sched.rings == (0, 3, 1, 0)
    slots: dict[tuple[int, int], int] = {}
    for j, r in sched.steps:
        for t in bls[j].srcs:
            lo, hi = bls[j].reads(r, rows[t])
            for q in range(lo, hi):
                assert t < m.n_inputs or slots[(t, q % sched.rings[t])] == q
        t = m.n_inputs + j
        if sched.rings[t]:
            slots[(t, r % sched.rings[t])] = r


def ds_cnn(rows: int) -> tuple[Builder, list[Node]]:
    """A DS-CNN-like chain (conv 4x3 stride 2, then depthwise 3x3 and 1x1 twice, then a
    global pool) and its one candidate run."""
    b = Builder()
    x = b.input((1, 1, 15, 4), qp(0.05, -3))
    y = b.node("QConv", [x, b.weights((3, 1, 4, 3)), None], qp(0.07, 0), kernel_shape=[4, 3],
               strides=[2, 2], dilations=[1, 1], pads=[2, 1, 1, 1], group=1)
    for _ in range(2):
        y = b.node("QConv", [y, b.weights((3, 1, 3, 3)), None], qp(0.07, 0), **{**CONV,
                   "group": 3})
        y = b.node("QConv", [y, b.weights((3, 3, 1, 1)), None], qp(0.07, 0),
                   kernel_shape=[1, 1], strides=[1, 1], dilations=[1, 1], pads=[0, 0, 0, 0],
                   group=1)
    b.graph.outputs = [b.node("QGlobalAveragePool", [y], qp(0.03, 2))]
    (run,) = [r for r in candidates(b.graph) if len(r) == 6]
    return b, run


@pytest.mark.parametrize("rows", [1, 2, 3, 4, 9])
def test_chain_windows_are_the_kept_rows_then_the_new_ones(rows: int) -> None:
    """Replaying the multi-row schedule of `ds_cnn`: every layer computes each of its rows
    once, in order, at most `rows` a step; every window is exactly the rows its source's
    halo kept followed by the rows the step before computed (or stashed earlier)."""
    b, run = ds_cnn(rows)
    m = members(fuse(b.graph, run, rows).node)
    bls = band_layers(m)
    heights = [t.shape[2] for t in m.tensors[:-1]] + [m.tensors[-2].shape[2]]
    steps = chain_steps(m, rows)
    assert steps is not None
    done = [0] * len(bls)
    kept: dict[int, list[int]] = {}  # tensor -> the rows its halo holds
    last: list[int] = []  # the rows the step before computed
    stashed = False
    for i, s in enumerate(steps):
        assert s.row == done[s.layer] and 0 < s.rows <= rows
        (t,) = bls[s.layer].srcs
        lo = bls[s.layer].reads(s.row, heights[t])[0]
        hi = bls[s.layer].reads(s.row + s.rows - 1, heights[t])[1]
        if t >= m.n_inputs:
            new = last[:s.new_in] if i and steps[i - 1].layer == s.layer - 1 else []
            assert len(kept.get(t, [])) == s.halo_in
            assert kept.get(t, []) + new == list(range(lo, hi))
            kept[t] = list(range(hi - s.halo_out, hi))
        out = list(range(s.row, s.row + s.rows))
        if s.stash >= 0:
            kept[m.n_inputs + s.layer] = kept.get(m.n_inputs + s.layer, []) + out
            assert len(kept[m.n_inputs + s.layer]) == s.stash + s.rows
        done[s.layer] += s.rows
        last = out
        stashed |= s.stash >= 0
    assert done == heights[m.n_inputs:]
    assert stashed == (rows in (1, 2))  # the first rounds are too short for the later layers


@pytest.mark.parametrize("target", ["generic", "cortex-m4"])
def test_chain_with_stashed_rows_is_bit_exact(target: str) -> None:
    """`ds_cnn` two rows a step (its first rounds stash rows in a halo) in C, portable and
    Cortex-M4 kernels, gives what the unfused layers give."""
    b, run = ds_cnn(2)
    want = run_graph(b.graph, b.feeds)[0]
    fuse(b.graph, run, 2)
    verify(b.graph)
    np.testing.assert_array_equal(c_output(b, target), want)


@pytest.mark.parametrize("rows", [2, 3, 4, 9])
def test_chain_depthwise_halo_form_is_bit_exact(rows: int) -> None:
    """On the Cortex-M4 kernels `ds_cnn`'s depthwise layers read their kept rows in place
    (tinyc_dwconv2d_halo_s8: every step, stashed halos, first and last bands, output planes
    larger than the new rows) with their walk constants precomputed, and the window buffer
    is smaller than the portable kernels' (no halo rows in it); the C gives what the
    unfused layers give."""
    b, run = ds_cnn(rows)
    want = run_graph(b.graph, b.feeds)[0]
    node = fuse(b.graph, run, rows).node
    verify(b.graph)
    m = members(node)
    steps = chain_steps(m, rows)
    assert steps is not None
    m4 = kernel_dirs("cortex-m4")
    halo = halo_steps(m, steps, m4)
    # two rows a step: a stashed halo longer than some step's new rows keeps layer 3 on
    # the assembled window; nine: one band, no halo to save
    assert halo == ({1} if rows == 2 else {1, 3})
    assert not halo_steps(m, steps, kernel_dirs("cortex-m55"))
    smaller = chain_layout(m, steps, m4)[0].total < chain_layout(m, steps, None)[0].total
    assert smaller == (rows in (3, 4))
    np.testing.assert_array_equal(c_output(b, "cortex-m4"), want)


def test_malformed_banded_node_is_a_model_error() -> None:
    """A hand-written QBanded whose attributes do not describe a chain is refused with a
    one-line model error (exit 3), not a crash."""
    b = Builder()
    x = b.input((1, 2, 6, 4), qp(0.05, -3))
    y1 = b.node("QConv", [x, b.weights((2, 2, 3, 3)), None], qp(0.07, 0), **CONV)
    b.graph.outputs = [b.node("QConv", [y1, b.weights((2, 2, 3, 3)), None], qp(0.07, 0),
                              **CONV)]
    node = fuse(b.graph, candidates(b.graph)[0]).node
    verify(b.graph)
    for attr, value, what in [("n_inputs", 2, "weight and bias"),
                              ("layers", node.attrs["layers"][:-1], "ints per layer"),
                              ("scales", [0.1], "one value per layer")]:
        saved = node.attrs[attr]
        node.attrs[attr] = value
        with pytest.raises(IRError, match=what):
            verify(b.graph)
        node.attrs[attr] = saved


@pytest.mark.parametrize("width", [3, 5, 8, 16, 24, 32, 36, 64, 70, 140])
@pytest.mark.parametrize("rows", [1, 3])
def test_band_copies_of_every_row_width_are_bit_exact(width: int, rows: int) -> None:
    """The band's copies (tinyc_qband.c copy_blocks: gathers, halo places, kept rows,
    scatters) take a path by the bytes a block holds: the unrolled 8/16/32/64, other
    multiples of 8, up to 32, 4-byte pieces to 256, memcpy beyond. A 3x3 conv, a depthwise
    3x3 and a residual add (one row a step), or the chain without the add several rows a
    step, on rows `width` pixels wide give in C what the unfused layers give."""
    pads = {"strides": [1, 1], "dilations": [1, 1], "pads": [1, 1, 1, 1],
            "act": (-128, 127)}
    layers = [{"kind": "conv", "m": 2, "kernel_shape": [3, 3], **pads},
              {"kind": "dw", "m": 2, "kernel_shape": [3, 3], **pads}]
    if rows == 1:
        layers.append({"kind": "add", "pick": 1})
    b = build((2, 7, width), layers, width + rows)
    assert b is not None
    want = run_graph(b.graph, b.feeds)[0]
    (run,) = [r for r in candidates(b.graph) if len(r) == len(b.graph.nodes)]
    node = fuse(b.graph, run, rows).node
    assert rows == 1 or plain_chain(node)
    verify(b.graph)
    np.testing.assert_array_equal(c_output(b, "cortex-m4"), want)
