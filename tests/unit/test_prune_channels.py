"""Structured channel pruning on hand-built graphs: what is propagated where, what is
pinned, and exactness when the removed channels carry zeros; MACs and arena on the MLPerf
Tiny models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.strategies import make_node
from tinyc.compiler import Options, compile_graph, load_model, optimize
from tinyc.errors import UsageError
from tinyc.interp import run_graph
from tinyc.ir import DType, Graph, TensorType
from tinyc.ir.text import print_graph
from tinyc.ir.verify import verify
from tinyc.ops import get_op
from tinyc.passes import PassContext
from tinyc.passes.prune_channels import PruneChannels
from tinyc.prune.channels import analyze, apply_plan, choose, plan_from_masks, prune_channels

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"
RNG = np.random.default_rng(0)


def const(g: Graph, shape: tuple[int, ...], name: str = ""):  # noqa: ANN201
    name = name or f"c{len(g.constants)}"
    return g.add_const(name, RNG.standard_normal(shape).astype(np.float32))


def conv(g: Graph, x, m: int, k: int = 3, group: int = 1, name: str = ""):  # noqa: ANN001, ANN201
    c = x.shape[1] // group
    node = make_node(g, "Conv", [x, const(g, (m, c, k, k)), const(g, (m,))], group=group,
                     pads=[k // 2] * 4, activation="Relu", activation_params=[])
    node.name = name or node.name
    return node.outputs[0]


def residual_graph() -> Graph:
    """x -> conv a -> depthwise -> BN -> conv b -(+ a)-> pool -> flatten -> gemm (output)."""
    g = Graph("res")
    x = g.add_input("x", TensorType(DType.F32, (1, 3, 6, 6)))
    a = conv(g, x, 8, name="a")
    d = conv(g, a, 8, group=8, name="dw")
    bn = make_node(g, "BatchNormalization", [d, const(g, (8,)), const(g, (8,)), const(g, (8,)),
                                             g.add_const("var", np.full(8, 0.5, np.float32))])
    b = conv(g, bn.outputs[0], 8, k=1, name="b")
    s = make_node(g, "Add", [b, a]).outputs[0]
    cat = make_node(g, "Concat", [s, conv(g, x, 4, name="side")], axis=1).outputs[0]
    p = make_node(g, "MaxPool", [cat], kernel_shape=[2, 2], strides=[2, 2]).outputs[0]
    f = make_node(g, "Flatten", [p], axis=1).outputs[0]
    y = make_node(g, "Gemm", [f, const(g, (5, f.shape[1])), const(g, (5,))], transB=1)
    y.name = "fc"
    g.outputs = [y.outputs[0]]
    verify(g)
    return g


def feeds(g: Graph) -> dict[str, np.ndarray]:
    return {v.name: RNG.standard_normal(v.shape).astype(np.float32) for v in g.inputs}


def test_residual_depthwise_concat_flatten() -> None:
    g = residual_graph()
    an = analyze(g)
    names = [p.name for p in an.producers]
    assert names == ["a", "b", "side", "fc"]
    plan = choose(an, 0.5)
    # a and b are tied by the Add: one cluster of 8 classes, half removed; fc is pinned
    assert plan.layers == {"a": (8, 4), "b": (8, 4), "side": (4, 2), "fc": (5, 5)}
    apply_plan(g, plan)
    verify(g)
    dw = next(n for n in g.nodes if n.name == "dw")
    assert dw.attrs["group"] == 4 and dw.inputs[1].shape == (4, 1, 3, 3)
    bn = next(n for n in g.nodes if n.op == "BatchNormalization")
    assert all(v.shape == (4,) for v in bn.inputs[1:])
    cat = next(n for n in g.nodes if n.op == "Concat")
    assert cat.outputs[0].shape == (1, 6, 6, 6)
    fc = next(n for n in g.nodes if n.name == "fc")
    assert fc.inputs[1].shape == (5, 6 * 9)  # whole 3x3 column blocks removed
    assert g.outputs[0].shape == (1, 5)


def test_zeroed_channels_are_removed_exactly() -> None:
    """Channels whose filter and bias are zero carry zeros through Relu/pool/Add; removing
    them (they have the smallest norm) must not change the outputs."""
    g = residual_graph()
    by_name = {n.name: n for n in g.nodes}
    for name, dead in (("a", [1, 5]), ("b", [1, 5]), ("side", [0])):
        node = by_name[name]
        node.inputs[1].const[dead] = 0
        node.inputs[2].const[dead] = 0
    dw = by_name["dw"]
    dw.inputs[1].const[[1, 5]] = 0
    dw.inputs[2].const[[1, 5]] = 0
    bn = next(n for n in g.nodes if n.op == "BatchNormalization")
    bn.inputs[1].const[[1, 5]] = 0  # gamma
    bn.inputs[2].const[[1, 5]] = 0  # beta
    f = feeds(g)
    want = run_graph(g, f)
    plan = plan_from_masks(analyze(g), {"a": [1, 5], "side": [0]})
    assert plan.layers["b"] == (8, 6)  # tied to a
    assert apply_plan(g, plan)
    verify(g)
    np.testing.assert_allclose(run_graph(g, f)[0], want[0], rtol=1e-5, atol=1e-6)


def test_pinned_channels() -> None:
    g = residual_graph()
    an = analyze(g)
    fc = next(p for p in an.producers if p.name == "fc")
    assert an.removable(fc) == []  # its output is the graph output
    with pytest.raises(UsageError, match="pinned"):
        plan_from_masks(an, {"fc": [0]})
    with pytest.raises(UsageError, match="not a prunable layer"):
        plan_from_masks(an, {"dw": [0]})


def test_softmax_and_transpose_pin() -> None:
    g = Graph("pin")
    x = g.add_input("x", TensorType(DType.F32, (1, 4)))
    h = make_node(g, "Gemm", [x, const(g, (4, 6)), const(g, (6,))]).outputs[0]
    s = make_node(g, "Softmax", [h], axis=1).outputs[0]
    y = make_node(g, "Gemm", [s, const(g, (6, 3))]).outputs[0]
    g.outputs = [y]
    assert not prune_channels(g, 0.5).modified


def test_empty_plan_is_identity() -> None:
    g = residual_graph()
    text = print_graph(g)
    assert not apply_plan(g, plan_from_masks(analyze(g), {}))
    assert not PruneChannels(ratio=0.0)(g, PassContext()).modified
    assert print_graph(g) == text


def test_pass_records_metadata_and_is_idempotent() -> None:
    g = residual_graph()
    p = PruneChannels(ratio=0.5)
    assert p(g, PassContext(verify_each=True)).modified
    assert "ratio=0.5" in g.metadata["tinyc prune-channels"]
    text = print_graph(g)
    assert not p(g, PassContext()).modified
    assert print_graph(g) == text


def test_bad_options() -> None:
    g = residual_graph()
    with pytest.raises(UsageError):
        prune_channels(g, 1.0)
    with pytest.raises(UsageError):
        prune_channels(g, 0.5, norm="l3")


def test_round_to_and_min_channels() -> None:
    g = residual_graph()
    r = prune_channels(g, 0.9, min_channels=3)
    assert r.layers["a"][1] == 3 and r.layers["side"][1] == 3
    g = residual_graph()
    r = prune_channels(g, 0.7, round_to=4)
    assert r.layers["a"][1] == 4


def _macs(graph: Graph) -> int:
    return sum(get_op(n.op).macs(n) for n in graph.nodes)


@pytest.mark.parametrize("model", ["kws_dscnn", "resnet8"])
def test_half_channels_cut_macs_and_arena(model: str) -> None:
    """Done-when: 50 % channels on an MLPerf Tiny model cuts MACs and arena by >= 40 %."""
    opts = Options()
    dense, _ = optimize(load_model(MODELS / f"{model}.onnx", opts), opts)
    pruned, _ = optimize(load_model(MODELS / f"{model}.onnx", opts), Options(prune="channels:0.5"))
    assert [(v.name, v.type) for v in pruned.inputs + pruned.outputs] == [
        (v.name, v.type) for v in dense.inputs + dense.outputs]
    assert _macs(pruned) <= 0.6 * _macs(dense)
    a_dense = compile_graph(dense, opts, model).plan.size
    a_pruned = compile_graph(pruned, opts, model).plan.size
    assert a_pruned <= 0.6 * a_dense
