"""Shape and data-movement ops: Reshape family, Transpose, Concat, Shape, Size, Gather.

Shape-like operands (Reshape's shape, Squeeze's axes) that are compile-time constants move
into attributes in `normalize`, so the IR form is the same for every opset. When the model
feeds one as a run-time input instead, the node keeps that input, its attributes hold the
shape the model declares for the output, and the emitted code checks the operand at run
time (`tinyc_shape.h`). Data movement is dtype-independent: it runs on element sizes.
"""

from __future__ import annotations

from math import prod
from typing import TYPE_CHECKING

import numpy as np

from tinyc.errors import ModelError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.layout import c_int_list, merge_dims, split_axis, strides
from tinyc.ops.registry import (
    POSITIVE,
    Alias,
    Attr,
    MemoryBehavior,
    OpDef,
    const_input,
    declared_shape,
    input_type,
    normalize_axis,
    register_op,
    runtime_input,
)

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext


def emit_copy_nd(
    ctx: EmitContext,
    dst: str,
    src: str,
    itemsize: int,
    dims: list[int],
    dst_strides: list[int],
    src_strides: list[int],
    hint: str,
) -> None:
    if prod(dims) == 0:
        return
    mdims, (ds, ss) = merge_dims(dims, dst_strides, src_strides)
    init = f"{{{len(mdims)}, {c_int_list(mdims)}, {c_int_list(ds)}, {c_int_list(ss)}}}"
    params = ctx.params("tinyc_copy_params", init, f"copy_{hint}")
    ctx.call("data", "tinyc_copy_nd", dst, src, itemsize, params)


def dims_table(ctx: EmitContext, dims: tuple[int, ...] | list[int], hint: str) -> str:
    """A `static const int32_t` table of tensor dimensions (shared when equal)."""
    return ctx.table(DType.I32, list(dims), f"dims_{hint}")


def shape_operand(node: Node, index: int, what: str) -> TensorType:
    """Type of the run-time shape-like input `index`, which must be a 1-D int64 tensor."""
    t = input_type(node, index)
    if t.dtype is not DType.I64 or t.rank != 1:
        raise ModelError(f"{node.op} node '{node.name}': {what} must be a 1-D int64 tensor")
    return t


def check_failed(node: Node, what: str, got: object, compiled: object) -> ModelError:
    """The interpreter's counterpart of a failing run-time check in the generated C."""
    return ModelError(
        f"{node.op} node '{node.name}': run-time {what} {got} disagrees with the compiled "
        f"shape {compiled}"
    )


