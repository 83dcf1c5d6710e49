"""Index-driven ops: GatherElements, GatherND, ScatterElements, ScatterND, OneHot.

Indices are run-time data: the kernels (`tinyc_index.h`) resolve negative indices and
return an error, which makes `NAME_run` return 1, on one out of range. Values move by
element size; only scatter reductions and OneHot's index loads look at the element type,
passed to C as its ONNX type code.
"""

from __future__ import annotations

from math import prod
from typing import TYPE_CHECKING

import numpy as np

from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.layout import MAX_RANK, c_int_list, strides
from tinyc.ops.registry import (
    Attr,
    OpDef,
    declared_shape,
    input_type,
    normalize_axis,
    register_op,
    runtime_input,
)
from tinyc.ops.shape import check_failed, dims_table

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext

#: ONNX TensorProto element type codes, as the C kernels take them
ONNX_CODE = {
    DType.F32: 1, DType.U8: 2, DType.I8: 3, DType.U16: 4, DType.I16: 5, DType.I32: 6,
    DType.I64: 7, DType.BOOL: 9, DType.F64: 11, DType.U32: 12, DType.U64: 13,
}
_REDUCTIONS = {"none": 0, "add": 1, "mul": 2, "max": 3, "min": 4}
_REDUCE_TYPES = (DType.F32, DType.F64, DType.I32, DType.I64)


def _out_of_range(node: Node) -> ModelError:
    return ModelError(f"{node.op} node '{node.name}': index out of range")


def _resolve(node: Node, idx: np.ndarray, dim: np.ndarray | int) -> np.ndarray:
    """Indices with negative values counted from the end; raise if any is out of range."""
    k = idx.astype(np.int64)
    k = np.where(k < 0, k + dim, k)
    if ((k < 0) | (k >= dim)).any():
        raise _out_of_range(node)
    return k


def _elements_index(node: Node, idx: np.ndarray, axis: int) -> tuple[np.ndarray, ...]:
    """Full index tuple into the data tensor for GatherElements/ScatterElements."""
    grids = list(np.indices(idx.shape, sparse=True))
    grids[axis] = idx
    return tuple(grids)


def _check_elements(node: Node, axis_index: int) -> tuple[TensorType, TensorType, int]:
    x, idx = input_type(node, 0), input_type(node, axis_index)
    axis = node.attrs["axis"]
    if idx.dtype not in (DType.I32, DType.I64):
        raise ModelError(f"{node.op} node '{node.name}': indices must be int32 or int64")
    if idx.rank != x.rank or any(
        i > d for j, (i, d) in enumerate(zip(idx.shape, x.shape, strict=True)) if j != axis
    ):
        raise ModelError(f"{node.op} node '{node.name}': indices {list(idx.shape)} do not fit "
                         f"data {list(x.shape)}")
    if x.rank > MAX_RANK:
        raise UnsupportedError(f"{node.op} node '{node.name}': rank {x.rank} > {MAX_RANK}")
    return x, idx, axis


def _elements_params(ctx: EmitContext, node: Node, x: TensorType, idx: TensorType) -> str:
    axis = node.attrs["axis"]
    init = (f"{{{x.rank}, {c_int_list(idx.shape)}, {c_int_list(strides(x.shape))}, {axis}, "
            f"{x.shape[axis]}}}")
    return ctx.params("tinyc_elements_params", init, f"elements_{node.outputs[0].name}")


class _AxisOp(OpDef):
    attrs = {"axis": Attr("int", 0)}

    def normalize(self, node: Node, opset: int) -> None:
        node.attrs["axis"] = normalize_axis(node.attrs["axis"], input_type(node, 0).rank, node)


