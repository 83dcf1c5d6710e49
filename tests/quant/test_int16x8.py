"""`--quantize int16x8` (TFLite's 16x8 mode: int16 symmetric activations, int8 per-channel
weights, int64 bias and accumulator) on the example models and on hand-built ones: the C
is bit-exact with the interpreter (generic and Cortex-M4 kernels, the M4 ones built for
the host with their portable DSP stand-ins), the SNR per layer is better than int8's, a
layer too wide for an int32 accumulator takes the 64-bit path, Conv1d works, and bad
requests are one-line usage errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.clirun import strip_progress
from tests.quant.test_quant_models import (
    MODELS,
    assert_bit_exact,
    calibration_file,
    compile_model,
    sample_inputs,
)
from tinyc.cli import main
from tinyc.compiler import Compiled, Options, compile_graph, load_model, optimize
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
from tinyc.interp import run_graph
from tinyc.ir import DType
from tinyc.ops.qinteger import int32_accumulator_safe
from tinyc.quant.lower import INTEGER_OPS, float_ops
from tinyc.quant.report import build_report


def int16_options(calib: Path, target: str = "generic") -> Options:
    return Options(quantize="int16x8", calib=str(calib), target=target)


def assert_int16(compiled: Compiled) -> None:
    """Every integer op runs on int16 activations with zero point 0."""
    nodes = [n for n in compiled.graph.nodes if n.op in INTEGER_OPS]
    assert nodes
    for n in nodes:
        for v in [*n.inputs[:1], *n.outputs]:
            assert v is not None and v.dtype is DType.I16, (n.op, v)
            assert v.type.quant is not None and v.type.quant.zero_point == (0,)


@pytest.mark.parametrize(("name", "target"), [("digits_cnn", "generic"),
                                              ("ad_autoencoder", "cortex-m4")])
def test_int16x8_model_is_bit_exact(name: str, target: str, tmp_path: Path) -> None:
    compiled = compile_model(name, int16_options(calibration_file(name, tmp_path), target))
    assert_int16(compiled)
    assert float_ops(compiled.graph) == []
    source = compiled.code.files[f"{name}.c"]
    assert "_s16(" in source and "_s8(" not in source
    assert_bit_exact(compiled, name, tmp_path / "c", seeds=(0, 1))


def test_kws_int16x8_keeps_softmax_float(tmp_path: Path) -> None:
    """Softmax has no int16 kernel: it runs in float on the dequantized logits (the C's
    expf may differ from numpy's by an ulp there, so that output is compared closely)."""
    compiled = compile_model("kws_dscnn", int16_options(calibration_file("kws_dscnn", tmp_path),
                                                        "cortex-m4"))
    assert [op.split()[0] for op in float_ops(compiled.graph)] == ["Softmax"]
    g = compiled.graph
    compiled.code.write(tmp_path / "c")
    exe = build_host(tmp_path / "c", g, compiled.code.name, [*SANITIZE_FLAGS, "-O1"])
    inputs = sample_inputs(g, "kws_dscnn", 3)
    got = run_host(exe, g, inputs)[0]
    want = run_graph(g, {g.inputs[0].name: inputs[0]})[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_int16x8_snr_beats_int8_on_every_layer(tmp_path: Path) -> None:
    calib = calibration_file("digits_cnn", tmp_path)
    reports = {
        mode: build_report(str(MODELS / "digits_cnn.onnx"),
                           Options(quantize=mode, calib=str(calib)), ["minmax"],
                           str(MODELS / "digits_test_x.npy"), str(MODELS / "digits_test_y.npy"),
                           limit=60)
        for mode in ("int8", "int16x8")
    }
    q8, q16 = reports["int8"], reports["int16x8"]
    assert [s.name for s in q8.layers] == [s.name for s in q16.layers]
    for a, b in zip(q8.layers, q16.layers, strict=True):  # int8 weights bound the last ones
        assert b.snr_db > a.snr_db, (a.name, a.snr_db, b.snr_db)
    assert q16.layers[0].snr_db > q8.layers[0].snr_db + 30  # the input: 16 bits vs 8
    assert q16.methods["minmax"] == q16.methods["float"]


def wide_gemm_model(k: int, n: int, seed: int) -> onnx.ModelProto:
    """X[1, k] -> Gemm (weights +-1, so 32768 sum |W| far exceeds 2^31) -> Relu."""
    rng = np.random.default_rng(seed)
    w = rng.choice([-1.0, 1.0], (n, k)).astype(np.float32)
    b = rng.normal(0, 4, n).astype(np.float32)
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["g"], transB=1),
             helper.make_node("Relu", ["g"], ["y"])]
    graph = helper.make_graph(
        nodes, "wide", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("target", ["generic", "cortex-m4"])
def test_layer_beyond_int32_takes_the_64_bit_accumulator(target: str, tmp_path: Path) -> None:
    k, n = 1024, 6
    onnx.save(wide_gemm_model(k, n, seed=3), tmp_path / "wide.onnx")
    rng = np.random.default_rng(4)
    # inputs that fill the int16 range and make the sums large
    np.save(tmp_path / "calib.npy", rng.uniform(-1, 1, (8, 1, k)).astype(np.float32))
    options = int16_options(tmp_path / "calib.npy", target)
    graph, _ = optimize(load_model(tmp_path / "wide.onnx", options), options)
    compiled = compile_graph(graph, options, "wide")
    (gemm,) = [node for node in compiled.graph.nodes if node.op == "QGemm"]
    assert not int32_accumulator_safe(gemm)
    # the params record: batch, in, out, act_min, act_max (Relu), acc32 = 0
    assert f"{{1, {k}, {n}, 0, 32767, 0, " in compiled.code.files["wide.c"]
    g = compiled.graph
    compiled.code.write(tmp_path / "c")
    exe = build_host(tmp_path / "c", g, "wide", [*SANITIZE_FLAGS, "-O1"])
    for seed in range(3):
        sign = np.sign(numpy_helper.to_array(wide_gemm_model(k, n, 3).graph.initializer[0])[0])
        x = (sign * np.random.default_rng(seed).uniform(0.5, 1, k)).astype(np.float32)[None]
        got = run_host(exe, g, [x])[0]
        np.testing.assert_array_equal(got, run_graph(g, {"x": x})[0])


def conv1d_model() -> onnx.ModelProto:
    """[1, 2, 40] -> Conv1d(k=5, pad 2) -> Relu -> MaxPool1d(2) -> Conv1d(k=3, stride 2)
    -> Add(skip of itself) -> Flatten -> Gemm: the shape of the MNIST-1D CNN."""
    rng = np.random.default_rng(0)
    inits = {
        "w1": rng.normal(0, 0.4, (8, 2, 5)), "b1": rng.normal(0, 0.1, 8),
        "w2": rng.normal(0, 0.3, (8, 8, 3)), "b2": rng.normal(0, 0.1, 8),
        "w3": rng.normal(0, 0.2, (4, 8 * 10)), "b3": rng.normal(0, 0.1, 4),
    }
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[5], pads=[2, 2]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2], strides=[2]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], kernel_shape=[3], pads=[1, 1],
                         strides=[2]),
        helper.make_node("Add", ["c2", "c2"], ["a2"]),
        helper.make_node("Flatten", ["a2"], ["f"]),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["y"], transB=1),
    ]
    graph = helper.make_graph(
        nodes, "conv1d", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 40])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_conv1d_model_runs_in_int16x8(tmp_path: Path) -> None:
    onnx.save(conv1d_model(), tmp_path / "conv1d.onnx")
    rng = np.random.default_rng(1)
    np.save(tmp_path / "calib.npy", rng.normal(0, 1, (16, 1, 2, 40)).astype(np.float32))
    for target in ("generic", "cortex-m4"):
        options = int16_options(tmp_path / "calib.npy", target)
        graph, _ = optimize(load_model(tmp_path / "conv1d.onnx", options), options)
        float_graph, _ = optimize(load_model(tmp_path / "conv1d.onnx", Options()), Options())
        compiled = compile_graph(graph, options, "conv1d")
        assert_int16(compiled)
        assert float_ops(compiled.graph) == []
        assert [n.inputs[0].type.rank for n in graph.nodes if n.op == "QConv"] == [3, 3]
        compiled.code.write(tmp_path / target)
        exe = build_host(tmp_path / target, graph, "conv1d", [*SANITIZE_FLAGS, "-O1"])
        x = rng.normal(0, 1, (1, 2, 40)).astype(np.float32)
        got = run_host(exe, graph, [x])[0]
        np.testing.assert_array_equal(got, run_graph(graph, {"x": x})[0])
        want = run_graph(float_graph, {"x": x})[0]
        np.testing.assert_allclose(got, want, atol=0.02 * float(np.abs(want).max()))


