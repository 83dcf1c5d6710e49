"""The exporter-pattern passes: div-to-mul's numeric claims, the reasons the rules give
when they refuse, and the int8 forms (the Pad of an int8 tensor folding into QConv and the
pools bit-exactly; Swish getting a lookup table). Random graphs: tests/property; the
exported models against their clean twins: tests/test_export_patterns.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import tinyc
from tests.strategies import make_node
from tinyc.compiler import Options, load_model, optimize
from tinyc.interp import run_graph
from tinyc.ir import DType, Graph, TensorType, Value
from tinyc.ir.text import save_text_ir
from tinyc.ir.verify import verify
from tinyc.passes import PassContext, parse_pipeline
from tinyc.passes.div_to_mul import DivByConstant, reciprocal
from tinyc.passes.fold_pad import PadIntoWindow
from tinyc.passes.manager import pipeline_without
from tinyc.passes.recognize_activations import GatedProduct

F32 = DType.F32


def _scalar(g: Graph, value: float) -> Value:
    return g.add_const(g.unique_name("k"), np.asarray(value, np.float32))


def _run(name: str, g: Graph) -> bool:
    (p,) = parse_pipeline(name)
    modified = p(g, PassContext(verify_each=True)).modified
    verify(g)
    return modified


# -- div-to-mul -----------------------------------------------------------------------------


def test_reciprocal_refuses_what_a_multiply_cannot_do() -> None:
    assert reciprocal(np.float32([0.0])) is None
    assert reciprocal(np.float32([np.inf])) is None
    assert reciprocal(np.float32([2.0**-130])) is None  # 1/c overflows
    assert reciprocal(np.float32([3e38])) is None  # 1/c an inexact subnormal
    assert reciprocal(np.float32([2.0**127])) == np.float32(2.0**-127)  # exact subnormal
    assert reciprocal(np.float32([-4.0, 0.5])).tolist() == [-0.25, 2.0]


def _divide(divisor: float, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x / divisor before and after div-to-mul, in the reference interpreter."""
    g = Graph("t")
    xv = g.add_input("x", TensorType(F32, x.shape))
    g.outputs = [make_node(g, "Div", [xv, _scalar(g, divisor)]).outputs[0]]
    with np.errstate(all="ignore"):
        before = run_graph(g, {"x": x})[0]
        assert _run("div-to-mul", g)
        assert [n.op for n in g.nodes] == ["Mul"]
        return before, run_graph(g, {"x": x})[0]


def test_division_by_a_power_of_two_stays_bit_identical() -> None:
    tiny = np.finfo(np.float32).tiny
    x = np.float32([3.4e38, -3.4e38, 1.0, -7.25, tiny, tiny * 0.375, 1e-45, 0.0, -0.0,
                    np.inf, np.nan, 123456.789])
    for divisor in (2.0, 0.5, -8.0, 2.0**-100, 2.0**100, 2.0**127):
        before, after = _divide(divisor, x)
        np.testing.assert_array_equal(after.view(np.uint32), before.view(np.uint32),
                                      err_msg=f"/ {divisor}")


def test_division_by_other_constants_is_within_one_ulp() -> None:
    x = np.random.default_rng(0).standard_normal(4096).astype(np.float32) * 100
    for divisor in (3.0, 6.0, 0.1, -7.3, 255.0):
        before, after = _divide(divisor, x)
        ulps = np.abs(after.view(np.int32).astype(np.int64) - before.view(np.int32))
        assert ulps.max() <= 1, divisor


def test_division_of_scalars_keeps_them_scalars() -> None:
    """A 0-d divisor gives a 0-d reciprocal (DynamicQuantizeLinear's expanded function
    divides scalars; a [1] reciprocal made the quotient [1] and the next node refused it)."""
    g = Graph("t")
    x = g.add_input("x", TensorType(F32, ()))
    q = make_node(g, "Div", [x, _scalar(g, 255.0)])
    g.outputs = [make_node(g, "Div", [_scalar(g, 3.0), q.outputs[0]]).outputs[0]]
    assert _run("div-to-mul", g)
    assert [n.op for n in g.nodes] == ["Mul", "Div"]
    assert g.nodes[0].inputs[1].shape == () and g.outputs[0].shape == ()


def test_div_to_mul_reasons() -> None:
    g = Graph("t")
    x = g.add_input("x", TensorType(F32, (1, 4)))
    by_zero = make_node(g, "Div", [x, _scalar(g, 0.0)])
    by_value = make_node(g, "Div", [x, x])
    n = g.add_input("n", TensorType(DType.I32, (1, 4)))
    integer = make_node(g, "Div", [n, g.add_const("two", np.asarray(2, np.int32))])
    g.outputs = [by_zero.outputs[0], by_value.outputs[0], integer.outputs[0]]
    rule = DivByConstant()
    assert "not a usable float32" in rule.explain(g, by_zero).reason
    assert rule.explain(g, by_value).reason == "pattern does not match"
    assert "not f32" in rule.explain(g, integer).reason
    assert not _run("div-to-mul", g)


