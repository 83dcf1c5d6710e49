"""Shape and data-movement ops: Reshape family, Transpose, Concat, Pad, Shape, Gather.

Shape-like operands (Reshape's shape, Squeeze's axes, Pad's pads) must be compile-time
constants; `normalize` moves them into attributes, so the IR form is the same for every
opset. Data movement is dtype-independent: it runs on element sizes, not types.
"""

from __future__ import annotations

from math import prod
from typing import TYPE_CHECKING

import numpy as np

from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.layout import c_int_list, merge_dims, split_axis, strides
from tinyc.ops.registry import (
    Attr,
    OpDef,
    const_input,
    input_type,
    normalize_axis,
    register_op,
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


class _Reshaping(OpDef):
    """Same bytes, new shape: emitted as one copy (aliasing is the memory planner's job)."""

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        assert inputs[0] is not None
        return [inputs[0].reshape(node.outputs[0].shape).copy()]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x = node.inputs[0]
        assert x is not None
        ctx.copy(node.outputs[0], x)


@register_op
class Reshape(_Reshaping):
    """IR form: `Reshape(%x) {shape=[...]}` with the resolved static output shape."""

    name = "Reshape"
    attrs = {"allowzero": Attr("int", 0), "shape": Attr("ints", [])}

    def normalize(self, node: Node, opset: int) -> None:
        if len(node.inputs) < 2:
            return
        x = input_type(node, 0)
        spec = [int(v) for v in const_input(node, 1, "shape").reshape(-1)]
        allowzero = node.attrs.pop("allowzero", 0)
        shape = [x.shape[i] if d == 0 and not allowzero else d for i, d in enumerate(spec)]
        if shape.count(-1) > 1:
            raise ModelError(f"Reshape node '{node.name}': more than one -1 in {spec}")
        if -1 in shape:
            known = prod(d for d in shape if d != -1)
            if known == 0 or x.numel % known:
                raise ModelError(f"Reshape node '{node.name}': cannot reshape {list(x.shape)} to {spec}")
            shape[shape.index(-1)] = x.numel // known
        node.attrs["shape"] = shape
        node.set_inputs(node.inputs[:1])

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        shape = tuple(node.attrs["shape"])
        if prod(shape) != x.numel:
            raise ModelError(f"Reshape node '{node.name}': {list(x.shape)} to {list(shape)}")
        return [x.with_shape(shape)]


@register_op
class Flatten(_Reshaping):
    name = "Flatten"
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
    """Squeeze/Unsqueeze: axes from an attribute (opset < 13) or a constant input."""

    attrs = {"axes": Attr("ints", [])}

    def out_rank(self, node: Node) -> int:
        return input_type(node, 0).rank

    def normalize(self, node: Node, opset: int) -> None:
        axes = node.attrs.get("axes") or []
        if len(node.inputs) > 1 and node.inputs[1] is not None:
            axes = [int(a) for a in const_input(node, 1, "axes").reshape(-1)]
        node.set_inputs(node.inputs[:1])
        node.attrs["axes"] = axes
        rank = self.out_rank(node)
        node.attrs["axes"] = sorted(normalize_axis(a, rank, node) for a in axes)


@register_op
class Squeeze(_AxesOp):
    name = "Squeeze"

    def normalize(self, node: Node, opset: int) -> None:
        super().normalize(node, opset)
        x = input_type(node, 0)
        if not node.attrs["axes"]:
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
    name = "Concat"
    attrs = {"axis": Attr("int")}

    def normalize(self, node: Node, opset: int) -> None:
        node.attrs["axis"] = normalize_axis(node.attrs["axis"], input_type(node, 0).rank, node)

    def infer(self, node: Node) -> list[TensorType]:
        first = input_type(node, 0)
        axis = node.attrs["axis"]
        total = 0
        for i in range(len(node.inputs)):
            t = input_type(node, i)
            if t.rank != first.rank or t.dtype is not first.dtype or any(
                a != b for j, (a, b) in enumerate(zip(t.shape, first.shape)) if j != axis
            ):
                raise ModelError(f"Concat node '{node.name}': input {i} shape {list(t.shape)} does not fit")
            total += t.shape[axis]
        shape = list(first.shape)
        shape[axis] = total
        return [first.with_shape(tuple(shape))]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        return [np.concatenate([x for x in inputs if x is not None], axis=node.attrs["axis"])]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        y = node.outputs[0]
        axis = node.attrs["axis"]
        dst_st = strides(y.shape)
        start = 0
        for i, x in enumerate(node.inputs):
            assert x is not None
            emit_copy_nd(ctx, f"{ctx.ptr(y)} + {start * dst_st[axis]}", ctx.ptr(x),
                         x.dtype.itemsize, list(x.shape), dst_st, strides(x.shape), f"{y.name}_{i}")
            start += x.shape[axis]


@register_op
class Pad(OpDef):
    """Constant padding (negative pads crop). IR form: attrs `pads` (2*rank) and `value`."""

    name = "Pad"
    attrs = {"mode": Attr("string", "constant"), "pads": Attr("ints", []), "value": Attr("float", 0.0)}

    def normalize(self, node: Node, opset: int) -> None:
        x = input_type(node, 0)
        if node.attrs.get("mode", "constant") != "constant":
            raise UnsupportedError(f"Pad node '{node.name}': mode {node.attrs['mode']} is not supported")
        pads = node.attrs.get("pads") or []
        if len(node.inputs) > 1 and node.inputs[1] is not None:
            pads = [int(p) for p in const_input(node, 1, "pads").reshape(-1)]
        value = node.attrs.get("value", 0.0)
        if len(node.inputs) > 2 and node.inputs[2] is not None:
            value = const_input(node, 2, "constant_value").reshape(-1)[0].item()
        if len(node.inputs) > 3 and node.inputs[3] is not None:
            axes = [normalize_axis(int(a), x.rank, node) for a in const_input(node, 3, "axes").reshape(-1)]
            full = [0] * (2 * x.rank)
            for j, a in enumerate(axes):
                full[a], full[a + x.rank] = pads[j], pads[j + len(axes)]
            pads = full
        if len(pads) != 2 * x.rank:
            raise ModelError(f"Pad node '{node.name}': {len(pads)} pads for rank {x.rank}")
        node.attrs.update(pads=pads, value=value, mode="constant")
        node.set_inputs(node.inputs[:1])

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        p = node.attrs["pads"]
        shape = tuple(d + p[i] + p[i + x.rank] for i, d in enumerate(x.shape))
        if any(d < 0 for d in shape):
            raise ModelError(f"Pad node '{node.name}': pads {p} crop below zero")
        return [x.with_shape(shape)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        r = x.ndim
        p = node.attrs["pads"]
        crop = tuple(slice(max(-p[i], 0), x.shape[i] - max(-p[i + r], 0)) for i in range(r))
        width = [(max(p[i], 0), max(p[i + r], 0)) for i in range(r)]
        return [np.pad(x[crop], width, constant_values=np.asarray(node.attrs["value"]).astype(x.dtype))]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        r = x.type.rank
        p = node.attrs["pads"]
        value = ctx.table(y.dtype, [node.attrs["value"]], f"pad_value_{y.name}")
        if y.type.numel:
            ctx.call("data", "tinyc_fill", ctx.ptr(y), value, y.dtype.itemsize, y.type.numel)
        dst_st, src_st = strides(y.shape), strides(x.shape)
        dims = [x.shape[i] - max(-p[i], 0) - max(-p[i + r], 0) for i in range(r)]
        dst_off = sum(max(p[i], 0) * dst_st[i] for i in range(r))
        src_off = sum(max(-p[i], 0) * src_st[i] for i in range(r))
        emit_copy_nd(ctx, f"{ctx.ptr(y)} + {dst_off}", f"{ctx.ptr(x)} + {src_off}",
                     x.dtype.itemsize, dims, dst_st, src_st, y.name)


@register_op
class Shape(OpDef):
    """Always known at compile time (static shapes): folded to a constant."""

    name = "Shape"
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
class Gather(OpDef):
    name = "Gather"
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