class _Reshaping(OpDef):
    """Same bytes, new shape: emitted as one copy (aliasing is the memory planner's job)."""

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        assert inputs[0] is not None
        if len(inputs) > 1 and inputs[1] is not None:
            self.check(node, inputs[0], inputs[1])
        return [inputs[0].reshape(node.outputs[0].shape).copy()]

    def check(self, node: Node, x: np.ndarray, operand: np.ndarray) -> None:
        """Raise if a run-time shape-like operand disagrees with the compiled shape."""

    def memory_behavior(self, node: Node) -> list[MemoryBehavior]:
        return [Alias(0, 0)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x = node.inputs[0]
        assert x is not None
        if node.input(1) is not None:
            self.emit_check(node, ctx)
        ctx.copy(node.outputs[0], x)

    def emit_check(self, node: Node, ctx: EmitContext) -> None:
        raise NotImplementedError


@register_op
class Reshape(_Reshaping):
    """IR form: `Reshape(%x) {shape=[...]}` with the resolved static output shape."""

    name = "Reshape"
    min_opset = 1
    attrs = {"allowzero": Attr("int", 0), "shape": Attr("ints", [])}

    def normalize(self, node: Node, opset: int) -> None:
        x = input_type(node, 0)
        if len(node.inputs) < 2:  # opset < 5: the shape is an attribute
            node.attrs["shape"] = self.resolve(node, x.shape, list(node.attrs["shape"]), 0)
            node.attrs["allowzero"] = 0
            return
        if runtime_input(node, 1):
            n = shape_operand(node, 1, "shape").shape[0]
            node.attrs["shape"] = list(declared_shape(node, 0, "the shape operand"))
            if len(node.attrs["shape"]) != n:
                raise ModelError(f"Reshape node '{node.name}': {n} shape values, rank "
                                 f"{len(node.attrs['shape'])} declared")
            return
        spec = [int(v) for v in const_input(node, 1, "shape").reshape(-1)]
        node.attrs["shape"] = self.resolve(node, x.shape, spec, node.attrs.get("allowzero", 0))
        node.attrs["allowzero"] = 0
        node.set_inputs(node.inputs[:1])

    def resolve(
        self, node: Node, in_shape: tuple[int, ...], spec: list[int], allowzero: int
    ) -> list[int]:
        """The output shape that `spec` (with its 0 and -1 entries) gives."""
        shape = [in_shape[i] if d == 0 and not allowzero else d for i, d in enumerate(spec)]
        if shape.count(-1) > 1 or any(d < -1 for d in shape):
            raise ModelError(f"Reshape node '{node.name}': bad shape {spec}")
        if -1 in shape:
            known = prod(d for d in shape if d != -1)
            if known == 0 or prod(in_shape) % known:
                raise ModelError(
                    f"Reshape node '{node.name}': cannot reshape {list(in_shape)} to {spec}"
                )
            shape[shape.index(-1)] = prod(in_shape) // known
        return shape

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        shape = tuple(node.attrs["shape"])
        if prod(shape) != x.numel:
            raise ModelError(f"Reshape node '{node.name}': {list(x.shape)} to {list(shape)}")
        if node.input(1) is not None and shape_operand(node, 1, "shape").shape != (len(shape),):
            raise ModelError(f"Reshape node '{node.name}': shape operand length != rank")
        return [x.with_shape(shape)]

    def check(self, node: Node, x: np.ndarray, operand: np.ndarray) -> None:
        spec = [int(v) for v in operand.reshape(-1)]
        try:
            got = self.resolve(node, x.shape, spec, node.attrs["allowzero"])
        except (ModelError, IndexError):
            got = spec
        if got != list(node.attrs["shape"]):
            raise check_failed(node, "shape", spec, node.attrs["shape"])

    def emit_check(self, node: Node, ctx: EmitContext) -> None:
        x, s, y = node.inputs[0], node.inputs[1], node.outputs[0]
        assert x is not None and s is not None
        ctx.checked_call("shape", "tinyc_check_reshape", ctx.ptr(s), y.type.rank,
                         dims_table(ctx, x.shape, x.name), x.type.rank,
                         dims_table(ctx, y.shape, y.name), node.attrs["allowzero"])


@register_op
class Flatten(_Reshaping):
    name = "Flatten"
    min_opset = 1
    attrs = {"axis": Attr("int", 1)}

    def normalize(self, node: Node, opset: int) -> None:
        rank = input_type(node, 0).rank
        axis = node.attrs["axis"]
        if not -rank <= axis <= rank:
            raise ModelError(f"Flatten node '{node.name}': axis {axis} out of range")
        node.attrs["axis"] = axis + rank if axis < 0 else axis

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        axis = node.attrs["axis"]
        return [x.with_shape((prod(x.shape[:axis]), prod(x.shape[axis:])))]


class _AxesOp(_Reshaping):
    """Squeeze/Unsqueeze: axes from an attribute (opset < 13) or an input. A run-time axes
    input stays an input; the attribute then holds axes that give the declared shape (the
    bytes are the same for any axes that do) and the C checks the run-time ones."""

    attrs = {"axes": Attr("ints", [])}

    def out_rank(self, node: Node) -> int:
        return input_type(node, 0).rank

    def long_short(self, node: Node, x: tuple[int, ...], y: tuple[int, ...]) -> tuple[
        tuple[int, ...], tuple[int, ...]
    ]:
        """(shape with the unit axes, shape without them): Squeeze (x, y), Unsqueeze (y, x)."""
        raise NotImplementedError

    def normalize(self, node: Node, opset: int) -> None:
        axes = node.attrs.get("axes") or []
        if runtime_input(node, 1) and shape_operand(node, 1, "axes").numel:
            x = input_type(node, 0).shape
            long, short = self.long_short(node, x, declared_shape(node, 0, "the axes operand"))
            node.attrs["axes"] = _unit_axes(node, long, short)
            return
        if len(node.inputs) > 1 and node.inputs[1] is not None and node.inputs[1].type.numel:
            axes = [int(a) for a in const_input(node, 1, "axes").reshape(-1)]
        node.set_inputs(node.inputs[:1])
        node.attrs["axes"] = axes
        rank = self.out_rank(node)
        node.attrs["axes"] = sorted(normalize_axis(a, rank, node) for a in axes)

    def check(self, node: Node, x: np.ndarray, operand: np.ndarray) -> None:
        long, short = self.long_short(node, x.shape, node.outputs[0].shape)
        axes = [int(a) + len(long) if a < 0 else int(a) for a in operand.reshape(-1)]
        kept = [d for i, d in enumerate(long) if i not in axes]
        if (len(set(axes)) != len(axes) or any(not 0 <= a < len(long) or long[a] != 1
                                               for a in axes) or tuple(kept) != short):
            raise check_failed(node, "axes", axes, list(node.outputs[0].shape))

    def emit_check(self, node: Node, ctx: EmitContext) -> None:
        x, axes, y = node.inputs[0], node.inputs[1], node.outputs[0]
        assert x is not None and axes is not None
        long, short = self.long_short(node, x.shape, y.shape)
        ctx.checked_call("shape", "tinyc_check_axes", ctx.ptr(axes), axes.type.numel,
                         dims_table(ctx, long, "long"), len(long), dims_table(ctx, short, "short"))


def _unit_axes(node: Node, long: tuple[int, ...], short: tuple[int, ...]) -> list[int]:
    """Axes of `long` that, removed, leave `short`; each must be 1. Greedy from the left."""
    axes, j = [], 0
    for i, d in enumerate(long):
        if j < len(short) and d == short[j]:
            j += 1
        elif d == 1:
            axes.append(i)
        else:
            break
    if j != len(short) or len(axes) != len(long) - len(short):
        raise ModelError(f"{node.op} node '{node.name}': declared shape {list(short)} does not "
                         f"fit {list(long)}")
    return axes


@register_op
class Squeeze(_AxesOp):
    name = "Squeeze"
    min_opset = 1

    def long_short(self, node: Node, x: tuple[int, ...], y: tuple[int, ...]) -> tuple[
        tuple[int, ...], tuple[int, ...]
    ]:
        return x, y

    def normalize(self, node: Node, opset: int) -> None:
        super().normalize(node, opset)
        x = input_type(node, 0)
        if not node.attrs["axes"] and node.input(1) is None:  # no axes: every unit axis
            node.attrs["axes"] = [i for i, d in enumerate(x.shape) if d == 1]
        for a in node.attrs["axes"]:
            if x.shape[a] != 1:
                raise ModelError(f"Squeeze node '{node.name}': axis {a} has size {x.shape[a]}")

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        axes = node.attrs["axes"]
        return [x.with_shape(tuple(d for i, d in enumerate(x.shape) if i not in axes))]


@register_op
class Unsqueeze(_AxesOp):
    name = "Unsqueeze"
    min_opset = 1

    def long_short(self, node: Node, x: tuple[int, ...], y: tuple[int, ...]) -> tuple[
        tuple[int, ...], tuple[int, ...]
    ]:
        return y, x

    def out_rank(self, node: Node) -> int:
        return input_type(node, 0).rank + len(node.attrs["axes"])

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        shape = list(x.shape)
        for a in node.attrs["axes"]:
            shape.insert(a, 1)
        return [x.with_shape(tuple(shape))]


@register_op
class Transpose(OpDef):
    name = "Transpose"
    min_opset = 1
    attrs = {"perm": Attr("ints", [])}

    def normalize(self, node: Node, opset: int) -> None:
        rank = input_type(node, 0).rank
        perm = node.attrs.get("perm") or list(reversed(range(rank)))
        if sorted(perm) != list(range(rank)):
            raise ModelError(f"Transpose node '{node.name}': perm {perm} is not a permutation")
        node.attrs["perm"] = list(perm)

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        return [x.with_shape(tuple(x.shape[p] for p in node.attrs["perm"]))]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        assert inputs[0] is not None
        return [np.ascontiguousarray(np.transpose(inputs[0], node.attrs["perm"]))]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        src_st = strides(x.shape)
        emit_copy_nd(ctx, ctx.ptr(y), ctx.ptr(x), x.dtype.itemsize, list(y.shape),
                     strides(y.shape), [src_st[p] for p in node.attrs["perm"]], y.name)


@register_op
class Concat(OpDef):
    """`axis` is required from opset 4 on; earlier opsets default it to 1."""

    name = "Concat"
    min_opset = 1
    attrs = {"axis": Attr("int", 1)}

    def normalize(self, node: Node, opset: int) -> None:
        node.attrs["axis"] = normalize_axis(node.attrs["axis"], input_type(node, 0).rank, node)

    def infer(self, node: Node) -> list[TensorType]:
        first = input_type(node, 0)
        axis = node.attrs["axis"]
        total = 0
        for i in range(len(node.inputs)):
            t = input_type(node, i)
            if t.rank != first.rank or t.dtype is not first.dtype or any(
                a != b
                for j, (a, b) in enumerate(zip(t.shape, first.shape, strict=True))
                if j != axis
            ):
                raise ModelError(
                    f"Concat node '{node.name}': input {i} shape {list(t.shape)} does not fit"
                )
            total += t.shape[axis]
        shape = list(first.shape)
        shape[axis] = total
        return [first.with_shape(tuple(shape))]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        return [np.concatenate([x for x in inputs if x is not None], axis=node.attrs["axis"])]

    def memory_behavior(self, node: Node) -> list[MemoryBehavior]:
        """With nothing outside the axis but size-1 dims, each input is a contiguous slice
        of the output, so its producer can write straight into it."""
        y = node.outputs[0]
        axis = node.attrs["axis"]
        if prod(y.shape[:axis]) != 1:
            return []
        out, start = [], 0
        for i, x in enumerate(node.inputs):
            assert x is not None
            out.append(Alias(i, 0, start * strides(y.shape)[axis] * y.dtype.itemsize))
            start += x.shape[axis]
        return out

    def emit(self, node: Node, ctx: EmitContext) -> None:
        y = node.outputs[0]
        axis = node.attrs["axis"]
        dst_st = strides(y.shape)
        start = 0
        for i, x in enumerate(node.inputs):
            assert x is not None
            if x.type.numel == 0 or ctx.is_view(x, y, start * dst_st[axis] * y.dtype.itemsize):
                start += x.shape[axis]  # empty, or its producer already wrote it in place
                continue
            emit_copy_nd(ctx, f"{ctx.ptr(y)} + {start * dst_st[axis]}", ctx.ptr(x),
                         x.dtype.itemsize, list(x.shape), dst_st, strides(x.shape), f"{y.name}_{i}")
            start += x.shape[axis]


@register_op
class Shape(OpDef):
    """Always known at compile time (static shapes): folded to a constant."""

    name = "Shape"
    always_fold = True
    min_opset = 1
    attrs = {"start": Attr("int", 0), "end": Attr("int", 2**62)}

    def _dims(self, node: Node) -> list[int]:
        shape = input_type(node, 0).shape
        r = len(shape)
        start, end = node.attrs["start"], node.attrs["end"]
        start = min(max(start + r if start < 0 else start, 0), r)
        end = min(max(end + r if end < 0 else end, 0), r)
        return list(shape[start:end])

    def infer(self, node: Node) -> list[TensorType]:
        return [TensorType(DType.I64, (len(self._dims(node)),))]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        return [np.asarray(self._dims(node), dtype=np.int64)]

    def fold(self, node: Node) -> list[np.ndarray] | None:
        return self.reference(node, [])

    def emit(self, node: Node, ctx: EmitContext) -> None:
        y = node.outputs[0]
        table = ctx.table(DType.I64, self._dims(node), f"shape_{y.name}")
        if y.type.numel:
            ctx.body.line(f"memcpy({ctx.ptr(y)}, {table}, {y.type.nbytes});")


@register_op
class Size(OpDef):
    """Element count, known at compile time (static shapes): folded to a constant."""

    name = "Size"
    min_opset = 1

    def infer(self, node: Node) -> list[TensorType]:
        return [TensorType(DType.I64, ())]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        return [np.asarray(input_type(node, 0).numel, dtype=np.int64)]

    def fold(self, node: Node) -> list[np.ndarray] | None:
        return self.reference(node, [])

    def emit(self, node: Node, ctx: EmitContext) -> None:
        y = node.outputs[0]
        table = ctx.table(DType.I64, [input_type(node, 0).numel], f"size_{y.name}")
        ctx.body.line(f"memcpy({ctx.ptr(y)}, {table}, {y.type.nbytes});")


@register_op
class Gather(OpDef):
    name = "Gather"
    min_opset = 1
    attrs = {"axis": Attr("int", 0)}

    def normalize(self, node: Node, opset: int) -> None:
        node.attrs["axis"] = normalize_axis(node.attrs["axis"], input_type(node, 0).rank, node)

    def infer(self, node: Node) -> list[TensorType]:
        x, idx = input_type(node, 0), input_type(node, 1)
        if idx.dtype not in (DType.I32, DType.I64):
            raise ModelError(f"Gather node '{node.name}': indices must be int32 or int64")
        a = node.attrs["axis"]
        return [x.with_shape(x.shape[:a] + idx.shape + x.shape[a + 1 :])]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x, idx = inputs
        assert x is not None and idx is not None
        axis = node.attrs["axis"]
        if ((idx < -x.shape[axis]) | (idx >= x.shape[axis])).any():
            raise ModelError(f"Gather node '{node.name}': index out of range")
        return [np.take(x, idx.astype(np.int64), axis=axis)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, idx = node.inputs
        y = node.outputs[0]
        assert x is not None and idx is not None
        outer, axis_len, inner = split_axis(x.shape, node.attrs["axis"])
        if y.type.numel == 0:
            return
        ctx.checked_call("data", f"tinyc_gather_{idx.dtype.value}", ctx.ptr(x), ctx.ptr(idx),
                         ctx.ptr(y), x.dtype.itemsize, outer, axis_len, inner, idx.type.numel)


class _BlockRearrange(OpDef):
    """DepthToSpace / SpaceToDepth: a reshape to 6-D, a transpose and a reshape back,
    emitted as one strided copy."""

    attrs = {"blocksize": POSITIVE, "mode": Attr("string", "DCR")}

    def normalize(self, node: Node, opset: int) -> None:
        if node.attrs.get("mode", "DCR") not in ("DCR", "CRD"):
            raise ModelError(f"{node.op} node '{node.name}': mode {node.attrs['mode']}")
        node.attrs.setdefault("mode", "DCR")

    def plan(self, node: Node) -> tuple[tuple[int, ...], list[int], tuple[int, ...]]:
        """(6-D view of the input, permutation, output shape)."""
        raise NotImplementedError

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        if x.rank != 4 or node.attrs["blocksize"] <= 0:
            raise ModelError(f"{node.op} node '{node.name}': needs a 4-D input")
        return [x.with_shape(self.plan(node)[2])]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        view, perm, out = self.plan(node)
        return [np.ascontiguousarray(x.reshape(view).transpose(perm)).reshape(out)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        view, perm, _ = self.plan(node)
        src = strides(view)
        dims = [view[p] for p in perm]
        emit_copy_nd(ctx, ctx.ptr(y), ctx.ptr(x), x.dtype.itemsize, dims, strides(dims),
                     [src[p] for p in perm], y.name)


@register_op
class DepthToSpace(_BlockRearrange):
    name = "DepthToSpace"
    min_opset = 1

    def plan(self, node: Node) -> tuple[tuple[int, ...], list[int], tuple[int, ...]]:
        n, c, h, w = input_type(node, 0).shape
        b = node.attrs["blocksize"]
        if c % (b * b):
            raise ModelError(f"DepthToSpace node '{node.name}': {c} channels, block {b}")
        out = (n, c // (b * b), h * b, w * b)
        if node.attrs["mode"] == "DCR":
            return (n, b, b, c // (b * b), h, w), [0, 3, 4, 1, 5, 2], out
        return (n, c // (b * b), b, b, h, w), [0, 1, 4, 2, 5, 3], out


@register_op
class SpaceToDepth(_BlockRearrange):
    name = "SpaceToDepth"
    min_opset = 1

    def plan(self, node: Node) -> tuple[tuple[int, ...], list[int], tuple[int, ...]]:
        n, c, h, w = input_type(node, 0).shape
        b = node.attrs["blocksize"]
        if h % b or w % b:
            raise ModelError(f"SpaceToDepth node '{node.name}': {h}x{w} by block {b}")
        view = (n, c, h // b, b, w // b, b)
        perm = [0, 3, 5, 1, 2, 4] if node.attrs["mode"] == "DCR" else [0, 1, 3, 5, 2, 4]
        return view, perm, (n, c * b * b, h // b, w // b)
