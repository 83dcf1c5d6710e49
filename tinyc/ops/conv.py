"""Convolution: Conv (any spatial rank, grouped and depthwise) and ConvTranspose, float32,
with a fused activation. 1-D and 2-D Conv run on the tinyc_conv2d kernel (which targets
specialize); other ranks and ConvTranspose on the portable tinyc_convnd family."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.activation import act_c_init, apply_activation
from tinyc.ops.layout import MAX_RANK, c_int_list
from tinyc.ops.qwork import uses_m4_kernels
from tinyc.ops.registry import (
    GROUP,
    WINDOW_PADS,
    WINDOW_STEP,
    Attr,
    BlockStream,
    MemoryBehavior,
    OpDef,
    PlaneStream,
    input_type,
    register_op,
)
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
                slice(tap[i] * dilations[i],
                      tap[i] * dilations[i] + strides[i] * (out_spatial[i] - 1) + 1, strides[i])
                for i in range(nsp)
            )
            patch = xg[(slice(None), slice(None)) + window]
            out[:, g * mg : (g + 1) * mg] += np.einsum(
                "nc...,mc->nm...", patch, wg[(slice(None), slice(None)) + tap]
            )
    if b is not None:
        out += b.astype(acc_dtype).reshape((1, m) + (1,) * nsp)
    return out


def _stream_kernel(node: Node) -> str | None:
    """Which overlapping kernel (tinyc_inplace.h) can run this Conv, if any."""
    x, w, y = node.inputs[0], node.inputs[1], node.outputs[0]
    if x is None or w is None or x.dtype is not DType.F32 or x.type.rank not in (3, 4):
        return None
    if w.dtype not in (DType.F32, DType.F16):  # F16: half weights, tinyc_inplace_f16w.h
        return None
    a = node.attrs
    c, m = x.shape[1], y.shape[1]
    if a["group"] == c == m:
        return "dwconv2d"
    if a["group"] != 1 or x.shape[0] != 1 or any(st != 1 for st in a["strides"]):
        return None
    if all(k == 1 for k in w.shape[2:]) and not any(a["pads"]):
        return "conv1x1"
    if x.shape[2:] == y.shape[2:]:
        return "conv2d_rows"
    return None


def half_weight_chunk(node: Node) -> int:
    """Output channels whose half weights the f16w kernels widen at a time: 4 (the
    Cortex-M4 float conv's channel block), fewer when a group has fewer (Conv widens
    several one-channel groups at once; ConvTranspose stays in one group)."""
    y = node.outputs[0]
    per_group = y.shape[1] // node.attrs["group"]
    if node.op == "ConvTranspose" or per_group > 1:
        return min(4, per_group)
    return min(4, y.shape[1])


def half_weight_workspace(node: Node) -> int:
    """Bytes of the float copy of one chunk of half weights (0 for float32 weights)."""
    x, w = input_type(node, 0), input_type(node, 1)
    if w.dtype is not DType.F16 or x.dtype is not DType.F32:
        return 0
    # input channels per group: W [m, c/group, k...] for Conv, [c, m/group, k...] otherwise
    inputs = w.shape[1] if node.op == "Conv" else w.shape[0] // node.attrs["group"]
    return 4 * half_weight_chunk(node) * inputs * int(np.prod(w.shape[2:]))


@register_op
class Conv(OpDef):
    name = "Conv"
    min_opset = 1
    attrs = {
        "auto_pad": Attr("string", "NOTSET"),
        "dilations": WINDOW_STEP,
        "group": GROUP,
        "kernel_shape": WINDOW_STEP,
        "pads": WINDOW_PADS,
        "strides": WINDOW_STEP,
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

    def memory_behavior(self, node: Node) -> list[MemoryBehavior]:
        """The overlapping kernels of tinyc_inplace.h: depthwise channel by channel through
        one output plane of scratch; 1x1 stride-1 unpadded 4 pixels at a time through
        a tile of them; a dense stride-1 `same` conv row by row, holding back pad_top + 1 rows."""
        kernel = _stream_kernel(node)
        if kernel is None:
            return []
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        n, c, m, size = x.shape[0], x.shape[1], y.shape[1], x.dtype.itemsize
        in_plane = x.type.numel // max(n * c, 1)
        out_plane = y.type.numel // max(n * m, 1)
        if kernel == "dwconv2d":
            return [BlockStream(0, n * c, in_plane * size, out_plane * size, out_plane * size)]
        if kernel == "conv1x1":  # 4 pixels at a time (tinyc_inplace.h, tinyc_inplace_f16w.h)
            return [PlaneStream(0, in_plane, c, m, size, CONV1X1_TILE * min(c, m) * size)]
        rows = (node.attrs["pads"][0] if x.type.rank == 4 else 0) + 1
        width = y.shape[-1]
        return [PlaneStream(0, in_plane, c, m, size, rows * m * width * size)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, w = node.inputs[0], node.inputs[1]
        b = node.input(2)
        y = node.outputs[0]
        assert x is not None and w is not None
        if x.dtype not in (DType.F32, DType.F16) or (
            x.dtype is DType.F16 and node.attrs["activation"]
        ):
            raise UnsupportedError(f"op Conv (node '{node.name}') on {x.dtype.value} has no "
                                   "C kernel")
        a = node.attrs
        if x.type.rank not in (3, 4) or x.dtype is DType.F16:
            if w.dtype is not x.dtype:  # --quantize float16: half weights
                emit_convnd_half(ctx, node, "tinyc_conv_nd_f32_f16w", a["pads"])
                return
            emit_convnd(ctx, node, f"tinyc_conv_nd_{x.dtype.value}", a["pads"])
            return
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
        if w.dtype is DType.F16:  # --quantize float16: half weights
            _emit_half_weights(node, ctx, params, bias)
            return
        work = ctx.workspace(node, DType.F32)
        if ctx.overlap(node) is not None:  # the planner placed y over x: the streaming form
            kernel = _stream_kernel(node)
            extra = [work] if kernel == "dwconv2d" else []
            ctx.call("inplace", f"tinyc_{kernel}_stream_f32", ctx.ptr(x), ctx.ptr(w), bias,
                     ctx.ptr(y), ctx.scratch(node), *extra, params)
            return
        ctx.call("conv", "tinyc_conv2d_f32", ctx.ptr(x), ctx.ptr(w), bias, ctx.ptr(y), work,
                 params)

    def workspace(self, node: Node, kernel_dirs: tuple[str, ...] | None = None) -> int:
        """Half weights (--quantize float16): one chunk of them widened to float (the
        float kernels then run without a padded plane); else the Cortex-M4 depthwise
        kernel's padded plane (`fpu_dw_plane_bytes`) or, for a dense conv that cannot
        stream in place, the dense kernel's padded window rows (`fpu_padded_rows_bytes`)."""
        x, w, y = node.inputs[0], node.inputs[1], node.outputs[0]
        assert x is not None and w is not None
        if w.dtype is DType.F16:
            return half_weight_workspace(node)
        if not uses_m4_kernels(kernel_dirs) or x.dtype is not DType.F32 or x.type.rank != 4:
            return 0
        a = node.attrs
        if x.shape[1] == y.shape[1] == a["group"]:
            return fpu_dw_plane_bytes(w.shape[2:], a["strides"], a["dilations"], a["pads"][:2],
                                      y.shape[2:])
        if _stream_kernel(node) is not None:  # its in-place form would leave them unused
            return 0
        return fpu_padded_rows_bytes(x.shape[1:], w.shape[2:], a["strides"], a["dilations"],
                                     a["pads"][:2], a["group"], y.shape[2:])


