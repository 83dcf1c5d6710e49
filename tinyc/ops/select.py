"""Selection along an axis: ArgMax, ArgMin, TopK, Hardmax.

One ordering everywhere (reference and `tinyc_select.h`): larger first, NaN larger than
every number, equal values in index order. TopK's k may be a run-time input; the output
length is then the one the model declares, and the C checks k against it.
"""

from __future__ import annotations

from math import prod
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.layout import split_axis
from tinyc.ops.registry import (
    COERCED_AXIS_ATTRS,
    Attr,
    OpDef,
    const_input,
    declared_shape,
    input_type,
    normalize_axis,
    normalize_coerced_axis,
    register_op,
    runtime_input,
)
from tinyc.ops.shape import check_failed, shape_operand

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext

_TYPES = (DType.F32, DType.F64, DType.I8, DType.U8, DType.I16, DType.U16, DType.I32, DType.U32,
          DType.I64, DType.U64)


def _require_type(node: Node, dtype: DType) -> None:
    if dtype not in _TYPES:
        raise UnsupportedError(f"op {node.op} (node '{node.name}') on {dtype.value}")


def descending_order(x: np.ndarray, axis: int) -> np.ndarray:
    """Indices that sort `x` largest first along `axis`, ties in index order (NaN first)."""
    n = x.shape[axis]
    flipped = np.argsort(np.flip(x, axis), axis=axis, kind="stable")
    return (n - 1 - np.flip(flipped, axis)).astype(np.int64)


class _Arg(OpDef):
    attrs = {"axis": Attr("int", 0), "keepdims": Attr("int", 1),
             "select_last_index": Attr("int", 0)}
    largest: ClassVar[bool] = True

    def normalize(self, node: Node, opset: int) -> None:
        node.attrs["axis"] = normalize_axis(node.attrs["axis"], input_type(node, 0).rank, node)

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        axis = node.attrs["axis"]
        if x.shape[axis] == 0:
            raise ModelError(f"{node.op} node '{node.name}': empty axis")
        shape = list(x.shape)
        if node.attrs["keepdims"]:
            shape[axis] = 1
        else:
            del shape[axis]
        return [TensorType(DType.I64, tuple(shape))]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        axis = node.attrs["axis"]
        if x.dtype.kind == "f" and not self.largest:
            x = np.where(np.isnan(x), np.inf, x)  # NaN is never the smallest
        pick = np.argmax if self.largest else np.argmin
        if node.attrs["select_last_index"]:
            idx = x.shape[axis] - 1 - pick(np.flip(x, axis), axis=axis)
        else:
            idx = pick(x, axis=axis)
        return [np.asarray(idx, np.int64).reshape(node.outputs[0].shape)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        _require_type(node, x.dtype)
        outer, n, inner = split_axis(x.shape, node.attrs["axis"])
        if not y.type.numel:
            return
        kind = "argmax" if self.largest else "argmin"
        ctx.call("select", f"tinyc_{kind}_{x.dtype.value}", ctx.ptr(x), ctx.ptr(y), outer, n,
                 inner, node.attrs["select_last_index"])


@register_op
class ArgMax(_Arg):
    name = "ArgMax"
    min_opset = 1


@register_op
class ArgMin(_Arg):
    name = "ArgMin"
    min_opset = 1
    largest = False


@register_op
class TopK(OpDef):
    """IR form: `axis` and `k`; a run-time K input stays input 1 and is checked."""

    name = "TopK"
    min_opset = 1
    attrs = {"axis": Attr("int", -1), "largest": Attr("int", 1), "sorted": Attr("int", 1),
             "k": Attr("int", -1)}

    def normalize(self, node: Node, opset: int) -> None:
        x = input_type(node, 0)
        axis = normalize_axis(node.attrs["axis"], x.rank, node)
        node.attrs.pop("sorted", None)  # always sorted: a valid order for sorted=0 too
        if runtime_input(node, 1):
            if shape_operand(node, 1, "K").numel != 1:
                raise ModelError(f"TopK node '{node.name}': K must hold one value")
            node.attrs.update(axis=axis, k=declared_shape(node, 0, "the K operand")[axis])
            node.set_inputs(node.inputs[:2])
            return
        if node.input(1) is not None:
            node.attrs["k"] = int(const_input(node, 1, "K").reshape(-1)[0])
        node.attrs["axis"] = axis
        node.set_inputs(node.inputs[:1])

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        axis, k = node.attrs["axis"], node.attrs["k"]
        if not 0 <= k <= x.shape[axis]:
            raise ModelError(f"TopK node '{node.name}': k={k} for an axis of {x.shape[axis]}")
        shape = x.shape[:axis] + (k,) + x.shape[axis + 1 :]
        return [x.with_shape(shape), TensorType(DType.I64, shape)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        axis, k = node.attrs["axis"], node.attrs["k"]
        if len(inputs) > 1 and inputs[1] is not None and int(inputs[1].reshape(-1)[0]) != k:
            raise check_failed(node, "K", inputs[1].tolist(), [k])
        if node.attrs["largest"]:
            order = descending_order(x, axis)
        else:
            order = np.argsort(x, axis=axis, kind="stable")
        index = np.take(order, np.arange(k), axis=axis)
        return [np.take_along_axis(x, index, axis), index.astype(np.int64)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x = node.inputs[0]
        v, i = node.outputs[0], node.outputs[1] if len(node.outputs) > 1 else None
        assert x is not None
        _require_type(node, x.dtype)
        axis, k = node.attrs["axis"], node.attrs["k"]
        k_in = node.input(1)
        if k_in is not None:
            table = ctx.table(DType.I64, [k], f"k_{v.name}")
            ctx.checked_call("shape", "tinyc_check_values_i64", ctx.ptr(k_in), table, 1)
        outer, n, inner = split_axis(x.shape, axis)
        if not v.type.numel:
            return
        if i is None:
            raise UnsupportedError(f"TopK node '{node.name}': indices output is required")
        ctx.call("select", f"tinyc_topk_{x.dtype.value}", ctx.ptr(x), ctx.ptr(v), ctx.ptr(i),
                 outer, n, inner, k, node.attrs["largest"])


@register_op
class Hardmax(OpDef):
    """1 at the first maximum along the axis, 0 elsewhere. Opset < 13 flattens at `axis`
    into a 2-D problem (`normalize_coerced_axis`), like Softmax."""

    name = "Hardmax"
    min_opset = 1
    attrs = COERCED_AXIS_ATTRS

    def normalize(self, node: Node, opset: int) -> None:
        normalize_coerced_axis(node, opset)

    def infer(self, node: Node) -> list[TensorType]:
        return [input_type(node, 0)]

    def geometry(self, shape: tuple[int, ...], node: Node) -> tuple[int, int, int]:
        axis = node.attrs["axis"]
        if node.attrs.get("flatten"):
            return prod(shape[:axis]), prod(shape[axis:]), 1
        return split_axis(shape, axis)

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        outer, n, inner = self.geometry(x.shape, node)
        v = x.reshape(outer, n, inner)
        best = np.argmax(v, axis=1)
        y = (np.arange(n).reshape(1, n, 1) == best[:, None, :]).astype(x.dtype)
        return [y.reshape(x.shape)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        _require_type(node, x.dtype)
        outer, n, inner = self.geometry(x.shape, node)
        if y.type.numel:
            ctx.call("select", f"tinyc_hardmax_{x.dtype.value}", ctx.ptr(x), ctx.ptr(y), outer,
                     n, inner)
