"""QuantizeLinear on the Cortex-M4 (its FPU form: VCVTR, see tinyc_quantize_one.h) gives
the bits the host build, the interpreter and onnx's reference give, on the values where
rounding and saturation differ: exact halves, NaN, infinities, -0, out-of-range values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from tinyc.compiler import Options, load_model, optimize
from tinyc.interp import run_graph
from tinyc.mcu.validate import run_on_mcu

SCALE = np.float32(0.25)


def edge_values() -> np.ndarray:
    halves = (np.arange(-140, 140, dtype=np.float32) + np.float32(0.5)) * SCALE
    special = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1e30, -1e30, 3e38, -3e38,
                        1e-40, SCALE * 127.5, SCALE * -128.5], np.float32)
    noise = np.random.default_rng(3).standard_normal(100).astype(np.float32) * 20
    return np.concatenate([halves, special, noise]).reshape(1, -1)


@pytest.mark.parametrize("elem, zp", [(TensorProto.INT8, 3), (TensorProto.INT8, -128),
                                      (TensorProto.UINT8, 128)])
def test_quantize_linear_on_cortex_m4(mcu_tools: None, elem: int, zp: int,
                                      tmp_path: Path) -> None:
    x = edge_values()
    zp_np = np.array(zp, np.int8 if elem == TensorProto.INT8 else np.uint8)
    graph = helper.make_graph(
        [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"], name="q")], "q",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info("y", elem, list(x.shape))],
        [numpy_helper.from_array(SCALE, "s"), numpy_helper.from_array(zp_np, "z")])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    path = tmp_path / "q.onnx"
    onnx.save(proto, path)
    options = Options(target="cortex-m4")
    ir, _ = optimize(load_model(path, options), options)
    result, host = run_on_mcu(ir, options, "net", [x], tmp_path / "out", host_check=True)
    assert host is not None
    expected = ReferenceEvaluator(proto).run(None, {"x": x})[0]
    got = result.run.outputs[0]
    np.testing.assert_array_equal(got, host[0])
    np.testing.assert_array_equal(got, run_graph(ir, {"x": x})[0])
    # onnx's reference casts x / scale to int32 before saturating: undefined past 2^31
    defined = np.isfinite(x) & (np.abs(x) < 1e8)
    np.testing.assert_array_equal(got[defined], expected[defined])