#: pixels the streamed 1x1 conv kernels buffer at a time (tinyc_inplace.h, float32 and half
#: weights): its scratch is this many pixels of min(c, m) channels
CONV1X1_TILE = 4

#: codegen/kernels/cortex-m4/tinyc_fpu_conv.h TINYC_FPU_DW_PLANE: padded plane floats
FPU_DW_PLANE = 256


def fpu_dw_plane_bytes(kernel: Sequence[int], strides: Sequence[int],
                       dilations: Sequence[int], pads_top_left: Sequence[int],
                       out: Sequence[int]) -> int:
    """The padded plane of a small 3x3 stride-1 depthwise plane on the Cortex-M4
    (`tinyc_fpu_dw3_small_fits`, whose conditions these mirror), or 0 when it takes
    another path."""
    top, left = pads_top_left
    oh, ow = out
    fits = (tuple(kernel) == (3, 3) and tuple(dilations) == (1, 1) and tuple(strides) == (1, 1)
            and 0 <= top <= 2 and 0 <= left <= 2 and (oh + 2) * (ow + 2) <= FPU_DW_PLANE)
    return 4 * (oh + 2) * (ow + 2) if fits else 0


#: codegen/kernels/cortex-m4/tinyc_fpu_conv.h TINYC_FPU_PADDED_ROWS: padded row floats
FPU_PADDED_ROWS = 256
#: TINYC_FPU_PADDED_PARAMS: floats ahead of the rows holding the padded rows' geometry
FPU_PADDED_PARAMS = 20


