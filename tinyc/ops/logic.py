"""Comparison, boolean, bitwise and selection ops: Equal, Less, Greater, LessOrEqual,
GreaterOrEqual, And, Or, Xor, Not, BitwiseAnd/Or/Xor/Not, BitShift, Where, IsNaN, IsInf.

Kernels: `tinyc_logic` (comparisons, Where, boolean ops, NaN/infinity tests, every dtype)
and `tinyc_bitwise` (integer types). Bool tensors are bytes holding 0 or 1; comparisons of
bools use the u8 kernels. Greater and GreaterOrEqual are Less and LessOrEqual with the
operands exchanged."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from tinyc.errors import ModelError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.ewbase import (
    FLOAT_TYPES,
    INT_TYPES,
    NUM_TYPES,
    emit_binary,
    emit_unary,
    inplace_same_shape,
    refuse,
    sfx,
)
from tinyc.ops.layout import broadcast_shapes, broadcast_strides, c_int_list, merge_dims
from tinyc.ops.registry import Attr, MemoryBehavior, OpDef, input_type, register_op

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext


def _same_types(node: Node, count: int) -> list[TensorType]:
    types = [input_type(node, i) for i in range(count)]
    if any(t.dtype is not types[0].dtype for t in types):
        names = ", ".join(t.dtype.value for t in types)
        raise ModelError(f"{node.op} node '{node.name}': input types {names} differ")
    return types


class _Broadcast2(OpDef):
    """Two same-typed inputs broadcast together; `out_bool` ops output bool."""

    kernel: ClassVar[str] = ""
    family: ClassVar[str] = "logic"
    types: ClassVar[tuple[DType, ...]] = (*NUM_TYPES, DType.BOOL)
    out_bool: ClassVar[bool] = True
    #: exchange the operands (Greater is Less with B and A)
    swap: ClassVar[bool] = False
    min_opset = 7  # numpy broadcasting

    def infer(self, node: Node) -> list[TensorType]:
        a, b = _same_types(node, 2)
        where = f"{node.op} node '{node.name}'"
        shape = broadcast_shapes(a.shape, b.shape, where=where)
        return [TensorType(DType.BOOL if self.out_bool else a.dtype, shape)]

    def ref_fn(self, a: np.ndarray, b: np.ndarray, node: Node) -> np.ndarray:
        raise NotImplementedError

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        a, b = inputs
        assert a is not None and b is not None
        with np.errstate(all="ignore"):
            out = np.asarray(self.ref_fn(a, b, node))
        return [out.astype(bool if self.out_bool else a.dtype)]

    def memory_behavior(self, node: Node) -> list[MemoryBehavior]:
        return inplace_same_shape(node)

    def kernel_name(self, node: Node) -> str:
        return self.kernel

    def emit(self, node: Node, ctx: EmitContext) -> None:
        a, b = node.inputs
        y = node.outputs[0]
        assert a is not None and b is not None
        if a.dtype not in self.types:
            raise refuse(node, f"on {a.dtype.value} tensors")
        fn = f"tinyc_{self.kernel_name(node)}_{sfx(a.dtype)}"
        emit_binary(ctx, self.family, fn, a, b, y, swap=self.swap)


class _BoolBinary(_Broadcast2):
    types = (DType.BOOL,)

    def emit(self, node: Node, ctx: EmitContext) -> None:
        a, b = node.inputs
        assert a is not None and b is not None
        if a.dtype is not DType.BOOL:
            raise refuse(node, f"on {a.dtype.value} tensors")
        emit_binary(ctx, "logic", f"tinyc_{self.kernel}_bool", a, b, node.outputs[0])


class _Bitwise(_Broadcast2):
    family, types, out_bool, min_opset = "bitwise", INT_TYPES, False, 18


def _binary(
    base: type[_Broadcast2],
    op: str,
    kernel: str,
    fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
    *,
    types: tuple[DType, ...] | None = None,
    swap: bool = False,
    since: int | None = None,
) -> None:
    """Register `op` as a `base` op whose numpy semantics is `fn(a, b)` and whose kernel is
    `tinyc_<kernel>_<dtype>`; `types` and `since` default to the base's."""

    def ref_fn(self: _Broadcast2, a: np.ndarray, b: np.ndarray, node: Node) -> np.ndarray:
        return fn(a, b)

    body: dict[str, object] = {"name": op, "kernel": kernel, "swap": swap, "ref_fn": ref_fn}
    if types is not None:
        body["types"] = types
    if since is not None:
        body["min_opset"] = since
    register_op(type(op, (base,), body))


# Greater(A, B) and GreaterOrEqual(A, B) run the Less kernels on (B, A).
_binary(_Broadcast2, "Equal", "equal", operator.eq)
_binary(_Broadcast2, "Less", "less", operator.lt, types=NUM_TYPES)
_binary(_Broadcast2, "LessOrEqual", "less_equal", operator.le, types=NUM_TYPES, since=12)
_binary(_Broadcast2, "Greater", "less", operator.gt, types=NUM_TYPES, swap=True)
_binary(_Broadcast2, "GreaterOrEqual", "less_equal", operator.ge, types=NUM_TYPES, swap=True,
        since=12)
_binary(_BoolBinary, "And", "and", np.logical_and)
_binary(_BoolBinary, "Or", "or", np.logical_or)
_binary(_BoolBinary, "Xor", "xor", np.logical_xor)
_binary(_Bitwise, "BitwiseAnd", "bitwise_and", np.bitwise_and)
_binary(_Bitwise, "BitwiseOr", "bitwise_or", np.bitwise_or)
_binary(_Bitwise, "BitwiseXor", "bitwise_xor", np.bitwise_xor)


