"""Every integer op and quantize/dequantize kernel, one hand-built graph each: the generated
C (built with -std=c99 -pedantic -Werror and ASan/UBSan) is bit-exact with the op's numpy
reference, on random int8 data that covers the whole range. Expected values come from the
reference interpreter, never from hand-typed arrays."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tinyc.compiler import Options, compile_graph
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
from tinyc.interp import run_graph
from tinyc.ir import DType, Graph, Node, QuantParams, TensorType, Value
from tinyc.ir.verify import verify
from tinyc.ops import get_op
from tinyc.ops.qinteger import softmax_exp_table
from tinyc.quant import tflite_fixedpoint
from tinyc.quant.params import quantize_weights

RNG_SEED = 11


def qp(scale: float, zp: int) -> QuantParams:
    return QuantParams((float(np.float32(scale)),), (zp,))


class Builder:
    """A tiny graph builder for integer ops: inputs, constants, nodes with quantized outputs."""

    def __init__(self) -> None:
        self.graph = Graph("t")
        self.rng = np.random.default_rng(RNG_SEED)
        self.feeds: dict[str, np.ndarray] = {}

    def input(self, shape: tuple[int, ...], params: QuantParams | None,
              dtype: DType = DType.I8) -> Value:
        v = self.graph.add_input(f"x{len(self.graph.inputs)}", TensorType(dtype, shape, params))
        if dtype is DType.F32:
            self.feeds[v.name] = self.rng.standard_normal(shape).astype(np.float32) * 3
        else:
            info = np.iinfo(dtype.np)
            self.feeds[v.name] = self.rng.integers(info.min, info.max, shape, endpoint=True
                                                   ).astype(dtype.np)
        return v

    def const(self, data: np.ndarray, params: QuantParams | None = None) -> Value:
        c = self.graph.add_const(f"c{len(self.graph.constants)}", data)
        if params is not None:
            c.type = TensorType(c.dtype, c.shape, params)
        return c

    def weights(self, shape: tuple[int, ...]) -> Value:
        w = self.rng.standard_normal(shape).astype(np.float32)
        w *= self.rng.uniform(0.2, 2.0, (shape[0],) + (1,) * (len(shape) - 1)).astype(np.float32)
        q, params = quantize_weights(w, 0)
        return self.const(q, params)

    def bias(self, n: int) -> Value:
        return self.const(self.rng.integers(-3000, 3000, n).astype(np.int32))

    def node(self, op: str, inputs: list[Value | None], out: QuantParams | None = None,
             **attrs: object) -> Value:
        opdef = get_op(op)
        full = _defaults(op)
        full.update(attrs)
        node = Node(op, inputs, [], full, name=f"n{len(self.graph.nodes)}")
        values = []
        for i, t in enumerate(opdef.infer(node)):
            quant = out if i == 0 and t.dtype is DType.I8 else None
            ttype = TensorType(t.dtype, t.shape, quant)
            values.append(Value(f"y{len(self.graph.nodes)}_{i}", ttype, node, i))
        node.outputs = values
        self.graph.add_node(node)
        return values[0]


def _defaults(op: str) -> dict[str, object]:
    out: dict[str, object] = {}
    for k, a in get_op(op).attrs.items():
        if isinstance(a.default, list):
            out[k] = list(a.default)
        elif isinstance(a.default, (int, float, str)):
            out[k] = a.default
    return out


def run_case(b: Builder, outputs: list[Value], tmp_path: Path) -> str:
    g = b.graph
    g.outputs = outputs
    verify(g)
    compiled = compile_graph(g, Options(), "t")
    compiled.code.write(tmp_path)
    # -O0 builds this many-kernel program three times faster; the -O2 sanitized build of the
    # same kernels runs in tests/quant/test_quant_models.py
    exe = build_host(tmp_path, g, compiled.code.name, [*SANITIZE_FLAGS, "-O0"])
    inputs = [b.feeds[v.name] for v in g.inputs]
    got = run_host(exe, g, inputs)
    want = run_graph(g, b.feeds)
    for v, x, y in zip(g.outputs, got, want, strict=True):
        assert x.dtype == y.dtype, v.name
        np.testing.assert_array_equal(x, y, err_msg=v.name)
    return compiled.code.files["t.c"]


CONV = {"dilations": [1, 1], "group": 1, "kernel_shape": [3, 3], "pads": [1, 1, 1, 1],
        "strides": [1, 1], "act_min": -128, "act_max": 127}


def case_conv(b: Builder) -> list[Value]:
    x = b.input((1, 4, 9, 8), qp(0.05, -3))
    w = b.weights((6, 4, 3, 2))
    attrs = dict(CONV, kernel_shape=[3, 2], pads=[2, 0, 1, 1], strides=[2, 1],
                 dilations=[2, 1], act_min=-100, act_max=90)
    return [b.node("QConv", [x, w, b.bias(6)], qp(0.4, 7), **attrs)]


def case_conv_depthwise_multiplier(b: Builder) -> list[Value]:
    x = b.input((1, 3, 7, 7), qp(0.02, 10))
    w = b.weights((6, 1, 3, 3))
    return [b.node("QConv", [x, w, None], qp(0.1, -20), **dict(CONV, group=3, strides=[2, 2]))]


def case_conv_grouped_1d(b: Builder) -> list[Value]:
    x = b.input((2, 4, 11), qp(0.03, 0))
    w = b.weights((4, 2, 3))
    attrs = dict(CONV, kernel_shape=[3], pads=[1, 2], strides=[2], dilations=[1], group=2)
    return [b.node("QConv", [x, w, b.bias(4)], qp(0.2, -128), **attrs)]


def case_gemm(b: Builder) -> list[Value]:
    x = b.input((3, 20), qp(0.05, 4))
    w = b.weights((7, 20))
    return [b.node("QGemm", [x, w, b.bias(7)], qp(0.3, -2), act_min=-128, act_max=127),
            b.node("QGemm", [x, w, None], qp(0.25, 0), act_min=0, act_max=100)]


def case_add_mul_broadcast(b: Builder) -> list[Value]:
    x = b.input((2, 3, 4), qp(0.05, -7))
    y = b.input((3, 1), qp(0.2, 30))
    return [b.node("QAdd", [x, y], qp(0.15, 5), act_min=-128, act_max=127),
            b.node("QMul", [x, y], qp(0.3, -10), act_min=-120, act_max=127),
            b.node("QAdd", [x, x], qp(0.11, 0), act_min=-128, act_max=127)]


def case_pools(b: Builder) -> list[Value]:
    x = b.input((1, 3, 7, 6), qp(0.05, -7))
    pool = {"ceil_mode": 1, "dilations": [1, 1], "kernel_shape": [3, 3], "pads": [1, 0, 1, 1],
            "strides": [2, 2], "act_min": -128, "act_max": 127}
    return [b.node("QMaxPool", [x], qp(0.05, -7), count_include_pad=0, **pool),
            b.node("QMaxPool", [x], qp(0.08, 3), count_include_pad=0,
                   **dict(pool, dilations=[2, 1], ceil_mode=0)),
            b.node("QAveragePool", [x], qp(0.05, -7), count_include_pad=0, **pool),
            b.node("QAveragePool", [x], qp(0.03, 1), count_include_pad=1, **pool),
            b.node("QGlobalAveragePool", [x], qp(0.01, -2), act_min=-128, act_max=127)]


def case_concat_requant_lut(b: Builder) -> list[Value]:
    x = b.input((1, 2, 3), qp(0.05, -7))
    y = b.input((1, 3, 3), qp(0.2, 30))
    z = b.input((1, 1, 3), qp(0.05, -7))
    cat = b.node("QConcat", [x, y, z], qp(0.1, 0), axis=1, act_min=-128, act_max=127)
    relu = b.node("QRequantize", [cat], qp(0.1, 0), act_min=0, act_max=127)
    table = b.const(b.rng.integers(-128, 128, 256).astype(np.int8))
    return [cat, relu, b.node("QLut", [y, table], qp(1.0, 0))]


def case_requant_tables(b: Builder) -> list[Value]:
    """Requantizations from REQUANT_TABLE_MIN elements on look up a table the compiler
    computed: the same bytes as the formula."""
    x = b.input((1, 4, 160), qp(0.05, -7))
    y = b.input((1, 4, 160), qp(0.2, 30))
    cat = b.node("QConcat", [x, y], qp(0.1, 0), axis=1, act_min=-128, act_max=127)
    return [cat, b.node("QRequantize", [cat], qp(0.07, 5), act_min=-20, act_max=127)]


def case_softmax(b: Builder) -> list[Value]:
    x = b.input((2, 5, 3), qp(0.07, 12))
    t = b.const(softmax_exp_table(float(np.float32(0.07)), 5))
    wide = b.input((1, 40), qp(0.5, -128))
    t2 = b.const(softmax_exp_table(0.5, 40))
    return [b.node("QSoftmax", [x, t], qp(1 / 256, -128), axis=1, flatten=0),
            b.node("QSoftmax", [wide, t2], qp(1 / 255, -128), axis=1, flatten=0)]


def case_quantize_dequantize(b: Builder) -> list[Value]:
    x = b.input((2, 3, 4), None, DType.F32)
    scale = np.float32(0.25)
    # exact ties k + 0.5, saturation, NaN and infinities
    special = np.array([0.125, -0.125, 0.375, -0.375, 40.0, -40.0, np.nan, np.inf, -np.inf],
                       np.float32)
    b.feeds[x.name].reshape(-1)[: special.size] = special
    outs = []
    for dtype, zp in ((np.int8, -3), (np.uint8, 128), (np.int16, 100), (np.uint16, 7)):
        s, z = b.const(np.asarray(scale)), b.const(np.asarray(zp, dtype))
        q = b.node("QuantizeLinear", [x, s, z], None, axis=0)
        outs += [q, b.node("DequantizeLinear", [q, s, z], None, axis=0)]
    axis_scale = b.const(np.array([0.1, 0.5, 2.0], np.float32))
    axis_zp = b.const(np.array([0, -5, 9], np.int8))
    q = b.node("QuantizeLinear", [x, axis_scale, axis_zp], None, axis=1)
    outs += [q, b.node("DequantizeLinear", [q, axis_scale, axis_zp], None, axis=1)]
    i32 = b.input((5,), None, DType.I32)
    outs.append(b.node("DequantizeLinear", [i32, b.const(np.asarray(np.float32(1e-3)))], None,
                       axis=0))
    return outs


def case_dynamic(b: Builder) -> list[Value]:
    x = b.input((1, 3, 6, 5), None, DType.F32)
    xq = b.node("DynamicQuantizeLinear", [x])
    dq = xq.producer
    assert dq is not None
    xs, xz = dq.outputs[1], dq.outputs[2]
    w = b.weights((4, 3, 3, 3))
    fb = b.const(b.rng.standard_normal(4).astype(np.float32))
    conv = b.node("QDynConv", [xq, xs, xz, w, fb], None,
                  **dict(_defaults("QDynConv"), dilations=[1, 1], group=1, kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1], strides=[1, 2], activation="Relu"))
    flat = b.input((2, 12), None, DType.F32)
    fq = b.node("DynamicQuantizeLinear", [flat])
    fnode = fq.producer
    assert fnode is not None
    w2 = b.weights((5, 12))
    fc = b.node("QDynGemm", [fq, fnode.outputs[1], fnode.outputs[2], w2, None], None,
                activation="Clip", activation_params=[-0.5, 0.5])
    return [conv, fc, xq, xs, xz]


def case_tflite(b: Builder) -> list[Value]:
    """TFLite semantics: double-rounding multipliers, TFLite's average pool and MEAN, the
    gemmlowp softmax."""
    tfl = {"semantics": "tflite"}
    x = b.input((1, 4, 7, 6), qp(0.05, -7))
    w = b.weights((5, 4, 3, 3))
    dw = b.weights((4, 1, 3, 3))
    outs = [b.node("QConv", [x, w, b.bias(5)], qp(0.2, 3), **CONV, **tfl),
            b.node("QConv", [x, dw, None], qp(0.1, -20), **dict(CONV, group=4), **tfl)]
    pool = {"ceil_mode": 0, "dilations": [1, 1], "kernel_shape": [3, 3], "pads": [1, 1, 1, 1],
            "strides": [2, 2], "act_min": -128, "act_max": 127, "count_include_pad": 0}
    outs += [b.node("QAveragePool", [x], qp(0.05, -7), **pool, **tfl),
             b.node("QGlobalAveragePool", [x], qp(0.03, 2), act_min=-128, act_max=127, **tfl)]
    y = b.input((1, 4, 7, 6), qp(0.08, 11))
    for op in ("QAdd", "QSub", "QMul"):
        outs.append(b.node(op, [x, y], qp(0.12, -3), act_min=-128, act_max=127, **tfl))
    outs.append(b.node("QRequantize", [y], qp(0.03, 5), act_min=-128, act_max=127, **tfl))
    flat = b.input((3, 20), qp(0.06, 1))
    outs.append(b.node("QGemm", [flat, b.weights((7, 20)), b.bias(7)], qp(0.3, -2),
                       act_min=-128, act_max=127, **tfl))
    table = b.const(tflite_fixedpoint.softmax_exp_table(float(np.float32(0.06))))
    outs.append(b.node("QSoftmax", [flat, table], qp(1 / 256, -128), axis=1, flatten=0, **tfl))
    return outs


CASES: dict[str, Callable[[Builder], list[Value]]] = {
    "conv": case_conv,
    "conv_depthwise_multiplier": case_conv_depthwise_multiplier,
    "conv_grouped_1d": case_conv_grouped_1d,
    "gemm": case_gemm,
    "add_mul_broadcast": case_add_mul_broadcast,
    "pools": case_pools,
    "concat_requant_lut": case_concat_requant_lut,
    "requant_tables": case_requant_tables,
    "softmax": case_softmax,
    "quantize_dequantize": case_quantize_dequantize,
    "dynamic": case_dynamic,
    "tflite": case_tflite,
}


def test_integer_ops_c_match_reference(tmp_path: Path) -> None:
    """All cases in one graph: one C build (with sanitizers) instead of one per case; a
    mismatch names its output value."""
    b = Builder()
    outputs = [v for name in sorted(CASES) for v in CASES[name](b)]
    source = run_case(b, outputs, tmp_path)
    for kernel in ("tinyc_conv2d_s8", "tinyc_depthwise_conv2d_s8", "tinyc_fully_connected_s8",
                   "tinyc_add_s8", "tinyc_sub_s8", "tinyc_mul_s8", "tinyc_maxpool2d_s8",
                   "tinyc_avgpool2d_s8",
                   "tinyc_global_avgpool_s8", "tinyc_requantize_s8", "tinyc_lut_s8",
                   "tinyc_softmax_s8", "tinyc_quantize_f32_u16", "tinyc_dequantize_s32_f32",
                   "tinyc_conv2d_u8s8_f32", "tinyc_fully_connected_u8s8_f32"):
        assert kernel in source, kernel
    # the three large requantizations of case_requant_tables (both QConcat inputs and the
    # QRequantize), and only they, take a table: each defined once and used once
    assert source.count("requant_table_") == 3 * 2


def test_conv_refuses_int32_overflow() -> None:
    b = Builder()
    x = b.input((1, 600, 3, 3), qp(0.05, 127))
    w = b.const(np.full((1, 600, 3, 3), -128, np.int8), QuantParams((0.01,), (0,), 0))
    bias = b.const(np.array([2**31 - 1000], np.int32))
    b.node("QConv", [x, w, bias], qp(1.0, 0), **CONV)
    b.graph.outputs = [b.graph.nodes[-1].outputs[0]]
    b.feeds[x.name][:] = -128
    with pytest.raises(Exception, match="overflow"):
        run_graph(b.graph, b.feeds)