# -- recognize-activations -----------------------------------------------------------------


def test_recognize_activations_reasons() -> None:
    g = Graph("t")
    x = g.add_input("x", TensorType(F32, (1, 4)))
    sig = make_node(g, "Sigmoid", [x]).outputs[0]
    wide = g.add_const("wide", np.ones((3, 4), np.float32))
    broadcast = make_node(g, "Mul", [make_node(g, "Mul", [x, sig]).outputs[0], wide])
    fused = make_node(g, "Mul", [x, sig], activation="Relu", activation_params=[])
    clip5 = make_node(g, "Clip", [make_node(g, "Add", [x, _scalar(g, 3.0)]).outputs[0]],
                      min=0.0, max=5.0).outputs[0]
    near = make_node(g, "Mul", [make_node(g, "Mul", [x, clip5]).outputs[0], _scalar(g, 1 / 6)])
    g.outputs = [broadcast.outputs[0], fused.outputs[0], near.outputs[0]]
    rule = GatedProduct()
    assert "broadcasts" in rule.explain(g, broadcast).reason
    assert "already has activation Relu" in rule.explain(g, fused).reason
    assert "no factor is a HardSwish or Swish gate" in rule.explain(g, near).reason


def test_scaled_sigmoid_gate_is_swish_with_its_alpha() -> None:
    g = Graph("t")
    x = g.add_input("x", TensorType(F32, (2, 8)))
    gate = make_node(g, "Sigmoid", [make_node(g, "Mul", [x, _scalar(g, 1.702)]).outputs[0]])
    g.outputs = [make_node(g, "Mul", [gate.outputs[0], x]).outputs[0]]
    feeds = {"x": np.random.default_rng(1).standard_normal((2, 8)).astype(np.float32) * 4}
    before = run_graph(g, feeds)[0]
    assert _run("recognize-activations", g)
    assert [(n.op, n.attrs) for n in g.nodes] == [("Swish", {"alpha": pytest.approx(1.702)})]
    np.testing.assert_allclose(run_graph(g, feeds)[0], before, rtol=1e-6, atol=1e-6)


def _silu_conv(path: Path) -> None:
    """x -> depthwise 1x1 Conv -> c * Sigmoid(c), saved as text IR."""
    g = Graph("silu")
    x = g.add_input("x", TensorType(F32, (1, 4, 5, 5)))
    w = g.add_const("w", np.float32([0.5, -1.0, 1.5, 2.0]).reshape(4, 1, 1, 1))
    c = make_node(g, "Conv", [x, w], group=4).outputs[0]
    g.outputs = [make_node(g, "Mul", [c, make_node(g, "Sigmoid", [c]).outputs[0]]).outputs[0]]
    save_text_ir(g, path)


def test_silu_in_an_int8_build_is_one_lookup_table(tmp_path: Path) -> None:
    model = tmp_path / "silu.tir"
    _silu_conv(model)
    calib = tmp_path / "calib.npy"
    np.save(calib, np.random.default_rng(2).standard_normal((8, 1, 4, 5, 5)).astype(np.float32))
    options = Options(quantize="int8", calib=str(calib))
    graph, _ = optimize(load_model(model, options), options)
    ops = [n.op for n in graph.nodes]
    assert ops.count("QLut") == 1 and not {"Sigmoid", "Mul", "Swish", "QMul"} & set(ops)


def test_silu_as_torch_writes_it_runs_as_swish_and_matches_onnxruntime(tmp_path: Path) -> None:
    """Conv -> Sigmoid -> Mul (SiLU at opsets < 24): one Swish in the C, same outputs."""
    w = numpy_helper.from_array(
        np.random.default_rng(7).standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
         helper.make_node("Sigmoid", ["c"], ["s"]), helper.make_node("Mul", ["c", "s"], ["y"])],
        "silu", [helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, 3, 6, 6))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, (1, 4, 6, 6))], [w])
    model = tmp_path / "silu.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), model)
    options = Options()
    assert [n.op for n in optimize(load_model(model, options), options)[0].nodes] == [
        "Conv", "Swish"]
    result = tinyc.verify(model)
    assert result.reference == "onnxruntime" and result.ok, result.lines()


# -- fold-pad -------------------------------------------------------------------------------


