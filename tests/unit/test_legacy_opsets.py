"""Ops whose attribute defaults or semantics changed between opsets, in models built with
onnx.helper at the old opsets, compiled to C (under ASan/UBSan) and compared with
onnxruntime (rtol 1e-4, atol 1e-5). The audit behind the table is in
docs/architecture.md ("Opset audit").

Every case of one opset is one output of one model, so each opset costs one C build.
Before opset 13, Softmax, LogSoftmax and Hardmax default to axis 1 and coerce the input
to 2-D at the axis: a classifier head of shape [1, 1000, 1, 1] used to give 1.0 for
every class."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from tinyc.compiler import Options, compile_graph, optimize
from tinyc.errors import UnsupportedError
from tinyc.frontend.onnx import import_model
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
from tinyc.interp import run_graph
from tinyc.ir.verify import verify

SOFTMAX_FAMILY = ("Softmax", "LogSoftmax", "Hardmax")


@dataclass(frozen=True)
class Case:
    """One op on one fresh input; `consts` are extra initializer inputs."""

    op: str
    shape: tuple[int, ...]
    attrs: dict = field(default_factory=dict)
    opsets: tuple[int, ...] = (9, 11, 12, 13)
    consts: tuple[np.ndarray, ...] = ()
    #: extra special values written into the input (index -> value)
    specials: tuple[tuple[int, float], ...] = ()
    outputs: int = 1


def _softmax_cases() -> list[Case]:
    cases = []
    for op in SOFTMAX_FAMILY:
        cases += [
            Case(op, (1, 1000, 1, 1)),  # the classifier head of the issue
            Case(op, (2, 3, 4, 5)),  # default axis 1: [2, 60] before opset 13
            Case(op, (2, 3, 4, 5), {"axis": 2}),
            Case(op, (2, 3, 4, 5), {"axis": 3}),
            Case(op, (2, 3, 4), {"axis": 0}),
            Case(op, (2, 3, 4, 5), {"axis": -1}, opsets=(11, 12, 13)),
            Case(op, (2, 3, 4, 5), {"axis": -3}, opsets=(11, 12, 13)),
            Case(op, (3, 1, 7, 1), {"axis": 1}),  # one non-unit dim after the axis
        ]
    return cases


def _i64(*values: int) -> np.ndarray:
    return np.asarray(values, np.int64)


CASES = _softmax_cases() + [
    # Clip before opset 11: bounds are attributes that default to -+FLT_MAX, not -+inf
    Case("Clip", (2, 6), {"min": -0.5}, opsets=(7, 9), specials=((0, np.inf), (1, -np.inf))),
    Case("Clip", (2, 6), {}, opsets=(7, 9), specials=((0, np.inf), (1, -np.inf))),
    # axes as attributes (before 13 / 18), the all-axes default
    Case("ReduceSum", (2, 3, 4), {"axes": [1], "keepdims": 0}, opsets=(9, 11, 12)),
    Case("ReduceSum", (2, 3, 4), {}, opsets=(9, 11, 12)),
    Case("ReduceMean", (2, 3, 4), {"axes": [0, 2]}, opsets=(9, 13, 17)),
    Case("Squeeze", (2, 1, 4), {"axes": [1]}, opsets=(9, 11, 12)),
    Case("Squeeze", (2, 1, 4, 1), {}, opsets=(9, 11, 12)),
    Case("Unsqueeze", (2, 4), {"axes": [0, 3]}, opsets=(9, 11, 12)),
    Case("Pad", (2, 3), {"pads": [0, 1, 1, 2], "value": 1.5}, opsets=(7, 9, 10)),
    Case("Pad", (2, 3), {"pads": [1, 0, 0, 1], "mode": "reflect"}, opsets=(7, 9, 10)),
    Case("Slice", (4, 6), {"starts": [1, 0], "ends": [3, 5], "axes": [0, 1]}, opsets=(7, 9)),
    Case("ArgMax", (3, 5), {"axis": 1}, opsets=(9, 11, 12)),
    Case("TopK", (3, 5), {"k": 2}, opsets=(7, 9), outputs=2),
    # Split: sizes an attribute (before 13), an input (13), or num_outputs (18)
    Case("Split", (6, 4), {"split": [2, 4]}, opsets=(9, 11, 12), outputs=2),
    Case("Split", (6, 4), {"axis": 1}, opsets=(9, 11, 12, 13), outputs=2),
    Case("Split", (6, 4), {}, opsets=(13,), consts=(np.asarray([1, 5], np.int64),),
         outputs=2),
    Case("Split", (6, 4), {"num_outputs": 3}, opsets=(18,), outputs=3),
    # GroupNormalization-18: scale and bias per group (per channel from opset 21)
    Case("GroupNormalization", (2, 4, 3), {"num_groups": 2}, opsets=(18,),
         consts=(np.asarray([0.5, 2.0], np.float32), np.asarray([0.1, -0.3], np.float32))),
    # GridSample-16: the default mode is called bilinear (linear from opset 20)
    Case("GridSample", (1, 2, 3, 4), {}, opsets=(16,),
         consts=(np.linspace(-1.1, 1.1, 2 * 5 * 2, dtype=np.float32).reshape(1, 2, 5, 2),)),
    # Dropout's inference mask: the input's type before opset 10, bool after; onnxruntime
    # writes false before opset 12, true from then on
    Case("Dropout", (2, 3), {}, opsets=(7, 9, 10, 11, 12, 13), outputs=2),
    # Upsample: scales an attribute (7-8), an input (9); asymmetric coordinates, floor
    Case("Upsample", (1, 2, 3, 4), {"scales": [1.0, 1.0, 2.0, 3.0]}, opsets=(7, 8)),
    Case("Upsample", (1, 2, 3, 4), {"scales": [1.0, 1.0, 2.0, 1.5], "mode": "linear"},
         opsets=(7, 8)),
    Case("Upsample", (1, 2, 3, 4), {}, opsets=(9,), consts=(np.asarray([1, 1, 2, 2.5],
                                                                       np.float32),)),
    # Resize-10: (X, scales), asymmetric coordinates
    Case("Resize", (1, 2, 3, 4), {}, opsets=(10,), consts=(np.asarray([1, 1, 2, 1.5],
                                                                     np.float32),)),
    Case("Resize", (1, 2, 3, 4), {"mode": "linear"}, opsets=(10,),
         consts=(np.asarray([1, 1, 1.5, 2], np.float32),)),
    # Resize-11/12: tf_half_pixel_for_nn (TensorFlow's nearest resize, gone in opset 13)
    Case("Resize", (1, 2, 3, 4), {"coordinate_transformation_mode": "tf_half_pixel_for_nn"},
         opsets=(11, 12), consts=(np.zeros(0, np.float32), np.asarray([1, 1, 2, 1.5],
                                                                     np.float32))),
    Case("Resize", (1, 2, 5, 6), {"coordinate_transformation_mode": "tf_half_pixel_for_nn",
                                  "nearest_mode": "floor"}, opsets=(11, 12),
         consts=(np.zeros(0, np.float32), np.asarray([1, 1, 0.6, 1.6], np.float32))),
    # BatchNormalization-7: spatial=0 on a 2-D input is the per-channel form
    Case("BatchNormalization", (3, 4), {"spatial": 0}, opsets=(7,),
         consts=(np.linspace(0.5, 2, 4, dtype=np.float32), np.linspace(-1, 1, 4,
                 dtype=np.float32), np.linspace(-0.2, 0.3, 4, dtype=np.float32),
                 np.linspace(0.5, 1.5, 4, dtype=np.float32))),
]


def _model(opset: int) -> tuple[onnx.ModelProto, list[np.ndarray]]:
    """All the cases valid at `opset`, each on its own input, as one model; and inputs."""
    rng = np.random.default_rng(opset)
    nodes, inputs, outputs, inits, data = [], [], [], [], []
    for i, case in enumerate(c for c in CASES if opset in c.opsets):
        x, y = f"x{i}", f"y{i}_{case.op}"
        names = [x]
        for k, const in enumerate(case.consts):
            names.append(f"c{i}_{k}")
            inits.append(numpy_helper.from_array(const, names[-1]))
        outs = [y] + [f"{y}_{k}" for k in range(1, case.outputs)]
        nodes.append(helper.make_node(case.op, names, outs, name=f"n{i}", **case.attrs))
        inputs.append(helper.make_tensor_value_info(x, TensorProto.FLOAT, case.shape))
        outputs += [helper.make_empty_tensor_value_info(o) for o in outs]
        values = rng.standard_normal(case.shape).astype(np.float32) * 3
        for index, special in case.specials:
            values.reshape(-1)[index] = special
        data.append(values)
    graph = helper.make_graph(nodes, f"legacy{opset}", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7
    model = onnx.shape_inference.infer_shapes(model)
    for out in model.graph.output:  # declared output types, as an exporter writes them
        found = [v for v in model.graph.value_info if v.name == out.name]
        if found:
            out.CopyFrom(found[0])
    return model, data


def _onnxruntime(model: onnx.ModelProto, data: list[np.ndarray]) -> list[np.ndarray]:
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    return sess.run(None, {i.name: x for i, x in zip(sess.get_inputs(), data, strict=True)})


@pytest.mark.parametrize("opset", [7, 8, 9, 10, 11, 12, 13, 16, 17, 18])
def test_legacy_opset_cases_match_onnxruntime_in_c(opset: int, tmp_path: Path) -> None:
    model, data = _model(opset)
    expected = _onnxruntime(model, data)
    graph = import_model(model, {}, name=f"legacy{opset}")
    verify(graph)
    names = [o.name for o in model.graph.output]
    for name, got, want in zip(names, run_graph(graph, dict(zip([v.name for v in graph.inputs],
                                                               data, strict=True))),
                               expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=f"interp {name}")
    options = Options()
    graph, _ = optimize(graph, options)
    # one C name for every opset: the kernel files are the same text, compiled once
    compiled = compile_graph(graph, options, "legacy")
    compiled.code.write(tmp_path)
    exe = build_host(tmp_path, graph, compiled.code.name, SANITIZE_FLAGS)
    for name, got, want in zip(names, run_host(exe, graph, data), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=f"C {name}")


def test_classifier_head_is_not_all_ones_before_opset_13() -> None:
    """The issue's symptom, stated directly: a [1, 1000, 1, 1] softmax sums to 1."""
    model, data = _model(11)
    graph = import_model(model, {}, name="head")
    first = run_graph(graph, dict(zip([v.name for v in graph.inputs], data, strict=True)))[0]
    assert first.shape == (1, 1000, 1, 1)
    assert abs(float(first.sum()) - 1.0) < 1e-4
    assert float(first.min()) < 1e-2  # the bug gave 1.0 everywhere


