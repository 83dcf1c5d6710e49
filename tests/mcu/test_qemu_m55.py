"""`--target cortex-m55` on QEMU's mps3-an547 (Cortex-M55 with Helium): example models,
float and int8, and the int8 kernels' special paths, each run bare metal and checked like
on the Cortex-M4 (int8 bit-exact with the reference interpreter and the host build, float
within tolerance of onnxruntime). The Helium (MVE) paths run only here: on the host the
same kernel files take their plain C forms (test_qkernels_host.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from test_qemu_models import CNAME, MODELS, calibration, inputs_for
from test_qemu_qconv_shapes import CASES, conv, model, relu

from tinyc.compiler import Options, load_model, optimize
from tinyc.interp import run_graph
from tinyc.ir import Graph
from tinyc.mcu.stackuse import STACK_LIMIT
from tinyc.mcu.validate import run_on_mcu
from tinyc.passes.manager import pipeline_without

#: the Helium kernels' paths: depthwise gather (edge rows and columns, strides, uneven
#: padding, a row stride for the column scatter, rows whose windows miss the input: the
#: plain plane), dense and pointwise columns with tails, the plain loop past the column,
#: the float-input FC
KERNEL_CASES = ["dw_same_odd_width", "dw_uneven_pads", "dw_stride_2", "dw_row_stride_2",
                "boundary_depthwise_bottom_pads", "dense_k27_odd_channels",
                "pointwise_odd_pixels", "past_the_column", "fc_float_input", "short_reductions"]

#: the short-reduction path (K <= 64, window in registers): a pointwise reduction of three
#: chunks with a 5-lane tail and 10 channels (the guarded last channels), a 2x2 conv of 40
#: taps within 255 bytes (byte-gathers) whose padded border windows go through the row,
#: and a one-chunk pointwise
M55_CASES = {
    "short_reductions": model((1, 37, 4, 5), [
        conv("pw0", "x", "a", 37, 10, 1, seed=13),
        conv("c1", "ar", "b", 10, 7, 2, pads=(1, 1, 0, 0), seed=14),
        conv("pw2", "br", "y", 7, 5, 1, seed=15),
    ], "y", [relu("a", "ar"), relu("b", "br")]),
}


def check_int8(graph: Graph, options: Options, x: np.ndarray, out: Path) -> int:
    """Run on the board, check the outputs bit for bit; the measured stack (bytes). Every
    build is named CNAME, so the builds share their kernel files' text (compiled once)."""
    result, host = run_on_mcu(graph, options, CNAME, [x], out, host_check=True)
    assert host is not None
    expected = run_graph(graph, {graph.inputs[0].name: x})
    for got, h, e in zip(result.run.outputs, host, expected, strict=True):
        np.testing.assert_array_equal(got, h)
        np.testing.assert_array_equal(got, np.asarray(e).reshape(got.shape))
    assert result.measurement.instructions > 0
    return result.measurement.stack


@pytest.mark.parametrize("name", ["kws_dscnn", "digits_cnn", "ad_autoencoder", "resnet8"])
def test_int8_model_on_cortex_m55(mcu_tools: None, name: str, tmp_path: Path) -> None:
    path = MODELS / f"{name}.onnx"
    shape = load_model(path, Options()).inputs[0].shape
    options = Options(target="cortex-m55", quantize="int8",
                      calib=calibration(name, shape, tmp_path))
    graph, _ = optimize(load_model(path, options), options)
    stack = check_int8(graph, options, inputs_for(name, shape), tmp_path / "out")
    # issue #16 (the float interface): ResNet-8's static bound (520 B) counts every path
    # of the band loop's conv calls, the short path's guarded last channels under the conv
    # entry and the band frames (test_stack_bound.py); on the board it stays within
    assert stack <= STACK_LIMIT
    family = "qfc" if name == "ad_autoencoder" else "qconv"
    assert "VMLADAVA" in (tmp_path / "out" / f"{CNAME}_tinyc_{family}.c").read_text()


def test_float_model_on_cortex_m55(mcu_tools: None, tmp_path: Path) -> None:
    path = MODELS / "digits_cnn.onnx"
    options = Options(target="cortex-m55")
    graph, _ = optimize(load_model(path, options), options)
    x = inputs_for("digits_cnn", graph.inputs[0].shape)
    result, host = run_on_mcu(graph, options, CNAME, [x], tmp_path, host_check=True)
    assert host is not None
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    expected = sess.run(None, {sess.get_inputs()[0].name: x})
    for got, e in zip(result.run.outputs, expected, strict=True):
        np.testing.assert_allclose(got, np.asarray(e).reshape(got.shape), rtol=1e-3, atol=1e-4)
    # the M4 float kernels stay scalar on Helium (TINYC_FPU_SCALAR): vectorized by gcc 12,
    # their spills took this model's stack to 1,244 B. The Helium conv row's block
    # variants and border pixels are out of line, each frame apart: within issue #16's
    # 512 B
    assert result.measurement.stack <= STACK_LIMIT


@pytest.mark.parametrize("name", KERNEL_CASES)
def test_int8_kernel_path_on_cortex_m55(mcu_tools: None, name: str, tmp_path: Path) -> None:
    proto = M55_CASES.get(name) or CASES[name]
    path = tmp_path / f"{name}.onnx"
    onnx.save(proto, path)
    shape = tuple(d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim)
    rng = np.random.default_rng(11)
    calib = tmp_path / "calib.npy"
    np.save(calib, rng.standard_normal((6, *shape[1:])).astype(np.float32))
    passes = None if name.startswith("fc_") else pipeline_without(
        1, None, frozenset({"fuse-qboundary"}))
    options = Options(target="cortex-m55", quantize="int8", calib=str(calib), passes=passes)
    graph, _ = optimize(load_model(path, options), options)
    x = rng.standard_normal(shape).astype(np.float32)
    check_int8(graph, options, x, tmp_path / "out")
