"""OptionalHasElement and OptionalGetElement on plain tensors: known at compile time, so
HasElement folds to a constant and GetElement is a copy; checked against onnxruntime and
through the generated C."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from tinyc.compiler import Options, compile_graph, optimize
from tinyc.frontend.onnx import import_model
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
from tinyc.interp import run_graph


def _model() -> onnx.ModelProto:
    """has = OptionalHasElement(x), none = OptionalHasElement(), y = OptionalGetElement(x)."""
    nodes = [helper.make_node("OptionalHasElement", ["x"], ["has"]),
             helper.make_node("OptionalHasElement", [""], ["none"]),
             helper.make_node("OptionalGetElement", ["x"], ["y"])]
    graph = helper.make_graph(
        nodes, "m", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("has", TensorProto.BOOL, []),
         helper.make_tensor_value_info("none", TensorProto.BOOL, []),
         helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)


def test_optional_ops(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    model = _model()
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    want = sess.run(None, {"x": x})
    graph = import_model(model, {})
    assert [n.op for n in graph.nodes] == ["OptionalGetElement"]  # HasElement folded
    options = Options(verify_each=True)
    graph, _ = optimize(graph, options)
    compiled = compile_graph(graph, options, "m")
    compiled.code.write(tmp_path)
    exe = build_host(tmp_path, graph, compiled.code.name, SANITIZE_FLAGS)
    for got in (run_graph(graph, {"x": x}), run_host(exe, graph, [x])):
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)
