"""Structural and NN ops (issue 7, part b): the numpy references against onnxruntime, and
the generated C against the references.

Each case is one small ONNX node with its inputs. `test_reference_matches_onnxruntime`
runs it through onnxruntime and through tinyc's interpreter (which runs the `reference` of
each OpDef). `test_c_matches_reference` merges many cases into one model per group (a C
build costs about a second), compiles it with sanitizers and compares every output with the
interpreter. Shape-like operands are graph inputs in many cases, as in the ONNX node tests:
the C then checks them at run time, and the last tests check that a wrong one makes
`NAME_run` fail instead of computing garbage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from tinyc.compiler import Options, compile_graph, optimize
from tinyc.errors import ModelError, UnsupportedError, VerifyError
from tinyc.frontend.onnx import import_model
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
from tinyc.interp import run_graph

RNG = np.random.default_rng(7)


def f32(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def i64(*values: int) -> np.ndarray:
    return np.asarray(values, np.int64)


def scalar(value: float, dtype: type = np.float32) -> np.ndarray:
    return np.array(value, dtype)


@dataclass
class Case:
    """One node: its op, attributes, inputs (name -> data) and number of outputs.
    `consts` become initializers (compile-time constants), `feeds` graph inputs."""

    id: str
    op: str
    feeds: dict[str, np.ndarray]
    attrs: dict = field(default_factory=dict)
    consts: dict[str, np.ndarray] = field(default_factory=dict)
    order: list[str] | None = None  # input order with "" for absent optional inputs
    outputs: int = 1
    opset: int = 21
    group: str = "a"
    #: "onnxruntime", or "onnx" (its reference evaluator) where onnxruntime lacks the form
    oracle: str = "onnxruntime"


CASES = [
    # -- shape and data movement, with run-time shape operands
    Case("reshape_runtime", "Reshape", {"x": f32(2, 3, 4), "shape": i64(0, -1)}),
    Case("squeeze_runtime", "Squeeze", {"x": f32(3, 1, 4, 1), "axes": i64(-1, 1)}),
    Case("unsqueeze_runtime", "Unsqueeze", {"x": f32(3, 4), "axes": i64(2, 0)}),
    Case("slice_const_negstep", "Slice", {"x": f32(5, 6)},
         consts={"s": i64(-1, 4), "e": i64(-100, 0), "a": i64(0, 1), "st": i64(-2, -1)},
         order=["x", "s", "e", "a", "st"]),
    Case("slice_runtime", "Slice", {"x": f32(6, 5, 4), "starts": i64(1, -3),
                                    "ends": i64(1000, -1), "axes": i64(0, 2),
                                    "steps": i64(2, 1)}),
    Case("split_uneven", "Split", {"x": f32(7, 3)}, {"axis": 0, "num_outputs": 3}, outputs=3),
    Case("split_runtime", "Split", {"x": f32(2, 6), "split": i64(1, 5)}, {"axis": 1},
         outputs=2),
    Case("tile_runtime", "Tile", {"x": f32(2, 3), "repeats": i64(2, 3)}),
    Case("expand_runtime", "Expand", {"x": f32(3, 1), "shape": i64(2, 1, 4)}),
    Case("pad_reflect_runtime", "Pad", {"x": f32(3, 4), "pads": i64(2, 1, 1, 3)},
         {"mode": "reflect"}),
    Case("pad_edge", "Pad", {"x": f32(2, 3)}, {"mode": "edge"}, consts={"p": i64(1, 2, 2, 0)},
         order=["x", "p"]),
    Case("pad_wrap_axes", "Pad", {"x": f32(2, 3, 4), "pads": i64(1, 5), "axes": i64(-1)},
         {"mode": "wrap"}, order=["x", "pads", "", "axes"]),
    Case("pad_constant_crop", "Pad", {"x": f32(4, 5), "value": scalar(2.5)},
         consts={"p": i64(-1, 2, 1, -2)}, order=["x", "p", "value"]),
    Case("gather_negative", "Gather", {"x": f32(5, 3), "i": i64(-1, 0, -5)}, {"axis": 0}),
    Case("constant_of_shape_runtime", "ConstantOfShape", {"shape": i64(2, 3)},
         {"value": numpy_helper.from_array(np.array([7], np.int32))}),
    Case("range_runtime", "Range", {"start": scalar(1.0),
                                    "limit": scalar(4.2),
                                    "delta": scalar(0.5)}),
    Case("onehot", "OneHot", {"i": np.array([[1, -1], [4, 0]], np.int64),
                              "depth": scalar(4.0),
                              "v": np.array([-1.0, 3.0], np.float32)}, {"axis": 1}),
    Case("depth_to_space_crd", "DepthToSpace", {"x": f32(1, 8, 2, 3)},
         {"blocksize": 2, "mode": "CRD"}),
    Case("space_to_depth", "SpaceToDepth", {"x": f32(2, 3, 4, 6)}, {"blocksize": 2}),
    Case("trilu_runtime_k", "Trilu", {"x": f32(2, 3, 5), "k": scalar(-1, np.int64)},
         {"upper": 0}),
    Case("cumsum_reverse_exclusive", "CumSum", {"x": f32(3, 4), "axis": scalar(1, np.int32)},
         {"exclusive": 1, "reverse": 1}),
    Case("reverse_sequence", "ReverseSequence",
         {"x": f32(4, 3, 2), "lens": i64(4, 0, 2)}, {"batch_axis": 1, "time_axis": 0}),
    Case("center_crop_pad", "CenterCropPad", {"x": f32(5, 4, 3), "shape": i64(3, 7)},
         {"axes": [0, 1]}),
    Case("eye_like", "EyeLike", {"x": f32(3, 5)}, {"k": 1, "dtype": TensorProto.INT32}),
    # -- indices
    Case("gather_elements", "GatherElements",
         {"x": f32(3, 4), "i": np.array([[2, -1], [0, 1]], np.int32)}, {"axis": 0}),
    Case("scatter_elements_add", "ScatterElements",
         {"x": f32(3, 3), "i": np.array([[0, 0], [2, 0]], np.int64), "u": f32(2, 2)},
         {"axis": 1, "reduction": "add"}),
    Case("scatter_nd_mul", "ScatterND",
         {"x": f32(4, 3), "i": np.array([[1], [-1], [1]], np.int64), "u": f32(3, 3)},
         {"reduction": "mul"}),
    Case("gather_nd_batch", "GatherND",
         {"x": f32(2, 3, 4), "i": np.array([[[1], [0]], [[2], [2]]], np.int64)},
         {"batch_dims": 1}),
    # -- selection
    Case("argmax_last", "ArgMax", {"x": np.array([[1, 3, 3], [5, 5, 0]], np.float32)},
         {"axis": 1, "select_last_index": 1}),
    Case("argmin_keepdims0", "ArgMin", {"x": f32(3, 4, 2)}, {"axis": -2, "keepdims": 0}),
    Case("topk_smallest_runtime", "TopK",
         {"x": np.array([[3, 1, 2, 1, 5], [0, 0, 9, -1, 2]], np.float32), "k": i64(3)},
         {"axis": 1, "largest": 0}, outputs=2),
    Case("hardmax", "Hardmax", {"x": f32(2, 3, 4)}, {"axis": 1}),
    # -- resize
    Case("resize_nearest_floor", "Resize", {"x": f32(1, 2, 3, 4)},
         {"mode": "nearest", "nearest_mode": "floor",
          "coordinate_transformation_mode": "asymmetric"},
         consts={"scales": np.array([1, 1, 2.5, 0.6], np.float32)},
         order=["x", "", "scales"]),
    Case("resize_linear_align", "Resize", {"x": f32(1, 1, 3, 4),
                                            "scales": np.array([1, 1, 2, 1.5], np.float32)},
         {"mode": "linear", "coordinate_transformation_mode": "align_corners"},
         order=["x", "", "scales"]),
    Case("resize_cubic_sizes_not_larger", "Resize",
         {"x": f32(1, 1, 4, 4), "sizes": i64(7, 9)},
         {"mode": "cubic", "axes": [2, 3], "keep_aspect_ratio_policy": "not_larger"},
         order=["x", "", "", "sizes"]),
    Case("resize_crop_extrapolate", "Resize",
         {"x": f32(1, 1, 4, 5), "roi": np.array([0, 0, -0.2, 0.3, 1, 1, 0.9, 1.4],
                                                np.float32)},
         {"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize",
          "extrapolation_value": 9.0},
         consts={"sizes": i64(1, 1, 3, 3)}, order=["x", "roi", "", "sizes"]),
    Case("resize_antialias_down", "Resize", {"x": f32(1, 1, 8, 9)},
         {"mode": "linear", "antialias": 1},
         consts={"scales": np.array([1, 1, 0.5, 0.4], np.float32)},
         order=["x", "", "scales"]),
    # -- convolution and pooling
    Case("conv3d_group", "Conv", {"x": f32(1, 4, 4, 5, 3)},
         {"group": 2, "pads": [1, 0, 1, 0, 1, 1], "dilations": [1, 2, 1]},
         consts={"w": f32(6, 2, 2, 2, 2), "b": f32(6)}, order=["x", "w", "b"], group="b"),
    Case("conv_transpose_output_shape", "ConvTranspose",
         {"x": f32(1, 4, 3, 3), "w": f32(4, 1, 3, 2)},
         {"group": 2, "strides": [2, 3], "output_shape": [5, 6], "auto_pad": "SAME_UPPER"},
         group="b"),
    Case("conv_transpose_1d", "ConvTranspose", {"x": f32(2, 1, 5)},
         {"strides": [2], "output_padding": [1], "pads": [1, 0], "dilations": [2]},
         consts={"w": f32(1, 3, 3), "b": f32(3)}, order=["x", "w", "b"], group="b"),
    Case("maxpool3d_indices", "MaxPool", {"x": f32(1, 2, 4, 5, 3)},
         {"kernel_shape": [2, 3, 2], "strides": [2, 1, 1], "pads": [0, 1, 0, 1, 1, 1],
          "storage_order": 1}, outputs=2, group="b"),
    Case("avgpool1d_ceil_pad", "AveragePool", {"x": f32(1, 2, 9)},
         {"kernel_shape": [4], "strides": [3], "pads": [2, 1], "ceil_mode": 1,
          "count_include_pad": 1}, group="b"),
    Case("lppool_p3", "LpPool", {"x": f32(1, 2, 5, 5)}, {"kernel_shape": [2, 3], "p": 3,
                                                          "pads": [1, 1, 0, 1]}, group="b"),
    Case("maxpool_u8", "MaxPool", {"x": RNG.integers(0, 255, (1, 2, 5, 5)).astype(np.uint8)},
         {"kernel_shape": [3, 2], "strides": [2, 1], "pads": [1, 0, 1, 1]}, group="b"),
    Case("global_lppool", "GlobalLpPool", {"x": f32(2, 3, 4)}, {"p": 1}, group="b"),
    # -- normalization
    Case("layernorm_stats", "LayerNormalization",
         {"x": f32(2, 3, 4), "s": f32(3, 4), "b": f32(4)}, {"axis": 1}, outputs=3, group="b"),
    Case("groupnorm", "GroupNormalization", {"x": f32(2, 6, 3), "s": f32(6), "b": f32(6)},
         {"num_groups": 3}, group="b"),
    Case("instancenorm", "InstanceNormalization",
         {"x": f32(2, 3, 4, 2), "s": f32(3), "b": f32(3)}, {"epsilon": 0.01}, group="b"),
    Case("lrn", "LRN", {"x": f32(1, 6, 3, 2)}, {"size": 5, "alpha": 0.01, "beta": 0.6,
                                                "bias": 1.5}, group="b"),
    Case("lpnorm_p1", "LpNormalization", {"x": f32(3, 4)}, {"axis": 0, "p": 1}, group="b"),
    Case("batchnorm_runtime", "BatchNormalization",
         {"x": f32(2, 3, 4), "s": f32(3), "b": f32(3), "m": f32(3),
          "v": np.abs(f32(3)) + 0.5}, group="b"),
    Case("rmsnorm", "RMSNormalization", {"x": f32(3, 4, 5), "s": f32(5)}, opset=23,
         group="c"),
    # -- contractions
    Case("einsum_batch_matmul", "Einsum", {"a": f32(2, 3, 4), "b": f32(2, 4, 5)},
         {"equation": "bij,bjk->bik"}, group="b"),
    Case("einsum_diagonal", "Einsum", {"a": f32(2, 4, 4)}, {"equation": "...ii->...i"},
         group="b"),
    Case("einsum_implicit_transpose", "Einsum", {"a": f32(3, 2), "b": f32(2, 4)},
         {"equation": "ij,jk"}, group="b"),
    Case("einsum_outer_sum", "Einsum", {"a": f32(3), "b": f32(4)}, {"equation": "i,j->"},
         group="b"),
    Case("matmul_int32", "MatMul", {"a": RNG.integers(-9, 9, (2, 3, 4)).astype(np.int32),
                                    "b": RNG.integers(-9, 9, (4, 2)).astype(np.int32)},
         group="b"),
    Case("mvn", "MeanVarianceNormalization", {"x": f32(2, 3, 4)}, {"axes": [0, 2]},
         group="b"),
    # -- sampling and attention
    Case("grid_sample_cubic_reflect", "GridSample",
         {"x": f32(1, 2, 4, 5), "g": (RNG.random((1, 3, 4, 2)) * 2.6 - 1.3).astype(np.float32)},
         {"mode": "cubic", "padding_mode": "reflection"}, group="c"),
    Case("grid_sample_3d_nearest_border", "GridSample",
         {"x": f32(1, 1, 3, 4, 2), "g": (RNG.random((1, 2, 3, 2, 3)) * 3 - 1.5).astype(np.float32)},
         {"mode": "nearest", "padding_mode": "border", "align_corners": 1}, group="c"),
    Case("affine_grid_runtime", "AffineGrid", {"theta": f32(2, 2, 3), "size": i64(2, 1, 3, 4)},
         {"align_corners": 0}, group="c"),
    Case("col2im_runtime", "Col2Im", {"x": f32(1, 2 * 6, 12), "image": i64(4, 5),
                                      "block": i64(2, 3)},
         {"strides": [1, 1], "pads": [0, 1, 1, 0], "dilations": [2, 1]}, group="c",
         oracle="onnx"),
    Case("attention_gqa_past_mask", "Attention",
         {"q": f32(1, 4, 3, 8), "k": f32(1, 2, 3, 8), "v": f32(1, 2, 3, 6),
          "mask": RNG.random((3, 5)) > 0.3, "pk": f32(1, 2, 2, 8), "pv": f32(1, 2, 2, 6)},
         {"is_causal": 1, "qk_matmul_output_mode": 3, "softcap": 3.0}, outputs=4, opset=23,
         group="c", order=["q", "k", "v", "mask", "pk", "pv"], oracle="onnx"),
    Case("attention_3d_scaled", "Attention", {"q": f32(2, 3, 12), "k": f32(2, 4, 12),
                                              "v": f32(2, 4, 6)},
         {"q_num_heads": 3, "kv_num_heads": 3, "scale": 0.2}, opset=23, group="c"),
    Case("rotary_interleaved_partial", "RotaryEmbedding",
         {"x": f32(2, 3, 4, 8), "cos": f32(6, 2), "sin": f32(6, 2),
          "pos": np.array([[0, 5, 2, 1], [3, 3, 4, 0]], np.int64)},
         {"interleaved": 1, "rotary_embedding_dim": 4}, opset=23, group="c"),
    # -- signal
    Case("dft_onesided_runtime_axis", "DFT", {"x": f32(2, 6, 5, 1), "axis": scalar(1, np.int64)},
         {"onesided": 1}, order=["x", "", "axis"], opset=20, group="c"),
    # the axis as an input (opset 20): the group's merged model has opset 23, where DFT has
    # no axis attribute
    Case("dft_inverse_length", "DFT", {"x": f32(3, 4, 2)}, {"inverse": 1},
         consts={"n": scalar(6, np.int64), "axis": scalar(1, np.int64)},
         order=["x", "n", "axis"], opset=20, group="c"),
    Case("hamming_symmetric", "HammingWindow", {"n": scalar(7, np.int64)}, {"periodic": 0},
         opset=17, group="c"),
    Case("stft_window_runtime_step", "STFT",
         {"x": f32(2, 40, 1), "step": scalar(6, np.int64), "w": f32(8)}, opset=17, group="d"),
    # -- newer ops (onnxruntime lags: the onnx reference evaluator is the oracle)
    Case("causal_conv_state_silu", "CausalConvWithState",
         {"x": f32(2, 3, 5), "w": f32(3, 1, 3), "b": f32(3), "past": f32(2, 3, 2)},
         {"activation": "silu"}, outputs=2, opset=27, group="d", oracle="onnx"),
    Case("linear_attention_gated_delta_gqa", "LinearAttention",
         {"q": f32(1, 3, 16), "k": f32(1, 3, 8), "v": f32(1, 3, 6),
          "past": f32(1, 2, 4, 3), "decay": -np.abs(f32(1, 3, 8)),
          "beta": np.abs(f32(1, 3, 2))},
         {"q_num_heads": 4, "kv_num_heads": 2}, outputs=2, opset=27, group="d",
         oracle="onnx"),
    Case("tensor_scatter_circular", "TensorScatter",
         {"cache": f32(2, 3, 4, 2), "u": f32(2, 3, 3, 2), "idx": i64(2, 3)},
         {"mode": "circular"}, opset=24, group="d", oracle="onnx"),
    Case("roi_align_max", "RoiAlign",
         {"x": f32(2, 2, 6, 7), "rois": np.array([[0.5, 1, 4, 5.5], [-1, 0, 8, 3]], np.float32),
          "idx": i64(1, 0)},
         {"mode": "max", "output_height": 2, "output_width": 3, "sampling_ratio": 0,
          "spatial_scale": 0.9}, opset=16, group="d"),
    Case("det_batch", "Det", {"x": f32(3, 4, 4)}, group="d"),
    Case("det_20x20", "Det", {"x": f32(2, 20, 20)}, group="d"),  # past the old 16 limit
    Case("attention_f16_causal", "Attention",
         {"q": f32(1, 2, 3, 4).astype(np.float16), "k": f32(1, 2, 5, 4).astype(np.float16),
          "v": f32(1, 2, 5, 3).astype(np.float16)}, {"is_causal": 1}, opset=23, group="d",
         oracle="onnx"),
    Case("matmul_f16", "MatMul", {"a": f32(2, 3, 4).astype(np.float16),
                                  "b": f32(4, 5).astype(np.float16)}, group="d"),
    # -- recurrent
    Case("lstm_bidir_full", "LSTM",
         {"x": f32(4, 2, 3), "w": f32(2, 12, 3), "r": f32(2, 12, 3), "b": f32(2, 24),
          "lens": np.array([4, 2], np.int32), "h0": f32(2, 2, 3), "c0": f32(2, 2, 3),
          "p": f32(2, 9)},
         {"hidden_size": 3, "direction": "bidirectional", "clip": 2.0}, outputs=3,
         group="c"),
    Case("gru_reverse_lbr", "GRU", {"x": f32(3, 2, 2), "w": f32(1, 12, 2), "r": f32(1, 12, 4),
                                    "b": f32(1, 24)},
         {"hidden_size": 4, "direction": "reverse", "linear_before_reset": 1}, outputs=2,
         group="c"),
    Case("gru_bidir_layout1", "GRU", {"x": f32(2, 3, 2), "w": f32(2, 9, 2), "r": f32(2, 9, 3)},
         {"hidden_size": 3, "direction": "bidirectional", "layout": 1}, outputs=2, group="c",
         oracle="onnx"),
    Case("rnn_relu", "RNN", {"x": f32(3, 1, 2), "w": f32(1, 4, 2), "r": f32(1, 4, 4)},
         {"hidden_size": 4, "activations": ["Relu"]}, outputs=2, group="c"),
]


def _node(case: Case, prefix: str = "") -> tuple[onnx.NodeProto, list[str]]:
    order = case.order or list(case.feeds) + list(case.consts)
    outs = [f"{prefix}y{i}" for i in range(case.outputs)]
    inputs = [f"{prefix}{n}" if n else "" for n in order]
    return helper.make_node(case.op, inputs, outs, name=f"{prefix}node", **case.attrs), outs


def _model(cases: list[Case], shapes: dict[str, np.ndarray] | None = None) -> onnx.ModelProto:
    """One graph holding every case's node (names prefixed by case id when merging)."""
    merge = len(cases) > 1
    nodes, inputs, outputs, inits = [], [], [], []
    for case in cases:
        prefix = f"{case.id}_" if merge else ""
        node, outs = _node(case, prefix)
        nodes.append(node)
        for name, data in case.feeds.items():
            inputs.append(helper.make_tensor_value_info(
                prefix + name, helper.np_dtype_to_tensor_dtype(data.dtype), data.shape))
        for name, data in case.consts.items():
            inits.append(numpy_helper.from_array(data, prefix + name))
        for out in outs:
            if shapes is None:
                outputs.append(helper.make_empty_tensor_value_info(out))
            else:
                data = shapes[out]
                outputs.append(helper.make_tensor_value_info(
                    out, helper.np_dtype_to_tensor_dtype(data.dtype), data.shape))
    graph = helper.make_graph(nodes, "m", inputs, outputs, inits)
    opset = max(c.opset for c in cases)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                             ir_version=10)