def test_cli_int16x8_and_its_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    calib = str(calibration_file("digits_cnn", tmp_path))
    model = str(MODELS / "digits_cnn.onnx")
    assert main([model, "-o", str(tmp_path / "out"), "--quantize", "int16x8", "--calib",
                 calib]) == 0
    capsys.readouterr()
    assert "tinyc_conv2d_s16" in (tmp_path / "out" / "digits_cnn.c").read_text()
    assert main([model, "-o", str(tmp_path / "o2"), "--quantize", "int16x8"]) == 2
    assert "--quantize int16x8 needs calibration samples" in capsys.readouterr().err
    assert main([model, "-o", str(tmp_path / "o3"), "--quantize", "int16x8", "--calib", calib,
                 "--io", "int8"]) == 2
    err = strip_progress(capsys.readouterr().err)
    assert err.count("\n") == 1 and "--io int8 needs an int8 model" in err
    assert not (tmp_path / "o3").exists()


def test_imported_int16_qdq_model_stays_float(tmp_path: Path) -> None:
    """An ONNX file with int16 Q/DQ (onnxruntime's A16W8) runs in onnxruntime semantics,
    whose float rules tinyc implements for int8 only: its Conv stays float between the
    int16 DequantizeLinear and QuantizeLinear, and the C still equals the interpreter."""
    rng = np.random.default_rng(2)
    s, z = numpy_helper.from_array, np.int16(0)
    inits = [s(rng.normal(0, 0.3, (4, 2, 3, 3)).astype(np.float32), "w"),
             s(np.float32(1e-4), "sx"), s(z, "zx"), s(np.float32(2e-4), "sy"), s(z, "zy")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "sx", "zx"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "sx", "zx"], ["xd"]),
             helper.make_node("Conv", ["xd", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("QuantizeLinear", ["c", "sy", "zy"], ["cq"]),
             helper.make_node("DequantizeLinear", ["cq", "sy", "zy"], ["y"])]
    graph = helper.make_graph(
        nodes, "a16w8", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 5, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 5, 5])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]),
              tmp_path / "a16w8.onnx")
    options = Options()
    g, _ = optimize(load_model(tmp_path / "a16w8.onnx", options), options)
    assert "Conv" in g.op_histogram() and not set(g.op_histogram()) & INTEGER_OPS
    compiled = compile_graph(g, options, "a16w8")
    compiled.code.write(tmp_path / "c")
    exe = build_host(tmp_path / "c", g, "a16w8", [*SANITIZE_FLAGS, "-O1"])
    x = rng.normal(0, 1, (1, 2, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(run_host(exe, g, [x])[0], run_graph(g, {"x": x})[0],
                               atol=2e-4)
