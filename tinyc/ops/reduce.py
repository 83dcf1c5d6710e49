"""Reductions over a set of axes (ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd,
ReduceL1, ReduceL2, ReduceSumSquare, ReduceLogSum, ReduceLogSumExp) and LogSoftmax.

IR form: the sorted attribute `axes` (every reduced axis listed; empty when nothing is
reduced) and `keepdims`. When the model feeds the axes as a run-time input, the node keeps
that input, `shape` holds the output shape the model declares, and the C computes the
reduction mask from the run-time axes, checking that it gives the compiled shape (NAME_run
returns 1 otherwise). One kernel per dtype, `tinyc_reduce_<sfx>` (tinyc_reduce.h); the
numpy references below follow its integer semantics exactly (sums wrap, mean truncates)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, TensorType, Value
from tinyc.ops.ewbase import FLOAT_TYPES, NUM_TYPES, refuse, saturate_cast, sfx
from tinyc.ops.layout import MAX_RANK, c_int_list
from tinyc.ops.norm import Softmax
from tinyc.ops.registry import (
    Attr,
    OpDef,
    declared_shape,
    input_type,
    normalize_axis,
    register_op,
    runtime_input,
)

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext


def _check_failed(node: Node, axes: object, shape: object) -> ModelError:
    return ModelError(
        f"{node.op} node '{node.name}': run-time axes {axes} disagree with the compiled "
        f"shape {shape}"
    )


class _Reduce(OpDef):
    """Axes come as an attribute (older opsets) or an input (newer, opset 18 for most)."""

    kind: ClassVar[str] = ""
    types: ClassVar[tuple[DType, ...]] = NUM_TYPES
    min_opset = 1  # axes as an attribute or an input, both understood
    attrs = {"keepdims": Attr("int", 1), "noop_with_empty_axes": Attr("int", 0)}

    # -- IR form ------------------------------------------------------------------------
    def normalize(self, node: Node, opset: int) -> None:
        x = input_type(node, 0)
        if runtime_input(node, 1):
            axes = input_type(node, 1)
            if axes.dtype is not DType.I64 or axes.rank != 1:
                raise ModelError(f"{node.op} node '{node.name}': axes must be 1-D int64")
            node.attrs["shape"] = list(declared_shape(node, 0, "the axes operand"))
            node.attrs.pop("axes", None)
            want = x.rank if node.attrs["keepdims"] else None
            if want is not None and len(node.attrs["shape"]) != want:
                raise ModelError(f"{node.op} node '{node.name}': declared rank differs")
            return
        axes = node.attrs.get("axes") or []
        if node.input(1) is not None:
            value = node.input(1)
            assert value is not None and value.const is not None
            axes = [int(a) for a in value.const.reshape(-1)]
        node.set_inputs(node.inputs[:1])
        if not axes and not node.attrs.get("noop_with_empty_axes"):
            axes = list(range(x.rank))
        node.attrs["axes"] = sorted({normalize_axis(a, x.rank, node) for a in axes})
        node.attrs.pop("noop_with_empty_axes", None)

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        if "shape" in node.attrs:
            return [x.with_shape(tuple(node.attrs["shape"]))]
        axes = node.attrs["axes"]
        if node.attrs["keepdims"]:
            shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
        else:
            shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
        return [x.with_shape(shape)]

    def _axes(self, node: Node, inputs: list[np.ndarray | None], rank: int) -> tuple[int, ...]:
        if "shape" not in node.attrs:
            return tuple(node.attrs["axes"])
        operand = inputs[1]
        assert operand is not None
        raw = [int(a) for a in operand.reshape(-1)]
        axes = [a + rank if a < 0 else a for a in raw]
        if any(not 0 <= a < rank for a in axes) or len(set(axes)) != len(axes):
            raise _check_failed(node, raw, node.attrs["shape"])
        if not axes and not node.attrs.get("noop_with_empty_axes"):
            axes = list(range(rank))
        return tuple(sorted(axes))

    # -- semantics ----------------------------------------------------------------------
    def np_reduce(self, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        """float64 (or wrapping uint64 for integers) result of the reduction."""
        raise NotImplementedError

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        axes = self._axes(node, inputs, x.ndim)
        with np.errstate(all="ignore"):
            out = np.asarray(self.np_reduce(x, axes))
        if node.attrs["keepdims"]:
            shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
        else:
            shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
        if "shape" in node.attrs and tuple(node.attrs["shape"]) != shape:
            raise _check_failed(node, list(axes), node.attrs["shape"])
        if x.dtype.kind in "iu" and out.dtype.kind == "f":
            out = saturate_cast(out, x.dtype)
        with np.errstate(all="ignore"):
            return [out.astype(x.dtype).reshape(shape)]

    # -- C ------------------------------------------------------------------------------
    def c_kind(self, node: Node, dtype: DType) -> str:
        if dtype is DType.BOOL:
            if self.kind in ("MAX", "MIN"):
                return "ANY" if self.kind == "MAX" else "ALL"
            raise refuse(node, "on bool tensors")
        if dtype not in self.types:
            raise refuse(node, f"on {dtype.value} tensors")
        return self.kind

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        if y.type.numel == 0:
            return
        kind = f"TINYC_REDUCE_{self.c_kind(node, x.dtype)}"
        fn = f"tinyc_reduce_{sfx(x.dtype)}"
        if "shape" in node.attrs:
            self._emit_runtime_axes(node, ctx, kind, fn)
            return
        dims, mask = _merged(x.shape, node.attrs["axes"])
        init = f"{{{len(dims)}, {c_int_list(dims)}, {mask}u, {kind}}}"
        params = ctx.params("tinyc_reduce_params", init, f"reduce_{y.name}")
        ctx.call("reduce", fn, _input_ptr(ctx, x), ctx.ptr(y), params)

    def _emit_runtime_axes(self, node: Node, ctx: EmitContext, kind: str, fn: str) -> None:
        x, axes, y = node.inputs[0], node.inputs[1], node.outputs[0]
        assert x is not None and axes is not None
        if x.type.rank > MAX_RANK:
            raise UnsupportedError(f"{node.op} node '{node.name}': rank {x.type.rank} with "
                                   f"run-time axes (max {MAX_RANK})")
        out_dims = ctx.table(DType.I32, list(y.shape) or [0], f"dims_{y.name}")
        p = ctx.symbol(f"reduce_{y.name}")
        ctx.families.add("reduce")
        noop = int(bool(node.attrs.get("noop_with_empty_axes")))
        ctx.body.line("{")
        ctx.body.line(f"  tinyc_reduce_params {p} = {{{x.type.rank}, {c_int_list(x.shape)}, "
                      f"0u, {kind}}};")
        ctx.body.line(f"  if (tinyc_reduce_axes({ctx.ptr(axes)}, {axes.type.numel}, {noop}, "
                      f"{int(node.attrs['keepdims'])}, {out_dims}, {y.type.rank}, &{p}) != 0) "
                      f"return 1;")
        ctx.body.line(f"  {fn}({_input_ptr(ctx, x)}, {ctx.ptr(y)}, &{p});")
        ctx.body.line("}")


def is_reduction(opdef: OpDef) -> bool:
    """A Reduce* op: its `axes` attribute (or run-time operand) names what it reduces."""
    return isinstance(opdef, _Reduce)


def _input_ptr(ctx: EmitContext, x: Value) -> str:
    """An empty input (every output is an empty reduction) has no storage: pass NULL."""
    return ctx.ptr(x) if x.type.numel else "0"


def _merged(shape: tuple[int, ...], axes: list[int]) -> tuple[list[int], int]:
    """Dimensions with size-1 ones dropped and neighbours of the same kind (reduced or
    kept) merged, and the bit mask of the reduced ones."""
    dims: list[int] = []
    flags: list[bool] = []
    for i, d in enumerate(shape):
        if d == 1:
            continue
        reduced = i in axes
        if dims and flags[-1] == reduced:
            dims[-1] *= d
        else:
            dims.append(d)
            flags.append(reduced)
    if not dims:
        return [1], 0
    if len(dims) > MAX_RANK:
        raise UnsupportedError(f"reduction over rank {len(dims)} after merging (max {MAX_RANK})")
    return dims, sum(1 << i for i, f in enumerate(flags) if f)


def _wrap_sum(v: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Integer sum wrapping in 64 bits, as the C kernels accumulate."""
    return np.sum(v.astype(np.uint64), axis=axes, dtype=np.uint64)


