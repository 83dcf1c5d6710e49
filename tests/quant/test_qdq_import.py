"""Models quantized by onnxruntime (QDQ format, QOperator format, dynamic) compile to tinyc's
integer kernels with the model's own scales, the C is bit-exact with the reference
interpreter, and the result is within one quantization step of onnxruntime.

Two onnxruntime executions serve as references: its reference semantics for the QDQ graph
(graph optimizations off: each DQ -> float op -> Q runs as written), and its optimized
integer kernels. On x86 without VNNI the latter saturate int16 pair sums of u8 x s8 products
(why onnxruntime recommends `reduce_range`), so comparisons with the optimized kernels use
`reduce_range=True` models, where they are exact.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)

from tinyc.compiler import Compiled, Options, compile_graph, load_model, optimize
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
from tinyc.interp import run_graph
from tinyc.ir import Graph
from tinyc.quant.lower import float_ops

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"


class Reader(CalibrationDataReader):
    def __init__(self, name: str, samples: list[np.ndarray]) -> None:
        self.name, self.it = name, iter(samples)

    def get_next(self) -> dict[str, np.ndarray] | None:
        x = next(self.it, None)
        return None if x is None else {self.name: x}


def ops_of(graph: Graph) -> dict[str, int]:
    """The op histogram, a first/last layer fused with the float boundary (fuse-qboundary)
    counted as its integer op."""
    out: dict[str, int] = {}
    for op, n in graph.op_histogram().items():
        op = op.removesuffix("Boundary")
        out[op] = out.get(op, 0) + n
    return out


def digits(n: int, split: str = "train") -> list[np.ndarray]:
    x = np.load(MODELS / f"digits_{split}_x.npy")[:n]
    return [x[i : i + 1] for i in range(n)]


def ort_run(path: Path, x: np.ndarray, optimized: bool) -> np.ndarray:
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if not optimized:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def compile_and_check(
    path: Path, inputs: list[np.ndarray], tmp_path: Path
) -> tuple[Compiled, list[np.ndarray]]:
    """Compile at -O1, build under sanitizers, assert bit-exact with the interpreter."""
    options = Options()
    graph, _ = optimize(load_model(path, options), options)
    compiled = compile_graph(graph, options, "m")
    compiled.code.write(tmp_path)
    exe = build_host(tmp_path, graph, "m", [*SANITIZE_FLAGS, "-O0"])
    outs = []
    for x in inputs:
        got = run_host(exe, graph, [x])[0]
        want = run_graph(graph, {graph.inputs[0].name: x})[0]
        if float_ops(graph):  # float islands: C and numpy float math may differ in the last ulp
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(got, want)
        outs.append(got)
    return compiled, outs


def output_step(compiled: Compiled) -> float:
    """The scale of the DequantizeLinear producing the (float) output."""
    dq = compiled.graph.outputs[0].producer
    assert dq is not None and dq.op == "DequantizeLinear"
    scale = dq.inputs[1]
    assert scale is not None and scale.const is not None
    return float(scale.const)


@pytest.mark.parametrize("activation", ["int8", "uint8"])
def test_qdq_static_digits(activation: str, tmp_path: Path) -> None:
    path = tmp_path / "qdq.onnx"
    act = QuantType.QInt8 if activation == "int8" else QuantType.QUInt8
    quantize_static(str(MODELS / "digits_cnn.onnx"), str(path), Reader("input", digits(16)),
                    quant_format=QuantFormat.QDQ, activation_type=act,
                    weight_type=QuantType.QInt8, per_channel=activation == "int8",
                    reduce_range=True)
    tests = digits(6, "test")
    compiled, outs = compile_and_check(path, tests, tmp_path / "c")
    ops = ops_of(compiled.graph)
    assert ops.get("QConv") == 2 and ops.get("QGemm") == 1 and ops.get("QMaxPool") == 1
    assert float_ops(compiled.graph) == []
    step = output_step(compiled)
    for x, got in zip(tests, outs, strict=True):
        assert np.abs(got - ort_run(path, x, optimized=True)).max() <= step * 1.0001
        assert np.abs(got - ort_run(path, x, optimized=False)).max() <= step * 1.0001


def test_qdq_static_kws_full_range_weights(tmp_path: Path) -> None:
    """Depthwise, AveragePool and Softmax from onnxruntime's QDQ output, 8-bit weights."""
    path = tmp_path / "kws_qdq.onnx"
    rng = np.random.default_rng(3)
    samples = [rng.standard_normal((1, 1, 49, 10)).astype(np.float32) for _ in range(4)]
    quantize_static(str(MODELS / "kws_dscnn.onnx"), str(path), Reader("input", samples),
                    quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8,
                    weight_type=QuantType.QInt8, per_channel=True)
    tests = samples[:2]
    compiled, outs = compile_and_check(path, tests, tmp_path / "c")
    ops = ops_of(compiled.graph)
    assert ops.get("QConv") == 9 and ops.get("QSoftmax") == 1 and ops.get("QAveragePool") == 1
    step = output_step(compiled)
    for x, got in zip(tests, outs, strict=True):
        assert np.abs(got - ort_run(path, x, optimized=False)).max() <= step * 1.0001