def fpu_padded_rows_bytes(chw: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
                          dilations: Sequence[int], pads_top_left: Sequence[int], group: int,
                          out: Sequence[int]) -> int:
    """The zero-padded window rows of a small-channel dense conv on the Cortex-M4
    (`tinyc_fpu_padded_rows_fit`, whose conditions these mirror; a 1x1 stride-1 unpadded
    conv takes the pointwise path first), or 0 when it takes another path."""
    c, h, w = chw
    (kh, kw), (sh, sw), (dh, dw) = kernel, strides, dilations
    pointwise = (kh, kw, sh, sw, dh, dw, *pads_top_left) == (1, 1, 1, 1, 1, 1, 0, 0)
    if pointwise and tuple(out) == (h, w) and group == 1:
        return 0
    span = (kh - 1) * dh + 1
    width = (out[1] - 1) * sw + (kw - 1) * dw + 1
    left = pads_top_left[1]
    clipped = left > 0 or width - left > w
    fits = max(c, span, width) <= FPU_PADDED_ROWS and c * span * width <= FPU_PADDED_ROWS
    return 4 * (FPU_PADDED_PARAMS + c * span * width) if group == 1 and clipped and fits else 0


def _emit_half_weights(node: Node, ctx: EmitContext, params: str, bias: str) -> None:
    """The half-weight kernels (tinyc_conv_f16w.h; tinyc_inplace_f16w.h when the planner
    placed y over x), widening through the node's workspace."""
    x, w, y = node.inputs[0], node.inputs[1], node.outputs[0]
    assert x is not None and w is not None
    args = [ctx.ptr(x), ctx.ptr(w), bias, ctx.ptr(y)]
    work = ctx.workspace(node, DType.F32)
    kernel = _stream_kernel(node) if ctx.overlap(node) is not None else None
    if kernel is None:
        ctx.call("conv_f16w", "tinyc_conv2d_f32_f16w", *args, params, half_weight_chunk(node),
                 work)
        return
    chunk = half_weight_chunk(node)
    extra = {"dwconv2d": [chunk, work], "conv2d_rows": [chunk, work]}
    ctx.call("inplace_f16w", f"tinyc_{kernel}_stream_f32_f16w", *args, ctx.scratch(node),
             params, *extra.get(kernel, []))


def emit_convnd_half(ctx: EmitContext, node: Node, fn: str, pads: list[int]) -> None:
    """A call of tinyc_convnd_f16w.h (half weights, float32 activations)."""
    x, w = node.inputs[0], node.inputs[1]
    assert x is not None and w is not None
    if x.dtype is not DType.F32 or w.dtype is not DType.F16:
        raise UnsupportedError(f"op {node.op} (node '{node.name}'): {w.dtype.value} weights "
                               f"on {x.dtype.value}")
    emit_convnd(ctx, node, fn, pads, "convnd_f16w",
                (half_weight_chunk(node), ctx.workspace(node, DType.F32)))


def emit_convnd(ctx: EmitContext, node: Node, fn: str, pads: list[int],
                family: str = "convnd", extra: tuple[object, ...] = ()) -> None:
    """A call of the portable N-d kernel family (Conv of rank != 1, 2; ConvTranspose)."""
    x, w, b, y = node.inputs[0], node.inputs[1], node.input(2), node.outputs[0]
    assert x is not None and w is not None
    a = node.attrs
    nsp = x.type.rank - 2
    if nsp > MAX_RANK:
        raise UnsupportedError(f"op {node.op} (node '{node.name}'): {nsp} spatial axes")
    act, uses_math = act_c_init(a["activation"], a["activation_params"])
    ctx.uses_math |= uses_math
    m = y.shape[1]
    lists = [x.shape[2:], y.shape[2:], w.shape[2:], a["strides"], a["dilations"], pads[:nsp]]
    init = (f"{{{x.shape[0]}, {x.shape[1]}, {m}, {a['group']}, {nsp}, "
            + ", ".join(c_int_list(v) for v in lists) + f", {act}}}")
    if not y.type.numel:  # nothing to compute, and no unused parameter struct
        return
    params = ctx.params("tinyc_convnd_params", init, f"conv_{y.name}")
    bias = ctx.ptr(b) if b is not None else "NULL"
    ctx.call(family, fn, ctx.ptr(x), ctx.ptr(w), bias, ctx.ptr(y), params, *extra)


