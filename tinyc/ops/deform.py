"""DeformConv (2-D): a convolution whose taps are moved by learned per-position offsets
and scaled by an optional mask.

Each tap of output (i, j) reads X at (i * stride - pad + ki * dilation + offset_h,
j * stride - pad + kj * dilation + offset_w) by bilinear interpolation, with zeros outside
the image (ONNX's reference: GridSample, align_corners, zero padding). Offsets and mask are
run-time tensors; only their shapes are fixed. float32, in numpy and in `tinyc_deform.h`.
"""

from __future__ import annotations

from math import prod
from typing import TYPE_CHECKING

import numpy as np

from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.registry import (
    GROUP,
    WINDOW_PADS,
    WINDOW_STEP,
    OpDef,
    input_type,
    register_op,
)
from tinyc.ops.window import check_window_lengths

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext


def _bilinear(img: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """img [C, H, W] sampled at float coordinates y, x (any shape S) -> [C, *S], zero
    outside."""
    h, w = img.shape[1:]
    y0, x0 = np.floor(y), np.floor(x)
    out = np.zeros((img.shape[0], *y.shape), np.float64)
    for dy in (0, 1):
        for dx in (0, 1):
            yy, xx = y0 + dy, x0 + dx
            weight = (1 - np.abs(y - yy)) * (1 - np.abs(x - xx))
            inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
            yi = np.clip(yy, 0, h - 1).astype(np.int64)
            xi = np.clip(xx, 0, w - 1).astype(np.int64)
            out += np.where(inside, weight, 0.0) * img[:, yi, xi]
    return out


@register_op
class DeformConv(OpDef):
    name = "DeformConv"
    min_opset = 19
    attrs = {"dilations": WINDOW_STEP, "group": GROUP,
             "kernel_shape": WINDOW_STEP, "offset_group": GROUP,
             "pads": WINDOW_PADS, "strides": WINDOW_STEP}

    def normalize(self, node: Node, opset: int) -> None:
        x, w = input_type(node, 0), input_type(node, 1)
        if x.rank != 4:
            raise UnsupportedError(f"DeformConv node '{node.name}': only 2-D (rank-4 input) "
                                   "is supported")
        a = node.attrs
        a["kernel_shape"] = list(a["kernel_shape"] or w.shape[2:])
        a["dilations"] = list(a["dilations"] or [1, 1])
        a["strides"] = list(a["strides"] or [1, 1])
        a["pads"] = list(a["pads"] or [0, 0, 0, 0])
        check_window_lengths(node, 2)

    def infer(self, node: Node) -> list[TensorType]:
        x, w, off = input_type(node, 0), input_type(node, 1), input_type(node, 2)
        a = node.attrs
        (kh, kw), (dh, dw), (sh, sw) = a["kernel_shape"], a["dilations"], a["strides"]
        pt, pl, pb, pr = a["pads"]
        n, c, ih, iw = x.shape
        g, og = a["group"], a["offset_group"]
        for v in node.inputs:
            if v is not None and v.dtype is not DType.F32:
                raise UnsupportedError(f"op DeformConv (node '{node.name}') on {v.dtype.value}")
        oh = (ih + pt + pb - ((kh - 1) * dh + 1)) // sh + 1
        ow = (iw + pl + pr - ((kw - 1) * dw + 1)) // sw + 1
        oc = w.shape[0]
        bad = (w.rank != 4 or tuple(w.shape[2:]) != (kh, kw) or c != w.shape[1] * g
               or oc % g or c % og or oh <= 0 or ow <= 0
               or off.shape != (n, og * kh * kw * 2, oh, ow))
        b, m = node.input(3), node.input(4)
        bad = bad or (b is not None and b.shape != (oc,))
        bad = bad or (m is not None and m.shape != (n, og * kh * kw, oh, ow))
        if bad:
            raise ModelError(f"DeformConv node '{node.name}': inconsistent shapes X "
                             f"{list(x.shape)}, W {list(w.shape)}, offset {list(off.shape)}")
        return [TensorType(DType.F32, (n, oc, oh, ow))]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x, w, off = inputs[0], inputs[1], inputs[2]
        b = inputs[3] if len(inputs) > 3 else None
        m = inputs[4] if len(inputs) > 4 else None
        assert x is not None and w is not None and off is not None
        a = node.attrs
        (kh, kw), (dh, dw), (sh, sw) = a["kernel_shape"], a["dilations"], a["strides"]
        n, c, _, _ = x.shape
        oc, icg = w.shape[:2]
        g, og = a["group"], a["offset_group"]
        oh, ow = off.shape[2:]
        off = off.reshape(n, og, kh, kw, 2, oh, ow).astype(np.float64)
        mask = (np.ones((n, og, kh, kw, oh, ow)) if m is None
                else m.reshape(n, og, kh, kw, oh, ow).astype(np.float64))
        base_y = (np.arange(oh) * sh - a["pads"][0])[None, None, :, None]
        base_x = (np.arange(ow) * sw - a["pads"][1])[None, None, None, :]
        tap_y = (np.arange(kh) * dh)[:, None, None, None]
        tap_x = (np.arange(kw) * dw)[None, :, None, None]
        y = np.zeros((n, oc, oh, ow), np.float64)
        per_og = c // og
        for bi in range(n):
            cols = np.empty((c, kh, kw, oh, ow))
            for gi in range(og):
                sy = base_y + tap_y + off[bi, gi, :, :, 0]
                sx = base_x + tap_x + off[bi, gi, :, :, 1]
                chans = x[bi, gi * per_og : (gi + 1) * per_og].astype(np.float64)
                cols[gi * per_og : (gi + 1) * per_og] = _bilinear(chans, sy, sx) * mask[bi, gi]
            for gr in range(g):
                wg = w[gr * (oc // g) : (gr + 1) * (oc // g)].astype(np.float64)
                cg = cols[gr * icg : (gr + 1) * icg]
                y[bi, gr * (oc // g) : (gr + 1) * (oc // g)] = np.einsum("oikl,iklhw->ohw",
                                                                         wg, cg)
        if b is not None:
            y += b.reshape(1, -1, 1, 1)
        return [y.astype(np.float32)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, w, off = node.inputs[0], node.inputs[1], node.inputs[2]
        b, m = node.input(3), node.input(4)
        y = node.outputs[0]
        assert x is not None and w is not None and off is not None
        if not y.type.numel:
            return
        a = node.attrs
        n, c, ih, iw = x.shape
        _, oc, oh, ow = y.shape
        fields = [n, c, ih, iw, oc, oh, ow, *a["kernel_shape"], *a["strides"],
                  *a["dilations"], a["pads"][0], a["pads"][1], a["group"], a["offset_group"]]
        params = ctx.params("tinyc_deform_params", "{" + ", ".join(map(str, fields)) + "}",
                            f"deform_{y.name}")
        ctx.call("deform", "tinyc_deform_conv2d_f32", ctx.ptr(x), ctx.ptr(w), ctx.ptr(off),
                 "NULL" if b is None else ctx.ptr(b), "NULL" if m is None else ctx.ptr(m),
                 ctx.ptr(y), params)

    def macs(self, node: Node) -> int:
        w, y = input_type(node, 1), node.outputs[0].type
        return prod(y.shape) * prod(w.shape[1:])
