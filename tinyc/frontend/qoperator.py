"""onnxruntime's QOperator ops (domain com.microsoft), imported in QDQ form.

`quantize_static(quant_format=QOperator)` writes `com.microsoft` ops: QLinearAdd,
QLinearMul, QLinearSigmoid, QLinearLeakyRelu, QLinearAveragePool,
QLinearGlobalAveragePool, QLinearConcat, QGemm, QLinearSoftmax. Each is imported as what it
means -- DequantizeLinear of every 8-bit input, the float op, QuantizeLinear to the output's
parameters -- so the `qdq-lower` pass turns it into the same integer ops (and kernels) as
the QDQ form of the same model.

Why the results equal onnxruntime's (tests/quant/test_qoperator.py checks them): its
Sigmoid and LeakyRelu kernels look up a 256-entry table built as quantize(f(dequantize(q)))
in float32, which is how tinyc builds `QLut` tables; for its other kernels the integer ops
get the `onnxruntime` semantics (`tinyc.quant.semantics`: the file carries its own
quantization), which reproduces their float32 arithmetic (Softmax: see that module).

Any other op of the domain, and forms tinyc does not lower (channels-last pools, a legacy
Softmax axis that is not the last), are refused with the usual exit-4 error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import onnx
from onnx import helper

from tinyc.errors import ModelError, UnsupportedError
from tinyc.frontend.checks import attribute_value

if TYPE_CHECKING:
    from tinyc.frontend.onnx import _Importer

DOMAIN = "com.microsoft"
#: contrib op -> the standard op it quantizes
UNARY = {"QLinearSigmoid": "Sigmoid", "QLinearLeakyRelu": "LeakyRelu",
         "QLinearAveragePool": "AveragePool", "QLinearGlobalAveragePool": "GlobalAveragePool",
         "QLinearSoftmax": "Softmax"}
BINARY = {"QLinearAdd": "Add", "QLinearMul": "Mul"}
QOPERATOR_OPS = frozenset({*UNARY, *BINARY, "QLinearConcat", "QGemm"})


class _Expansion:
    """Builds the QDQ form of one contrib node, importing each new node as it goes."""

    def __init__(self, imp: _Importer, proto: onnx.NodeProto, where: str) -> None:
        self.imp, self.proto, self.where = imp, proto, where
        self.label = proto.name or (proto.output[0] if proto.output else proto.op_type)
        self.count = 0

    def input(self, i: int, required: bool = True) -> str:
        name = self.proto.input[i] if i < len(self.proto.input) else ""
        if required and not name:
            raise ModelError(f"{self.where}: input {i} is required")
        return name

    def fresh(self, tag: str) -> str:
        self.count += 1
        name = f"{self.label}__{tag}{self.count}"
        while name in self.imp.values:
            name += "_"
        return name

    def node(self, op: str, inputs: list[str], output: str | None = None, **attrs: object) -> str:
        out = output or self.fresh(op.lower())
        self.imp._import_node(helper.make_node(op, inputs, [out], name=f"{self.label}__{op}",
                                               **attrs))
        return out

    def dequantize(self, x: str, scale: str, zp: str, axis: int = 1) -> str:
        return self.node("DequantizeLinear", [x, scale, zp] if zp else [x, scale], axis=axis)

    def quantize(self, x: str, scale: str, zp: str) -> None:
        self.node("QuantizeLinear", [x, scale, zp] if zp else [x, scale], self.proto.output[0])


def _attrs(proto: onnx.NodeProto, where: str) -> dict[str, object]:
    return {a.name: attribute_value(a, where) for a in proto.attribute}


def import_qoperator(imp: _Importer, proto: onnx.NodeProto, where: str) -> bool:
    """Import a com.microsoft QOperator node in QDQ form; False for any other node."""
    if proto.domain != DOMAIN or proto.op_type not in QOPERATOR_OPS:
        return False
    if len(proto.output) != 1 or not proto.output[0]:
        raise ModelError(f"{where}: expected one output")
    e = _Expansion(imp, proto, where)
    attrs = _attrs(proto, where)
    op = proto.op_type
    if op in BINARY:
        a = e.dequantize(e.input(0), e.input(1), e.input(2, False))
        b = e.dequantize(e.input(3), e.input(4), e.input(5, False))
        y = e.node(BINARY[op], [a, b])
        e.quantize(y, e.input(6), e.input(7, False))
    elif op in UNARY:
        x = e.dequantize(e.input(0), e.input(1), e.input(2, False))
        y = e.node(UNARY[op], [x], **_float_attrs(op, attrs, imp, e.input(0), where))
        e.quantize(y, e.input(3), e.input(4, False))
    elif op == "QLinearConcat":
        n_in = len(proto.input) - 2
        if n_in < 3 or n_in % 3:
            raise ModelError(f"{where}: expected Y_scale, Y_zero_point, then (X, scale, "
                             f"zero point) triples")
        parts = [e.dequantize(e.input(2 + 3 * i), e.input(3 + 3 * i), e.input(4 + 3 * i, False))
                 for i in range(n_in // 3)]
        y = e.node("Concat", parts, axis=int(attrs.get("axis", 1)))  # type: ignore[call-overload]
        e.quantize(y, e.input(0), e.input(1, False))
    else:  # QGemm
        _import_qgemm(e, attrs)
    return True


def _float_attrs(op: str, attrs: dict[str, object], imp: _Importer, x: str,
                 where: str) -> dict[str, object]:
    """The float op's attributes from the contrib node's."""
    if attrs.get("channels_last", 0):
        raise UnsupportedError(f"unsupported {where} in domain '{DOMAIN}': channels_last=1")
    out = {k: v for k, v in attrs.items() if k != "channels_last"}
    if op == "QLinearSoftmax":
        out.pop("opset", None)
        axis = int(attrs.get("axis", -1))  # type: ignore[call-overload]
        rank = imp.values[x].type.rank
        legacy = int(attrs.get("opset", 13)) < 13  # type: ignore[call-overload]
        if legacy and axis % max(rank, 1) != rank - 1:
            raise UnsupportedError(f"unsupported {where} in domain '{DOMAIN}': opset "
                                   f"{attrs['opset']} Softmax over axes {axis}.. (flattened)")
        out["axis"] = axis
    return out


def _import_qgemm(e: _Expansion, attrs: dict[str, object]) -> None:
    """QGemm(A, a_scale, a_zp, B, b_scale, b_zp, C, y_scale, y_zp): C is int32 at
    a_scale * b_scale; without y_scale the output is float."""
    trans_b = int(attrs.get("transB", 0))  # type: ignore[call-overload]
    a = e.dequantize(e.input(0), e.input(1), e.input(2, False))
    b = e.dequantize(e.input(3), e.input(4), e.input(5, False), axis=0 if trans_b else 1)
    inputs = [a, b]
    if e.input(6, False):
        bias_scale = e.node("Mul", [e.input(1), e.input(4)])
        inputs.append(e.dequantize(e.input(6), bias_scale, "", axis=0))
    gemm_attrs = {k: attrs[k] for k in ("alpha", "transA", "transB") if k in attrs}
    y_scale = e.input(7, False)
    if not y_scale:
        e.node("Gemm", inputs, e.proto.output[0], **gemm_attrs)
        return
    y = e.node("Gemm", inputs, **gemm_attrs)
    e.quantize(y, y_scale, e.input(8, False))
