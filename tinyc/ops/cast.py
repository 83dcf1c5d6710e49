"""Casts between element types: Cast and CastLike, through `tinyc_cast_<from>_<to>`.

The C rules (tinyc_cast.h) are numpy's `astype` where numpy is well defined: float to
float rounds to nearest even, integers wrap, anything to bool is `x != 0`. Float to
integer truncates and, where numpy's result is platform-defined, saturates (NaN gives 0).
Types tinyc does not store (strings, bfloat16, the float8 and 4-bit types) are refused."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.ewbase import cast_array
from tinyc.ops.registry import (
    Alias,
    Attr,
    MemoryBehavior,
    OpDef,
    elementwise_inplace,
    input_type,
    register_op,
)

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext

#: ONNX TensorProto element type -> IR dtype
ONNX_TO_DTYPE = {
    1: DType.F32,
    2: DType.U8,
    3: DType.I8,
    4: DType.U16,
    5: DType.I16,
    6: DType.I32,
    7: DType.I64,
    9: DType.BOOL,
    10: DType.F16,
    11: DType.F64,
    12: DType.U32,
    13: DType.U64,
}


def _onnx_type_name(code: int) -> str:
    import onnx

    try:
        return onnx.TensorProto.DataType.Name(code)
    except ValueError:
        return str(code)


@register_op
class Cast(OpDef):
    """`to` is normalized from the ONNX type number to the IR dtype name."""

    name, min_opset = "Cast", 6  # `to` is a type number
    attrs = {"to": Attr("int"), "saturate": Attr("int", 1), "round_mode": Attr("string", "up")}

    def normalize(self, node: Node, opset: int) -> None:
        to = node.attrs["to"]
        if isinstance(to, int):
            if to not in ONNX_TO_DTYPE:
                raise UnsupportedError(
                    f"{node.op} node '{node.name}': target type {_onnx_type_name(to)} is "
                    f"not supported"
                )
            node.attrs["to"] = ONNX_TO_DTYPE[to].value
        node.attrs.pop("saturate", None)  # only meaningful for the float8 types
        node.attrs.pop("round_mode", None)

    def infer(self, node: Node) -> list[TensorType]:
        return [TensorType(DType(node.attrs["to"]), input_type(node, 0).shape)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        assert inputs[0] is not None
        return [cast_array(inputs[0], DType(node.attrs["to"]).np)]

    def memory_behavior(self, node: Node) -> list[MemoryBehavior]:
        """Same element size: the cast reads X[i] before it writes Y[i]."""
        x, y = node.inputs[0], node.outputs[0]
        if x is None or x.dtype.itemsize != y.dtype.itemsize or not y.type.numel:
            return []
        return [elementwise_inplace(node, 0)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        if y.type.numel == 0:
            return
        if x.dtype is y.dtype:
            ctx.copy(y, x)
            return
        fn = f"tinyc_cast_{x.dtype.value}_{y.dtype.value}"
        ctx.call("cast", fn, ctx.ptr(x), ctx.ptr(y), y.type.numel)


@register_op
class CastLike(Cast):
    """Cast to the element type of the second input; the IR keeps `to` and one input."""

    name, min_opset = "CastLike", 15
    attrs = {"saturate": Attr("int", 1), "round_mode": Attr("string", "up")}

    def normalize(self, node: Node, opset: int) -> None:
        if len(node.inputs) > 1:
            node.attrs["to"] = input_type(node, 1).dtype.value
            node.set_inputs(node.inputs[:1])
        super().normalize(node, opset)


@register_op
class BitCast(OpDef):
    """Reinterpret the bytes as `to` (same element size): a copy, or a view when the
    planner can alias it. Bytes are taken in the target's order (little endian on the
    usual MCUs, as ONNX requires)."""

    name, min_opset = "BitCast", 26
    attrs = {"to": Attr("int")}

    def normalize(self, node: Node, opset: int) -> None:
        Cast.normalize(self, node, opset)  # type: ignore[arg-type]
        x = input_type(node, 0)
        if DType(node.attrs["to"]).itemsize != x.dtype.itemsize:
            raise ModelError(f"BitCast node '{node.name}': {x.dtype.value} to "
                             f"{node.attrs['to']} changes the element size")

    def infer(self, node: Node) -> list[TensorType]:
        return [TensorType(DType(node.attrs["to"]), input_type(node, 0).shape)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        return [np.ascontiguousarray(x).view(DType(node.attrs["to"]).np).copy()]

    def memory_behavior(self, node: Node) -> list[MemoryBehavior]:
        return [Alias(0, 0)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x = node.inputs[0]
        assert x is not None
        ctx.copy(node.outputs[0], x)