def conv_transpose_reference(
    x: np.ndarray, w: np.ndarray, b: np.ndarray | None, node: Node, out_spatial: tuple[int, ...]
) -> np.ndarray:
    """Each tap adds X * W[tap] at positions i * stride + tap * dil - pad of the output."""
    a = node.attrs
    n, c = x.shape[:2]
    group, nsp = a["group"], len(out_spatial)
    mg = w.shape[1]
    cg = c // group
    out = np.zeros((n, mg * group) + tuple(out_spatial), np.float32)
    for g in range(group):
        xg = x[:, g * cg : (g + 1) * cg].astype(np.float32)
        wg = w[g * cg : (g + 1) * cg].astype(np.float32)
        for tap in np.ndindex(*w.shape[2:]):
            src, dst = [], []
            for d in range(nsp):
                o = (np.arange(x.shape[2 + d]) * a["strides"][d] + tap[d] * a["dilations"][d]
                     - a["pads"][d])
                keep = (o >= 0) & (o < out_spatial[d])
                src.append(np.nonzero(keep)[0])
                dst.append(o[keep])
            contrib = np.einsum("nc...,cm->nm...", xg[np.ix_(range(n), range(cg), *src)],
                                wg[(slice(None), slice(None)) + tap])
            out[np.ix_(range(n), range(g * mg, (g + 1) * mg), *dst)] += contrib
    if b is not None:
        out += b.astype(np.float32).reshape((1, -1) + (1,) * nsp)
    return out


