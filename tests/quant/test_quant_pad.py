"""A constant Pad after an activation whose calibrated range is all zeros (a Relu of negative
inputs): the input's parameters are a placeholder (scale 1, `params_from_range`), so the
Pad's output must not share them. A randomized run of test_quant_properties.py found
Squeeze -> Relu -> Pad(1.5) giving 2.0 (1.5 rounded on the scale-1 grid)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tinyc.compiler import Options, compile_into, load_model, optimize
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
from tinyc.interp import run_graph
from tinyc.quant.lower import float_ops


def relu_pad_model(path: Path, value: float) -> Path:
    """x[1,4] -> Squeeze -> Relu -> Pad(1 each side, constant `value`) -> y[6]."""
    nodes = [
        helper.make_node("Squeeze", ["x", "axes"], ["s"]),
        helper.make_node("Relu", ["s"], ["r"]),
        helper.make_node("Pad", ["r", "pads", "value"], ["y"], mode="constant"),
    ]
    inits = [numpy_helper.from_array(np.array([0], np.int64), "axes"),
             numpy_helper.from_array(np.array([1, 1], np.int64), "pads"),
             numpy_helper.from_array(np.array(value, np.float32), "value")]
    graph = helper.make_graph(
        nodes, "relu_pad", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [6])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


@pytest.mark.parametrize("quantize", ["int8", "int16x8"])
@pytest.mark.parametrize("value", [1.5, -0.4])
def test_pad_value_after_an_all_zero_range(quantize: str, value: float,
                                           tmp_path: Path) -> None:
    model = relu_pad_model(tmp_path / "m.onnx", value)
    rng = np.random.default_rng(0)
    samples = -np.abs(rng.standard_normal((4, 1, 4))).astype(np.float32) - 0.1  # Relu: 0
    np.save(tmp_path / "calib.npy", samples)
    options = Options(quantize=quantize, calib=str(tmp_path / "calib.npy"))
    graph, _ = optimize(load_model(model, options), options)
    assert not float_ops(graph)
    want = np.array([value, 0, 0, 0, 0, value], np.float32)  # the float graph's output
    compile_into(graph, options, "q", tmp_path / "out")
    exe = build_host(tmp_path / "out", graph, "q", [*SANITIZE_FLAGS, "-O0"])
    for sample in samples[:2]:
        (interp,) = run_graph(graph, {"x": sample})
        (got,) = run_host(exe, graph, [sample])
        np.testing.assert_array_equal(got, interp)
        # within half a level of an int8 grid fitted to the output's range [value, 0]
        np.testing.assert_allclose(got, want, rtol=0, atol=abs(value) / 255 / 2)