@register_op
class GatherElements(_AxisOp):
    name = "GatherElements"

    def infer(self, node: Node) -> list[TensorType]:
        x, idx, _ = _check_elements(node, 1)
        return [x.with_shape(idx.shape)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x, idx = inputs
        assert x is not None and idx is not None
        axis = node.attrs["axis"]
        k = _resolve(node, idx, x.shape[axis])
        return [x[_elements_index(node, k, axis)]]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, idx = node.inputs
        y = node.outputs[0]
        assert x is not None and idx is not None
        if not y.type.numel:
            return
        params = _elements_params(ctx, node, x.type, idx.type)
        ctx.checked_call("index", f"tinyc_gather_elements_{idx.dtype.value}", ctx.ptr(x),
                         ctx.ptr(idx), ctx.ptr(y), x.dtype.itemsize, params)


def _reduction(node: Node) -> str:
    reduction = node.attrs.get("reduction") or "none"
    if reduction not in _REDUCTIONS:
        raise UnsupportedError(f"{node.op} node '{node.name}': reduction {reduction}")
    return reduction


def _apply(reduction: str, y: np.ndarray, index: tuple, u: np.ndarray) -> None:
    """Scatter `u` into y[index] in order; repeated indices combine (or the last wins)."""
    if reduction == "none":
        y[index] = u
        return
    ufunc = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}[reduction]
    with np.errstate(over="ignore"):
        ufunc.at(y, index, u)


def _emit_scatter_check(node: Node, x: TensorType) -> None:
    if _reduction(node) != "none" and x.dtype not in _REDUCE_TYPES:
        raise UnsupportedError(f"{node.op} node '{node.name}': reduction on {x.dtype.value}")


@register_op
class ScatterElements(_AxisOp):
    name = "ScatterElements"
    attrs = {"axis": Attr("int", 0), "reduction": Attr("string", "none")}

    def infer(self, node: Node) -> list[TensorType]:
        x, idx, _ = _check_elements(node, 1)
        u = input_type(node, 2)
        if u.shape != idx.shape or u.dtype is not x.dtype:
            raise ModelError(f"ScatterElements node '{node.name}': updates do not match indices")
        _reduction(node)
        return [x]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x, idx, u = inputs
        assert x is not None and idx is not None and u is not None
        axis = node.attrs["axis"]
        k = _resolve(node, idx, x.shape[axis])
        y = x.copy()
        _apply(_reduction(node), y, _elements_index(node, k, axis), u)
        return [y]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, idx, u = node.inputs
        y = node.outputs[0]
        assert x is not None and idx is not None and u is not None
        _emit_scatter_check(node, x.type)
        ctx.copy(y, x)
        if not idx.type.numel:
            return
        params = _elements_params(ctx, node, x.type, idx.type)
        ctx.checked_call("index", f"tinyc_scatter_elements_{idx.dtype.value}", ctx.ptr(y),
                         ctx.ptr(idx), ctx.ptr(u), x.dtype.itemsize, params,
                         _REDUCTIONS[_reduction(node)], ONNX_CODE.get(x.dtype, 0))


def _nd_shapes(node: Node, x: TensorType, idx: TensorType, b: int) -> int:
    """Check GatherND/ScatterND index shapes; returns k, the length of an index tuple."""
    if idx.dtype is not DType.I64 or idx.rank < 1:
        raise ModelError(f"{node.op} node '{node.name}': indices must be int64, rank >= 1")
    k = idx.shape[-1]
    if b + k > x.rank or idx.shape[:b] != x.shape[:b] or idx.rank <= b:
        raise ModelError(f"{node.op} node '{node.name}': indices {list(idx.shape)} do not fit "
                         f"data {list(x.shape)}")
    return k


