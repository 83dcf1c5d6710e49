"""If and Scan, flattened by the frontend (`tinyc/frontend/control.py`), and an op expanded
into its ONNX function body (`tinyc/frontend/functions.py`): the interpreter and the
generated C (with sanitizers) against onnxruntime or onnx's reference evaluator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tinyc.compiler import Options, compile_graph, optimize
from tinyc.errors import UnsupportedError
from tinyc.frontend.onnx import import_model
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
from tinyc.interp import run_graph

RNG = np.random.default_rng(5)
F = TensorProto.FLOAT


def _model(nodes: list, inputs: list, outputs: list, inits: list | None = None,
           opset: int = 17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "m", inputs, outputs, inits or [])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                             ir_version=8)


def _vi(name: str, shape: list[int | str], dtype: int = F) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, dtype, shape)


def _branch(name: str, op: str, out: str) -> onnx.GraphProto:
    """A branch computing `op(x, w)` from the enclosing scope's x and w."""
    return helper.make_graph([helper.make_node(op, ["x", "w"], [out])], name, [],
                             [_vi(out, [2, 3])])


def if_model(cond_input: bool) -> onnx.ModelProto:
    """y = If(cond) then x + w else x * w; cond is an input or folded from x's shape."""
    w = numpy_helper.from_array(RNG.standard_normal((2, 3)).astype(np.float32), "w")
    nodes = []
    inputs = [_vi("x", [2, 3])]
    if cond_input:
        inputs.append(_vi("c", [], TensorProto.BOOL))
    else:  # Size(x) == 6, only known once shapes are
        six = numpy_helper.from_array(np.array(6, np.int64), "six")
        nodes += [helper.make_node("Size", ["x"], ["n"]),
                  helper.make_node("Equal", ["n", "six"], ["c"])]
    nodes.append(helper.make_node("If", ["c"], ["y"], then_branch=_branch("t", "Add", "a"),
                                  else_branch=_branch("e", "Mul", "b")))
    inits = [w] if cond_input else [w, six]
    return _model(nodes, inputs, [_vi("y", [2, 3])], inits)


def scan_model() -> onnx.ModelProto:
    """Two states (a running sum and a running max), two scan inputs (one reversed, along
    axis 1), two scan outputs (one reversed, one stacked along axis 1)."""
    body = helper.make_graph(
        [helper.make_node("Add", ["s_in", "a"], ["s_out"]),
         helper.make_node("Max", ["m_in", "b"], ["m_out"]),
         helper.make_node("Mul", ["s_out", "m_out"], ["p"]),
         helper.make_node("Sub", ["a", "b"], ["d"])],
        "body", [_vi("s_in", [2]), _vi("m_in", [2]), _vi("a", [2]), _vi("b", [2])],
        [_vi("s_out", [2]), _vi("m_out", [2]), _vi("p", [2]), _vi("d", [2])])
    node = helper.make_node("Scan", ["s0", "m0", "xa", "xb"], ["s", "m", "ps", "ds"],
                            body=body, num_scan_inputs=2, scan_input_axes=[0, 1],
                            scan_input_directions=[0, 1], scan_output_axes=[0, -1],
                            scan_output_directions=[1, 0])
    inputs = [_vi("s0", [2]), _vi("m0", [2]), _vi("xa", [4, 2]), _vi("xb", [2, 4])]
    outputs = [_vi("s", [2]), _vi("m", [2]), _vi("ps", [4, 2]), _vi("ds", [2, 4])]
    return _model([node], inputs, outputs)


def scan8_model() -> onnx.ModelProto:
    """Opset 8's batched Scan: a running sum per batch item, scanned backwards."""
    body = helper.make_graph(
        [helper.make_node("Add", ["s_in", "a"], ["s_out"]),
         helper.make_node("Identity", ["s_out"], ["o"])],
        "body", [_vi("s_in", [3]), _vi("a", [3])], [_vi("s_out", [3]), _vi("o", [3])])
    node = helper.make_node("Scan", ["", "s0", "x"], ["s", "os"], body=body,
                            num_scan_inputs=1, directions=[1])
    return _model([node], [_vi("s0", [2, 3]), _vi("x", [2, 4, 3])],
                  [_vi("s", [2, 3]), _vi("os", [2, 4, 3])], opset=8)


def loop_model(trips: int | None, stop_at: int | None) -> onnx.ModelProto:
    """s = x; repeat: s = s * 0.5 + iter, record s; with a constant trip count and/or a
    condition the body folds (iter < stop_at) from the iteration number alone."""
    nodes = [helper.make_node("Mul", ["s_in", "half"], ["h"]),
             helper.make_node("Cast", ["i"], ["fi"], to=F),
             helper.make_node("Add", ["h", "fi"], ["s_out"]),
             helper.make_node("Identity", ["s_out"], ["rec"])]
    if stop_at is None:
        nodes.append(helper.make_node("Identity", ["c_in"], ["c_out"]))
    else:
        nodes.append(helper.make_node("Less", ["i", "stop"], ["c_out"]))
    inits = [numpy_helper.from_array(np.array(0.5, np.float32), "half"),
             numpy_helper.from_array(np.array(stop_at or 0, np.int64), "stop")]
    body = helper.make_graph(
        nodes, "body", [_vi("i", [], TensorProto.INT64), _vi("c_in", [], TensorProto.BOOL),
                        _vi("s_in", [3])],
        [_vi("c_out", [], TensorProto.BOOL), _vi("s_out", [3]), _vi("rec", [3])])
    outer = [numpy_helper.from_array(np.array(True), "go"), *inits]
    if trips is not None:
        outer.append(numpy_helper.from_array(np.array(trips, np.int64), "m"))
    node = helper.make_node("Loop", ["m" if trips is not None else "", "go", "x"],
                            ["s", "recs"], body=body)
    return _model([node], [_vi("x", [3])], [_vi("s", [3]), _vi("recs", ["n", 3])], outer)