def test_coerced_softmax_keeps_a_two_d_form_only_when_needed() -> None:
    """[2, 3, 4, 5] at axis 1 is a real 2-D softmax (flatten=1); [1, 1000, 1, 1] and
    [3, 1, 7, 1] are one-axis softmaxes on their only non-unit dim."""
    model, _ = _model(11)
    graph = import_model(model, {}, name="forms")
    forms = {n.name: (n.attrs["axis"], n.attrs.get("flatten", 0)) for n in graph.nodes
             if n.op == "Softmax"}
    assert forms["n0"] == (1, 0)  # [1, 1000, 1, 1]
    assert forms["n1"] == (1, 1)  # [2, 3, 4, 5], default axis 1
    assert forms["n7"] == (2, 0)  # [3, 1, 7, 1] at axis 1 -> axis 2


def test_batchnorm_spatial_0_on_images_is_refused_naming_node_and_opset() -> None:
    c = 3
    params = [numpy_helper.from_array(np.ones((c, 2, 2), np.float32), n)
              for n in ("s", "b", "m", "v")]
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"],
                            name="bn", spatial=0)
    graph = helper.make_graph([node], "bn", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [1, c, 2, 2])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, [1, c, 2, 2])], params)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 7)])
    with pytest.raises(UnsupportedError, match=r"BatchNormalization node 'bn'.*opset 7.*"
                                               r"spatial=0"):
        import_model(model, {})
