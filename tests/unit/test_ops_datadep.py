"""Compress, Unique, NonMaxSuppression, MaxUnpool, SwiGLU and DeformConv: the numpy references
against an oracle (onnxruntime, or onnx's reference evaluator where onnxruntime lacks the op or
follows other semantics), and the generated C, built with sanitizers, against the
references.

Compress's, Unique's and NonMaxSuppression's output sizes depend on the data: the models declare
their output shapes (taken from the oracle), the C is compiled for them, and a run whose
data gives another size must fail instead of writing out of bounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from tinyc.compiler import Options, compile_graph, optimize
from tinyc.errors import ModelError, UnsupportedError, VerifyError
from tinyc.frontend.onnx import import_model
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
from tinyc.interp import run_graph

RNG = np.random.default_rng(11)


def f32(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def boxes(batches: int, n: int, center: bool = False) -> np.ndarray:
    """Random boxes on a 10x10 field, so that many overlap."""
    xy = RNG.uniform(0, 10, (batches, n, 2))
    wh = RNG.uniform(1, 5, (batches, n, 2))
    if center:
        return np.concatenate([xy, wh], axis=2).astype(np.float32)
    corners = np.concatenate([xy, xy + wh], axis=2)
    flip = RNG.random((batches, n)) < 0.3  # some with the corners swapped
    corners[flip] = corners[flip][:, [2, 3, 0, 1]]
    return corners.astype(np.float32)


@dataclass
class Case:
    id: str
    op: str
    feeds: dict[str, np.ndarray]
    attrs: dict = field(default_factory=dict)
    consts: dict[str, np.ndarray] = field(default_factory=dict)
    order: list[str] | None = None
    outputs: int = 1
    opset: int = 22
    oracle: str = "onnxruntime"


NMS_FEEDS = {"max": np.array([3], np.int64), "iou": np.array([0.3], np.float32),
             "score": np.array([0.2], np.float32)}

CASES = [
    Case("compress_axis0", "Compress",
         {"x": f32(4, 3), "c": np.array([1, 0, 1, 1], bool)}, {"axis": 0}),
    Case("compress_axis_neg_short", "Compress",
         {"x": f32(2, 5, 2), "c": np.array([0, 1, 0], bool)}, {"axis": -2}),
    Case("compress_flat", "Compress", {"x": f32(2, 3), "c": np.array([1, 0, 0, 1, 1], bool)}),
    Case("compress_const", "Compress", {"x": f32(3, 4)}, {"axis": 1},
         consts={"c": np.array([0, 1, 1, 0], bool)}),
    Case("nms_corners", "NonMaxSuppression",
         {"b": boxes(2, 12), "s": RNG.random((2, 3, 12)).astype(np.float32), **NMS_FEEDS}),
    Case("nms_center", "NonMaxSuppression",
         {"b": boxes(1, 10, center=True), "s": RNG.random((1, 2, 10)).astype(np.float32),
          **NMS_FEEDS}, {"center_point_box": 1}),
    Case("nms_no_thresholds", "NonMaxSuppression",
         {"b": boxes(1, 8), "s": np.round(RNG.random((1, 1, 8)), 1).astype(np.float32)},
         consts={"max": np.array([5], np.int64)}),
    Case("nms_const", "NonMaxSuppression", {},
         consts={"b": boxes(1, 6), "s": RNG.random((1, 1, 6)).astype(np.float32),
                 "max": np.array([2], np.int64)}, order=["b", "s", "max"]),
    Case("swiglu_f32", "SwiGLU", {"a": f32(3, 5) * 4, "b": f32(3, 5)}, {"alpha": 1.7},
         opset=28, oracle="onnx"),
    Case("swiglu_f64", "SwiGLU", {"a": f32(7).astype(np.float64) * 4,
                                  "b": f32(7).astype(np.float64)}, opset=28, oracle="onnx"),
    Case("swiglu_f16", "SwiGLU", {"a": f32(2, 6).astype(np.float16),
                                  "b": f32(2, 6).astype(np.float16)}, opset=28, oracle="onnx"),
    Case("unpool_2d", "MaxUnpool",
         {"x": f32(1, 2, 2, 2), "i": np.array([0, 3, 9, 15, 16, 18, 28, 31], np.int64)
          .reshape(1, 2, 2, 2)}, {"kernel_shape": [2, 2], "strides": [2, 2]}, oracle="onnx"),
    Case("unpool_shape", "MaxUnpool",
         {"x": f32(1, 1, 3), "i": np.array([0, 2, 4], np.int64).reshape(1, 1, 3),
          "shape": np.array([1, 1, 9], np.int64)},
         {"kernel_shape": [3], "strides": [2], "pads": [1, 1]}, oracle="onnx"),
    Case("deform_plain", "DeformConv",
         {"x": f32(1, 2, 5, 4), "w": f32(3, 2, 2, 2), "off": f32(1, 8, 4, 3) * 2}),
    Case("deform_groups", "DeformConv",
         {"x": f32(2, 4, 6, 5), "w": f32(4, 2, 3, 2), "off": f32(2, 24, 3, 2) * 3,
          "b": f32(4), "m": RNG.random((2, 12, 3, 2)).astype(np.float32)},
         {"group": 2, "offset_group": 2, "strides": [2, 2], "dilations": [1, 2],
          "pads": [1, 0, 1, 1]}),
    Case("unique_flat", "Unique", {"x": RNG.integers(0, 5, (3, 4)).astype(np.float32)},
         outputs=4),
    Case("unique_unsorted", "Unique", {"x": RNG.integers(-3, 3, 9).astype(np.int64)},
         {"sorted": 0}, outputs=4),
    Case("unique_axis", "Unique", {"x": RNG.integers(0, 2, (3, 3, 2)).astype(np.float32)},
         {"axis": -2}, outputs=4),
    Case("unique_y_only", "Unique", {"x": np.array([2.0, -0.0, 0.0, 2.5, 2.0], np.float64)},
         {"axis": 0}),
]


def _model(cases: list[Case], shapes: dict[str, np.ndarray] | None = None) -> onnx.ModelProto:
    """One graph with every case's node, names prefixed by the case id."""
    nodes, inputs, outputs, inits = [], [], [], []
    for case in cases:
        p = f"{case.id}_"
        order = case.order or list(case.feeds) + list(case.consts)
        outs = [f"{p}y{i}" for i in range(case.outputs)]
        nodes.append(helper.make_node(case.op, [p + n for n in order], outs,
                                      name=p + "node", **case.attrs))
        for name, data in case.feeds.items():
            inputs.append(helper.make_tensor_value_info(
                p + name, helper.np_dtype_to_tensor_dtype(data.dtype), data.shape))
        for name, data in case.consts.items():
            inits.append(numpy_helper.from_array(data, p + name))
        for out in outs:
            if shapes is None:
                outputs.append(helper.make_empty_tensor_value_info(out))
            else:
                outputs.append(helper.make_tensor_value_info(
                    out, helper.np_dtype_to_tensor_dtype(shapes[out].dtype), shapes[out].shape))
    graph = helper.make_graph(nodes, "m", inputs, outputs, inits)
    opset = max(c.opset for c in cases)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                             ir_version=10)


