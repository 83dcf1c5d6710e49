"""Padding: Pad (constant, reflect, edge, wrap; negative pads crop) and CenterCropPad.

IR form of Pad: attributes `mode`, `value` and `pads` (2*rank begin-then-end counts). When
the model computes the pads (or axes) at run time, those inputs stay inputs, `pads` is empty
and `shape` holds the output shape the model declares; the C kernel then reads the pads,
checks they give that shape and pads. A run-time constant value likewise stays input 2.

Semantics, shared by the numpy reference and `tinyc_pad`: output index o on an axis of n
elements padded by `begin` reads input index o - begin; outside [0, n) the mode decides
(constant: the value; edge: clamp; wrap: modulo n; reflect: mirror without repeating the
border, period 2(n-1)).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.layout import MAX_RANK, c_int_list, strides
from tinyc.ops.registry import (
    Attr,
    OpDef,
    const_input,
    declared_shape,
    input_type,
    normalize_axis,
    register_op,
    runtime_input,
)
from tinyc.ops.shape import check_failed, emit_copy_nd, shape_operand

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext

MODES = {"constant": 0, "reflect": 1, "edge": 2, "wrap": 3}


def pad_source(o: np.ndarray, begin: int, n: int, mode: str) -> np.ndarray:
    """Input index read by each output index `o` (-1: the constant value)."""
    i = o - begin
    inside = (i >= 0) & (i < n)
    if mode == "constant" or n == 0:
        return np.where(inside, i, -1)
    if mode == "edge":
        return np.clip(i, 0, n - 1)
    if mode == "wrap":
        return np.mod(i, n)
    if n == 1:
        return np.zeros_like(i)
    period = 2 * (n - 1)
    m = np.mod(i, period)
    return np.where(m >= n, period - m, m)


def pad_reference(x: np.ndarray, pads: list[int], mode: str, value: object) -> np.ndarray:
    r = x.ndim
    y = x
    for axis in range(r):
        n, begin, end = x.shape[axis], pads[axis], pads[axis + r]
        src = pad_source(np.arange(n + begin + end), begin, n, mode)
        if n == 0:
            shape = list(y.shape)
            shape[axis] = len(src)
            y = np.zeros(shape, x.dtype)
        else:
            y = np.take(y, np.clip(src, 0, n - 1), axis=axis)
        index = [slice(None)] * r
        index[axis] = src < 0
        y[tuple(index)] = np.asarray(value).astype(x.dtype)
    return np.ascontiguousarray(y)


def full_pads(node: Node, rank: int, pads: list[int], axes: list[int] | None) -> list[int]:
    """2*rank pads from pads given for `axes` (all axes when None)."""
    if axes is None:
        if len(pads) != 2 * rank:
            raise ModelError(f"{node.op} node '{node.name}': {len(pads)} pads for rank {rank}")
        return pads
    if len(pads) != 2 * len(axes):
        raise ModelError(f"{node.op} node '{node.name}': {len(pads)} pads for {len(axes)} axes")
    full = [0] * (2 * rank)
    for j, a in enumerate(axes):
        a = normalize_axis(a, rank, node)
        full[a], full[a + rank] = pads[j], pads[j + len(axes)]
    return full


@register_op
class Pad(OpDef):
    name = "Pad"
    min_opset = 1
    attrs = {
        "mode": Attr("string", "constant"),
        "pads": Attr("ints", []),
        "value": Attr("float", 0.0),
        "shape": Attr("ints", []),
    }

    def normalize(self, node: Node, opset: int) -> None:
        x = input_type(node, 0)
        mode = node.attrs.get("mode") or "constant"
        if mode not in MODES:
            raise UnsupportedError(f"Pad node '{node.name}': mode {mode} is not supported")
        pads_in, value_in, axes_in = node.input(1), node.input(2), node.input(3)
        keep: list = [node.inputs[0], None, None, None]
        pads = node.attrs.get("pads") or node.attrs.pop("paddings", None) or []  # opset 1
        if runtime_input(node, 1) or runtime_input(node, 3):
            shape_operand(node, 1, "pads")
            if axes_in is not None and axes_in.dtype is not DType.I64:
                raise UnsupportedError(f"Pad node '{node.name}': run-time int32 axes")
            node.attrs["shape"] = list(declared_shape(node, 0, "the pads operand"))
            keep[1], keep[3] = pads_in, axes_in
            pads = []
        else:
            if pads_in is not None:
                pads = [int(p) for p in const_input(node, 1, "pads").reshape(-1)]
            axes = None
            if axes_in is not None:
                axes = [int(a) for a in const_input(node, 3, "axes").reshape(-1)]
            pads = full_pads(node, x.rank, pads, axes)
            node.attrs["shape"] = []
        if value_in is not None:
            if value_in.const is None:
                keep[2] = value_in
            else:
                node.attrs["value"] = value_in.const.reshape(-1)[0].item()
        while keep and keep[-1] is None:
            keep.pop()
        node.attrs.update(pads=pads, mode=mode)
        node.set_inputs(keep)

    def out_shape(self, node: Node, shape: tuple[int, ...]) -> tuple[int, ...]:
        p, r = node.attrs["pads"], len(shape)
        if not p:
            return tuple(node.attrs["shape"])
        return tuple(d + p[i] + p[i + r] for i, d in enumerate(shape))

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        shape = self.out_shape(node, x.shape)
        if len(shape) != x.rank or any(d < 0 for d in shape):
            raise ModelError(f"Pad node '{node.name}': pads {node.attrs['pads']} do not fit "
                             f"{list(x.shape)}")
        if node.attrs["mode"] != "constant" and any(
            d == 0 and o != 0 for d, o in zip(x.shape, shape, strict=True)
        ):
            raise ModelError(f"Pad node '{node.name}': {node.attrs['mode']} pads an empty axis")
        return [x.with_shape(shape)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        pads = node.attrs["pads"]
        if not pads:
            assert inputs[1] is not None
            axes = inputs[3] if len(inputs) > 3 else None
            given = [int(p) for p in inputs[1].reshape(-1)]
            axis_list = None if axes is None else [int(a) for a in axes.reshape(-1)]
            pads = full_pads(node, x.ndim, given, axis_list)
            got = tuple(d + pads[i] + pads[i + x.ndim] for i, d in enumerate(x.shape))
            if got != tuple(node.attrs["shape"]):
                raise check_failed(node, "pads", given, node.attrs["shape"])
        value = node.attrs["value"]
        if len(inputs) > 2 and inputs[2] is not None:
            value = inputs[2].reshape(-1)[0]
        return [pad_reference(x, pads, node.attrs["mode"], value)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        pads, mode = node.attrs["pads"], node.attrs["mode"]
        if pads and not y.type.numel:
            return
        value_in = node.input(2)
        value = (ctx.ptr(value_in) if value_in is not None
                 else ctx.table(y.dtype, [node.attrs["value"]], f"pad_value_{y.name}"))
        if x.type.rank > MAX_RANK:
            raise UnsupportedError(f"Pad node '{node.name}': rank {x.type.rank} > {MAX_RANK}")
        if pads and mode == "constant":
            emit_constant_pad(ctx, node, pads, value)
            return
        init = (f"{{{x.type.rank}, {c_int_list(x.shape)}, {c_int_list(y.shape)}, "
                f"TINYC_PAD_{mode.upper()}}}")
        params = ctx.params("tinyc_io_shape", init, f"pad_{y.name}")
        pads_ptr, axes_ptr, n_axes = "", "NULL", x.type.rank
        if pads:
            pads_ptr = ctx.table(DType.I64, pads, f"pads_{y.name}")
        else:
            pads_in, axes_in = node.inputs[1], node.input(3)
            assert pads_in is not None
            pads_ptr = ctx.ptr(pads_in)
            axes_ptr = ctx.ptr(axes_in) if axes_in is not None else "NULL"
            n_axes = axes_in.type.numel if axes_in is not None else x.type.rank
            if pads_in.type.numel != 2 * n_axes:
                raise ModelError(f"Pad node '{node.name}': {pads_in.type.numel} pads for "
                                 f"{n_axes} axes")
        ctx.checked_call("data", "tinyc_pad", ctx.ptr(x), ctx.ptr(y), x.dtype.itemsize, params,
                         pads_ptr, axes_ptr, n_axes, value)


def emit_constant_pad(ctx: EmitContext, node: Node, pads: list[int], value: str) -> None:
    """Compile-time pads in constant mode: fill, then one strided copy of the kept block."""
    x, y = node.inputs[0], node.outputs[0]
    assert x is not None
    r = x.type.rank
    if y.type.numel:
        ctx.call("data", "tinyc_fill", ctx.ptr(y), value, y.dtype.itemsize, y.type.numel)
    dst_st, src_st = strides(y.shape), strides(x.shape)
    dims = [x.shape[i] - max(-pads[i], 0) - max(-pads[i + r], 0) for i in range(r)]
    if any(d <= 0 for d in dims) or not y.type.numel:
        return
    dst_off = sum(max(pads[i], 0) * dst_st[i] for i in range(r))
    src_off = sum(max(-pads[i], 0) * src_st[i] for i in range(r))
    emit_copy_nd(ctx, f"{ctx.ptr(y)} + {dst_off}", f"{ctx.ptr(x)} + {src_off}",
                 x.dtype.itemsize, dims, dst_st, src_st, y.name)


@register_op
class CenterCropPad(OpDef):
    """Crop or zero-pad each of `axes` around its center to the size in input 1. IR form:
    the equivalent constant `pads`; a run-time shape input stays as input 1 and is checked."""

    name = "CenterCropPad"
    attrs = {"axes": Attr("ints", []), "pads": Attr("ints", [])}

    def normalize(self, node: Node, opset: int) -> None:
        x = input_type(node, 0)
        axes = [normalize_axis(a, x.rank, node) for a in node.attrs.get("axes") or
                range(x.rank)]
        if runtime_input(node, 1):
            if input_type(node, 1).dtype not in (DType.I64, DType.I32):
                raise ModelError(f"CenterCropPad node '{node.name}': shape must be integer")
            out = declared_shape(node, 0, "the shape operand")
            sizes = [out[a] for a in axes]
            keep = node.inputs[:2]
        else:
            sizes = [int(v) for v in const_input(node, 1, "shape").reshape(-1)]
            keep = node.inputs[:1]
        if len(sizes) != len(axes):
            raise ModelError(f"CenterCropPad node '{node.name}': {len(sizes)} sizes, "
                             f"{len(axes)} axes")
        pads = [0] * (2 * x.rank)
        for a, size in zip(axes, sizes, strict=True):
            n = x.shape[a]
            begin = (size - n) // 2 if size >= n else -((n - size) // 2)
            pads[a], pads[a + x.rank] = begin, size - n - begin
        node.attrs.update(axes=axes, pads=pads)
        node.set_inputs(keep)

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        p = node.attrs["pads"]
        return [x.with_shape(tuple(d + p[i] + p[i + x.rank] for i, d in enumerate(x.shape)))]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        y_shape = self.infer(node)[0].shape
        if len(inputs) > 1 and inputs[1] is not None:
            want = [y_shape[a] for a in node.attrs["axes"]]
            if [int(v) for v in inputs[1].reshape(-1)] != want:
                raise check_failed(node, "shape", inputs[1].tolist(), want)
        return [pad_reference(x, node.attrs["pads"], "constant", 0)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        y, shape_in = node.outputs[0], node.input(1)
        if shape_in is not None:
            want = [y.shape[a] for a in node.attrs["axes"]]
            table = ctx.table(DType.I64, want, f"crop_{y.name}")
            ctx.checked_call("shape", f"tinyc_check_values_{shape_in.dtype.value}",
                             ctx.ptr(shape_in), table, len(want))
        if y.type.numel:
            zero = ctx.table(y.dtype, [0], f"zero_{y.dtype.value}")
            emit_constant_pad(ctx, node, node.attrs["pads"], zero)

