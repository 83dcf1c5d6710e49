"""Pooling: MaxPool, AveragePool (ceil_mode, count_include_pad), global average/max."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.registry import Attr, OpDef, input_type, register_op
from tinyc.ops.window import normalize_window, output_size

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext


def _pool_reference(x: np.ndarray, node: Node, out_spatial: tuple[int, ...], kind: str) -> np.ndarray:
    a = node.attrs
    nsp = len(out_spatial)
    k, s, d, pads = a["kernel_shape"], a["strides"], a["dilations"], a["pads"]
    fill = -np.inf if kind == "max" else 0.0
    # pad generously at the end so ceil_mode windows can hang over the border
    extra = [max(0, (out_spatial[i] - 1) * s[i] + (k[i] - 1) * d[i] + 1 - (x.shape[2 + i] + pads[i]))
             for i in range(nsp)]
    width = [(0, 0), (0, 0)] + [(pads[i], extra[i]) for i in range(nsp)]
    xp = np.pad(x.astype(np.float64), width, constant_values=fill)
    inside = np.pad(np.ones(x.shape[2:]), width[2:], constant_values=0.0)
    # taps that lie in the padded (not ceil-mode) extent count for count_include_pad
    padded = np.zeros(inside.shape)
    padded[tuple(slice(0, x.shape[2 + i] + pads[i] + pads[i + nsp]) for i in range(nsp))] = 1.0
    acc = np.full(x.shape[:2] + tuple(out_spatial), fill)
    count = np.zeros(out_spatial)
    for tap in np.ndindex(*k):
        win = tuple(slice(tap[i] * d[i], tap[i] * d[i] + s[i] * (out_spatial[i] - 1) + 1, s[i])
                    for i in range(nsp))
        patch = xp[(slice(None), slice(None)) + win]
        if kind == "max":
            acc = np.fmax(acc, patch) if not np.isnan(patch).any() else np.maximum(acc, patch)
        else:
            acc = acc + patch
            count = count + (padded[win] if a.get("count_include_pad") else inside[win])
    if kind == "avg":
        acc = acc / np.maximum(count, 1)
    return acc.astype(x.dtype)


class _Pool(OpDef):
    kind = ""
    kernel = ""

    def normalize(self, node: Node, opset: int) -> None:
        x = input_type(node, 0)
        if "kernel_shape" not in node.attrs or not node.attrs["kernel_shape"]:
            raise ModelError(f"{node.op} node '{node.name}': kernel_shape is required")
        normalize_window(node, x.shape[2:], tuple(node.attrs["kernel_shape"]))
        n = x.rank - 2
        node.attrs["strides"] = node.attrs.get("strides") or [1] * n
        node.attrs["dilations"] = node.attrs.get("dilations") or [1] * n
        if len(node.outputs) > 1:
            raise UnsupportedError(f"{node.op} node '{node.name}': Indices output is not supported")

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        a = node.attrs
        n = x.rank - 2
        spatial = tuple(
            output_size(x.shape[2 + i], a["kernel_shape"][i], a["strides"][i], a["dilations"][i],
                        a["pads"][i], a["pads"][i + n], bool(a["ceil_mode"]))
            for i in range(n)
        )
        return [x.with_shape(x.shape[:2] + spatial)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        assert inputs[0] is not None
        return [_pool_reference(inputs[0], node, node.outputs[0].shape[2:], self.kind)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        if x.dtype is not DType.F32 or x.type.rank not in (3, 4):
            raise UnsupportedError(
                f"op {node.op} (node '{node.name}') on {x.dtype.value} rank {x.type.rank} "
                "has no C kernel"
            )
        a = node.attrs
        pad1 = lambda v: [1] * (4 - x.type.rank) + list(v)  # noqa: E731
        hw, ohw = pad1(x.shape[2:]), pad1(y.shape[2:])
        k, s, d = pad1(a["kernel_shape"]), pad1(a["strides"]), pad1(a["dilations"])
        p = a["pads"]
        pt, pl, pb, pr = (0, p[0], 0, p[1]) if x.type.rank == 3 else (p[0], p[1], p[2], p[3])
        fields = [x.shape[0] * x.shape[1], hw[0], hw[1], ohw[0], ohw[1], k[0], k[1], s[0], s[1],
                  d[0], d[1], pt, pl, pb, pr, int(a.get("count_include_pad", 0))]
        params = ctx.params("tinyc_pool2d_params", "{" + ", ".join(map(str, fields)) + "}",
                            f"pool_{y.name}")
        ctx.call("pool", f"tinyc_{self.kernel}_f32", ctx.ptr(x), ctx.ptr(y), params)


_WINDOW_ATTRS = {
    "auto_pad": Attr("string", "NOTSET"),
    "ceil_mode": Attr("int", 0),
    "dilations": Attr("ints", []),
    "kernel_shape": Attr("ints", []),
    "pads": Attr("ints", []),
    "strides": Attr("ints", []),
}


@register_op
class MaxPool(_Pool):
    name, kind, kernel = "MaxPool", "max", "maxpool2d"
    attrs = {**_WINDOW_ATTRS, "storage_order": Attr("int", 0)}


@register_op
class AveragePool(_Pool):
    name, kind, kernel = "AveragePool", "avg", "avgpool2d"
    attrs = {**_WINDOW_ATTRS, "count_include_pad": Attr("int", 0)}


class _GlobalPool(OpDef):
    kernel = ""

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        if x.rank < 3:
            raise ModelError(f"{node.op} node '{node.name}': input rank {x.rank} < 3")
        return [x.with_shape(x.shape[:2] + (1,) * (x.rank - 2))]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        if x.dtype is not DType.F32:
            raise UnsupportedError(f"op {node.op} (node '{node.name}') on {x.dtype.value} has no C kernel")
        nc = x.shape[0] * x.shape[1]
        size = x.type.numel // max(nc, 1)
        ctx.call("pool", f"tinyc_{self.kernel}_f32", ctx.ptr(x), ctx.ptr(y), nc, size)


@register_op
class GlobalAveragePool(_GlobalPool):
    name, kernel = "GlobalAveragePool", "global_avgpool"

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        axes = tuple(range(2, x.ndim))
        return [x.mean(axis=axes, keepdims=True, dtype=np.float64).astype(x.dtype)]


@register_op
class GlobalMaxPool(_GlobalPool):
    name, kernel = "GlobalMaxPool", "global_maxpool"

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        return [x.max(axis=tuple(range(2, x.ndim)), keepdims=True)]