def test_qoperator_qlinearconv_and_uint8_maxpool(tmp_path: Path) -> None:
    path = tmp_path / "qop.onnx"
    quantize_static(str(MODELS / "digits_cnn.onnx"), str(path), Reader("input", digits(8)),
                    quant_format=QuantFormat.QOperator, op_types_to_quantize=["Conv", "MaxPool"],
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    per_channel=True, reduce_range=True)
    assert "QLinearConv" in {n.op_type for n in onnx.load(str(path)).graph.node}
    tests = digits(4, "test")
    compiled, outs = compile_and_check(path, tests, tmp_path / "c")
    ops = ops_of(compiled.graph)
    assert ops.get("QConv") == 2 and "QLinearConv" not in ops
    # the float Gemm onnxruntime left unquantized stays float; everything else agrees
    for x, got in zip(tests, outs, strict=True):
        np.testing.assert_allclose(got, ort_run(path, x, optimized=True), rtol=1e-5, atol=1e-5)


def test_qlinear_matmul_with_constant_parameters(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    b = rng.integers(-63, 64, (12, 5)).astype(np.int8)  # 7 bits: no saturation in onnxruntime
    inits = [
        numpy_helper.from_array(np.float32(0.05), "xs"),
        numpy_helper.from_array(np.uint8(120), "xz"),
        numpy_helper.from_array(b, "b"),
        numpy_helper.from_array(np.float32(0.01), "bs"),
        numpy_helper.from_array(np.int8(0), "bz"),
        numpy_helper.from_array(np.float32(0.2), "ys"),
        numpy_helper.from_array(np.uint8(128), "yz"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
        helper.make_node("QLinearMatMul", ["xq", "xs", "xz", "b", "bs", "bz", "ys", "yz"], ["yq"]),
        helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["y"]),
    ]
    g = helper.make_graph(nodes, "qlmm",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 12])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 5])], inits)
    # IR 8 is opset 17's; the newest onnx stamps a newer IR than older onnxruntime reads
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    path = tmp_path / "qlmm.onnx"
    onnx.save(model, str(path))
    tests = [rng.standard_normal((3, 12)).astype(np.float32) * 3 for _ in range(3)]
    compiled, outs = compile_and_check(path, tests, tmp_path / "c")
    assert ops_of(compiled.graph).get("QGemm") == 1
    for x, got in zip(tests, outs, strict=True):
        assert np.abs(got - ort_run(path, x, optimized=True)).max() <= 0.2 * 1.0001


def test_ort_dynamic_quantization_maps_to_hybrid_kernels(tmp_path: Path) -> None:
    """DynamicQuantizeLinear -> ConvInteger / MatMulInteger -> Cast -> Mul -> Add."""
    path = tmp_path / "dyn.onnx"
    quantize_dynamic(str(MODELS / "digits_cnn.onnx"), str(path), weight_type=QuantType.QInt8,
                     reduce_range=True)
    tests = digits(3, "test")
    compiled, outs = compile_and_check(path, tests, tmp_path / "c")
    ops = ops_of(compiled.graph)
    assert not {"MatMulInteger", "ConvInteger", "Cast"} & set(ops)
    assert ops.get("QDynConv", 0) + ops.get("QDynGemm", 0) >= 3
    for x, got in zip(tests, outs, strict=True):
        np.testing.assert_allclose(got, ort_run(path, x, optimized=True), rtol=1e-5, atol=1e-5)


def test_qat_model_keeps_onnxruntime_accuracy(tmp_path: Path) -> None:
    """examples/qat_digits.py's export: fully integer, and the accuracy onnxruntime gives for
    the same file within 0.2 pp (the interpreter is bit-exact with the C, checked on three
    samples here)."""
    path = MODELS / "digits_qat.onnx"
    x = np.load(MODELS / "digits_test_x.npy")
    y = np.load(MODELS / "digits_test_y.npy")
    compiled, _ = compile_and_check(path, [x[i : i + 1] for i in range(3)], tmp_path)
    g = compiled.graph
    assert float_ops(g) == [] and ops_of(g).get("QConv") == 2
    ours = np.mean([run_graph(g, {"input": x[i : i + 1]})[0].argmax() == y[i]
                    for i in range(len(y))])
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    theirs = np.mean([sess.run(None, {"input": x[i : i + 1]})[0].argmax() == y[i]
                      for i in range(len(y))])
    assert abs(ours - theirs) <= 0.002


def test_int8_qdq_model_bit_exact_with_onnxruntime_int8_kernels(tmp_path: Path) -> None:
    """The QDQ twin of the QOperator test CNN (tests/models/qoperator/cnn_qdq_s8.onnx) on
    3,000 random inputs: interpreter and host C equal onnxruntime's integer kernels.

    onnxruntime fuses int8 (S8S8) DQ -> op -> Q groups into its QLinear* kernels only where
    `session.qdqisint8allowed` is set (its default on ARM; on x86 without it the Conv, Add,
    Mul, AveragePool, Concat and Sigmoid run in float between DQ and Q, which no integer
    kernel reproduces bit for bit), so the reference session sets it."""
    from tests.quant.test_qoperator import MODELS as QOP_MODELS
    from tests.quant.test_qoperator import compiled_graph, random_inputs, run_c_batch

    path = QOP_MODELS / "cnn_qdq_s8.onnx"
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.add_session_config_entry("session.qdqisint8allowed", "1")
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    graph = compiled_graph(path)
    assert float_ops(graph) == []
    xs = random_inputs(graph.inputs[0].shape[1:], 3000, seed=7)[:, None]
    want = np.stack([sess.run(None, {"x": x})[0] for x in xs])
    np.testing.assert_array_equal(np.stack([run_graph(graph, {"x": x})[0] for x in xs]), want)
    np.testing.assert_array_equal(run_c_batch(graph, xs, tmp_path), want)
    assert len(np.unique(want)) > 20