def _pad_then(op: str, explicit: list[int], value: float = 0.0, relu: bool = True,
              **attrs: object) -> tuple[Graph, object]:
    g = Graph("t")
    x = g.add_input("x", TensorType(F32, (1, 2, 5, 5)))
    src = make_node(g, "Relu", [x]).outputs[0] if relu else x
    padded = make_node(g, "Pad", [src], pads=explicit, value=value).outputs[0]
    inputs = [padded]
    if op == "Conv":
        inputs.append(g.add_const("w", np.ones((2, 2, 3, 3), np.float32)))
    node = make_node(g, op, inputs, **attrs)
    g.outputs = [node.outputs[0]]
    verify(g)
    return g, node


SPATIAL = [0, 0, 1, 1, 0, 0, 1, 1]


@pytest.mark.parametrize(("op", "pads", "value", "relu", "attrs", "reason"), [
    ("AveragePool", [0, 1, 0, 0, 0, 1, 0, 0], 0.0, True, {"kernel_shape": [3, 3]},
     "spatial-only"),
    ("Conv", [0, 0, -1, 0, 0, 0, 0, 0], 0.0, True, {}, "non-negative"),
    ("Conv", SPATIAL, 1.0, True, {}, "not the Conv's padding"),
    ("AveragePool", SPATIAL, 0.0, True, {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]},
     "own padding not counted"),
    ("AveragePool", SPATIAL, 0.0, True, {"kernel_shape": [3, 3], "ceil_mode": 1}, "ceil_mode"),
    ("MaxPool", SPATIAL, 0.0, False, {"kernel_shape": [3, 3]}, "may exceed"),
    ("MaxPool", [0, 0, 3, 3, 0, 0, 3, 3], 0.0, True, {"kernel_shape": [2, 2], "strides": [1, 1]},
     "padding only"),
])
def test_fold_pad_reasons(op: str, pads: list[int], value: float, relu: bool,
                          attrs: dict[str, object], reason: str) -> None:
    g, node = _pad_then(op, pads, value, relu, **attrs)
    assert reason in PadIntoWindow().explain(g, node).reason  # type: ignore[arg-type]
    assert not _run("fold-pad", g)


def test_minus_infinity_pad_folds_into_any_maxpool() -> None:
    g, _ = _pad_then("MaxPool", SPATIAL, float("-inf"), relu=False, kernel_shape=[3, 3])
    feeds = {"x": np.random.default_rng(3).standard_normal((1, 2, 5, 5)).astype(np.float32)}
    before = run_graph(g, feeds)[0]
    assert _run("fold-pad", g)
    assert [n.op for n in g.nodes] == ["MaxPool"]
    np.testing.assert_array_equal(run_graph(g, feeds)[0], before)


def _relu_pad_conv_pools(path: Path) -> None:
    """Relu -> zero Pad -> {stride-2 depthwise Conv, MaxPool, AveragePool}, as text IR."""
    g = Graph("pads")
    x = g.add_input("x", TensorType(F32, (1, 4, 8, 8)))
    w = g.add_const("w", np.random.default_rng(6).standard_normal((4, 1, 3, 3)).astype(np.float32))
    p = make_node(g, "Pad", [make_node(g, "Relu", [x]).outputs[0]], pads=SPATIAL).outputs[0]
    g.outputs = [make_node(g, "Conv", [p, w], group=4, strides=[2, 2]).outputs[0],
                 make_node(g, "MaxPool", [p], kernel_shape=[3, 3], strides=[2, 2]).outputs[0],
                 make_node(g, "AveragePool", [p], kernel_shape=[3, 3]).outputs[0]]
    save_text_ir(g, path)


def test_int8_pad_of_the_zero_point_folds_bit_exactly(tmp_path: Path) -> None:
    """Quantized with fold-pad left out, the Pad is an int8 Pad of x's zero point (the
    form a QDQ model's lowering gives); fold-pad then folds it into QConv, QMaxPool (the
    input is a Relu's, so >= the zero point) and QAveragePool, and every output stays
    bit-identical."""
    model = tmp_path / "pads.tir"
    _relu_pad_conv_pools(model)
    calib = tmp_path / "calib.npy"
    np.save(calib, np.random.default_rng(4).standard_normal((8, 1, 4, 8, 8)).astype(np.float32))
    options = Options(quantize="int8", calib=str(calib),
                      passes=pipeline_without(1, None, frozenset({"fold-pad"})))
    graph, _ = optimize(load_model(model, options), options)
    pads = [n for n in graph.nodes if n.op == "Pad"]
    assert len(pads) == 1 and pads[0].outputs[0].dtype is DType.I8
    feeds = {"x": np.random.default_rng(5).standard_normal((1, 4, 8, 8)).astype(np.float32)}
    before = run_graph(graph, feeds)
    assert _run("fold-pad", graph)
    ops = {n.op for n in graph.nodes}
    assert "Pad" not in ops and {"QMaxPool", "QAveragePool"} <= ops
    for got, want in zip(run_graph(graph, feeds), before, strict=True):
        np.testing.assert_array_equal(got, want)
