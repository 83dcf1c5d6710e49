"""The elementwise, logic, cast and reduction kernels on their edge cases: integer
overflow, division by zero, INT_MIN / -1, shifts past the width, NaN, float -> int out of
range, float16 rounding, empty reductions, run-time axes.

Each case is one ONNX node; the cases of one opset are compiled together by tinyc into
one program (one C build per opset keeps the test fast). The C runs under ASan/UBSan, so
any undefined behaviour fails the test, and every output must equal the op's numpy
reference through the interpreter: bit for bit for integers and bools, closely for floats.
Spot checks (`expect`) pin the semantics to numpy's where numpy is well defined."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from tinyc.compiler import Options, compile_graph, optimize
from tinyc.frontend.onnx import import_model
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
from tinyc.interp import run_graph

I8, I32, I64, U8, U64 = np.int8, np.int32, np.int64, np.uint8, np.uint64
F16, F32, F64 = np.float16, np.float32, np.float64
NAN, INF = float("nan"), float("inf")


@dataclass
class Case:
    name: str
    op: str
    inputs: list[np.ndarray]
    attrs: dict[str, Any] = field(default_factory=dict)
    #: inputs given as initializers (constants), by position
    consts: dict[int, np.ndarray] = field(default_factory=dict)
    opset: int = 18
    outputs: int = 1
    #: expected first output, when numpy's answer is well defined
    expect: np.ndarray | None = None
    #: declared output shape, when ONNX shape inference cannot know it (run-time axes)
    out_shape: tuple[int, ...] | None = None


def a(values: Any, dtype: Any) -> np.ndarray:
    """An array of `dtype`; exact for big integers, wrapping or saturating like numpy else."""
    try:
        return np.array(values, dtype=dtype)
    except (OverflowError, ValueError):
        with np.errstate(all="ignore"):
            return np.array(values).astype(dtype)


def i8_pair() -> list[np.ndarray]:
    return [a([127, -128, -128, 7, -7, 100], I8), a([1, -1, 2, -2, 2, 0], I8)]


CASES = [
    Case("add_i8_wraps", "Add", i8_pair(), expect=a([-128, 127, -126, 5, -5, 100], I8)),
    Case("sub_u8_wraps", "Sub", [a([0, 5], U8), a([1, 10], U8)], expect=a([255, 251], U8)),
    Case("mul_i32_wraps", "Mul", [a([2**30, -(2**31), 65535], I32), a([4, -1, 65537], I32)]),
    Case("mul_i64_wraps", "Mul", [a([2**62, -(2**63)], I64), a([4, -1], I64)]),
    Case("mul_u64", "Mul", [a([2**63, 3], U64), a([2, 5], U64)], expect=a([0, 15], U64)),
    Case("div_i8_zero_and_overflow", "Div", i8_pair(), expect=a([127, -128, -64, -3, -3, 0], I8)),
    Case("div_i64_min_by_minus_one", "Div", [a([-(2**63), 9], I64), a([-1, -4], I64)]),
    Case("div_u8_by_zero", "Div", [a([9, 9], U8), a([0, 2], U8)], expect=a([0, 4], U8)),
    Case("mod_i32", "Mod", [a([7, -7, 7, -7, 5, -2**31], I32), a([3, 3, -3, -3, 0, -1], I32)],
         expect=a([1, 2, -2, -1, 0, 0], I32)),
    Case("fmod_i32", "Mod", [a([7, -7, 7, -7, 5], I32), a([3, 3, -3, -3, 0], I32)],
         attrs={"fmod": 1}, expect=a([1, -1, 1, -1, 0], I32)),
    Case("mod_f32_sign_of_divisor", "Mod",
         [a([5.5, -5.5, 5.5, -5.5, 1.0, -1.0], F32), a([2, 2, -2, -2, INF, INF], F32)]),
    Case("fmod_f64", "Mod", [a([5.5, -5.5], F64), a([2, 2], F64)], attrs={"fmod": 1}),
    Case("max_f32_nan", "Max", [a([1, NAN, 3], F32), a([NAN, 2, 1], F32), a([0], F32)]),
    Case("min_i64_bcast", "Min", [a([[1], [5]], I64), a([3, 4, -2**63], I64)]),
    Case("mean_f16", "Mean", [a([1, 2.5], F16), a([2, 3], F16), a([0.1, 0.2], F16)]),
    Case("sum_u8_wraps", "Sum", [a([200], U8), a([100], U8)], expect=a([44], U8)),
    Case("neg_i8_min", "Neg", [a([-128, 5, 0], I8)], expect=a([-128, -5, 0], I8)),
    Case("abs_i32_min", "Abs", [a([-(2**31), -3], I32)], expect=a([-(2**31), 3], I32)),
    Case("sign_i64", "Sign", [a([-9, 0, 9], I64)], expect=a([-1, 0, 1], I64)),
    Case("sign_f32", "Sign", [a([-2.5, 0, 3, NAN], F32)]),
    Case("pow_i32_negative_exponent", "Pow", [a([2, 1, -1, -1, 3, 0], I32),
                                              a([-1, -5, -3, -2, 21, 0], I32)]),
    Case("pow_i64_float_exponent", "Pow", [a([2, 3, -8], I64), a([0.5, 2.0, 1e30], F32)]),
    Case("pow_f32_i64", "Pow", [a([2, -3, 0.5], F32), a([3, 2, -2], I64)],
         expect=a([8, 9, 4], F32)),
    Case("pow_f16", "Pow", [a([2, 1.5], F16), a([3, 2], F16)]),
    Case("clip_i8_runtime_bounds", "Clip", [a([-100, 0, 100], I8), a(-5, I8), a(50, I8)],
         expect=a([-5, 0, 50], I8)),
    Case("clip_f32_min_above_max", "Clip", [a([-1, 0, 1], F32), a(2, F32), a(1, F32)],
         expect=a([1, 1, 1], F32)),
    Case("clip_u8_const", "Clip", [a([1, 9], U8)], consts={1: a(3, U8), 2: a(250, U8)},
         expect=a([3, 9], U8)),
    Case("relu_f64", "Relu", [a([-1, 2, NAN], F64)]),
    Case("sigmoid_f16_extremes", "Sigmoid", [a([-100, 0, 100], F16)]),
    Case("elu_selu_celu", "Celu", [a([-3, -0.5, 0, 2], F32)], attrs={"alpha": 2.0}),
    Case("softplus_large", "Softplus", [a([-100, 0, 100], F32)]),
    Case("gelu_tanh", "Gelu", [a([-3, -0.5, 0.5, 3], F32)], attrs={"approximate": "tanh"},
         opset=20),
    Case("round_half_even", "Round", [a([0.5, 1.5, 2.5, -0.5, -1.5], F32)],
         expect=a([0, 2, 2, -0, -2], F32)),
    Case("prelu_channel_slope", "PRelu", [a(np.arange(-6, 6).reshape(1, 3, 4), F32),
                                          a([[0.1], [0.2], [0.3]], F32)]),
    Case("shift_left_i8", "BitShift", [a([1, 1, -1, 64], I8), a([7, 8, -1, 1], I8)],
         attrs={"direction": "LEFT"}, opset=28, expect=a([-128, 0, 0, -128], I8)),
    Case("shift_right_i32", "BitShift", [a([-16, -16, 16, -1], I32), a([2, 32, 40, 31], I32)],
         attrs={"direction": "RIGHT"}, opset=28, expect=a([-4, -1, 0, -1], I32)),
    Case("shift_u64", "BitShift", [a([1, 2**63, 5], U64), a([63, 64, 0], U64)],
         attrs={"direction": "LEFT"}, expect=a([2**63, 0, 5], U64)),
    Case("bitwise_not_u8", "BitwiseNot", [a([0, 255, 15], U8)], expect=a([255, 0, 240], U8)),
    Case("bitwise_xor_i64", "BitwiseXor", [a([-1, 5], I64), a([3, 3], I64)]),
    Case("less_nan", "Less", [a([1, NAN, 2], F32), a([2, 1, NAN], F32)],
         expect=np.array([True, False, False])),
    Case("greater_equal_u64", "GreaterOrEqual", [a([2**64 - 1, 0], U64), a([2**63, 0], U64)],
         expect=np.array([True, True])),
    Case("equal_bool", "Equal", [np.array([True, False]), np.array([True, True])],
         expect=np.array([True, False])),
    Case("greater_f16_bcast", "Greater", [a([[1], [3]], F16), a([2, 0.5], F16)]),
    Case("xor_bcast", "Xor", [np.array([[True], [False]]), np.array([True, False])]),
    Case("not", "Not", [np.array([True, False])], expect=np.array([False, True])),
    Case("where_i64_bcast", "Where", [np.array([[True], [False]]), a([1, 2, 3], I64),
                                      a(-(2**63), I64)]),
    Case("isinf_negative_only", "IsInf", [a([INF, -INF, NAN, 1], F32)],
         attrs={"detect_positive": 0}, expect=np.array([False, True, False, False])),
    Case("isnan_f16", "IsNaN", [a([NAN, INF, 0], F16)], expect=np.array([True, False, False])),
    Case("cast_f32_to_i8_saturates", "Cast", [a([NAN, 1e10, -1e10, 3.9, -3.9], F32)],
         attrs={"to": onnx.TensorProto.INT8}, expect=a([0, 127, -128, 3, -3], I8)),
    Case("cast_f64_to_u64", "Cast", [a([-1.0, 1.8e19, 2**64, 5.5], F64)],
         attrs={"to": onnx.TensorProto.UINT64}),
    Case("cast_i64_to_i8_wraps", "Cast", [a([300, -129, 2**40 + 5], I64)],
         attrs={"to": onnx.TensorProto.INT8}, expect=a([44, 127, 5], I8)),
    Case("cast_f32_to_f16_rounds", "Cast", [a([65519, 65520, 1e-8, 2**-24 * 1.5, NAN], F32)],
         attrs={"to": onnx.TensorProto.FLOAT16}),
    Case("cast_f16_to_bool", "Cast", [a([0, -0.0, NAN, 1e-7], F16)],
         attrs={"to": onnx.TensorProto.BOOL}, expect=np.array([False, False, True, True])),
    Case("castlike_u8_to_f64", "CastLike", [a([0, 255], U8), a([0], F64)], opset=19),
    Case("bitcast_f32_i32", "BitCast", [a([1.0, -0.0], F32)], attrs={"to": onnx.TensorProto.INT32},
         opset=26, expect=a([0x3F800000, -(2**31)], I32)),
    Case("reduce_sum_i8_wraps", "ReduceSum", [a([[100, 100], [-100, -100]], I8)],
         consts={1: a([1], I64)}, attrs={"keepdims": 0}, expect=a([-56, 56], I8)),
    Case("reduce_mean_i32_truncates", "ReduceMean", [a([[-7, 0], [7, 0]], I32)],
         consts={1: a([1], I64)}, expect=a([[-3], [3]], I32)),
    Case("reduce_max_empty", "ReduceMax", [np.zeros((2, 0, 3), F32)], consts={1: a([1], I64)},
         opset=20, expect=np.full((2, 1, 3), -np.inf, F32)),
    Case("reduce_min_bool", "ReduceMin", [np.array([[True, False], [True, True]])],
         consts={1: a([1], I64)}, attrs={"keepdims": 0}, opset=20,
         expect=np.array([False, True])),
    Case("reduce_prod_u8", "ReduceProd", [a([[16, 16, 2], [3, 4, 5]], U8)]),
    Case("reduce_l2_i64", "ReduceL2", [a([[3, 4], [-6, 8]], I64)], consts={1: a([1], I64)},
         expect=a([[5], [10]], I64)),
    Case("reduce_log_sum_exp_f64", "ReduceLogSumExp", [a([[1000, 1000], [-INF, -INF]], F64)],
         consts={1: a([1], I64)}),
    Case("reduce_l1_runtime_axes", "ReduceL1", [a(np.arange(-12, 12).reshape(2, 3, 4), F32),
                                                 a([0, -1], I64)], attrs={"keepdims": 0},
         out_shape=(3,)),
    Case("reduce_sum_noop_empty_axes", "ReduceSumSquare", [a([[1, -2]], F32)],
         consts={1: a([], I64)}, attrs={"noop_with_empty_axes": 1}, expect=a([[1, 4]], F32)),
    Case("log_softmax_opset11", "LogSoftmax", [a(np.arange(6).reshape(2, 3), F32)], opset=11),
    Case("sce_log_prob", "SoftmaxCrossEntropyLoss", [a(np.arange(12).reshape(2, 3, 2), F32),
                                                      a([[0, 2], [1, -1]], I64)],
         attrs={"ignore_index": -1}, opset=13, outputs=2),
]


def build(cases: list[Case], opset: int) -> tuple[onnx.ModelProto, list[np.ndarray]]:
    """One model holding every case as its own node; the feeds in graph input order."""
    nodes, feeds, inits, outputs, data = [], [], [], [], []
    for case in cases:
        it = iter(case.inputs)
        names = []
        for i in range(len(case.inputs) + len(case.consts)):
            name = f"{case.name}_in{i}"
            names.append(name)
            if i in case.consts:
                inits.append(numpy_helper.from_array(case.consts[i], name))
                continue
            x = next(it)
            data.append(x)
            elem = helper.np_dtype_to_tensor_dtype(x.dtype)
            feeds.append(helper.make_tensor_value_info(name, elem, list(x.shape)))
        outs = [f"{case.name}_out{i}" for i in range(case.outputs)]
        nodes.append(helper.make_node(case.op, names, outs, name=case.name, **case.attrs))
        for o in outs:
            if case.out_shape is not None:
                elem = helper.np_dtype_to_tensor_dtype(case.inputs[0].dtype)
                outputs.append(helper.make_tensor_value_info(o, elem, list(case.out_shape)))
            else:
                outputs.append(helper.make_empty_tensor_value_info(o))
    graph = helper.make_graph(nodes, f"opset{opset}", feeds, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    return onnx.shape_inference.infer_shapes(model), data


def same(got: np.ndarray, want: np.ndarray) -> bool:
    if got.shape != want.shape or got.dtype != want.dtype:
        return False
    if got.dtype.kind == "f":
        return bool(np.allclose(got, want, rtol=1e-5, atol=1e-6, equal_nan=True))
    return bool(np.array_equal(got, want))


OPSETS = sorted({c.opset for c in CASES})


@pytest.mark.parametrize("opset", OPSETS)
def test_kernels_match_reference_under_sanitizers(opset: int, tmp_path: Path) -> None:
    cases = [c for c in CASES if c.opset == opset]
    model, data = build(cases, opset)
    options = Options(name="m")
    graph, _ = optimize(import_model(model, {}), options)
    produced = {n.name for n in graph.nodes}
    folded = [c.name for c in cases if c.name not in produced]
    assert not folded, f"cases folded away (feed them as inputs): {folded}"
    compiled = compile_graph(graph, options, "m")
    compiled.code.write(tmp_path)
    exe = build_host(tmp_path, graph, "m", [*SANITIZE_FLAGS, "-O0"])
    feeds = {v.name: x for v, x in zip(graph.inputs, data, strict=True)}
    got = dict(zip((v.name for v in graph.outputs), run_host(exe, graph, data), strict=True))
    with np.errstate(all="ignore"):
        want = dict(zip((v.name for v in graph.outputs), run_graph(graph, feeds), strict=True))
    failures = []
    for case in cases:
        for i in range(case.outputs):
            name = f"{case.name}_out{i}"
            if not same(got[name], want[name]):
                failures.append(f"{name}: C {got[name]!r} != reference {want[name]!r}")
        first = want[f"{case.name}_out0"]
        if case.expect is not None and not same(first, np.asarray(case.expect)):
            failures.append(f"{case.name}: reference {first!r} != numpy {case.expect!r}")
    assert not failures, "\n".join(failures)
