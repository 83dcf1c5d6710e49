"""quantize-dynamic: int8 weights, activations quantized at run time (no calibration data).

For every Conv (1-D/2-D), Gemm (transA = 0, vector C) and MatMul by a constant 2-D matrix:

    y = op(x, W, b)   ==>   xq, xs, xz = DynamicQuantizeLinear(x)
                            y = QDynConv / QDynGemm(xq, xs, xz, Wq, b)

Wq is int8 symmetric per output channel (quantized here, at compile time); x is quantized to
uint8 over its own [min, max] on every inference; the products accumulate exactly in int32
and a float32 epilogue applies s_x * s_w[c], the float bias and a fused Relu/Clip. One
DynamicQuantizeLinear serves every op that reads the same x. Other ops stay float, so the
arena holds float activations plus their uint8 copies: dynamic quantization saves flash,
not RAM (the benchmark shows the cost against static quantization).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyc.ir import DType, Graph, Node, TensorType, Value
from tinyc.passes.base import Pass, PassContext, PassResult, register_pass
from tinyc.passes.quantize_int8 import QUANTIZED_KEY, prepare_for_quantization
from tinyc.quant.lower import _adopt, fused_clamp, int8_const
from tinyc.quant.params import quantize_weights


def _dynamic_inputs(
    graph: Graph, x: Value, cache: dict[int, list[Value]], anchor: Node
) -> list[Value]:
    """(xq, xs, xz) for x, created once, right after x is defined."""
    known = cache.get(id(x))
    if known is not None:
        return known
    outs = [
        Value(graph.unique_name(f"{x.name}_u8"), TensorType(DType.U8, x.shape)),
        Value(graph.unique_name(f"{x.name}_scale"), TensorType(DType.F32, ())),
        Value(graph.unique_name(f"{x.name}_zero_point"), TensorType(DType.U8, ())),
    ]
    node = Node("DynamicQuantizeLinear", [x], [], {}, name=f"{x.name}_dynamic_quantize")
    _adopt(node, outs)
    if x.producer is not None:
        graph.insert_after(x.producer, node)
    else:
        graph.insert_before(anchor, node)
    cache[id(x)] = outs
    return outs


def _float_bias(graph: Graph, c: Value | None, n: int, beta: float) -> tuple[bool, Value | None]:
    if c is None:
        return True, None
    if c.const is None or c.type.numel not in (1, n):
        return False, None
    data = np.broadcast_to(c.const.astype(np.float32).reshape(-1), (n,)) * np.float32(beta)
    return True, graph.add_const(graph.unique_name(f"{c.name}_f32"), data.astype(np.float32))


def _rewrite(graph: Graph, node: Node, cache: dict[int, list[Value]]) -> bool:
    x = node.inputs[0]
    if x is None or x.dtype is not DType.F32 or fused_clamp(node) is None:
        return False
    a = node.attrs
    if node.op == "Conv":
        w = node.inputs[1]
        if w is None or w.const is None or x.type.rank not in (3, 4):
            return False
        wdata, bias_in, beta, op = w.const.astype(np.float32), node.input(2), 1.0, "QDynConv"
        attrs = {k: a[k] for k in ("dilations", "group", "kernel_shape", "pads", "strides")}
    elif node.op == "Gemm":
        w = node.inputs[1]
        if a.get("transA") or w is None or w.const is None:
            return False
        wdata = w.const.astype(np.float32) * np.float32(a.get("alpha", 1.0))
        wdata = wdata if a.get("transB") else wdata.T
        bias_in, beta, op, attrs = node.input(2), float(a.get("beta", 1.0)), "QDynGemm", {}
    elif node.op == "MatMul":
        w = node.inputs[1]
        if w is None or w.const is None or w.type.rank != 2:
            return False
        wdata, bias_in, beta, op, attrs = w.const.astype(np.float32).T, None, 1.0, "QDynGemm", {}
    else:
        return False
    wq, params = quantize_weights(np.ascontiguousarray(wdata), 0)
    ok, bias = _float_bias(graph, bias_in, wq.shape[0], beta)
    if not ok:
        return False
    wc = int8_const(graph, f"{w.name}_q", wq, params)
    ins = _dynamic_inputs(graph, x, cache, node)
    attrs.update(activation=a.get("activation", ""),
                 activation_params=list(a.get("activation_params", [])))
    new = Node(op, [*ins, wc, bias], [], attrs, name=node.name)
    _adopt(new, list(node.outputs))
    graph.insert_before(node, new)
    node.drop_inputs()
    graph.nodes = [n for n in graph.nodes if n is not node]
    return True


@register_pass
@dataclass(frozen=True)
class QuantizeDynamic(Pass):
    """Dynamic int8 quantization of the Conv/Gemm/MatMul weights (see the module
    docstring). Needs no data. Refuses nothing: ops it cannot rewrite stay float. Does
    nothing on a graph that is already quantized."""

    name = "quantize-dynamic"
    summary = "int8 weights, activations quantized per inference (--quantize dynamic)"

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        if QUANTIZED_KEY in graph.metadata:
            return PassResult(graph, False)
        prepare_for_quantization(graph)
        cache: dict[int, list[Value]] = {}
        count = 0
        for node in list(graph.nodes):
            if node.op in ("Conv", "Gemm", "MatMul") and _rewrite(graph, node, cache):
                count += 1
        graph.remove_unused_constants()
        graph.metadata[QUANTIZED_KEY] = "int8 dynamic (weights int8, activations per inference)"
        ctx.count("quantize-dynamic", count)
        return PassResult(graph, True)
