"""Sampling and patch ops: GridSample, AffineGrid, Col2Im (float32, kernels in
tinyc_sample.h).

GridSample follows the ONNX reference step by step: normalized grid coordinates are
denormalized in float32 (align_corners or not), rounded half-to-even for nearest, brought
back inside by the padding mode (border clamps, reflection bounces), and interpolated
separably (nearest, linear or cubic with A = -0.75); taps outside the input read zeros,
the border, or a reflection. AffineGrid and Col2Im take shape operands the node tests feed
at run time: the C reads and checks them.
"""

from __future__ import annotations

from dataclasses import replace
from math import floor, prod
from typing import TYPE_CHECKING

import numpy as np

from tinyc.backend.cliterals import c_scalar
from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.layout import MAX_RANK, c_int_list
from tinyc.ops.registry import (
    POSITIVE,
    WINDOW_PADS,
    WINDOW_STEP,
    Attr,
    OpDef,
    const_input,
    declared_shape,
    input_type,
    register_op,
    runtime_input,
)
from tinyc.ops.shape import check_failed

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext

_MODES = {"nearest": 0, "linear": 1, "bilinear": 1, "cubic": 2, "bicubic": 2}
_PADDING = {"zeros": 0, "border": 1, "reflection": 2}


def _reflect(x: float, lo: float, hi: float) -> float:
    rng = hi - lo
    if x < lo:
        d = lo - x
        k = int(d / rng)
        r = d - k * rng
        return lo + r if k % 2 == 0 else hi - r
    if x > hi:
        d = x - hi
        k = int(d / rng)
        r = d - k * rng
        return hi - r if k % 2 == 0 else lo + r
    return x


def _cubic(t: np.float32) -> list[np.float32]:
    a = np.float32(-0.75)
    x = np.float32(abs(t))
    one, two = np.float32(1), np.float32(2)
    return [((a * (x + one) - 5 * a) * (x + one) + 8 * a) * (x + one) - 4 * a,
            ((a + two) * x - (a + 3)) * x * x + one,
            ((a + two) * (one - x) - (a + 3)) * (one - x) * (one - x) + one,
            ((a * (two - x) - 5 * a) * (two - x) + 8 * a) * (two - x) - 4 * a]


def grid_taps(mode: int, padding: int, align: bool, g: np.float32, n: int
              ) -> list[tuple[int, np.float32]]:
    """(index or -1 for zero padding, weight) of each tap along one axis."""
    f = np.float32
    lo, hi = (f(0), f(n - 1)) if align else (f(-0.5), f(n) - f(0.5))
    x = (g + f(1)) / f(2) * f(n - 1) if align else ((g + f(1)) * f(n) - f(1)) / f(2)
    if mode == 0:
        x = np.rint(x)
    if x < lo or x > hi:
        if padding == 1:
            x = f(min(max(x, 0), n - 1))
        elif padding == 2:
            x = f(_reflect(float(x), float(lo), float(hi)))
    if mode == 0:
        base, weights = int(x), [f(1)]
    else:
        fl = f(floor(x))
        base = int(fl)
        if mode == 1:
            weights = [f(1) - (x - fl), x - fl]
        else:
            base -= 1
            weights = _cubic(x - fl)
    taps = []
    for i, w in enumerate(weights):
        at = base + i
        if not 0 <= at < n:
            if padding == 0:
                at = -1
            elif padding == 1:
                at = min(max(at, 0), n - 1)
            else:
                at = int(_reflect(float(at), float(lo), float(hi)))
        taps.append((at, w))
    return taps


