"""`--weight-bits 4`: int4 weights packed two per byte, end to end. The layouts hold what
tinyc.quant.packing documents (decoded here independently); the weight choice stays in
[-7, 7] and the MSE clip never loses to max |w|; on the keyword spotter the weights and
biases in the generated C take at most 0.15x the float model's, and the C (portable and
Cortex-M4 kernels, ASan/UBSan) is bit-exact with the interpreter; a Conv1d network and
random graphs (hypothesis) are bit-exact too; the CLI, the API and quantize-report take
the flag. The Cortex-M4 run under QEMU is tests/mcu/test_qemu_int4.py."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from onnx import TensorProto, helper, numpy_helper

import tinyc
from tests.quant.test_quant_models import (
    MODELS,
    assert_bit_exact,
    calibration_file,
    compile_model,
)
from tests.strategies import Case, graphs
from tinyc.cli import main
from tinyc.compiler import Options, compile_graph, load_model, optimize
from tinyc.errors import ModelError
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
from tinyc.interp import run_graph
from tinyc.ir.text import print_graph
from tinyc.ops.qint4 import packs_int4, weight_bits
from tinyc.passes import PassContext, PassManager, pipeline_for
from tinyc.passes.quantize_int8 import QuantizeInt8, prepare_for_quantization
from tinyc.quant.calibration import calibrate
from tinyc.quant.lower import float_ops
from tinyc.quant.packing import pack_rows, pack_stream
from tinyc.quant.params import quantize_weights

ARRAY = re.compile(r"static const (\w+) (\w+)\[(\d+)\]")
C_BYTES = {"float": 4, "int32_t": 4, "int16_t": 2, "int8_t": 1, "uint8_t": 1}


def _nibble(v: int) -> int:
    return v - 16 if v >= 8 else v


def test_packed_layouts_hold_what_the_docstring_says() -> None:
    rng = np.random.default_rng(0)
    w = rng.integers(-8, 8, (3, 13))
    rows = pack_rows(w)
    assert rows.dtype == np.uint8 and rows.size == 3 * 8  # 13 -> 16 weights: 2 blocks of 4 B
    for r in range(3):
        for k in range(16):
            block, j = divmod(k, 8)
            byte = int(rows[r * 8 + block * 4 + j % 4])
            got = _nibble(byte >> 4 if j >= 4 else byte & 0xF)
            assert got == (w[r, k] if k < 13 else 0), (r, k)
    stream = pack_stream(w)
    assert stream.size == (3 * 13 + 1) // 2
    flat = w.reshape(-1)
    for i, v in enumerate(flat):
        byte = int(stream[i // 2])
        assert _nibble(byte >> 4 if i % 2 else byte & 0xF) == v
    assert int(stream[-1]) >> 4 == 0  # the odd tail is padded with 0
    with pytest.raises(ValueError, match=r"\[-8, 7\]"):
        pack_rows(np.array([[8]]))


def test_int4_weights_are_symmetric_and_the_mse_clip_never_loses() -> None:
    rng = np.random.default_rng(1)
    w = (rng.standard_normal((6, 3, 3, 3)) * rng.uniform(0.1, 2, (6, 1, 1, 1))).astype(np.float32)
    w[2] = 0.0
    w[4, 0, 0, 0] = 9.0  # an outlier, which the MSE clip cuts
    errors = {}
    for clip in ("max", "mse"):
        q, params = quantize_weights(w, 0, bits=4, clip=clip)
        assert q.dtype == np.int8 and q.min() >= -7 and q.max() <= 7
        assert params.zero_point == (0,) * 6 and params.axis == 0
        scales = np.asarray(params.scale, np.float32).reshape(-1, 1, 1, 1)
        errors[clip] = ((q * scales - w) ** 2).reshape(6, -1).sum(axis=1)
    assert np.all(errors["mse"] <= errors["max"] + 1e-9)
    assert errors["mse"][4] < errors["max"][4]
    assert errors["mse"][2] == errors["max"][2] == 0.0


def _c_arrays(source: str) -> dict[str, int]:
    """name -> bytes of every `static const` array in a generated NAME.c."""
    return {name: int(n) * C_BYTES[ctype] for ctype, name, n in ARRAY.findall(source)}


@pytest.mark.parametrize("target", ["generic", "cortex-m4"])
def test_kws_int4_weights_take_at_most_0_15x_float_and_are_bit_exact(
        tmp_path: Path, target: str) -> None:
    calib = str(calibration_file("kws_dscnn", tmp_path))
    compiled = compile_model("kws_dscnn", Options(quantize="int8", calib=calib, weight_bits=4,
                                                  target=target))
    g = compiled.graph
    layers = [n for n in g.nodes if n.op in ("QConv", "QGemm")]
    assert layers and all(packs_int4(n) for n in layers)
    arrays = _c_arrays(compiled.code.files["kws_dscnn.c"])
    packed = {k: v for k, v in arrays.items() if "_tinyc_w4_" in k}
    biases = {k: v for k, v in arrays.items() if re.search(r"_tinyc_w_\w+_b$", k)}
    assert len(packed) == len(layers) and len(biases) == sum(n.input(2) is not None
                                                             for n in layers)
    float_c = compile_model("kws_dscnn", Options()).code.files["kws_dscnn.c"]
    float_bytes = sum(v for k, v in _c_arrays(float_c).items() if "_tinyc_w_" in k)
    ratio = (sum(packed.values()) + sum(biases.values())) / float_bytes
    assert ratio <= 0.15, ratio  # 0.148: 11,008 B of nibbles + 2,352 B of int32 biases
    # CompileResult.weight_bytes counts the packed bytes, not the int8 values behind them
    assert compiled.code.weight_bytes == sum(
        v for k, v in arrays.items() if "_tinyc_w4_" in k or "_tinyc_w_" in k)
    assert_bit_exact(compiled, "kws_dscnn", tmp_path / "c", seeds=(0, 1))


def _conv1d_model(path: Path) -> None:
    """A small 1-D CNN as exporters write nn.Conv1d: dense, depthwise and pointwise
    Conv1d with Relu, then Flatten and a Linear layer."""
    rng = np.random.default_rng(3)

    def const(name: str, shape: tuple[int, ...], scale: float) -> onnx.TensorProto:
        return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32),
                                       name)

    inits = [const("w1", (8, 2, 5), 0.4), const("b1", (8,), 0.1),
             const("w2", (8, 1, 3), 0.5), const("b2", (8,), 0.1),
             const("w3", (12, 8, 1), 0.3), const("b3", (12,), 0.1),
             const("w4", (5, 12 * 16), 0.1), const("b4", (5,), 0.1)]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[2, 2], strides=[2]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1], group=8),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("Conv", ["r2", "w3", "b3"], ["c3"]),
        helper.make_node("Relu", ["c3"], ["r3"]),
        helper.make_node("Flatten", ["r3"], ["f"]),
        helper.make_node("Gemm", ["f", "w4", "b4"], ["y"], transB=1),
    ]
    graph = helper.make_graph(nodes, "conv1d", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [1, 2, 32])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, [1, 5])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_conv1d_int4_is_bit_exact_and_near_float(tmp_path: Path) -> None:
    """(the Cortex-M4 kernels, built for the host; the portable ones run 1-D convs in
    test_int4_kernels.py)"""
    model = tmp_path / "conv1d.onnx"
    _conv1d_model(model)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((64, 1, 2, 32)).astype(np.float32)
    np.save(tmp_path / "calib.npy", x[:32])
    options = Options(quantize="int8", calib=str(tmp_path / "calib.npy"), weight_bits=4,
                      target="cortex-m4")
    graph, _ = optimize(load_model(model, options), options)
    layers = [n for n in graph.nodes if n.op in ("QConv", "QGemm")]
    assert len(layers) == 4 and all(weight_bits(n) == 4 for n in layers)
    compiled = compile_graph(graph, options, "conv1d")
    compiled.code.write(tmp_path / "c")
    exe = build_host(tmp_path / "c", graph, "conv1d", [*SANITIZE_FLAGS, "-O0"])
    float_graph, _ = optimize(load_model(model, Options()), Options())
    signal = noise = 0.0
    for i in range(32, 64):  # held out from calibration
        got = run_host(exe, graph, [x[i]])[0]
        np.testing.assert_array_equal(got, run_graph(graph, {"x": x[i]})[0])
        want = run_graph(float_graph, {"x": x[i]})[0]
        signal += float((want.astype(np.float64) ** 2).sum())
        noise += float(((want - got).astype(np.float64) ** 2).sum())
    # this random-weight net's output SNR: 11.2 dB with int4 weights (int8 weights: 29.8 dB)
    assert 10 * np.log10(signal / noise) >= 10.0


#: float ops that lower to QConv/QGemm, with what a graph around them needs
INT4_OPS = ("Conv", "Conv>Relu", "Gemm", "MatMul", "Relu", "Add", "Flatten", "Reshape",
            "MaxPool", "GlobalAveragePool")


@settings(max_examples=4, deadline=None,
          suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(graphs(ops=INT4_OPS, max_nodes=4, max_inputs=1))
def test_int4_random_graph_c_is_bit_exact(case: Case) -> None:
    graph, feeds = case
    ctx = PassContext(verify_each=True)
    graph = PassManager(pipeline_for(1)).run(graph, ctx)
    prepare_for_quantization(graph)
    graph = QuantizeInt8(ranges=calibrate(graph, [feeds], "minmax"), weight_bits=4,
                         weight_clip="mse")(graph, ctx).graph
    layers = [n for n in graph.nodes if n.op in ("QConv", "QGemm")]
    assume(layers and not float_ops(graph))
    note(print_graph(graph))
    assert all(packs_int4(n) for n in layers)
    with tempfile.TemporaryDirectory() as tmp:
        compiled = compile_graph(graph, Options(target="cortex-m4"), "q")
        compiled.code.write(Path(tmp))
        exe = build_host(Path(tmp), graph, "q", [*SANITIZE_FLAGS, "-O0"])
        got = run_host(exe, graph, [feeds[v.name] for v in graph.inputs])
        for g, w in zip(got, run_graph(graph, feeds), strict=True):
            np.testing.assert_array_equal(g, w)


def test_weights_outside_a_nibble_are_refused() -> None:
    graph, _ = optimize(load_model(MODELS / "digits_cnn.onnx", Options()), Options())
    x = np.load(MODELS / "digits_train_x.npy")[:4]
    prepare_for_quantization(graph)
    ranges = calibrate(graph, [{"input": x[i : i + 1]} for i in range(4)], "minmax")
    graph = QuantizeInt8(ranges=ranges)(graph, PassContext()).graph
    conv = next(n for n in graph.nodes if n.op == "QConv")
    conv.attrs["weight_bits"] = 4  # int8 weights, wrongly marked
    with pytest.raises(ModelError, match=r"weight_bits 4 needs weights in \[-8, 7\]"):
        run_graph(graph, {"input": x[:1]})


def test_cli_and_api_take_weight_bits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    calib = calibration_file("digits_cnn", tmp_path)
    model = MODELS / "digits_cnn.onnx"
    assert main([str(model), "-o", str(tmp_path / "e"), "--weight-bits", "4", "-q"]) == 2
    assert capsys.readouterr().err == ("tinyc: error: --weight-bits 4 needs --quantize int8 or "
                                       "a quantized model\n")
    assert not (tmp_path / "e").exists()
    assert main([str(model), "-o", str(tmp_path / "e"), "--quantize", "dynamic",
                 "--weight-clip", "mse", "-q"]) == 2
    assert "--weight-clip needs --quantize int8" in capsys.readouterr().err
    sizes = {bits: tinyc.compile(model, tmp_path / f"w{bits}", quantize="int8", calib=calib,
                                 weight_bits=bits).weight_bytes for bits in (8, 4)}
    assert sizes[4] < 0.65 * sizes[8]
    with pytest.raises(tinyc.UsageError, match="--weight-bits 3: use 8 or 4"):
        tinyc.compile(model, tmp_path / "w3", quantize="int8", calib=calib, weight_bits=3)
    rc = main(["quantize-report", str(model), "--calib", str(calib), "--weight-bits", "4",
               "--eval", str(MODELS / "digits_test_x.npy"), str(MODELS / "digits_test_y.npy"),
               "--limit", "40", "-q"])
    out = capsys.readouterr().out
    assert rc == 0 and "int8+int4w (minmax)" in out and "SNR dB" in out


def _qdq_model(path: Path) -> None:
    """A QDQ model as a 4-bit QAT export writes it: int8 weight initializers with values in
    [-7, 7] (the conv), next to a layer trained at 8 bits (the Gemm)."""
    rng = np.random.default_rng(5)
    w4 = rng.integers(-7, 8, (6, 2, 3, 3)).astype(np.int8)
    w8 = rng.integers(-120, 121, (4, 6 * 4 * 4)).astype(np.int8)

    def arr(name: str, a: np.ndarray) -> onnx.TensorProto:
        return numpy_helper.from_array(a, name)

    inits = [arr("xs", np.float32(0.05)), arr("xz", np.int8(3)),
             arr("w4", w4), arr("w4s", (0.03 * np.arange(1, 7)).astype(np.float32)),
             arr("w4z", np.zeros(6, np.int8)),
             arr("b4", (rng.standard_normal(6) * 0.1).astype(np.float32)),
             arr("ys", np.float32(0.04)), arr("yz", np.int8(-20)),
             arr("w8", w8), arr("w8s", np.float32(0.002)), arr("w8z", np.int8(0)),
             arr("zs", np.float32(0.1)), arr("zz", np.int8(0))]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
        helper.make_node("DequantizeLinear", ["w4", "w4s", "w4z"], ["w4d"], axis=0),
        helper.make_node("Conv", ["xd", "w4d", "b4"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("QuantizeLinear", ["r", "ys", "yz"], ["rq"]),
        helper.make_node("DequantizeLinear", ["rq", "ys", "yz"], ["rd"]),
        helper.make_node("Flatten", ["rd"], ["f"]),
        helper.make_node("DequantizeLinear", ["w8", "w8s", "w8z"], ["w8d"]),
        helper.make_node("Gemm", ["f", "w8d"], ["g"], name="fc", transB=1),
        helper.make_node("QuantizeLinear", ["g", "zs", "zz"], ["gq"]),
        helper.make_node("DequantizeLinear", ["gq", "zs", "zz"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "qdq4", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [1, 2, 4, 4])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, [1, 4])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_a_quantized_model_with_nibble_weights_packs_them_losslessly(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--weight-bits 4` on a model that came quantized (4-bit QAT): the layers whose
    weights fit [-8, 7] are stored packed, with exactly the int8 storage's results; the
    others stay int8, and the compile says which."""
    model = tmp_path / "qdq4.onnx"
    _qdq_model(model)
    assert main([str(model), "-o", str(tmp_path / "o"), "--weight-bits", "4"]) == 0
    out = capsys.readouterr().out
    assert "tinyc: note: weights outside [-8, 7] stay int8: 'fc'\n" in out
    graphs_ = {}
    for bits in (8, 4):
        options = Options(weight_bits=bits, target="cortex-m4")
        graph, _ = optimize(load_model(model, options), options)
        graphs_[bits] = graph
    packed = [n.op for n in graphs_[4].nodes if packs_int4(n)]
    assert packed == ["QConv"]
    compiled = compile_graph(graphs_[4], Options(target="cortex-m4"), "qdq4")
    compiled.code.write(tmp_path / "c")
    exe = build_host(tmp_path / "c", graphs_[4], "qdq4", [*SANITIZE_FLAGS, "-O0"])
    rng = np.random.default_rng(6)
    for _ in range(4):
        x = rng.standard_normal((1, 2, 4, 4)).astype(np.float32)
        got = run_host(exe, graphs_[4], [x])[0]
        np.testing.assert_array_equal(got, run_graph(graphs_[4], {"x": x})[0])
        np.testing.assert_array_equal(got, run_graph(graphs_[8], {"x": x})[0])