def _feeds(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    feeds = {}
    for vi in model.graph.input:
        shape = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        if vi.type.tensor_type.elem_type == TensorProto.BOOL:
            feeds[vi.name] = np.array(True)
        else:
            feeds[vi.name] = RNG.standard_normal(shape).astype(np.float32)
    return feeds


def _oracle(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


MODELS = {"if_folded": lambda: if_model(False), "if_runtime": lambda: if_model(True),
          "scan": scan_model, "scan8": scan8_model,
          "loop_trips": lambda: loop_model(4, None), "loop_cond": lambda: loop_model(None, 2),
          "loop_both": lambda: loop_model(6, 3)}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_matches_onnxruntime(name: str, tmp_path: Path) -> None:
    model = MODELS[name]()
    graph = import_model(model, {})
    assert not any(n.op in ("If", "Loop", "Scan") for n in graph.nodes)
    options = Options(verify_each=True)
    graph, _ = optimize(graph, options)
    compiled = compile_graph(graph, options, "m")
    compiled.code.write(tmp_path)
    exe = build_host(tmp_path, graph, compiled.code.name, SANITIZE_FLAGS)
    conds = [np.array(True), np.array(False)] if name == "if_runtime" else [None]
    for cond in conds:
        feeds = _feeds(model)
        if cond is not None:
            feeds["c"] = cond
        want = _oracle(model, feeds)
        ordered = [feeds[v.name] for v in graph.inputs]
        for got in (run_graph(graph, feeds), run_host(exe, graph, ordered)):
            for g, w in zip(got, want, strict=True):
                np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)


def test_runtime_loop_count_is_refused() -> None:
    model = loop_model(4, None)
    model.graph.input.append(_vi("m", [], TensorProto.INT64))
    del model.graph.initializer[-1]  # the trip count becomes a graph input
    with pytest.raises(UnsupportedError, match="trip count is only known at run time"):
        import_model(model, {})


def test_runtime_if_with_unequal_branches_is_refused() -> None:
    model = if_model(True)
    else_branch = helper.make_graph(
        [helper.make_node("ReduceSum", ["x"], ["b"], keepdims=0)], "e", [], [_vi("b", [])])
    model.graph.node[0].attribute[0].g.CopyFrom(else_branch)  # else_branch sorts first
    with pytest.raises(UnsupportedError, match="both branches"):
        import_model(model, {})


def flex_attention_model() -> onnx.ModelProto:
    """ai.onnx.preview FlexAttention (grouped heads, a score_mod subgraph reading a bias
    from its own constant): tinyc has no definition, ONNX a context-dependent function."""
    bias = numpy_helper.from_array(np.array(0.25, np.float32), "bias")
    score_mod = helper.make_graph(
        [helper.make_node("Mul", ["s", "bias"], ["t"]), helper.make_node("Tanh", ["t"], ["u"])],
        "score_mod", [_vi("s", [1, 4, 3, 5])], [_vi("u", [1, 4, 3, 5])], [bias])
    node = helper.make_node("FlexAttention", ["q", "k", "v"], ["y"], domain="ai.onnx.preview",
                            score_mod=score_mod, scale=0.5)
    graph = helper.make_graph(
        [node], "m", [_vi("q", [1, 4, 3, 2]), _vi("k", [1, 2, 5, 2]), _vi("v", [1, 2, 5, 3])],
        [_vi("y", [1, 4, 3, 3])])
    return helper.make_model(graph, ir_version=10, opset_imports=[
        helper.make_opsetid("", 26), helper.make_opsetid("ai.onnx.preview", 1)])


def test_function_body_is_expanded(tmp_path: Path) -> None:
    from onnx.reference import ReferenceEvaluator

    model = flex_attention_model()
    feeds = _feeds(model)
    (want,) = ReferenceEvaluator(model).run(None, feeds)
    graph = import_model(model, {})
    assert not any(n.op == "FlexAttention" for n in graph.nodes)
    options = Options(verify_each=True)
    graph, _ = optimize(graph, options)
    compiled = compile_graph(graph, options, "m")
    compiled.code.write(tmp_path)
    exe = build_host(tmp_path, graph, compiled.code.name, SANITIZE_FLAGS)
    ordered = [feeds[v.name] for v in graph.inputs]
    for (got,) in (run_graph(graph, feeds), run_host(exe, graph, ordered)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