def _feeds(cases: list[Case]) -> dict[str, np.ndarray]:
    return {f"{c.id}_{k}": v for c in cases for k, v in c.feeds.items()}


def expected(case: Case) -> list[np.ndarray]:
    model = _model([case])
    if case.oracle == "onnx":
        return ReferenceEvaluator(model).run(None, _feeds([case]))
    ort = pytest.importorskip("onnxruntime")
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    return sess.run(None, _feeds([case]))


def _declared(cases: list[Case]) -> onnx.ModelProto:
    return _model(cases, {f"{c.id}_y{i}": y for c in cases for i, y in enumerate(expected(c))})


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_reference_matches_oracle(case: Case) -> None:
    graph = import_model(_declared([case]), {})
    for got, want in zip(run_graph(graph, _feeds([case])), expected(case), strict=True):
        assert got.dtype == want.dtype and got.shape == want.shape
        tol = {"rtol": 2e-3, "atol": 1e-3} if want.dtype == np.float16 else {"rtol": 1e-5,
                                                                             "atol": 1e-6}
        np.testing.assert_allclose(got, want, **tol)


def _build(cases: list[Case], tmp: Path) -> tuple:
    graph = import_model(_declared(cases), {})
    options = Options(verify_each=True)
    graph, _ = optimize(graph, options)
    compiled = compile_graph(graph, options, "m")
    compiled.code.write(tmp)
    return graph, build_host(tmp, graph, compiled.code.name, SANITIZE_FLAGS)


def test_c_matches_reference(tmp_path: Path) -> None:
    graph, exe = _build(CASES, tmp_path)
    feeds = _feeds(CASES)
    got = run_host(exe, graph, [feeds[v.name] for v in graph.inputs])
    want = run_graph(graph, feeds)
    for value, g, w in zip(graph.outputs, got, want, strict=True):
        # float32 C against float64 numpy sums (DeformConv), libm's exp against numpy's
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5, err_msg=value.name)


def test_data_dependent_sizes_are_checked(tmp_path: Path) -> None:
    """Data that keeps another number of slices or boxes than declared fails NAME_run and
    the interpreter; so does a run-time output_shape other than the declared one."""
    cases = [c for c in CASES
             if c.id in ("compress_axis0", "nms_corners", "unpool_shape", "unique_axis")]
    graph, exe = _build(cases, tmp_path)
    good = _feeds(cases)
    bad_values = {
        "compress_axis0_c": np.array([1, 1, 1, 1], bool),
        "nms_corners_max": np.array([4], np.int64),
        "unique_axis_x": np.zeros((3, 3, 2), np.float32),
        "unpool_shape_shape": np.array([1, 1, 10], np.int64),
        "unpool_shape_i": np.array([1, 2, 5], np.int64).reshape(1, 1, 3),  # 5: past the end
    }
    for name, bad in bad_values.items():
        feeds = dict(good, **{name: bad})
        with pytest.raises(VerifyError, match="exited with"):
            run_host(exe, graph, [feeds[v.name] for v in graph.inputs])
        with pytest.raises(ModelError):
            run_graph(graph, feeds)


@pytest.mark.parametrize("case_id", ["compress_axis0", "nms_corners", "unique_flat"])
def test_undeclared_size_is_refused(case_id: str) -> None:
    case = next(c for c in CASES if c.id == case_id)
    with pytest.raises(UnsupportedError, match="declares no static shape"):
        import_model(_model([case]), {})