@register_op
class GridSample(OpDef):
    name = "GridSample"
    min_opset = 16
    attrs = {"align_corners": Attr("int", 0), "mode": Attr("string", "linear"),
             "padding_mode": Attr("string", "zeros")}

    def normalize(self, node: Node, opset: int) -> None:
        a = node.attrs
        if opset < 20 and a.get("mode", "bilinear") == "linear":
            a["mode"] = "bilinear"
        if a["mode"] not in _MODES or a["padding_mode"] not in _PADDING:
            raise UnsupportedError(f"GridSample node '{node.name}': mode {a['mode']}, padding "
                                   f"{a['padding_mode']}")

    def infer(self, node: Node) -> list[TensorType]:
        x, grid = input_type(node, 0), input_type(node, 1)
        nsp = x.rank - 2
        if nsp not in (1, 2, 3) or grid.rank != x.rank or grid.shape[0] != x.shape[0] or \
                grid.shape[-1] != nsp:
            raise ModelError(f"GridSample node '{node.name}': X {list(x.shape)}, grid "
                             f"{list(grid.shape)}")
        return [x.with_shape(x.shape[:2] + grid.shape[1:-1])]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x, grid = inputs
        assert x is not None and grid is not None
        a = node.attrs
        mode, padding = _MODES[a["mode"]], _PADDING[a["padding_mode"]]
        nsp = x.ndim - 2
        out = np.zeros(x.shape[:2] + grid.shape[1:-1], np.float64)
        gf = grid.astype(np.float32)
        for b in range(x.shape[0]):
            for pos in np.ndindex(*grid.shape[1:-1]):
                coords = gf[(b,) + pos]
                taps = [grid_taps(mode, padding, bool(a["align_corners"]),
                                  coords[nsp - 1 - d], x.shape[2 + d]) for d in range(nsp)]
                acc = np.zeros(x.shape[1])
                for combo in np.ndindex(*[len(t) for t in taps]):
                    chosen = [taps[d][combo[d]] for d in range(nsp)]
                    if any(i < 0 for i, _ in chosen):
                        continue
                    w = np.prod([float(wt) for _, wt in chosen])
                    acc += w * x[(b, slice(None)) + tuple(i for i, _ in chosen)]
                out[(b, slice(None)) + pos] = acc
        return [out.astype(x.dtype)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, grid = node.inputs
        y = node.outputs[0]
        assert x is not None and grid is not None
        if x.dtype is not DType.F32 or grid.dtype is not DType.F32:
            raise UnsupportedError(f"op GridSample (node '{node.name}') on {x.dtype.value}")
        a = node.attrs
        nsp = x.type.rank - 2
        pad3 = [0] * (3 - nsp)
        init = (f"{{{x.shape[0]}, {x.shape[1]}, {nsp}, "
                f"{{{', '.join(map(str, list(x.shape[2:]) + pad3))}}}, "
                f"{{{', '.join(map(str, list(y.shape[2:]) + pad3))}}}, {_MODES[a['mode']]}, "
                f"{_PADDING[a['padding_mode']]}, {a['align_corners']}}}")
        if not y.type.numel:  # nothing to compute, and no unused parameter struct
            return
        params = ctx.params("tinyc_grid_sample_params", init, f"grid_sample_{y.name}")
        ctx.uses_math = True
        ctx.call("sample", "tinyc_grid_sample_f32", ctx.ptr(x), ctx.ptr(grid), ctx.ptr(y),
                 params)


def _base_coords(n: int, align: bool) -> np.ndarray:
    if align:
        return np.array([-1.0]) if n == 1 else -1.0 + np.arange(n) * (2.0 / (n - 1))
    return -1.0 + 1.0 / n + np.arange(n) * (2.0 / n)


@register_op
class AffineGrid(OpDef):
    """IR form: `size` (the output image size, from the constant or the declared shape);
    a run-time size input stays input 1 and is checked."""

    name = "AffineGrid"
    min_opset = 20
    attrs = {"align_corners": Attr("int", 0), "size": Attr("ints", [])}

    def normalize(self, node: Node, opset: int) -> None:
        theta = input_type(node, 0)
        if runtime_input(node, 1):
            out = declared_shape(node, 0, "the size operand")
            node.attrs["size"] = [theta.shape[0], -1] + list(out[1:-1])
            return
        node.attrs["size"] = [int(v) for v in const_input(node, 1, "size").reshape(-1)]
        node.set_inputs(node.inputs[:1])

    def infer(self, node: Node) -> list[TensorType]:
        theta = input_type(node, 0)
        size = node.attrs["size"]
        nsp = len(size) - 2
        if nsp not in (2, 3) or theta.shape != (size[0], nsp, nsp + 1):
            raise ModelError(f"AffineGrid node '{node.name}': theta {list(theta.shape)}, size "
                             f"{size}")
        return [theta.with_shape((size[0], *size[2:], nsp))]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        theta = inputs[0]
        assert theta is not None
        size = node.attrs["size"]
        if len(inputs) > 1 and inputs[1] is not None:
            got = [int(v) for v in inputs[1]]
            if got[0] != size[0] or got[2:] != size[2:]:
                raise check_failed(node, "size", got, size)
        dims = size[2:]
        align = bool(node.attrs["align_corners"])
        axes = [_base_coords(n, align) for n in dims]
        mesh = np.meshgrid(*axes, indexing="ij")  # outermost first
        homo = np.stack([m for m in reversed(mesh)] + [np.ones(dims)], axis=-1)
        grid = np.einsum("...k,nrk->n...r", homo, theta.astype(np.float64))
        return [grid.astype(np.float32)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        theta, y = node.inputs[0], node.outputs[0]
        assert theta is not None
        if theta.dtype is not DType.F32:
            raise UnsupportedError(f"op AffineGrid (node '{node.name}') on {theta.dtype.value}")
        size = node.attrs["size"]
        size_in = node.input(1)
        ptr = ctx.ptr(size_in) if size_in is not None else ctx.table(
            DType.I64, [max(v, 0) for v in size], f"size_{y.name}")
        dims = ctx.table(DType.I32, size[2:], f"dims_{y.name}")
        if y.type.numel:
            ctx.checked_call("sample", "tinyc_affine_grid_f32", ctx.ptr(theta), ptr, ctx.ptr(y),
                             size[0], len(size) - 2, dims, node.attrs["align_corners"])


@register_op
class Col2Im(OpDef):
    """IR form: `image` (output spatial shape), `block` (block shape, [] when only known at
    run time) and `channels` (output channels); explicit strides, dilations and pads.
    image_shape and block_shape stay inputs 1 and 2: the C reads and checks them."""

    name = "Col2Im"
    min_opset = 18
    attrs = {"dilations": WINDOW_STEP, "pads": WINDOW_PADS,
             "strides": WINDOW_STEP, "image": Attr("ints", []), "block": Attr("ints", []),
             "channels": Attr("int", 0)}

    def normalize(self, node: Node, opset: int) -> None:
        a = node.attrs
        if runtime_input(node, 1):
            a["image"] = list(declared_shape(node, 0, "the image_shape operand")[2:])
        else:
            a["image"] = [int(v) for v in const_input(node, 1, "image_shape").reshape(-1)]
        a["block"] = ([] if runtime_input(node, 2) else
                      [int(v) for v in const_input(node, 2, "block_shape").reshape(-1)])
        x = input_type(node, 0)
        if a["block"]:
            a["channels"] = x.shape[1] // max(prod(a["block"]), 1)
        else:
            a["channels"] = declared_shape(node, 0, "the block_shape operand")[1]
        n = len(a["image"])
        for key in ("dilations", "strides"):
            a[key] = list(a.get(key) or [1] * n)
        a["pads"] = list(a.get("pads") or [0] * (2 * n))

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        a = node.attrs
        n = len(a["image"])
        if x.rank != 3 or n > MAX_RANK or len(a["pads"]) != 2 * n:
            raise ModelError(f"Col2Im node '{node.name}': input {list(x.shape)}")
        c = a["channels"]
        if c <= 0 or x.shape[1] % c or (a["block"] and prod(a["block"]) * c != x.shape[1]):
            raise ModelError(f"Col2Im node '{node.name}': {x.shape[1]} columns for {c} "
                             f"channels and block {a['block']}")
        return [x.with_shape((x.shape[0], c, *a["image"]))]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        a = node.attrs
        image = [int(v) for v in inputs[1]] if inputs[1] is not None else a["image"]
        block = [int(v) for v in inputs[2]] if inputs[2] is not None else a["block"]
        if image != a["image"]:
            raise check_failed(node, "image_shape", image, a["image"])
        n = len(image)
        blocks = [(image[d] + a["pads"][d] + a["pads"][d + n] - a["dilations"][d] *
                   (block[d] - 1) - 1) // a["strides"][d] + 1 for d in range(n)]
        k, c = prod(block), a["channels"]
        if prod(blocks) != x.shape[2] or k * c != x.shape[1]:
            raise check_failed(node, "block_shape", block, list(x.shape))
        out = np.zeros((x.shape[0], c, *image), np.float64)
        cols = x.reshape(x.shape[0], c, *block, *blocks).astype(np.float64)
        for tap in np.ndindex(*block):
            src, dst = [], []
            for d in range(n):
                pos = (np.arange(blocks[d]) * a["strides"][d] - a["pads"][d]
                       + tap[d] * a["dilations"][d])
                keep = (pos >= 0) & (pos < image[d])
                src.append(np.nonzero(keep)[0])
                dst.append(pos[keep])
            part = cols[(slice(None), slice(None)) + tap]
            out[np.ix_(range(x.shape[0]), range(c), *dst)] += part[
                np.ix_(range(x.shape[0]), range(c), *src)]
        return [out.astype(x.dtype)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        if x.dtype is not DType.F32:
            raise UnsupportedError(f"op Col2Im (node '{node.name}') on {x.dtype.value}")
        a = node.attrs
        n = len(a["image"])
        init = (f"{{{y.shape[0]}, {y.shape[1]}, {n}, {x.shape[2]}, {c_int_list(a['image'])}, "
                f"{c_int_list(a['strides'])}, {c_int_list(a['dilations'])}, "
                f"{c_int_list(a['pads'][:n])}, {c_int_list(a['pads'][n:])}}}")
        params = ctx.params("tinyc_col2im_params", init, f"col2im_{y.name}")
        shapes = []
        for i, key in ((1, "image"), (2, "block")):
            v = node.input(i)
            shapes.append(ctx.ptr(v) if v is not None and v.const is None
                          else ctx.table(DType.I64, a[key], f"{key}_{y.name}"))
        ctx.checked_call("sample", "tinyc_col2im_f32", ctx.ptr(x), shapes[0], shapes[1],
                         ctx.ptr(y), params)


def _roi_corners(plane: np.ndarray, y: np.float32, x: np.float32) -> list[np.float32]:
    """The four weighted bilinear corners of one RoiAlign sample (zeros outside)."""
    f = np.float32
    h, w = plane.shape
    if y < -1.0 or y > h or x < -1.0 or x > w:
        return [f(0)] * 4
    y, x = max(y, f(0)), max(x, f(0))
    y_low, x_low = int(y), int(x)
    if y_low >= h - 1:
        y_high = y_low = h - 1
        y = f(y_low)
    else:
        y_high = y_low + 1
    if x_low >= w - 1:
        x_high = x_low = w - 1
        x = f(x_low)
    else:
        x_high = x_low + 1
    ly, lx = f(y - y_low), f(x - x_low)
    hy, hx = f(1) - ly, f(1) - lx
    return [hy * hx * plane[y_low, x_low], hy * lx * plane[y_low, x_high],
            ly * hx * plane[y_high, x_low], ly * lx * plane[y_high, x_high]]


@register_op
class RoiAlign(OpDef):
    """Region-of-interest pooling with bilinear samples (average or max per bin), computed
    in float32 in the order of the ONNX reference."""

    name = "RoiAlign"
    min_opset = 16
    attrs = {"coordinate_transformation_mode": Attr("string", "half_pixel"),
             "mode": Attr("string", "avg"), "output_height": replace(POSITIVE, default=1),
             "output_width": replace(POSITIVE, default=1), "sampling_ratio": Attr("int", 0),
             "spatial_scale": Attr("float", 1.0)}

    def normalize(self, node: Node, opset: int) -> None:
        a = node.attrs
        if a["mode"] not in ("avg", "max") or a["coordinate_transformation_mode"] not in (
            "half_pixel", "output_half_pixel"
        ):
            raise UnsupportedError(f"RoiAlign node '{node.name}': mode {a['mode']}")

    def infer(self, node: Node) -> list[TensorType]:
        x, rois, idx = (input_type(node, i) for i in range(3))
        n = idx.shape[0] if idx.rank == 1 else -1
        if x.rank != 4 or rois.shape != (n, 4) or idx.dtype is not DType.I64:
            raise ModelError(f"RoiAlign node '{node.name}': X {list(x.shape)}, rois "
                             f"{list(rois.shape)}")
        a = node.attrs
        return [x.with_shape((n, x.shape[1], a["output_height"], a["output_width"]))]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x, rois, idx = inputs
        assert x is not None and rois is not None and idx is not None
        a = node.attrs
        f = np.float32
        oh, ow, c = a["output_height"], a["output_width"], x.shape[1]
        half = a["coordinate_transformation_mode"] == "half_pixel"
        if ((idx < 0) | (idx >= x.shape[0])).any():
            raise ModelError(f"RoiAlign node '{node.name}': batch index out of range")
        xf = x.astype(np.float32)
        out = np.zeros((rois.shape[0], c, oh, ow), np.float32)
        scale, offset = f(a["spatial_scale"]), f(0.5 if half else 0.0)
        for n in range(rois.shape[0]):
            r = rois[n].astype(np.float32)
            sw, sh = r[0] * scale - offset, r[1] * scale - offset
            rw, rh = r[2] * scale - offset - sw, r[3] * scale - offset - sh
            if not half:
                rw, rh = max(rw, f(1)), max(rh, f(1))
            bh, bw = f(rh / f(oh)), f(rw / f(ow))
            gh = a["sampling_ratio"] or int(np.ceil(rh / f(oh)))
            gw = a["sampling_ratio"] or int(np.ceil(rw / f(ow)))
            for ch in range(c):
                plane = xf[int(idx[n]), ch]
                for ph in range(oh):
                    for pw in range(ow):
                        vals = []
                        for iy in range(gh):
                            y = sh + f(ph) * bh + (f(iy) + f(0.5)) * bh / f(gh)
                            for ix in range(gw):
                                xx = sw + f(pw) * bw + (f(ix) + f(0.5)) * bw / f(gw)
                                vals.append(_roi_corners(plane, y, xx))
                        if a["mode"] == "max":
                            out[n, ch, ph, pw] = max((max(v) for v in vals), default=0)
                        else:
                            out[n, ch, ph, pw] = sum(sum(v) for v in vals) / max(gh * gw, 1)
        return [out.astype(x.dtype)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, rois, idx = node.inputs
        y = node.outputs[0]
        assert x is not None and rois is not None and idx is not None
        if x.dtype is not DType.F32 or rois.dtype is not DType.F32:
            raise UnsupportedError(f"op RoiAlign (node '{node.name}') on {x.dtype.value}")
        a = node.attrs
        fields = [rois.shape[0], x.shape[0], x.shape[1], x.shape[2], x.shape[3],
                  a["output_height"], a["output_width"], a["sampling_ratio"],
                  c_scalar(a["spatial_scale"], DType.F32),
                  int(a["coordinate_transformation_mode"] == "half_pixel"),
                  int(a["mode"] == "max")]
        if not y.type.numel:  # nothing to compute, and no unused parameter struct
            return
        params = ctx.params("tinyc_roi_align_params", "{" + ", ".join(map(str, fields)) + "}",
                            f"roi_align_{y.name}")
        ctx.uses_math = True
        ctx.checked_call("sample", "tinyc_roi_align_f32", ctx.ptr(x), ctx.ptr(rois),
                         ctx.ptr(idx), ctx.ptr(y), params)