def _oracle(case: Case) -> dict[str, np.ndarray]:
    model = _model([case])
    if case.oracle == "onnx":
        ref = ReferenceEvaluator(model)
        names = [o.name for o in model.graph.output]
        return dict(zip(names, ref.run(None, case.feeds), strict=True))
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, case.feeds), strict=True))


_EXPECTED: dict[str, dict[str, np.ndarray]] = {}


def expected(case: Case) -> dict[str, np.ndarray]:
    """The oracle's outputs (cached), which also give the declared output shapes."""
    if case.id not in _EXPECTED:
        _EXPECTED[case.id] = _oracle(case)
    return _EXPECTED[case.id]


def _declared(cases: list[Case]) -> onnx.ModelProto:
    shapes = {}
    for case in cases:
        prefix = f"{case.id}_" if len(cases) > 1 else ""
        for name, data in expected(case).items():
            shapes[prefix + name] = data
    return _model(cases, shapes)


def _feeds(cases: list[Case]) -> dict[str, np.ndarray]:
    prefix = len(cases) > 1
    return {(f"{c.id}_" if prefix else "") + k: v for c in cases for k, v in c.feeds.items()}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_reference_matches_onnxruntime(case: Case) -> None:
    graph = import_model(_declared([case]), {})
    got = run_graph(graph, case.feeds)
    want = list(expected(case).values())
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and g.shape == w.shape
        # float16: the oracle rounds after every step, tinyc once (one half ulp ~ 1e-3)
        tol = {"rtol": 1e-2, "atol": 1e-3} if w.dtype == np.float16 else {"rtol": 1e-4,
                                                                           "atol": 1e-5}
        np.testing.assert_allclose(g, w, **tol)


