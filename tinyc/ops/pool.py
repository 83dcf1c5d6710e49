"""Pooling: MaxPool (with its Indices output), AveragePool (ceil_mode, count_include_pad),
LpPool, and the global average/max/Lp pools, at any spatial rank.

1-D and 2-D MaxPool/AveragePool without indices run on tinyc_pool.h (which targets
specialize); everything else on the portable N-d kernel of tinyc_poolnd.h. Both read only
in-bounds taps, and the numpy reference below walks the taps in the same order.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from tinyc.backend.cliterals import c_scalar
from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.layout import MAX_RANK, c_int_list
from tinyc.ops.registry import (
    FLAG,
    POSITIVE,
    WINDOW_PADS,
    WINDOW_STEP,
    Attr,
    OpDef,
    declared_outputs,
    input_type,
    register_op,
)
from tinyc.ops.window import normalize_window, output_size

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext

_KINDS = {"max": "TINYC_POOL_MAX", "avg": "TINYC_POOL_AVG", "lp": "TINYC_POOL_LP"}
#: element types MaxPool also runs on (tinyc_maxpool_nd_<type>)
_INT_MAX = (DType.I8, DType.U8, DType.I32, DType.I64)


def pool_reference(
    x: np.ndarray, node: Node, out_spatial: tuple[int, ...], kind: str
) -> tuple[np.ndarray, np.ndarray]:
    """(values, flat argmax indices) of a pooling window walk; indices only mean something
    for max. Taps go in row-major kernel order, the first largest wins, NaN beats numbers."""
    a = node.attrs
    nsp = len(out_spatial)
    k, s, d, pads = a["kernel_shape"], a["strides"], a["dilations"], a["pads"]
    p = float(a.get("p", 2))
    nc_shape = x.shape[:2]
    xf = x.astype(np.float64)
    out_shape = nc_shape + tuple(out_spatial)
    acc = np.full(out_shape, -np.inf if kind == "max" else 0.0)
    best = np.full(out_shape, -1, np.int64)
    inside = np.zeros(out_spatial, np.int64)
    padded = np.zeros(out_spatial, np.int64)
    positions = np.indices(out_spatial)
    plane = int(np.prod(x.shape[2:]))
    channel = (np.arange(nc_shape[0] * nc_shape[1]) * plane).reshape(nc_shape + (1,) * nsp)
    for tap in np.ndindex(*k):
        pos = [positions[i] * s[i] - pads[i] + tap[i] * d[i] for i in range(nsp)]
        valid = np.ones(out_spatial, bool)
        in_pad = np.ones(out_spatial, bool)
        for i in range(nsp):
            valid &= (pos[i] >= 0) & (pos[i] < x.shape[2 + i])
            in_pad &= (pos[i] >= -pads[i]) & (pos[i] < x.shape[2 + i] + pads[i + nsp])
        padded += in_pad
        inside += valid
        clipped = [np.clip(pos[i], 0, max(x.shape[2 + i] - 1, 0)) for i in range(nsp)]
        if plane == 0:
            continue
        v = xf[(slice(None), slice(None)) + tuple(clipped)]
        if kind == "max":
            order = "F" if a.get("storage_order") else "C"
            flat = np.ravel_multi_index(tuple(clipped), x.shape[2:], order=order)
            take = valid & ((best < 0) | (v > acc) | (np.isnan(v) & ~np.isnan(acc)))
            acc = np.where(take, v, acc)
            best = np.where(take, channel + flat, best)
        elif kind == "avg":
            acc = acc + np.where(valid, v, 0.0)
        else:
            acc = acc + np.where(valid, np.abs(v) ** p, 0.0)
    if kind == "avg":
        count = padded if a.get("count_include_pad") else inside
        acc = acc / np.maximum(count, 1)
    elif kind == "lp":
        acc = acc ** (1.0 / p)
    elif kind == "max":
        acc = np.where(best < 0, np.float32(-3.402823466e38), acc)
    return acc.astype(x.dtype), best


_WINDOW_ATTRS = {
    "auto_pad": Attr("string", "NOTSET"),
    "ceil_mode": FLAG,
    "dilations": WINDOW_STEP,
    "kernel_shape": WINDOW_STEP,
    "pads": WINDOW_PADS,
    "strides": WINDOW_STEP,
}


class _Pool(OpDef):
    kind: ClassVar[str] = ""
    kernel: ClassVar[str] = ""

    def normalize(self, node: Node, opset: int) -> None:
        x = input_type(node, 0)
        if x.rank < 3:
            raise ModelError(f"{node.op} node '{node.name}': input rank {x.rank} < 3")
        if "kernel_shape" not in node.attrs or not node.attrs["kernel_shape"]:
            raise ModelError(f"{node.op} node '{node.name}': kernel_shape is required")
        normalize_window(node, x.shape[2:], tuple(node.attrs["kernel_shape"]))
        n = x.rank - 2
        node.attrs["strides"] = node.attrs.get("strides") or [1] * n
        node.attrs["dilations"] = node.attrs.get("dilations") or [1] * n

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        a = node.attrs
        n = x.rank - 2
        spatial = tuple(
            output_size(x.shape[2 + i], a["kernel_shape"][i], a["strides"][i], a["dilations"][i],
                        a["pads"][i], a["pads"][i + n], bool(a["ceil_mode"]))
            for i in range(n)
        )
        y = x.with_shape(x.shape[:2] + spatial)
        if a.get("indices"):
            return [y, TensorType(DType.I64, y.shape)]
        return [y]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        assert inputs[0] is not None
        y, idx = pool_reference(inputs[0], node, node.outputs[0].shape[2:], self.kind)
        return [y, idx] if node.attrs.get("indices") else [y]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        if x.dtype is not DType.F32 and not (self.kind == "max" and x.dtype in _INT_MAX):
            raise UnsupportedError(f"op {node.op} (node '{node.name}') on {x.dtype.value} "
                                   "has no C kernel")
        if x.type.rank not in (3, 4) or node.attrs.get("indices") or not self.kernel or \
                x.dtype is not DType.F32:
            emit_pool_nd(ctx, node, self.kind)
            return
        a = node.attrs
        pad1 = [1] * (4 - x.type.rank)
        hw, ohw = pad1 + list(x.shape[2:]), pad1 + list(y.shape[2:])
        k, s = pad1 + list(a["kernel_shape"]), pad1 + list(a["strides"])
        d = pad1 + list(a["dilations"])
        p = a["pads"]
        pt, pl, pb, pr = (0, p[0], 0, p[1]) if x.type.rank == 3 else (p[0], p[1], p[2], p[3])
        fields = [x.shape[0] * x.shape[1], hw[0], hw[1], ohw[0], ohw[1], k[0], k[1], s[0], s[1],
                  d[0], d[1], pt, pl, pb, pr, int(a.get("count_include_pad", 0))]
        params = ctx.params("tinyc_pool2d_params", "{" + ", ".join(map(str, fields)) + "}",
                            f"pool_{y.name}")
        ctx.call("pool", f"tinyc_{self.kernel}_f32", ctx.ptr(x), ctx.ptr(y), params)


def emit_pool_nd(ctx: EmitContext, node: Node, kind: str) -> None:
    """A call of the portable N-d pooling kernel."""
    x, y = node.inputs[0], node.outputs[0]
    assert x is not None
    a = node.attrs
    nsp = x.type.rank - 2
    if nsp > MAX_RANK:
        raise UnsupportedError(f"op {node.op} (node '{node.name}'): {nsp} spatial axes")
    lists = [x.shape[2:], y.shape[2:], a["kernel_shape"], a["strides"], a["dilations"],
             a["pads"][:nsp], a["pads"][nsp:]]
    p = float(a.get("p", 2))
    init = (f"{{{x.shape[0] * x.shape[1]}, {nsp}, " + ", ".join(c_int_list(v) for v in lists)
            + f", {_KINDS[kind]}, {int(a.get('count_include_pad', 0))}, "
            f"{int(a.get('storage_order', 0))}, {c_scalar(p, DType.F32)}}}")
    if kind == "lp":
        ctx.uses_math = True
    if not y.type.numel:  # nothing to compute, and no unused parameter struct
        return
    params = ctx.params("tinyc_poolnd_params", init, f"pool_{y.name}")
    indices = ctx.ptr(node.outputs[1]) if len(node.outputs) > 1 else "NULL"
    fn = "tinyc_pool_nd_f32" if x.dtype is DType.F32 else f"tinyc_maxpool_nd_{x.dtype.value}"
    ctx.call("poolnd", fn, ctx.ptr(x), ctx.ptr(y), indices, params)


@register_op
class MaxPool(_Pool):
    """A second output (Indices) is the flat index into X of each maximum, row-major, or
    column-major over the spatial axes with storage_order=1; the IR records it as
    `indices=1`."""

    name, kind, kernel = "MaxPool", "max", "maxpool2d"
    min_opset = 1
    attrs = {**_WINDOW_ATTRS, "storage_order": FLAG, "indices": Attr("int", 0)}

    def normalize(self, node: Node, opset: int) -> None:
        super().normalize(node, opset)
        node.attrs["indices"] = int(declared_outputs(node) > 1)


@register_op
class AveragePool(_Pool):
    name, kind, kernel = "AveragePool", "avg", "avgpool2d"
    min_opset = 1
    attrs = {**_WINDOW_ATTRS, "count_include_pad": FLAG}


@register_op
class LpPool(_Pool):
    """(sum of |x|^p over the in-bounds taps)^(1/p); padding contributes zeros."""

    name, kind = "LpPool", "lp"
    min_opset = 2
    attrs = {**_WINDOW_ATTRS, "p": replace(POSITIVE, default=2)}


class _GlobalPool(OpDef):
    kernel: ClassVar[str] = ""

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        if x.rank < 3:
            raise ModelError(f"{node.op} node '{node.name}': input rank {x.rank} < 3")
        return [x.with_shape(x.shape[:2] + (1,) * (x.rank - 2))]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        if x.dtype is not DType.F32:
            raise UnsupportedError(f"op {node.op} (node '{node.name}') on {x.dtype.value} "
                                   "has no C kernel")
        nc = x.shape[0] * x.shape[1]
        size = x.type.numel // max(nc, 1)
        ctx.call("pool", f"tinyc_{self.kernel}_f32", ctx.ptr(x), ctx.ptr(y), nc, size)


@register_op
class GlobalAveragePool(_GlobalPool):
    name, kernel = "GlobalAveragePool", "global_avgpool"
    min_opset = 1

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        axes = tuple(range(2, x.ndim))
        return [x.mean(axis=axes, keepdims=True, dtype=np.float64).astype(x.dtype)]


@register_op
class GlobalMaxPool(_GlobalPool):
    name, kernel = "GlobalMaxPool", "global_maxpool"
    min_opset = 1

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        return [x.max(axis=tuple(range(2, x.ndim)), keepdims=True)]


@register_op
class GlobalLpPool(_GlobalPool):
    """LpPool with one window covering every spatial position."""

    name = "GlobalLpPool"
    min_opset = 2
    attrs = {"p": replace(POSITIVE, default=2)}

    def normalize(self, node: Node, opset: int) -> None:
        x = input_type(node, 0)
        n = x.rank - 2
        node.attrs.update(kernel_shape=list(x.shape[2:]), strides=[1] * n, dilations=[1] * n,
                          pads=[0] * (2 * n))

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        p = float(node.attrs["p"])
        axes = tuple(range(2, x.ndim))
        y = (np.abs(x.astype(np.float64)) ** p).sum(axis=axes, keepdims=True) ** (1.0 / p)
        return [y.astype(x.dtype)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x = node.inputs[0]
        assert x is not None
        if x.dtype is not DType.F32:
            raise UnsupportedError(f"op GlobalLpPool (node '{node.name}') on {x.dtype.value}")
        emit_pool_nd(ctx, node, "lp")
