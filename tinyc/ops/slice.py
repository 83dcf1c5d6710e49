"""Slicing and repetition: Slice, Split, Tile, Expand, ReverseSequence.

All are data movement on element sizes. With compile-time operands each becomes one or a
few strided copies (`tinyc_copy_nd`); with run-time shape-like operands (Slice's starts,
Split's split, Tile's repeats, Expand's shape) the node keeps them as inputs, its attributes
hold the output shape the model declares, and the C checks the operands before copying.
"""

from __future__ import annotations

from itertools import accumulate
from typing import TYPE_CHECKING

import numpy as np

from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.layout import (
    MAX_RANK,
    broadcast_shapes,
    broadcast_strides,
    c_int_list,
    strides,
)
from tinyc.ops.registry import (
    Attr,
    OpDef,
    const_input,
    declared_outputs,
    declared_shape,
    input_type,
    normalize_axis,
    register_op,
    runtime_input,
)
from tinyc.ops.shape import check_failed, dims_table, emit_copy_nd, shape_operand

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext


def slice_axis(start: int, end: int, step: int, dim: int) -> tuple[int, int]:
    """ONNX clamping of one sliced axis: (first index, element count)."""
    if step == 0:
        raise ValueError("slice step 0")
    start = start + dim if start < 0 else start
    end = end + dim if end < 0 else end
    if step > 0:
        start, end = min(max(start, 0), dim), min(max(end, 0), dim)
        return start, max(0, -(-(end - start) // step))
    start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
    return start, max(0, -(-(start - end) // -step))


def slice_geometry(
    node: Node, shape: tuple[int, ...], operands: list[np.ndarray | None]
) -> tuple[list[int], list[int], list[int]]:
    """Per-axis (first, step, count) from Slice's starts, ends, axes, steps."""
    starts, ends, axes, steps = ([int(v) for v in a.reshape(-1)] if a is not None else None
                                 for a in (operands + [None] * 4)[:4])
    assert starts is not None and ends is not None
    r = len(shape)
    axes = list(range(len(starts))) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise ModelError(f"Slice node '{node.name}': starts/ends/axes/steps lengths differ")
    first, step, count = [0] * r, [1] * r, list(shape)
    seen: set[int] = set()
    for s, e, a, st in zip(starts, ends, axes, steps, strict=True):
        a = normalize_axis(a, r, node)
        if a in seen or st == 0:
            raise ModelError(f"Slice node '{node.name}': repeated axis or zero step")
        seen.add(a)
        first[a], count[a] = slice_axis(s, e, st, shape[a])
        step[a] = st
    return first, step, count


def take_slices(x: np.ndarray, first: list[int], step: list[int], count: list[int]) -> np.ndarray:
    y = x
    for axis, (f, s, c) in enumerate(zip(first, step, count, strict=True)):
        y = np.take(y, f + s * np.arange(c, dtype=np.int64), axis=axis)
    return np.ascontiguousarray(y)


def index_operands(node: Node, first: int, last: int, what: str) -> int:
    """Check inputs first..last (those present) are 1-D of one integer type; their length."""
    dtypes, lengths = set(), set()
    for i in range(first, last + 1):
        value = node.input(i)
        if value is None:
            continue
        if value.type.rank != 1 or value.dtype not in (DType.I32, DType.I64):
            raise ModelError(f"{node.op} node '{node.name}': {what} must be 1-D int32/int64")
        dtypes.add(value.dtype)
        lengths.add(value.type.numel)
    if len(dtypes) != 1 or len(lengths) != 1:
        raise ModelError(f"{node.op} node '{node.name}': {what} differ in type or length")
    return lengths.pop()


@register_op
class Slice(OpDef):
    """IR form: `shape` (output dims) and, for compile-time operands, per-axis `starts`
    (first index read) and `steps`; run-time operands stay inputs 1-4."""

    name = "Slice"
    min_opset = 1
    attrs = {"shape": Attr("ints", []), "starts": Attr("ints", []), "steps": Attr("ints", []),
             "ends": Attr("ints", []), "axes": Attr("ints", [])}

    def normalize(self, node: Node, opset: int) -> None:
        x = input_type(node, 0)
        a = node.attrs
        ends, axes = a.pop("ends", []), a.pop("axes", [])
        if opset < 10:  # starts, ends and axes are attributes, steps are all 1
            operands: list[np.ndarray | None] = [
                np.asarray(a["starts"], np.int64), np.asarray(ends, np.int64),
                np.asarray(axes, np.int64) if axes else None, None]
            first, step, count = slice_geometry(node, x.shape, operands)
            a.update(shape=count, starts=first, steps=step)
            return
        if any(runtime_input(node, i) for i in range(1, 5)):
            index_operands(node, 1, 4, "starts/ends/axes/steps")
            node.attrs.update(shape=list(declared_shape(node, 0, "starts/ends")), starts=[],
                              steps=[])
            return
        operands = [None if node.input(i) is None else const_input(node, i, "slice operand")
                    for i in range(1, 5)]
        first, step, count = slice_geometry(node, x.shape, operands)
        node.attrs.update(shape=count, starts=first, steps=step)
        node.set_inputs(node.inputs[:1])

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        shape = tuple(node.attrs["shape"])
        if len(shape) != x.rank:
            raise ModelError(f"Slice node '{node.name}': output rank {len(shape)} != {x.rank}")
        return [x.with_shape(shape)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        count = node.attrs["shape"]
        first, step = node.attrs["starts"], node.attrs["steps"]
        if not first:
            first, step, got = slice_geometry(node, x.shape, list(inputs[1:]))
            if got != list(count):
                raise check_failed(node, "starts/ends", got, count)
        return [take_slices(x, first, step, count)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        first, step = node.attrs["starts"], node.attrs["steps"]
        st = strides(x.shape)
        if first:
            offset = sum(f * s for f, s in zip(first, st, strict=True))
            emit_copy_nd(ctx, ctx.ptr(y), f"{ctx.ptr(x)} + {offset}", x.dtype.itemsize,
                         list(y.shape), strides(y.shape),
                         [s * k for s, k in zip(st, step, strict=True)], y.name)
            return
        if x.type.rank > MAX_RANK:
            raise UnsupportedError(f"Slice node '{node.name}': rank {x.type.rank} > {MAX_RANK}")
        starts = node.inputs[1]
        assert starts is not None
        params = ctx.params("tinyc_io_shape", f"{{{x.type.rank}, {c_int_list(x.shape)}, "
                            f"{c_int_list(y.shape)}, 0}}", f"slice_{y.name}")
        args = [ctx.ptr(v) if v is not None else "NULL" for v in
                (node.input(i) for i in range(1, 5))]
        ctx.checked_call("data", f"tinyc_slice_{starts.dtype.value}", ctx.ptr(x), ctx.ptr(y),
                         x.dtype.itemsize, params, *args, starts.type.numel)


@register_op
class Split(OpDef):
    """IR form: `axis` and the resolved `split` sizes; a run-time split input stays input 1
    and is checked against the sizes the model declares for the outputs."""

    name = "Split"
    min_opset = 2
    attrs = {"axis": Attr("int", 0), "split": Attr("ints", []), "num_outputs": Attr("int", 0)}

    def normalize(self, node: Node, opset: int) -> None:
        x = input_type(node, 0)
        axis = normalize_axis(node.attrs["axis"], x.rank, node)
        dim, n_out = x.shape[axis], declared_outputs(node)
        sizes = list(node.attrs.get("split") or [])
        num = node.attrs.pop("num_outputs", 0)
        keep = node.inputs[:1]
        if runtime_input(node, 1):
            shape_operand(node, 1, "split")
            sizes = [declared_shape(node, i, "the split operand")[axis] for i in range(n_out)]
            keep = node.inputs[:2]
        elif node.input(1) is not None:
            sizes = [int(v) for v in const_input(node, 1, "split").reshape(-1)]
        elif not sizes and num:
            chunk = -(-dim // num)
            sizes = [min(chunk, max(dim - chunk * i, 0)) for i in range(num)]
        elif not sizes:
            if n_out == 0 or dim % n_out:
                raise ModelError(f"Split node '{node.name}': {dim} does not split {n_out} ways")
            sizes = [dim // n_out] * n_out
        node.attrs.update(axis=axis, split=sizes)
        node.set_inputs(keep)

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        axis, sizes = node.attrs["axis"], node.attrs["split"]
        if sum(sizes) != x.shape[axis] or any(s < 0 for s in sizes):
            raise ModelError(f"Split node '{node.name}': sizes {sizes} do not add up to "
                             f"{x.shape[axis]}")
        return [x.with_shape(x.shape[:axis] + (s,) + x.shape[axis + 1 :]) for s in sizes]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        sizes = node.attrs["split"]
        if len(inputs) > 1 and inputs[1] is not None:
            if [int(v) for v in inputs[1]] != sizes:
                raise check_failed(node, "split", inputs[1].tolist(), sizes)
        cuts = list(accumulate(sizes))[:-1]
        return [np.ascontiguousarray(p) for p in np.split(x, cuts, axis=node.attrs["axis"])]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x = node.inputs[0]
        assert x is not None
        axis, sizes = node.attrs["axis"], node.attrs["split"]
        split_in = node.input(1)
        if split_in is not None:
            table = ctx.table(DType.I64, sizes, f"split_{node.outputs[0].name}")
            ctx.checked_call("shape", "tinyc_check_values_i64", ctx.ptr(split_in), table,
                             len(sizes))
        st = strides(x.shape)
        start = 0
        for y, size in zip(node.outputs, sizes, strict=True):
            emit_copy_nd(ctx, ctx.ptr(y), f"{ctx.ptr(x)} + {start * st[axis]}", x.dtype.itemsize,
                         list(y.shape), strides(y.shape), st, y.name)
            start += size


@register_op
class Tile(OpDef):
    """IR form: `repeats`; a run-time repeats input stays input 1 and is checked."""

    name = "Tile"
    min_opset = 6
    attrs = {"repeats": Attr("ints", [])}

    def normalize(self, node: Node, opset: int) -> None:
        x = input_type(node, 0)
        if runtime_input(node, 1):
            shape_operand(node, 1, "repeats")
            out = declared_shape(node, 0, "the repeats operand")
            if len(out) != x.rank:
                raise ModelError(f"Tile node '{node.name}': declared rank {len(out)}")
            node.attrs["repeats"] = [o // d if d else 1 for o, d in zip(out, x.shape, strict=True)]
            node.set_inputs(node.inputs[:2])
            return
        node.attrs["repeats"] = [int(v) for v in const_input(node, 1, "repeats").reshape(-1)]
        node.set_inputs(node.inputs[:1])

    def expected(self, node: Node) -> list[int]:
        """Repeats a run-time operand must hold (-1: any, on empty axes)."""
        x = input_type(node, 0)
        return [r if d else -1 for r, d in zip(node.attrs["repeats"], x.shape, strict=True)]

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        reps = node.attrs["repeats"]
        if len(reps) != x.rank or any(r < 0 for r in reps):
            raise ModelError(f"Tile node '{node.name}': repeats {reps} for rank {x.rank}")
        return [x.with_shape(tuple(d * r for d, r in zip(x.shape, reps, strict=True)))]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        if len(inputs) > 1 and inputs[1] is not None:
            got = [int(v) for v in inputs[1]]
            want = self.expected(node)
            if len(got) != len(want) or any(
                w >= 0 and g != w for g, w in zip(got, want, strict=True)
            ):
                raise check_failed(node, "repeats", got, want)
        return [np.tile(x, node.attrs["repeats"])]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        reps_in = node.input(1)
        if reps_in is not None:
            table = ctx.table(DType.I64, self.expected(node), f"repeats_{y.name}")
            ctx.checked_call("shape", "tinyc_check_values_i64", ctx.ptr(reps_in), table,
                             x.type.rank)
        # y viewed as [r0, d0, r1, d1, ...]: the source ignores the repeat index
        dims: list[int] = []
        dst: list[int] = []
        src: list[int] = []
        for d, r, ys, xs in zip(x.shape, node.attrs["repeats"], strides(y.shape),
                                strides(x.shape), strict=True):
            dims += [r, d]
            dst += [ys * d, ys]
            src += [0, xs]
        emit_copy_nd(ctx, ctx.ptr(y), ctx.ptr(x), x.dtype.itemsize, dims, dst, src, y.name)


@register_op
class Expand(OpDef):
    """IR form: `shape`, the broadcast output shape; a run-time shape input stays input 1
    and is checked (`tinyc_check_expand`)."""

    name = "Expand"
    min_opset = 8
    attrs = {"shape": Attr("ints", [])}

    def normalize(self, node: Node, opset: int) -> None:
        x = input_type(node, 0)
        if runtime_input(node, 1):
            shape_operand(node, 1, "shape")
            node.attrs["shape"] = list(declared_shape(node, 0, "the shape operand"))
            node.set_inputs(node.inputs[:2])
            return
        spec = [int(v) for v in const_input(node, 1, "shape").reshape(-1)]
        where = f"Expand node '{node.name}'"
        node.attrs["shape"] = list(broadcast_shapes(x.shape, spec, where=where))
        node.set_inputs(node.inputs[:1])

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        shape = tuple(node.attrs["shape"])
        if broadcast_shapes(x.shape, shape, where=f"Expand node '{node.name}'") != shape:
            raise ModelError(f"Expand node '{node.name}': {list(x.shape)} does not expand to "
                             f"{list(shape)}")
        return [x.with_shape(shape)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        shape = tuple(node.attrs["shape"])
        if len(inputs) > 1 and inputs[1] is not None:
            spec = [int(v) for v in inputs[1]]
            try:
                got = broadcast_shapes(x.shape, spec)
            except ModelError:
                got = tuple(spec)
            if got != shape:
                raise check_failed(node, "shape", spec, list(shape))
        return [np.ascontiguousarray(np.broadcast_to(x, shape))]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        shape_in = node.input(1)
        if shape_in is not None:
            ctx.checked_call("shape", "tinyc_check_expand", ctx.ptr(shape_in),
                             shape_in.type.numel, dims_table(ctx, x.shape, x.name), x.type.rank,
                             dims_table(ctx, y.shape, y.name), y.type.rank)
        emit_copy_nd(ctx, ctx.ptr(y), ctx.ptr(x), x.dtype.itemsize, list(y.shape),
                     strides(y.shape), broadcast_strides(x.shape, y.shape), y.name)


@register_op
class ReverseSequence(OpDef):
    """Reverse the first sequence_lens[b] steps of each batch entry along the time axis
    (batch and time are axes 0 and 1, either way round)."""

    name = "ReverseSequence"
    min_opset = 10
    attrs = {"batch_axis": Attr("int", 1), "time_axis": Attr("int", 0)}

    def infer(self, node: Node) -> list[TensorType]:
        x, lens = input_type(node, 0), input_type(node, 1)
        b, t = node.attrs["batch_axis"], node.attrs["time_axis"]
        if x.rank < 2 or {b, t} != {0, 1}:
            raise ModelError(f"ReverseSequence node '{node.name}': axes {b}, {t}")
        if lens.dtype is not DType.I64 or lens.shape != (x.shape[b],):
            raise ModelError(f"ReverseSequence node '{node.name}': sequence_lens must be "
                             f"int64[{x.shape[b]}]")
        return [x]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x, lens = inputs
        assert x is not None and lens is not None
        b_axis, t_axis = node.attrs["batch_axis"], node.attrs["time_axis"]
        y = x.copy()
        for b, n in enumerate(lens.tolist()):
            if not 0 <= n <= x.shape[t_axis]:
                raise ModelError(f"ReverseSequence node '{node.name}': length {n} out of range")
            index: list[object] = [slice(None)] * x.ndim
            index[b_axis] = b
            index[t_axis] = slice(0, n)
            src = list(index)
            src[t_axis] = slice(n - 1, None, -1) if n else slice(0, 0)
            y[tuple(index)] = x[tuple(src)]
        return [y]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, lens = node.inputs
        y = node.outputs[0]
        assert x is not None and lens is not None
        inner = x.type.numel // max(x.shape[0] * x.shape[1], 1)
        if not y.type.numel:
            return
        ctx.checked_call("data", "tinyc_reverse_sequence", ctx.ptr(x), ctx.ptr(lens), ctx.ptr(y),
                         x.dtype.itemsize, x.shape[0], x.shape[1], inner,
                         node.attrs["time_axis"])
