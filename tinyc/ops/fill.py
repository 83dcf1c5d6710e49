"""Generated patterns: ConstantOfShape, Range, EyeLike, and the Trilu mask.

Their outputs depend on shape-like operands or on nothing at all, so with compile-time
operands the frontend folds them to constants (flash permitting); otherwise they are fills
and generators that read the run-time operands as data and check them against the shapes
the model declares.
"""

from __future__ import annotations

from math import ceil
from typing import TYPE_CHECKING

import numpy as np
from onnx import helper

from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.registry import (
    Attr,
    OpDef,
    const_input,
    declared_shape,
    input_type,
    register_op,
    runtime_input,
)
from tinyc.ops.shape import check_failed, emit_copy_nd, shape_operand

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext


def onnx_dtype(node: Node, code: int) -> DType:
    """The IR dtype of an ONNX TensorProto element type code."""
    try:
        return DType.from_numpy(helper.tensor_dtype_to_np_dtype(code))
    except (KeyError, ValueError, TypeError):
        raise UnsupportedError(f"{node.op} node '{node.name}': element type {code}") from None


@register_op
class ConstantOfShape(OpDef):
    """IR form: `shape` (output dims) and `value` (one-element array giving the dtype); a
    run-time shape input stays input 0 and is checked against the declared shape."""

    name = "ConstantOfShape"
    min_opset = 9
    attrs = {"value": Attr("tensor", None), "shape": Attr("ints", [])}

    def normalize(self, node: Node, opset: int) -> None:
        value = node.attrs.get("value")
        value = np.zeros(1, np.float32) if value is None else np.asarray(value).reshape(-1)
        if value.size != 1:
            raise ModelError(f"ConstantOfShape node '{node.name}': value must have one element")
        try:
            DType.from_numpy(value.dtype)
        except ValueError:
            raise UnsupportedError(
                f"ConstantOfShape node '{node.name}': element type {value.dtype}"
            ) from None
        node.attrs["value"] = value
        if runtime_input(node, 0):
            shape_operand(node, 0, "shape")
            node.attrs["shape"] = list(declared_shape(node, 0, "the shape operand"))
            return
        node.attrs["shape"] = [int(v) for v in const_input(node, 0, "shape").reshape(-1)]
        node.set_inputs([])

    def infer(self, node: Node) -> list[TensorType]:
        shape = tuple(node.attrs["shape"])
        if node.input(0) is not None and shape_operand(node, 0, "shape").numel != len(shape):
            raise ModelError(f"ConstantOfShape node '{node.name}': rank mismatch")
        return [TensorType(DType.from_numpy(node.attrs["value"].dtype), shape)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        shape = node.attrs["shape"]
        if inputs and inputs[0] is not None and [int(v) for v in inputs[0]] != shape:
            raise check_failed(node, "shape", inputs[0].tolist(), shape)
        return [np.full(shape, node.attrs["value"][0], dtype=node.attrs["value"].dtype)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        y, shape_in = node.outputs[0], node.input(0)
        if shape_in is not None:
            table = ctx.table(DType.I64, list(y.shape), f"shape_{y.name}")
            ctx.checked_call("shape", "tinyc_check_values_i64", ctx.ptr(shape_in), table,
                             y.type.rank)
        if y.type.numel:
            value = ctx.table(y.dtype, node.attrs["value"], f"value_{y.name}")
            ctx.call("data", "tinyc_fill", ctx.ptr(y), value, y.dtype.itemsize, y.type.numel)


_RANGE_TYPES = (DType.F32, DType.F64, DType.F16, DType.I16, DType.I32, DType.I64)


@register_op
class Range(OpDef):
    """y[i] = start + i * delta for i < count. IR form: the three scalar inputs and `count`
    (computed when they are constants, else the declared length, checked at run time)."""

    name = "Range"
    attrs = {"count": Attr("int", -1)}

    def normalize(self, node: Node, opset: int) -> None:
        if any(runtime_input(node, i) for i in range(3)):
            node.attrs["count"] = declared_shape(node, 0, "start/limit/delta")[0]
            return
        start, limit, delta = (const_input(node, i, "operand").reshape(-1)[0] for i in range(3))
        node.attrs["count"] = _count(node, start, limit, delta)

    def infer(self, node: Node) -> list[TensorType]:
        types = {input_type(node, i).dtype for i in range(3)}
        if len(types) != 1 or any(input_type(node, i).numel != 1 for i in range(3)):
            raise ModelError(f"Range node '{node.name}': operands must be scalars of one type")
        return [TensorType(types.pop(), (node.attrs["count"],))]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        start, limit, delta = (np.asarray(v).reshape(-1)[0] for v in inputs)
        count = node.attrs["count"]
        if _count(node, start, limit, delta) != count:
            raise check_failed(node, "start/limit/delta", [start, limit, delta], [count])
        i = np.arange(count).astype(start.dtype)
        return [(start + i * delta).astype(start.dtype)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        y = node.outputs[0]
        if y.dtype not in _RANGE_TYPES:
            raise UnsupportedError(f"Range node '{node.name}' on {y.dtype.value}")
        ptrs = []
        for v in node.inputs:
            assert v is not None
            ptrs.append(ctx.ptr(v))
        ctx.checked_call("seq", f"tinyc_range_{y.dtype.value}", *ptrs, ctx.ptr(y),
                         node.attrs["count"])


def _count(node: Node, start: object, limit: object, delta: object) -> int:
    if float(delta) == 0:  # type: ignore[arg-type]
        raise ModelError(f"Range node '{node.name}': delta is 0")
    if isinstance(start, np.integer):
        span, step = int(limit) - int(start), int(delta)  # type: ignore[call-overload]
        return max(-(-span // step), 0)
    q = (float(limit) - float(start)) / float(delta)  # type: ignore[arg-type]
    return max(ceil(q), 0)


@register_op
class EyeLike(OpDef):
    """Ones on diagonal `k` of a 2-D tensor shaped like the input: a constant, folded."""

    name = "EyeLike"
    min_opset = 9
    attrs = {"dtype": Attr("int", 0), "k": Attr("int", 0)}

    def normalize(self, node: Node, opset: int) -> None:
        x = input_type(node, 0)
        code = node.attrs.get("dtype") or 0
        node.attrs["dtype"] = (onnx_dtype(node, code) if code else x.dtype).value

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        if x.rank != 2:
            raise ModelError(f"EyeLike node '{node.name}': input must be 2-D")
        return [TensorType(DType(node.attrs["dtype"]), x.shape)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        n, m = input_type(node, 0).shape
        return [np.eye(n, m, k=node.attrs["k"], dtype=DType(node.attrs["dtype"]).np)]

    def fold(self, node: Node) -> list[np.ndarray] | None:
        return self.reference(node, [])

    def emit(self, node: Node, ctx: EmitContext) -> None:
        y = node.outputs[0]
        n, m = y.shape
        k = node.attrs["k"]
        if not y.type.numel:
            return
        zero = ctx.table(y.dtype, [0], f"zero_{y.dtype.value}")
        one = ctx.table(y.dtype, [1], f"one_{y.dtype.value}")
        ctx.call("data", "tinyc_fill", ctx.ptr(y), zero, y.dtype.itemsize, y.type.numel)
        row0, col0 = max(-k, 0), max(k, 0)
        count = max(min(n - row0, m - col0), 0)
        emit_copy_nd(ctx, f"{ctx.ptr(y)} + {row0 * m + col0}", one, y.dtype.itemsize, [count],
                     [m + 1], [0], y.name)


@register_op
class Trilu(OpDef):
    """Upper or lower triangle of the last two axes; k (input 1, read at run time when it is
    one) shifts the diagonal."""

    name = "Trilu"
    attrs = {"upper": Attr("int", 1)}

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        k = node.input(1)
        if x.rank < 2:
            raise ModelError(f"Trilu node '{node.name}': input rank {x.rank} < 2")
        if k is not None and (k.dtype is not DType.I64 or k.type.numel != 1):
            raise ModelError(f"Trilu node '{node.name}': k must be one int64")
        return [x]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        k = int(inputs[1].reshape(-1)[0]) if len(inputs) > 1 and inputs[1] is not None else 0
        return [np.triu(x, k) if node.attrs["upper"] else np.tril(x, k)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y, k = node.inputs[0], node.outputs[0], node.input(1)
        assert x is not None
        n, m = x.shape[-2:]
        if not y.type.numel:
            return
        ctx.call("data", "tinyc_trilu", ctx.ptr(x), ctx.ptr(y), x.dtype.itemsize,
                 y.type.numel // (n * m), n, m, ctx.ptr(k) if k is not None else "NULL",
                 node.attrs["upper"])