@register_op
class GatherND(OpDef):
    name = "GatherND"
    attrs = {"batch_dims": Attr("int", 0)}

    def infer(self, node: Node) -> list[TensorType]:
        x, idx = input_type(node, 0), input_type(node, 1)
        b = node.attrs["batch_dims"]
        k = _nd_shapes(node, x, idx, b)
        return [x.with_shape(idx.shape[:-1] + x.shape[b + k :])]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x, idx = inputs
        assert x is not None and idx is not None
        b = node.attrs["batch_dims"]
        k = idx.shape[-1]
        xb = x.reshape((prod(x.shape[:b]),) + x.shape[b:])
        ib = idx.reshape((prod(idx.shape[:b]), -1, k))
        rows = []
        for bi in range(xb.shape[0]):
            for t in ib[bi]:
                tup = tuple(_resolve(node, t, np.asarray(x.shape[b : b + k])))
                rows.append(xb[bi][tup])
        out_shape = node.outputs[0].shape
        if not rows:
            return [np.zeros(out_shape, x.dtype)]
        return [np.stack(rows).reshape(out_shape)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, idx = node.inputs
        y = node.outputs[0]
        assert x is not None and idx is not None
        b = node.attrs["batch_dims"]
        k = idx.shape[-1]
        if not y.type.numel:
            return
        batch = prod(x.shape[:b])
        n_idx = prod(idx.shape[b:-1])
        ctx.checked_call("index", "tinyc_gather_nd", ctx.ptr(x), ctx.ptr(idx), ctx.ptr(y),
                         x.dtype.itemsize, dims_table(ctx, x.shape, x.name), b, k, batch,
                         n_idx, prod(x.shape[b + k :]))


@register_op
class ScatterND(OpDef):
    name = "ScatterND"
    attrs = {"reduction": Attr("string", "none")}

    def infer(self, node: Node) -> list[TensorType]:
        x, idx, u = input_type(node, 0), input_type(node, 1), input_type(node, 2)
        k = _nd_shapes(node, x, idx, 0)
        if u.shape != idx.shape[:-1] + x.shape[k:] or u.dtype is not x.dtype:
            raise ModelError(f"ScatterND node '{node.name}': updates {list(u.shape)} do not fit")
        _reduction(node)
        return [x]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x, idx, u = inputs
        assert x is not None and idx is not None and u is not None
        k = idx.shape[-1]
        y = x.copy()
        tuples = idx.reshape(-1, k)
        updates = u.reshape((tuples.shape[0],) + x.shape[k:])
        reduction = _reduction(node)
        for t, upd in zip(tuples, updates, strict=True):
            tup = tuple(int(v) for v in _resolve(node, t, np.asarray(x.shape[:k])))
            _apply(reduction, y, tup, upd)
        return [y]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, idx, u = node.inputs
        y = node.outputs[0]
        assert x is not None and idx is not None and u is not None
        _emit_scatter_check(node, x.type)
        ctx.copy(y, x)
        k = idx.shape[-1]
        n_idx = prod(idx.shape[:-1])
        if not n_idx:
            return
        ctx.checked_call("index", "tinyc_scatter_nd", ctx.ptr(y), ctx.ptr(idx), ctx.ptr(u),
                         x.dtype.itemsize, dims_table(ctx, x.shape, x.name), k, n_idx,
                         prod(x.shape[k:]), _REDUCTIONS[_reduction(node)],
                         ONNX_CODE.get(x.dtype, 0))


@register_op
class OneHot(OpDef):
    """IR form: `axis` (of the output) and `depth` (the constant, or the declared length,
    checked at run time); indices, depth and values stay inputs."""

    name = "OneHot"
    min_opset = 9
    attrs = {"axis": Attr("int", -1), "depth": Attr("int", -1)}

    def normalize(self, node: Node, opset: int) -> None:
        idx = input_type(node, 0)
        axis = normalize_axis(node.attrs["axis"], idx.rank + 1, node)
        if runtime_input(node, 1):
            depth = declared_shape(node, 0, "the depth operand")[axis]
        else:
            depth_in = node.inputs[1]
            assert depth_in is not None and depth_in.const is not None
            depth = int(depth_in.const.reshape(-1)[0])
        node.attrs.update(axis=axis, depth=depth)

    def infer(self, node: Node) -> list[TensorType]:
        idx, depth, values = (input_type(node, i) for i in range(3))
        if depth.numel != 1 or values.numel != 2:
            raise ModelError(f"OneHot node '{node.name}': depth must be one value, values two")
        for t in (idx, depth):
            if t.dtype not in ONNX_CODE:
                raise UnsupportedError(f"OneHot node '{node.name}': {t.dtype.value} operand")
        shape = list(idx.shape)
        shape.insert(node.attrs["axis"], node.attrs["depth"])
        return [values.with_shape(tuple(shape))]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        idx, depth_in, values = inputs
        assert idx is not None and depth_in is not None and values is not None
        depth, axis = node.attrs["depth"], node.attrs["axis"]
        got = depth_in.reshape(-1)[0]
        if not np.isfinite(float(got)) or int(got) != depth:
            raise check_failed(node, "depth", got, depth)
        with np.errstate(invalid="ignore"):
            k = np.where(np.isfinite(idx.astype(np.float64)), idx, -1 - depth).astype(np.int64)
        k = np.where(k < 0, k + depth, k)
        hot = np.expand_dims(k, axis) == np.arange(depth).reshape(
            (depth,) + (1,) * (idx.ndim - axis)
        )
        off, on = values.reshape(-1)
        return [np.where(hot, on, off).astype(values.dtype)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        idx, depth_in, values = node.inputs
        y = node.outputs[0]
        assert idx is not None and depth_in is not None and values is not None
        depth, axis = node.attrs["depth"], node.attrs["axis"]
        if depth_in.const is None:
            ctx.checked_call("index", "tinyc_check_scalar", ctx.ptr(depth_in),
                             ONNX_CODE[depth_in.dtype], f"INT64_C({depth})")
        if not y.type.numel:
            return
        outer = prod(idx.shape[:axis])
        ctx.call("index", "tinyc_onehot", ctx.ptr(idx), ONNX_CODE[idx.dtype], ctx.ptr(y),
                 ctx.ptr(values), y.dtype.itemsize, outer, depth, idx.type.numel // max(outer, 1))


@register_op
class Scatter(ScatterElements):
    """Deprecated (opsets 9-10): ScatterElements without a reduction."""

    name = "Scatter"
    min_opset = 9
    attrs = {"axis": Attr("int", 0)}


@register_op
class TensorScatter(OpDef):
    """Key/value cache update (opset 24): the update's rows along `axis` are written into a
    copy of the cache from position write_indices[batch] (0 when absent), wrapping around
    in circular mode."""

    name = "TensorScatter"
    min_opset = 24
    attrs = {"axis": Attr("int", -2), "mode": Attr("string", "linear")}

    def normalize(self, node: Node, opset: int) -> None:
        rank = input_type(node, 0).rank
        node.attrs["axis"] = normalize_axis(node.attrs["axis"], rank, node)
        if node.attrs["mode"] not in ("linear", "circular"):
            raise ModelError(f"TensorScatter node '{node.name}': mode {node.attrs['mode']}")

    def infer(self, node: Node) -> list[TensorType]:
        cache, update = input_type(node, 0), input_type(node, 1)
        axis = node.attrs["axis"]
        if axis == 0 or update.rank != cache.rank or update.dtype is not cache.dtype or any(
            u != c if i != axis else u > c
            for i, (u, c) in enumerate(zip(update.shape, cache.shape, strict=True))
        ):
            raise ModelError(f"TensorScatter node '{node.name}': update {list(update.shape)} "
                             f"for cache {list(cache.shape)}")
        idx = node.input(2)
        if idx is not None and (idx.dtype is not DType.I64 or idx.shape != cache.shape[:1]):
            raise ModelError(f"TensorScatter node '{node.name}': write_indices")
        return [cache]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        cache, update = inputs[0], inputs[1]
        idx = inputs[2] if len(inputs) > 2 else None
        assert cache is not None and update is not None
        axis = node.attrs["axis"]
        max_len, seq = cache.shape[axis], update.shape[axis]
        start = np.zeros(cache.shape[0], np.int64) if idx is None else idx.astype(np.int64)
        pos = start[:, None] + np.arange(seq)[None, :]
        if node.attrs["mode"] == "circular":
            pos = np.mod(pos, max(max_len, 1))
        elif ((pos < 0) | (pos >= max_len)).any():
            raise _out_of_range(node)
        y = cache.copy()
        for b in range(cache.shape[0]):
            index: list[object] = [slice(None)] * (cache.ndim - 1)
            index[axis - 1] = pos[b]  # one advanced index: its axis stays in place
            y[b][tuple(index)] = update[b]
        return [y]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        cache, update = node.inputs[0], node.inputs[1]
        y = node.outputs[0]
        assert cache is not None and update is not None
        axis = node.attrs["axis"]
        ctx.copy(y, cache)
        idx = node.input(2)
        rows = prod(cache.shape[1:axis])
        inner = prod(cache.shape[axis + 1 :])
        ctx.checked_call("index", "tinyc_tensor_scatter", ctx.ptr(y), ctx.ptr(update),
                         ctx.ptr(idx) if idx is not None else "NULL", cache.dtype.itemsize,
                         cache.shape[0], rows, cache.shape[axis], update.shape[axis], inner,
                         int(node.attrs["mode"] == "circular"))