@register_op
class ConvTranspose(OpDef):
    """IR form: explicit `pads`, `strides`, `dilations`, `output_padding` (output_shape and
    auto_pad are resolved into pads as the ONNX spec gives)."""

    name = "ConvTranspose"
    min_opset = 1
    attrs = {
        "auto_pad": Attr("string", "NOTSET"),
        "dilations": WINDOW_STEP,
        "group": GROUP,
        "kernel_shape": WINDOW_STEP,
        "output_padding": WINDOW_PADS,
        "output_shape": WINDOW_STEP,
        "pads": WINDOW_PADS,
        "strides": WINDOW_STEP,
        "activation": Attr("string", ""),
        "activation_params": Attr("floats", []),
    }

    def normalize(self, node: Node, opset: int) -> None:
        x, w = input_type(node, 0), input_type(node, 1)
        if x.rank < 3 or w.rank != x.rank:
            raise ModelError(f"ConvTranspose node '{node.name}': input rank {x.rank}, weight "
                             f"rank {w.rank}")
        a = node.attrs
        n = x.rank - 2
        k = list(w.shape[2:])
        for key in ("strides", "dilations"):
            a[key] = list(a.get(key) or [1] * n)
        a["output_padding"] = list(a.get("output_padding") or [0] * n)
        auto_pad = a.pop("auto_pad", "NOTSET") or "NOTSET"
        out_shape = list(a.pop("output_shape", None) or [])
        if len(out_shape) == n + 2:
            out_shape = out_shape[2:]
        if out_shape and len(out_shape) != n:
            raise ModelError(f"ConvTranspose node '{node.name}': output_shape must have {n} "
                             f"values")
        if auto_pad in ("SAME_UPPER", "SAME_LOWER") and not out_shape:
            out_shape = [d * s for d, s in zip(x.shape[2:], a["strides"], strict=True)]
        if out_shape:
            begin, end = [], []
            for i in range(n):
                total = (a["strides"][i] * (x.shape[2 + i] - 1) + a["output_padding"][i]
                         + (k[i] - 1) * a["dilations"][i] + 1 - out_shape[i])
                first = total // 2 if auto_pad == "SAME_UPPER" else total - total // 2
                begin.append(first)
                end.append(total - first)
            a["pads"] = begin + end
        elif auto_pad == "VALID" or not a.get("pads"):
            a["pads"] = [0] * (2 * n)
        a["kernel_shape"] = k
        if any(len(a[key]) != n for key in ("strides", "dilations", "output_padding")) or len(
            a["pads"]
        ) != 2 * n:
            raise ModelError(f"ConvTranspose node '{node.name}': attribute lengths")

    def infer(self, node: Node) -> list[TensorType]:
        x, w = input_type(node, 0), input_type(node, 1)
        a = node.attrs
        if x.shape[1] != w.shape[0] or x.shape[1] % a["group"]:
            raise ModelError(f"ConvTranspose node '{node.name}': {x.shape[1]} channels, weight "
                             f"{list(w.shape)}")
        n = x.rank - 2
        spatial = tuple(
            a["strides"][i] * (x.shape[2 + i] - 1) + a["output_padding"][i]
            + (w.shape[2 + i] - 1) * a["dilations"][i] + 1 - a["pads"][i] - a["pads"][i + n]
            for i in range(n)
        )
        if any(d < 0 for d in spatial):
            raise ModelError(f"ConvTranspose node '{node.name}': negative output size")
        return [TensorType(x.dtype, (x.shape[0], w.shape[1] * a["group"]) + spatial)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x, w = inputs[0], inputs[1]
        assert x is not None and w is not None
        b = inputs[2] if len(inputs) > 2 else None
        a = node.attrs
        out = conv_transpose_reference(x, w, b, node, node.outputs[0].shape[2:])
        return [apply_activation(out.astype(x.dtype), a["activation"], a["activation_params"])]

    def macs(self, node: Node) -> int:
        x, w = input_type(node, 0), input_type(node, 1)
        return x.numel * int(np.prod(w.shape[1:]))

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x = node.inputs[0]
        assert x is not None
        if x.dtype is not DType.F32:
            raise UnsupportedError(f"op ConvTranspose (node '{node.name}') on {x.dtype.value}")
        if input_type(node, 1).dtype is not DType.F32:  # --quantize float16: half weights
            emit_convnd_half(ctx, node, "tinyc_conv_transpose_nd_f32_f16w", node.attrs["pads"])
            return
        emit_convnd(ctx, node, "tinyc_conv_transpose_nd_f32", node.attrs["pads"])

    def workspace(self, node: Node, kernel_dirs: tuple[str, ...] | None = None) -> int:
        """Half weights (--quantize float16): one chunk of them widened to float."""
        return half_weight_workspace(node)


@register_op
class CausalConvWithState(OpDef):
    """Depthwise causal 1-D convolution carrying its left context between calls: the input
    is left-padded by past_state (zeros when absent), convolved (valid, group = channels),
    optionally passed through SiLU; present_state is the padded input's last k - 1
    positions. IR form: `silu` (0/1) instead of the ONNX `activation` string, which would
    read as a fused activation elsewhere in tinyc."""

    name = "CausalConvWithState"
    min_opset = 27
    attrs = {"activation": Attr("string", "none")}

    def normalize(self, node: Node, opset: int) -> None:
        act = node.attrs.pop("activation", "none")
        if act not in ("none", "silu", "swish"):
            raise UnsupportedError(f"CausalConvWithState node '{node.name}': activation {act}")
        node.attrs["silu"] = int(act != "none")

    def infer(self, node: Node) -> list[TensorType]:
        x, w = input_type(node, 0), input_type(node, 1)
        if x.rank != 3 or w.rank != 3 or w.shape[:2] != (x.shape[1], 1) or w.shape[2] < 1:
            raise ModelError(f"CausalConvWithState node '{node.name}': input {list(x.shape)}, "
                             f"weight {list(w.shape)}")
        state = (x.shape[0], x.shape[1], w.shape[2] - 1)
        past = node.input(3)
        if past is not None and past.shape != state:
            raise ModelError(f"CausalConvWithState node '{node.name}': past_state "
                             f"{list(past.shape)}")
        return [x, x.with_shape(state)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        padded_inputs = list(inputs) + [None] * (4 - len(inputs))
        x, w, b, past = padded_inputs[:4]
        assert x is not None and w is not None
        k = w.shape[2]
        if past is None:
            past = np.zeros(x.shape[:2] + (k - 1,), x.dtype)
        padded = np.concatenate([past, x], axis=2).astype(np.float64)
        y = sum(padded[:, :, j : j + x.shape[2]] * w[None, :, 0, j : j + 1] for j in range(k))
        if b is not None:
            y = y + b.reshape(1, -1, 1)
        if node.attrs["silu"]:
            y = y / (1.0 + np.exp(-y))
        return [np.asarray(y).astype(x.dtype), padded[:, :, x.shape[2] :].astype(x.dtype)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, w = node.inputs[0], node.inputs[1]
        assert x is not None and w is not None
        if x.dtype not in (DType.F32, DType.F16):
            raise UnsupportedError(f"op CausalConvWithState (node '{node.name}') on "
                                   f"{x.dtype.value}")
        b, past = node.input(2), node.input(3)
        outs = [ctx.ptr(v) for v in node.outputs] + ["NULL"]
        ctx.uses_math = True
        ctx.call("convnd", f"tinyc_causal_conv_state_{x.dtype.value}", ctx.ptr(x), ctx.ptr(w),
                 ctx.ptr(b) if b is not None else "NULL",
                 ctx.ptr(past) if past is not None else "NULL", outs[0], outs[1], x.shape[0],
                 x.shape[1], x.shape[2], w.shape[2], node.attrs["silu"])
