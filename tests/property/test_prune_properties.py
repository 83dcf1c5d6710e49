"""Pruning on random graphs from `tests/strategies.py`:

1. neither kind of pruning ever changes the graph interface (input and output names and
   types), and the result verifies and runs;
2. structured pruning with an empty plan (ratio 0, or no channel named) is the identity:
   the text IR is unchanged and the pass reports `modified=False`;
3. structured pruning is exact on channels that carry zeros: zero the removed classes'
   filters (and what they pass through), prune, and the outputs do not change;
4. sparse storage changes nothing: the sparse ops give the dense ops' outputs on the same
   weights in the interpreter, and the CSR encoding round-trips (fillers, both widths).
The same equality in the generated C is tests/c/test_prune_c.py.
"""

from __future__ import annotations

import numpy as np
from hypothesis import event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.strategies import Case, graphs, make_node
from tinyc.interp import run_graph
from tinyc.ir import DType, Graph, TensorType
from tinyc.ir.text import print_graph
from tinyc.ir.verify import verify
from tinyc.passes import PassContext
from tinyc.passes.prune_channels import PruneChannels
from tinyc.passes.prune_unstructured import PruneUnstructured
from tinyc.passes.sparsify_weights import SparsifyWeights
from tinyc.prune.channels import ChannelPlan, analyze, apply_plan, choose, plan_from_masks
from tinyc.prune.sparse import decode, encode

#: ops that keep an exactly-zero channel zero (no Sigmoid(0) = 0.5), or that pin it
ZERO_SAFE = ("Conv", "Gemm", "MatMul", "Add", "Mul", "Relu", "BatchNormalization",
             "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Flatten",
             "Reshape", "Concat", "Identity", "Dropout", "Softmax", "Transpose",
             "Conv>Relu", "Conv>BatchNormalization>Relu", "Gemm>Relu")
PRUNE_OPS = ZERO_SAFE + ("Sigmoid", "Clip", "LeakyRelu", "Pad", "Squeeze", "Unsqueeze",
                         "Sub", "Div", "Cast")
SETTINGS = settings(max_examples=60, deadline=None)


def interface(g: Graph) -> list[tuple[str, object]]:
    return [(v.name, v.type) for v in g.inputs + g.outputs]


