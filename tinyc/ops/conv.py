"""Convolution (ONNX Conv): 1-D and 2-D, grouped and depthwise, with a fused activation."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.activation import act_c_init, apply_activation
from tinyc.ops.registry import Attr, OpDef, input_type, register_op
from tinyc.ops.window import normalize_window, output_size

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext


def conv_reference(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None,
    strides: list[int],
    dilations: list[int],
    pads: list[int],
    group: int,
    out_spatial: tuple[int, ...],
    acc_dtype: type = np.float32,
) -> np.ndarray:
    """N-d grouped convolution in numpy, one kernel tap at a time (no im2col copy)."""
    n, c = x.shape[:2]
    m = w.shape[0]
    nsp = len(out_spatial)
    pad_width = [(0, 0), (0, 0)] + [(pads[i], pads[i + nsp]) for i in range(nsp)]
    xp = np.pad(x.astype(acc_dtype), pad_width)
    cg, mg = c // group, m // group
    out = np.zeros((n, m) + tuple(out_spatial), dtype=acc_dtype)
    for g in range(group):
        xg = xp[:, g * cg : (g + 1) * cg]
        wg = w[g * mg : (g + 1) * mg].astype(acc_dtype)
        for tap in np.ndindex(*w.shape[2:]):
            window = tuple(
                slice(tap[i] * dilations[i], tap[i] * dilations[i] + strides[i] * (out_spatial[i] - 1) + 1, strides[i])
                for i in range(nsp)
            )
            patch = xg[(slice(None), slice(None)) + window]
            out[:, g * mg : (g + 1) * mg] += np.einsum(
                "nc...,mc->nm...", patch, wg[(slice(None), slice(None)) + tap]
            )
    if b is not None:
        out += b.astype(acc_dtype).reshape((1, m) + (1,) * nsp)
    return out


@register_op
class Conv(OpDef):
    name = "Conv"
    attrs = {
        "auto_pad": Attr("string", "NOTSET"),
        "dilations": Attr("ints", []),
        "group": Attr("int", 1),
        "kernel_shape": Attr("ints", []),
        "pads": Attr("ints", []),
        "strides": Attr("ints", []),
        "activation": Attr("string", ""),
        "activation_params": Attr("floats", []),
    }

    def normalize(self, node: Node, opset: int) -> None:
        x, w = input_type(node, 0), input_type(node, 1)
        if x.rank < 3 or w.rank != x.rank:
            raise ModelError(f"Conv node '{node.name}': input rank {x.rank}, weight rank {w.rank}")
        normalize_window(node, x.shape[2:], w.shape[2:])
        n = x.rank - 2
        node.attrs["strides"] = node.attrs["strides"] or [1] * n
        node.attrs["dilations"] = node.attrs["dilations"] or [1] * n

    def infer(self, node: Node) -> list[TensorType]:
        x, w = input_type(node, 0), input_type(node, 1)
        a = node.attrs
        group = a["group"]
        if x.shape[1] != w.shape[1] * group or w.shape[0] % group:
            raise ModelError(
                f"Conv node '{node.name}': {x.shape[1]} input channels, weight {list(w.shape)}, "
                f"group {group} do not agree"
            )
        n = x.rank - 2
        spatial = tuple(
            output_size(x.shape[2 + i], w.shape[2 + i], a["strides"][i], a["dilations"][i],
                        a["pads"][i], a["pads"][i + n], False)
            for i in range(n)
        )
        return [TensorType(x.dtype, (x.shape[0], w.shape[0]) + spatial)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x, w = inputs[0], inputs[1]
        assert x is not None and w is not None
        b = inputs[2] if len(inputs) > 2 else None
        a = node.attrs
        out = conv_reference(x, w, b, a["strides"], a["dilations"], a["pads"], a["group"],
                             node.outputs[0].shape[2:])
        out = apply_activation(out.astype(x.dtype), a["activation"], a["activation_params"])
        return [out]

    def macs(self, node: Node) -> int:
        w = input_type(node, 1)
        y = node.outputs[0].type
        return y.numel * int(np.prod(w.shape[1:]))

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, w = node.inputs[0], node.inputs[1]
        b = node.input(2)
        y = node.outputs[0]
        assert x is not None and w is not None
        if x.dtype is not DType.F32 or x.type.rank not in (3, 4):
            raise UnsupportedError(
                f"op Conv (node '{node.name}') on {x.dtype.value} rank {x.type.rank} "
                "has no C kernel"
            )
        a = node.attrs
        n_sp = x.type.rank - 2
        # 1-D convolution runs as 2-D with a unit height
        xs = (1,) * (2 - n_sp) + x.shape[2:]
        ks = (1,) * (2 - n_sp) + w.shape[2:]
        ys = (1,) * (2 - n_sp) + y.shape[2:]
        st = [1] * (2 - n_sp) + a["strides"]
        dl = [1] * (2 - n_sp) + a["dilations"]
        pads = a["pads"]
        pad_top, pad_left = ([0] + pads[:1]) if n_sp == 1 else pads[:2]
        act, uses_math = act_c_init(a["activation"], a["activation_params"])
        ctx.uses_math |= uses_math
        fields = [x.shape[0], x.shape[1], xs[0], xs[1], w.shape[0], ys[0], ys[1], ks[0], ks[1],
                  a["group"], st[0], st[1], dl[0], dl[1], pad_top, pad_left]
        params = ctx.params(
            "tinyc_conv2d_params",
            "{" + ", ".join(str(f) for f in fields) + f", {act}}}",
            f"conv_{y.name}",
        )
        bias = ctx.ptr(b) if b is not None else "NULL"
        ctx.call("conv", "tinyc_conv2d_f32", ctx.ptr(x), ctx.ptr(w), bias, ctx.ptr(y), params)