def _build(cases: list[Case], tmp: Path) -> tuple:
    graph = import_model(_declared(cases), {})
    options = Options(verify_each=True)
    graph, _ = optimize(graph, options)
    compiled = compile_graph(graph, options, "m")
    compiled.code.write(tmp)
    exe = build_host(tmp, graph, compiled.code.name, SANITIZE_FLAGS)
    return graph, exe


@pytest.mark.parametrize("group", sorted({c.group for c in CASES}))
def test_c_matches_reference(group: str, tmp_path: Path) -> None:
    cases = [c for c in CASES if c.group == group]
    graph, exe = _build(cases, tmp_path)
    feeds = _feeds(cases)
    got = run_host(exe, graph, [feeds[v.name] for v in graph.inputs])
    want = run_graph(graph, feeds)
    for value, g, w in zip(graph.outputs, got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5, err_msg=value.name)


def test_runtime_operands_are_checked(tmp_path: Path) -> None:
    """Shape-like inputs that disagree with the declared shapes fail NAME_run (and the
    interpreter), instead of reading or writing out of bounds."""
    cases = [c for c in CASES if c.id in ("reshape_runtime", "slice_runtime", "tile_runtime",
                                          "topk_smallest_runtime", "range_runtime",
                                          "pad_reflect_runtime")]
    graph, exe = _build(cases, tmp_path)
    good = _feeds(cases)
    run_host(exe, graph, [good[v.name] for v in graph.inputs])  # consistent: runs
    bad_values = {
        "reshape_runtime_shape": i64(3, -1),
        "slice_runtime_starts": i64(2, -3),
        "tile_runtime_repeats": i64(3, 3),
        "topk_smallest_runtime_k": i64(2),
        "range_runtime_limit": scalar(9.0),
        "pad_reflect_runtime_pads": i64(1, 1, 1, 3),
    }
    for name, bad in bad_values.items():
        feeds = dict(good, **{name: bad})
        with pytest.raises(VerifyError, match="exited with 4"):  # run returned non-zero
            run_host(exe, graph, [feeds[v.name] for v in graph.inputs])
        with pytest.raises(ModelError, match="run-time"):
            run_graph(graph, feeds)


def test_undeclared_runtime_shape_is_refused() -> None:
    case = CASES[0]  # Reshape with a run-time shape
    with pytest.raises(UnsupportedError, match="declares no static shape"):
        import_model(_model([case]), {})


def test_einsum_with_three_operands_is_refused(tmp_path: Path) -> None:
    case = Case("einsum3", "Einsum", {"a": f32(2, 3), "b": f32(3, 4), "c": f32(4, 5)},
                {"equation": "ij,jk,kl->il"})
    graph = import_model(_declared([case]), {})
    with pytest.raises(UnsupportedError, match="3 operands"):
        compile_graph(graph, Options(), "m")
