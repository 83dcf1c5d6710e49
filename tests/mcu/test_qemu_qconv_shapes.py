"""The int8 Cortex-M4 kernels' special paths, on the core itself, bit-exact with the
interpreter: small models built here so that each path the example models do not all
reach runs under QEMU -- small depthwise planes with odd widths, no / uneven padding and
strides 2 (copied padded plane, pairs or single outputs), reductions not a multiple of
four, odd channel and pixel counts (one channel x four pixels, its tails), the
long-reduction two-channel path, the 2 x 3 tile of wide layers, the plain loop past the
column buffer, a float input
quantized on the fly by the fully connected kernel (staged, widened on the fly, and past
its row buffer), float-boundary convs in bands (a depthwise first layer whose last bands
miss the image), Add's SMMULR form with different input scales, and the pools. The host variant
tests (test_qkernels_host.py) cannot see these: the inner loops are DSP assembly there."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tinyc.compiler import Options, load_model, optimize
from tinyc.interp import run_graph
from tinyc.ir import Graph
from tinyc.mcu.validate import run_on_mcu
from tinyc.passes.manager import pipeline_without


def conv(name: str, x: str, y: str, cin: int, cout: int, k: int, group: int = 1,
         pads: tuple[int, int, int, int] = (0, 0, 0, 0), strides: tuple[int, int] = (1, 1),
         seed: int = 0, kw: int | None = None) -> tuple[onnx.NodeProto, list[onnx.TensorProto]]:
    """a k x k kernel, or k x kw"""
    rng = np.random.default_rng(seed)
    kw = k if kw is None else kw
    w = rng.standard_normal((cout, cin // group, k, kw)).astype(np.float32) * 0.3
    b = rng.standard_normal(cout).astype(np.float32) * 0.1
    node = helper.make_node("Conv", [x, f"{name}_w", f"{name}_b"], [y], name=name, group=group,
                            kernel_shape=[k, kw], pads=list(pads), strides=list(strides))
    return node, [numpy_helper.from_array(w, f"{name}_w"), numpy_helper.from_array(b, f"{name}_b")]


def model(shape: tuple[int, ...], layers: list[tuple[onnx.NodeProto, list]], out: str,
          extra: list[onnx.NodeProto] | None = None) -> onnx.ModelProto:
    nodes = [n for n, _ in layers] + (extra or [])
    inits = [t for _, ts in layers for t in ts]
    graph = helper.make_graph(nodes, "shapes",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def gemm(name: str, x: str, y: str, n_in: int, n_out: int,
         seed: int = 0) -> tuple[onnx.NodeProto, list[onnx.TensorProto]]:
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((n_out, n_in)).astype(np.float32) * 0.1
    b = rng.standard_normal(n_out).astype(np.float32) * 0.1
    node = helper.make_node("Gemm", [x, f"{name}_w", f"{name}_b"], [y], name=name, transB=1)
    return node, [numpy_helper.from_array(w, f"{name}_w"), numpy_helper.from_array(b, f"{name}_b")]


def fc_chain(n_in: int) -> onnx.ModelProto:
    """float input straight into the first int8 Gemm (quantized on the fly), float output"""
    return model((1, n_in), [gemm("fc0", "x", "a", n_in, 9, seed=6),
                             gemm("fc1", "ar", "y", 9, 3, seed=7)], "y", [relu("a", "ar")])


def relu(x: str, y: str) -> onnx.NodeProto:
    return helper.make_node("Relu", [x], [y], name=f"relu_{y}")


def dw_chain(c: int, h: int, w: int, pads: tuple[int, int, int, int],
             strides: tuple[int, int]) -> onnx.ModelProto:
    """pointwise -> depthwise 3x3 -> pointwise, so the depthwise can also run in place"""
    return model((1, c, h, w), [
        conv("pw0", "x", "a", c, c, 1, seed=1),
        conv("dw", "ar", "b", c, c, 3, group=c, pads=pads, strides=strides, seed=2),
        conv("pw1", "br", "y", c, 6, 1, seed=3),
    ], "y", [relu("a", "ar"), relu("b", "br")])


CASES = {
    "dw_same_odd_width": dw_chain(8, 9, 5, (1, 1, 1, 1), (1, 1)),
    "dw_valid": dw_chain(4, 9, 6, (0, 0, 0, 0), (1, 1)),
    # the column walk: an even number of rows on 8-byte rows, 16-byte rows, rows narrower
    # than a word, a single row (the C walk)
    "dw_walk_even_rows": dw_chain(4, 8, 6, (1, 1, 1, 1), (1, 1)),
    "dw_walk_wide_rows": dw_chain(4, 6, 11, (1, 1, 1, 1), (1, 1)),
    "dw_walk_three_columns": dw_chain(4, 5, 3, (1, 1, 1, 1), (1, 1)),
    "dw_walk_one_row": dw_chain(4, 1, 5, (1, 1, 1, 1), (1, 1)),
    "dw_uneven_pads": dw_chain(4, 7, 7, (2, 1, 0, 2), (1, 1)),
    "dw_row_stride_2": dw_chain(4, 11, 5, (1, 1, 1, 1), (2, 1)),
    "dw_stride_2": dw_chain(4, 9, 8, (1, 1, 1, 1), (2, 2)),
    "dw_stride_2_valid": dw_chain(4, 7, 7, (0, 0, 0, 0), (2, 2)),
    "dense_k27_odd_channels": model((1, 3, 9, 7), [conv("c", "x", "y", 3, 5, 3, pads=(1, 1, 1, 1))],
                                    "y"),
    # 4-tap rows (gather4_widened): windows losing their first or last tap to the padding,
    # two taps (the plain gather), pixel pairs across rows (odd widths), stride 2 as KWS's
    "four_taps_stride_2": model((1, 2, 11, 10), [
        conv("c", "x", "y", 2, 5, 5, kw=4, pads=(2, 1, 2, 2), strides=(2, 2), seed=13)], "y"),
    "four_taps_stride_1": model((1, 1, 6, 7), [
        conv("c", "x", "y", 1, 3, 3, kw=4, pads=(1, 1, 1, 2), seed=14)], "y"),
    "pointwise_odd_pixels": model((1, 6, 5, 3), [conv("c", "x", "y", 6, 7, 1)], "y"),
    # 64 output channels, K % 4 == 0, K >= 40: the 2 x 3 tile (triples_of), its rounds
    # entered at each of the four groups (K / 4 % 4 = 2, 3, 1, 2, 3), triples across rows,
    # a last pixel alone, a column's last pixels in pairs (odd too), stride 2
    "triples_pointwise_k40": model((1, 40, 5, 7), [conv("c", "x", "y", 40, 64, 1, seed=15)],
                                   "y"),
    "triples_k44_last_alone": model((1, 44, 5, 3), [conv("c", "x", "y", 44, 64, 1, seed=16)],
                                    "y"),
    "triples_k52_three_a_column": model((1, 52, 4, 4),
                                        [conv("c", "x", "y", 52, 64, 1, seed=17)], "y"),
    "triples_3x3_k72": model((1, 8, 6, 5), [conv("c", "x", "y", 8, 64, 3, pads=(1, 1, 1, 1),
                                                 seed=18)], "y"),
    "triples_3x3_stride_2_k108": model((1, 12, 9, 7), [
        conv("c", "x", "y", 12, 64, 3, pads=(1, 1, 1, 1), strides=(2, 2), seed=19)], "y"),
    # stride-2 gathers: 3x3 (left edge, rows outside, a last column that pixel b's window
    # leaves), 1x1 (channels not a multiple of 4, pixel b on the last column)
    "stride_2_3x3_k36_edges": model((1, 4, 10, 9), [
        conv("c", "x", "y", 4, 6, 3, pads=(1, 1, 1, 1), strides=(2, 2), seed=21)], "y"),
    # 3x3 stride-1 gathers in rounds of four channels: left and right edges, a top or
    # bottom row outside (uneven pads: the top alone, then the bottom alone), the corners
    "gather3_rounds_k72_edges": model((1, 8, 6, 7), [
        conv("c", "x", "y", 8, 6, 3, pads=(1, 1, 1, 1), seed=23)], "y"),
    "gather3_rounds_k36_uneven_pads": model((1, 4, 5, 6), [
        conv("c0", "x", "a", 4, 4, 3, pads=(1, 0, 0, 1), seed=24),
        conv("c1", "a", "y", 4, 6, 3, pads=(0, 1, 1, 0), seed=25)], "y"),
    # columns that are one output row (gather3_row_pairs): padded (both edges, the top and
    # bottom rows outside) and valid (a run starting inside)
    "gather3_row_runs_k144": model((1, 16, 5, 8), [
        conv("c0", "x", "a", 16, 16, 3, pads=(1, 1, 1, 1), seed=28),
        conv("c1", "a", "y", 16, 6, 3, seed=29)], "y"),
    # pointwise on contiguous pixels, four at a time (gather1x4_widened): triples (64
    # outputs) whose last read-ahead pixel is past the image, pairs with a last pair or
    # pixel left, channels not a multiple of 4, pairs across output rows (odd widths)
    "pointwise_runs_triples_k44": model((1, 44, 4, 5), [conv("c", "x", "y", 44, 64, 1,
                                                             seed=26)], "y"),
    "pointwise_runs_pairs_k6": model((1, 6, 3, 5), [conv("c", "x", "y", 6, 4, 1, seed=27)], "y"),
    "stride_2_1x1_k7": model((1, 7, 8, 9), [conv("c", "x", "y", 7, 6, 1, strides=(2, 2),
                                                 seed=22)], "y"),
    "long_reduction_pairs": model((1, 64, 5, 5), [conv("c", "x", "y", 64, 5, 3, pads=(1, 1, 1, 1))],
                                  "y"),
    "past_the_column": model((1, 70, 4, 4), [conv("c", "x", "y", 70, 3, 3, pads=(1, 1, 1, 1))],
                             "y"),
    "pools_padded": model((1, 3, 9, 8), [conv("c", "x", "a", 3, 4, 1, seed=8)], "y", [
        helper.make_node("MaxPool", ["a"], ["m"], name="max", kernel_shape=[3, 3],
                         strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("AveragePool", ["m"], ["y"], name="avg", kernel_shape=[2, 3],
                         pads=[0, 1, 1, 1], count_include_pad=0)]),
    "pools_plain": model((1, 3, 8, 8), [conv("c", "x", "a", 3, 4, 1, seed=9)], "y", [
        relu("a", "ar"),
        helper.make_node("MaxPool", ["ar"], ["m"], name="max", kernel_shape=[2, 2],
                         strides=[2, 2]),
        helper.make_node("AveragePool", ["m"], ["y"], name="avg", kernel_shape=[4, 4])]),
    "fc_float_input_staged": fc_chain(37),
    "fc_float_input": fc_chain(200),
    "fc_float_input_past_the_buffer": fc_chain(1030),
    "boundary_depthwise_bottom_pads": model((1, 8, 12, 12), [
        conv("dw", "x", "y", 8, 8, 3, group=8, pads=(0, 1, 3, 1), seed=10)], "y"),
    "boundary_conv_stride_2": model((1, 3, 13, 11), [
        conv("c", "x", "a", 3, 8, 3, pads=(1, 1, 1, 1), strides=(2, 2), seed=11),
        conv("pw", "ar", "y", 8, 4, 1, seed=12)], "y", [relu("a", "ar")]),
    "add_two_scales": model((1, 4, 6, 6), [
        conv("c0", "x", "a", 4, 4, 1, seed=4),
        conv("c1", "x", "b", 4, 4, 3, pads=(1, 1, 1, 1), seed=5),
    ], "y", [helper.make_node("Mul", ["b", "k"], ["bk"], name="scale"),
             helper.make_node("Add", ["a", "bk"], ["s"], name="add"), relu("s", "y")]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_int8_kernel_path_on_cortex_m4(mcu_tools: None, name: str, tmp_path: Path) -> None:
    proto = CASES[name]
    if name == "add_two_scales":  # one branch 8x larger: the Add inputs' scales differ
        proto.graph.initializer.append(numpy_helper.from_array(np.array(8.0, np.float32), "k"))
    path = tmp_path / f"{name}.onnx"
    onnx.save(proto, path)
    shape = tuple(d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim)
    rng = np.random.default_rng(11)
    calib = tmp_path / "calib.npy"
    np.save(calib, rng.standard_normal((6, *shape[1:])).astype(np.float32))
    # the kernel-path cases keep the float boundary staged, so each conv sees its whole
    # image; the boundary_* and fc_* cases exercise the fused float-boundary kernels
    boundary = name.startswith(("boundary_", "fc_"))
    passes = None if boundary else pipeline_without(1, None, frozenset({"fuse-qboundary"}))
    options = Options(target="cortex-m4", quantize="int8", calib=str(calib), passes=passes)
    graph, _ = optimize(load_model(path, options), options)
    assert_exact_on_cortex_m4(graph, options, rng.standard_normal(shape).astype(np.float32),
                              tmp_path / "out")


def assert_exact_on_cortex_m4(graph: Graph, options: Options, x: np.ndarray,
                              out_dir: Path) -> None:
    """Build `graph` into out_dir, run it on QEMU and on the host: both bit-exact with the
    interpreter. One C name for every case: the kernel files are then the same text,
    compiled once (tests/objcache.py)."""
    result, host = run_on_mcu(graph, options, "net", [x], out_dir, host_check=True)
    assert host is not None
    expected = run_graph(graph, {graph.inputs[0].name: x})
    for got, h, e in zip(result.run.outputs, host, expected, strict=True):
        np.testing.assert_array_equal(got, h)
        np.testing.assert_array_equal(got, np.asarray(e).reshape(got.shape))