@st.composite
def prunable_graphs(draw: st.DrawFn) -> Case:
    """Conv nets with room to prune: blocks of Conv (+BN, +Relu), depthwise Conv, residual
    Add, Concat and MaxPool, ending in a Conv or Flatten+Gemm whose output is the graph's."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    g = Graph("prunable")

    def const(*shape: int):  # noqa: ANN202
        return g.add_const(f"c{len(g.constants)}", (rng.standard_normal(shape) * 0.5)
                           .astype(np.float32))

    def conv(v, m: int, k: int = 3, group: int = 1, relu: bool = True):  # noqa: ANN001, ANN202
        act = {"activation": "Relu", "activation_params": []} if relu else {}
        return make_node(g, "Conv", [v, const(m, v.shape[1] // group, k, k), const(m)],
                         pads=[k // 2] * 4, group=group, **act).outputs[0]

    c = draw(st.integers(1, 4))
    v = g.add_input("x", TensorType(DType.F32, (1, c, draw(st.integers(3, 6)), 5)))
    for _ in range(draw(st.integers(1, 3))):
        m = draw(st.integers(3, 8))
        kind = draw(st.sampled_from(["conv", "bn", "dw", "residual", "concat", "pool"]))
        if kind == "conv":
            v = conv(v, m, draw(st.sampled_from([1, 3])), relu=draw(st.booleans()))
        elif kind == "bn":
            y = conv(v, m, relu=False)
            var = g.add_const(f"c{len(g.constants)}", rng.uniform(0.5, 2, m).astype(np.float32))
            y = make_node(g, "BatchNormalization", [y, const(m), const(m), const(m), var])
            v = make_node(g, "Relu", [y.outputs[0]]).outputs[0]
        elif kind == "dw":
            v = conv(v, v.shape[1], group=v.shape[1])
        elif kind == "residual":
            a = conv(v, m, relu=False)
            v = make_node(g, "Add", [a, conv(a, m, 1)]).outputs[0]
        elif kind == "concat":
            v = make_node(g, "Concat", [conv(v, m), conv(v, draw(st.integers(2, 5)))],
                          axis=1).outputs[0]
        elif v.shape[2] >= 2:
            v = make_node(g, "MaxPool", [v], kernel_shape=[2, 2], strides=[2, 2]).outputs[0]
    if draw(st.booleans()):
        v = conv(v, 3, relu=False)
    else:
        f = make_node(g, "Flatten", [v], axis=1).outputs[0]
        v = make_node(g, "Gemm", [f, const(4, f.shape[1]), const(4)], transB=1).outputs[0]
    g.outputs = [v]
    verify(g)
    x = g.inputs[0]
    return g, {x.name: rng.standard_normal(x.shape).astype(np.float32)}


@SETTINGS
@given(graphs(PRUNE_OPS, max_nodes=8), st.sampled_from([0.3, 0.5, 0.9]),
       st.sampled_from(["global", "layer"]))
def test_unstructured_keeps_interface(case: Case, sparsity: float, scope: str) -> None:
    graph, feeds = case
    before = interface(graph)
    PruneUnstructured(sparsity=sparsity, scope=scope)(graph, PassContext(verify_each=True))
    assert interface(graph) == before
    run_graph(graph, feeds)
    text = print_graph(graph)
    assert not PruneUnstructured(sparsity=sparsity, scope=scope)(graph, PassContext()).modified
    assert print_graph(graph) == text


@SETTINGS
@given(st.one_of(prunable_graphs(), graphs(PRUNE_OPS, max_nodes=8)),
       st.sampled_from([0.25, 0.5, 0.75]), st.sampled_from(["l1", "l2"]))
def test_channels_keep_interface(case: Case, ratio: float, norm: str) -> None:
    graph, feeds = case
    before = interface(graph)
    PruneChannels(ratio=ratio, norm=norm)(graph, PassContext(verify_each=True))
    assert interface(graph) == before
    outs = run_graph(graph, feeds)
    assert [o.shape for o in outs] == [v.shape for v in graph.outputs]


@SETTINGS
@given(graphs(PRUNE_OPS, max_nodes=8))
def test_empty_channel_plan_is_identity(case: Case) -> None:
    graph, _ = case
    text = print_graph(graph)
    assert not PruneChannels(ratio=0.0)(graph, PassContext(verify_each=True)).modified
    assert not apply_plan(graph, plan_from_masks(analyze(graph), {}))
    assert print_graph(graph) == text


def zero_removed(graph: Graph, plan: ChannelPlan) -> None:
    """Make every removed channel carry exact zeros: zero its producing filters and bias,
    BatchNorm's gamma and beta, depthwise filters, and Add constants on it."""
    an, uf = plan.analysis, plan.analysis.uf

    def dead(value) -> list[int]:  # noqa: ANN001
        atoms = an.atoms(value) or []
        return [i for i, a in enumerate(atoms) if uf.find(a) in plan.removed]

    def zero(value, index, axis: int) -> None:  # noqa: ANN001
        if value is not None and value.const is not None and index:
            data = value.const.copy()
            np.moveaxis(data, axis, 0)[index] = 0
            value.const = data

    for node in graph.nodes:
        rem = dead(node.outputs[0])
        if not rem:
            continue
        if node.op == "Conv":
            zero(node.inputs[1], rem, 0)
            zero(node.input(2), rem, 0)
        elif node.op in ("Gemm", "MatMul"):
            zero(node.inputs[1], rem, 0 if node.op == "Gemm" and node.attrs["transB"] else 1)
            c = node.input(2)
            if c is not None and c.type.rank and c.shape[-1] == node.outputs[0].shape[1] > 1:
                zero(c, rem, c.type.rank - 1)
        elif node.op == "BatchNormalization":
            zero(node.inputs[1], rem, 0)
            zero(node.inputs[2], rem, 0)
        elif node.op == "Add":
            for v in node.inputs:
                if v is not None and v.const is not None:
                    axis = 1 - (node.outputs[0].type.rank - v.type.rank)
                    if axis >= 0 and v.shape[axis] == node.outputs[0].shape[1]:
                        zero(v, rem, axis)


@settings(max_examples=80, deadline=None)
@given(st.one_of(prunable_graphs(), prunable_graphs(), graphs(ZERO_SAFE, max_nodes=6)),
       st.sampled_from([0.4, 0.5, 0.8]))
def test_removing_zero_channels_is_exact(case: Case, ratio: float) -> None:
    graph, feeds = case
    plan = choose(analyze(graph), ratio)
    event(f"channels removed: {bool(plan.removed)}")
    zero_removed(graph, plan)
    want = run_graph(graph, feeds)
    apply_plan(graph, plan)
    verify(graph)
    for got, w in zip(run_graph(graph, feeds), want, strict=True):
        np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-5)


@SETTINGS
@given(graphs(("Conv", "Gemm", "MatMul", "Conv>Relu", "Gemm>Relu", "Relu", "Add"),
              max_nodes=6), st.sampled_from([0.5, 0.8, 0.95]))
def test_sparse_ops_equal_dense_ops(case: Case, sparsity: float) -> None:
    graph, feeds = case
    PruneUnstructured(sparsity=sparsity, scope="layer")(graph, PassContext())
    want = run_graph(graph, feeds)
    before = interface(graph)
    SparsifyWeights(policy="always")(graph, PassContext(verify_each=True))
    assert interface(graph) == before
    for got, w in zip(run_graph(graph, feeds), want, strict=True):
        np.testing.assert_allclose(got, w, rtol=1e-6, atol=1e-6)


@SETTINGS
@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(1, 700)),
                  elements=st.sampled_from([0.0, 0.0, 0.0, 0.0, 1.5, -2.0])),
       st.sampled_from([8, 16]))
def test_csr_roundtrip(matrix: np.ndarray, bits: int) -> None:
    csr = encode(matrix, bits)
    assert csr is not None
    np.testing.assert_array_equal(decode(csr.values, csr.deltas, csr.row_nnz, matrix.shape[1]),
                                  matrix)
    assert csr.entries >= np.count_nonzero(matrix)