def _as_signed(total: np.ndarray, like: np.dtype) -> np.ndarray:
    return total.view(np.int64) if like.kind == "i" else total


@register_op
class ReduceSum(_Reduce):
    name, kind = "ReduceSum", "SUM"

    def np_reduce(self, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        if x.dtype.kind in "iu":
            return _wrap_sum(x, axes)
        return np.sum(x, axis=axes, dtype=np.float64)


@register_op
class ReduceMean(_Reduce):
    """Integer means truncate toward zero."""

    name, kind = "ReduceMean", "MEAN"

    def np_reduce(self, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        if x.dtype.kind in "iu":
            count = max(int(np.prod([x.shape[a] for a in axes])), 1)
            total = _as_signed(_wrap_sum(x, axes), x.dtype)
            return np.sign(total) * (np.abs(total) // count)
        return np.mean(x, axis=axes, dtype=np.float64)


@register_op
class ReduceMax(_Reduce):
    name, kind = "ReduceMax", "MAX"

    def np_reduce(self, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        if x.dtype == np.bool_:
            return np.any(x, axis=axes)
        low = np.iinfo(x.dtype).min if x.dtype.kind in "iu" else -np.inf
        return np.max(x, axis=axes, initial=low)


@register_op
class ReduceMin(_Reduce):
    name, kind = "ReduceMin", "MIN"

    def np_reduce(self, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        if x.dtype == np.bool_:
            return np.all(x, axis=axes)
        high = np.iinfo(x.dtype).max if x.dtype.kind in "iu" else np.inf
        return np.min(x, axis=axes, initial=high)


@register_op
class ReduceProd(_Reduce):
    name, kind = "ReduceProd", "PROD"

    def np_reduce(self, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        if x.dtype.kind in "iu":
            return np.prod(x.astype(np.uint64), axis=axes, dtype=np.uint64)
        return np.prod(x, axis=axes, dtype=np.float64)


@register_op
class ReduceSumSquare(_Reduce):
    name, kind = "ReduceSumSquare", "SUM_SQUARE"

    def np_reduce(self, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        if x.dtype.kind in "iu":
            v = x.astype(np.uint64)
            return np.sum(v * v, axis=axes, dtype=np.uint64)
        return np.sum(np.square(x.astype(np.float64)), axis=axes)


@register_op
class ReduceL1(_Reduce):
    name, kind = "ReduceL1", "L1"

    def np_reduce(self, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        if x.dtype.kind in "iu":
            v = x.astype(np.uint64)
            if x.dtype.kind == "i":
                v = np.where(x < 0, np.uint64(0) - v, v)
            return np.sum(v, axis=axes, dtype=np.uint64)
        return np.sum(np.abs(x.astype(np.float64)), axis=axes)


@register_op
class ReduceL2(_Reduce):
    name, kind = "ReduceL2", "L2"

    def np_reduce(self, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        if x.dtype.kind in "iu":
            v = x.astype(np.uint64)
            return np.sqrt(np.sum(v * v, axis=axes, dtype=np.uint64).astype(np.float64))
        return np.sqrt(np.sum(np.square(x.astype(np.float64)), axis=axes))


@register_op
class ReduceLogSum(_Reduce):
    name, kind, types = "ReduceLogSum", "LOG_SUM", FLOAT_TYPES

    def np_reduce(self, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        return np.log(np.sum(x.astype(np.float64), axis=axes))


@register_op
class ReduceLogSumExp(_Reduce):
    name, kind, types = "ReduceLogSumExp", "LOG_SUM_EXP", FLOAT_TYPES

    def np_reduce(self, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        v = x.astype(np.float64)
        mx = np.max(v, axis=axes, keepdims=True, initial=-np.inf)
        shift = np.where(np.isfinite(mx), mx, 0.0)
        out = np.log(np.sum(np.exp(v - shift), axis=axes, keepdims=True)) + shift
        return np.squeeze(out, axis=axes) if axes else out


@register_op
class LogSoftmax(Softmax):
    """log(softmax(x)) over one axis (flattened at `axis` before opset 13, like Softmax),
    computed as x - max - log(sum(exp(x - max)))."""

    name, min_opset = "LogSoftmax", 1

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        outer, length, inner = self._geometry(x.shape, node)
        v = x.reshape(outer, length, inner).astype(np.float64)
        shifted = v - v.max(axis=1, keepdims=True)
        out = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return [out.reshape(x.shape).astype(x.dtype)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        if x.dtype is not DType.F32:
            raise refuse(node, f"on {x.dtype.value} tensors")
        if y.type.numel == 0:
            return
        outer, length, inner = self._geometry(x.shape, node)
        ctx.call("reduce", "tinyc_log_softmax_f32", ctx.ptr(x), ctx.ptr(y), outer, length, inner)