@register_op
class BitShift(_Bitwise):
    """A shift by a negative amount or by the bit width or more gives 0 (-1 when shifting a
    negative signed value right); signed right shifts are arithmetic, left shifts wrap."""

    name, min_opset = "BitShift", 11
    attrs = {"direction": Attr("string")}

    def normalize(self, node: Node, opset: int) -> None:
        if node.attrs["direction"] not in ("LEFT", "RIGHT"):
            raise ModelError(f"BitShift node '{node.name}': direction {node.attrs['direction']}")

    def kernel_name(self, node: Node) -> str:
        return "shift_left" if node.attrs["direction"] == "LEFT" else "shift_right"

    def ref_fn(self, a: np.ndarray, b: np.ndarray, node: Node) -> np.ndarray:
        a, b = np.broadcast_arrays(a, b)
        bits = a.dtype.itemsize * 8
        shift = b.astype(np.int64)
        out_of_range = (shift < 0) | (shift >= bits)
        ok = np.where(out_of_range, 0, shift).astype(a.dtype)
        unsigned = np.dtype(f"u{a.dtype.itemsize}")
        if node.attrs["direction"] == "LEFT":
            y = np.left_shift(a.view(unsigned), ok.view(unsigned)).view(a.dtype)
            return np.where(out_of_range, 0, y)
        y = np.right_shift(a, ok)
        fill = np.where(a < 0, -1, 0) if a.dtype.kind == "i" else 0
        return np.where(out_of_range, fill, y)


class _Unary(OpDef):
    """One input, same shape; `out_bool` ops output bool."""

    types: ClassVar[tuple[DType, ...]] = FLOAT_TYPES
    out_bool: ClassVar[bool] = True
    min_opset = 9

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        return [TensorType(DType.BOOL, x.shape) if self.out_bool else x]

    def memory_behavior(self, node: Node) -> list[MemoryBehavior]:
        return inplace_same_shape(node, [0])

    def check(self, node: Node) -> None:
        dtype = input_type(node, 0).dtype
        if dtype not in self.types:
            raise refuse(node, f"on {dtype.value} tensors")


@register_op
class Not(_Unary):
    name, types, out_bool, min_opset = "Not", (DType.BOOL,), True, 1

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        assert inputs[0] is not None
        return [np.logical_not(inputs[0])]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x = node.inputs[0]
        assert x is not None
        self.check(node)
        emit_unary(ctx, "logic", "tinyc_not_bool", x, node.outputs[0])


@register_op
class BitwiseNot(_Unary):
    name, types, out_bool, min_opset = "BitwiseNot", INT_TYPES, False, 18

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        assert inputs[0] is not None
        return [np.invert(inputs[0])]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x = node.inputs[0]
        assert x is not None
        self.check(node)
        emit_unary(ctx, "bitwise", f"tinyc_bitwise_not_{sfx(x.dtype)}", x, node.outputs[0])


@register_op
class IsNaN(_Unary):
    name = "IsNaN"

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        assert inputs[0] is not None
        return [np.isnan(inputs[0])]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x = node.inputs[0]
        assert x is not None
        self.check(node)
        emit_unary(ctx, "logic", f"tinyc_isnan_{sfx(x.dtype)}", x, node.outputs[0])


@register_op
class IsInf(_Unary):
    name, min_opset = "IsInf", 10
    attrs = {"detect_negative": Attr("int", 1), "detect_positive": Attr("int", 1)}

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        neg = bool(node.attrs["detect_negative"])
        pos = bool(node.attrs["detect_positive"])
        return [np.isinf(x) & (((x < 0) & neg) | ((x > 0) & pos))]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x = node.inputs[0]
        assert x is not None
        self.check(node)
        emit_unary(ctx, "logic", f"tinyc_isinf_{sfx(x.dtype)}", x, node.outputs[0],
                   int(bool(node.attrs["detect_negative"])),
                   int(bool(node.attrs["detect_positive"])))


@register_op
class Where(OpDef):
    """Y = C ? A : B, all three broadcast together (`tinyc_where_<sfx>`)."""

    name, min_opset = "Where", 9

    def infer(self, node: Node) -> list[TensorType]:
        c = input_type(node, 0)
        a, b = input_type(node, 1), input_type(node, 2)
        if c.dtype is not DType.BOOL:
            raise ModelError(f"Where node '{node.name}': condition is {c.dtype.value}, not bool")
        if a.dtype is not b.dtype:
            raise ModelError(f"Where node '{node.name}': value types differ")
        where = f"Where node '{node.name}'"
        return [TensorType(a.dtype, broadcast_shapes(c.shape, a.shape, b.shape, where=where))]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        c, a, b = inputs
        assert c is not None and a is not None and b is not None
        return [np.where(c, a, b).astype(a.dtype)]

    def memory_behavior(self, node: Node) -> list[MemoryBehavior]:
        return inplace_same_shape(node)

    def emit(self, node: Node, ctx: EmitContext) -> None:
        c, a, b = node.inputs
        y = node.outputs[0]
        assert c is not None and a is not None and b is not None
        if y.type.numel == 0:
            return
        dims, (sc, sa, sb) = merge_dims(
            y.shape,
            broadcast_strides(c.shape, y.shape),
            broadcast_strides(a.shape, y.shape),
            broadcast_strides(b.shape, y.shape),
        )
        bc = ctx.params(
            "tinyc_bcast3",
            f"{{{len(dims)}, {c_int_list(dims)}, {c_int_list(sc)}, {c_int_list(sa)}, "
            f"{c_int_list(sb)}}}",
            f"bcast_{y.name}",
        )
        ctx.call("logic", f"tinyc_where_{sfx(y.dtype)}", ctx.ptr(c), ctx.ptr(a), ctx.ptr(b),
                 ctx.ptr(y), bc)
