"""qdq-lower: turn a Quantize/Dequantize model into tinyc's integer kernels."""

from __future__ import annotations

from dataclasses import dataclass

from tinyc.ir import Graph
from tinyc.passes.base import Pass, PassContext, PassResult, register_pass
from tinyc.passes.quantize_int8 import QUANTIZED_KEY, record
from tinyc.quant import semantics
from tinyc.quant.lower import INTEGER_OPS, Lowering

_QDQ_OPS = frozenset({
    "QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul", "ConvInteger",
    "MatMulInteger",
})


@register_pass
@dataclass(frozen=True)
class QdqLower(Pass):
    """Lower DequantizeLinear -> float op -> QuantizeLinear chains (onnxruntime
    `quantize_static` QDQ output, PyTorch QAT exports) and the QLinearConv / QLinearMatMul
    operator forms with constant parameters to the int8 ops (`QConv`, `QGemm`, `QAdd`, ...),
    with the model's own scales. The algorithm is in `tinyc.quant.lower`.

    The integer ops get the semantics the frontend recorded (`tinyc.quant.semantics`:
    onnxruntime's arithmetic for ONNX files). Ops without an integer kernel stay float
    between their DQ and Q. A graph without QuantizeLinear/DequantizeLinear nodes is left
    alone, and so is one already lowered.
    Runs before activation fusion so a float Relu between an op and its Q is seen."""

    name = "qdq-lower"
    summary = "QDQ / QLinear* models -> int8 integer kernels with the model's own scales"

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        if QUANTIZED_KEY in graph.metadata or not any(n.op in _QDQ_OPS for n in graph.nodes):
            return PassResult(graph, False)
        before = ([id(n) for n in graph.nodes], [id(c) for c in graph.constants])
        chosen = graph.metadata.get(semantics.METADATA_KEY, semantics.FIXEDPOINT)
        report = Lowering(graph, chosen).run()
        if any(n.op in INTEGER_OPS for n in graph.nodes):
            record(ctx, graph, report, "int8 from the model's QDQ parameters")
        after = ([id(n) for n in graph.nodes], [id(c) for c in graph.constants])
        return PassResult(graph, before != after)
