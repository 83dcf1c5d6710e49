"""`validate --profile` finds each node's MACs from the label in its C comment, also when
the node's name needs escaping in a comment (exporters write names like `kws//net/Conv`)."""

from __future__ import annotations

import onnx
from onnx import TensorProto, helper

from tinyc.backend.generate import node_comment
from tinyc.compiler import Options, compile_graph, load_model, optimize
from tinyc.mcu.harness import instrument, profile_label
from tinyc.ops import get_op


def test_labels_of_escaped_names_lead_back_to_their_nodes(tmp_path) -> None:  # noqa: ANN001
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 8], [0.1] * 32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="net//fc*/1 \x1b[31m"),
             helper.make_node("Relu", ["h"], ["y"], name="net/ /relu??=")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 8])], [w])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    options = Options(opt_level=0)
    g, _ = optimize(load_model(path, options), options)
    compiled = compile_graph(g, options, "m")
    _, labels = instrument(compiled.code.files["m.c"], "m")
    assert labels[:len(g.nodes)] == [profile_label(node_comment(n)) for n in g.nodes]
    macs = {profile_label(node_comment(n)): get_op(n.op).macs(n) for n in g.nodes}
    assert macs[labels[0]] == 2 * 4 * 8
