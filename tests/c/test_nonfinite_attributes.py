"""Float attributes of infinity or NaN reach C as INFINITY/NAN, which <math.h> defines: the
generated source includes it whenever one is written, in a weight table or as a kernel
argument (found by the fuzz campaign: Elu alpha=inf, LRN bias=inf did not build)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper

from tinyc.compiler import Options, compile_graph, optimize
from tinyc.frontend.onnx import import_model
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
from tinyc.interp import run_graph


@pytest.mark.parametrize("op,attrs", [("Elu", {"alpha": float("inf")}),
                                      ("LeakyRelu", {"alpha": float("-inf")}),
                                      ("LRN", {"size": 3, "bias": float("inf")})])
def test_nonfinite_attribute_builds_and_matches_the_interpreter(op: str, attrs: dict,
                                                                tmp_path: Path) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 2, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 2, 2])
    graph = helper.make_graph([helper.make_node(op, ["x"], ["y"], **attrs)], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = Options(name="m")
    ir, _ = optimize(import_model(model, {}), options)
    compile_graph(ir, options, "m").code.write(tmp_path)
    exe = build_host(tmp_path, ir, "m", [*SANITIZE_FLAGS, "-O0"])
    data = np.linspace(-2, 2, 12, dtype=np.float32).reshape(1, 3, 2, 2)
    [got] = run_host(exe, ir, [data])
    with np.errstate(all="ignore"):
        [want] = run_graph(ir, {"x": data})
    np.testing.assert_array_equal(got, want)
