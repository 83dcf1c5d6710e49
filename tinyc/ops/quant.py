"""ONNX quantization operators: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear and
the operator forms QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger.

Their `reference` is the ONNX semantics. Scales and zero points may be run-time tensors here
(the ONNX node tests feed them as graph inputs), so the C side of the operator forms is a
small generic kernel family (`tinyc_qlinear`) that reads them at run time and requantizes
in floating point, as the ONNX reference does. Models whose scales are constants never reach
those kernels: the `qdq-lower` pass rewrites them into tinyc's integer ops (`QConv`,
`QGemm`, ... in `tinyc.ops.qinteger`), which requantize in fixed point.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, QuantParams, TensorType, Value
from tinyc.ops.cast import FLOAT8, ONNX_TO_DTYPE, lowp_cast
from tinyc.ops.conv import conv_reference
from tinyc.ops.layout import broadcast_shapes, broadcast_strides, merge_dims, split_axis
from tinyc.ops.registry import (
    GROUP,
    WINDOW_PADS,
    WINDOW_STEP,
    Attr,
    OpDef,
    input_type,
    normalize_axis,
    register_op,
)
from tinyc.ops.window import normalize_window, output_size
from tinyc.quant.params import INT_RANGE, axis_shape, dequantize_array, quantize_array

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext

#: ONNX TensorProto element type numbers of the types QuantizeLinear can produce
_ONNX_Q_TYPES = {2: DType.U8, 3: DType.I8, 4: DType.U16, 5: DType.I16}
_ONNX_Q_TYPES.update({c: t for c, t in ONNX_TO_DTYPE.items() if t.is_lowp and t != DType.BF16})
#: C kernel suffix per integer dtype
SUFFIX = {DType.I8: "s8", DType.U8: "u8", DType.I16: "s16", DType.U16: "u16", DType.I32: "s32",
          DType.I4: "s4", DType.U4: "u4", DType.I2: "s2", DType.U2: "u2"}
#: quantized range per integer dtype
_RANGE = {**INT_RANGE, DType.I4: (-8, 7), DType.U4: (0, 15), DType.I2: (-2, 1), DType.U2: (0, 3)}
#: the float quantized types: values are x / scale cast with Cast's rules (`saturate` for
#: float8). As in the ONNX reference, the zero point (0 for float8) is only read by
#: QuantizeLinear to float4, which adds it as a float after the division
_FLOAT_QTYPES = FLOAT8 | {DType.F4E2M1}
#: the run-time type codes of codegen/kernels/tinyc_qlinear.h
_TYPE_CODE = {DType.I8: "TINYC_QT_S8", DType.U8: "TINYC_QT_U8", DType.I32: "TINYC_QT_S32"}


def _const(value: Value | None) -> np.ndarray | None:
    return None if value is None else value.const


def _require_f32_scale(node: Node, index: int) -> None:
    v = node.input(index)
    if v is not None and v.dtype is not DType.F32:
        raise UnsupportedError(
            f"{node.op} node '{node.name}': {v.dtype.value} scales are not supported (float32 only)"
        )


def const_quant_params(node: Node, scale_index: int, axis: int | None) -> QuantParams | None:
    """The QuantParams of a Quantize/Dequantize node whose scale and zero point are
    constants, or None when either is computed at run time."""
    scale_v, zp_v = node.input(scale_index), node.input(scale_index + 1)
    scale = _const(scale_v)
    if scale is None or (zp_v is not None and zp_v.const is None):
        return None
    zp = np.zeros(scale.shape, np.int64) if zp_v is None else np.asarray(zp_v.const, np.int64)
    scales = tuple(float(s) for s in np.asarray(scale, np.float32).reshape(-1))
    zps = tuple(int(z) for z in np.broadcast_to(zp, scale.shape).reshape(-1))
    return QuantParams(scales, zps, None if len(scales) == 1 else axis)


def _float_qtype(data: np.ndarray) -> bool:
    return np.dtype(data.dtype) in {t.np for t in _FLOAT_QTYPES}


def _axis_geometry(shape: tuple[int, ...], axis: int, nparams: int) -> tuple[int, int, int]:
    """(outer, axis_len, inner) for a kernel that applies parameter j to axis index j; a
    single parameter covers the whole tensor."""
    if nparams <= 1 or not shape:
        n = int(np.prod(shape)) if shape else 1
        return 1, 1, n
    return split_axis(shape, axis)


class _QuantizeBase(OpDef):
    """Shared by QuantizeLinear and DequantizeLinear: per-tensor or per-axis parameters."""

    min_opset = 10

    def _check(self, node: Node, opset: int) -> None:
        x = input_type(node, 0)
        _require_f32_scale(node, 1)
        scale = input_type(node, 1)
        block = node.attrs.get("block_size", 0)
        if block:
            # blocked (opset 21): scale has x's shape with the axis divided by the block size
            axis = normalize_axis(node.attrs.get("axis", 1), x.rank, node)
            nblk = -(-x.shape[axis] // block)
            expected = x.shape[:axis] + (nblk,) + x.shape[axis + 1 :]
            if scale.shape != expected:
                raise ModelError(f"{node.op} node '{node.name}': blocked scale {list(scale.shape)}"
                                 f", expected {list(expected)}")
            node.attrs["axis"] = axis
            return
        if scale.rank > 1:
            raise UnsupportedError(f"{node.op} node '{node.name}': scale of rank {scale.rank}")
        axis = node.attrs.get("axis", 1)
        if scale.rank == 0 or scale.numel == 1:
            axis = 0  # per tensor: the axis is irrelevant (and may be out of range)
        elif x.rank:
            axis = normalize_axis(axis, x.rank, node)
        if scale.numel > 1 and (not x.rank or x.shape[axis] != scale.numel):
            raise ModelError(
                f"{node.op} node '{node.name}': {scale.numel} scales for axis {axis} of "
                f"{list(x.shape)}"
            )
        node.attrs["axis"] = axis if x.rank else 0

    def _params(
        self, node: Node, inputs: list[np.ndarray | None], ndim: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """scale and zero point broadcast against x; float zero points stay float32."""
        scale = np.asarray(inputs[1], np.float32)
        zp_in = inputs[2] if len(inputs) > 2 else None
        zp_type = np.float32 if zp_in is not None and _float_qtype(zp_in) else np.int64
        zp = np.zeros(scale.shape, zp_type) if zp_in is None else np.asarray(zp_in).astype(zp_type)
        block = node.attrs.get("block_size", 0)
        if block:
            axis = node.attrs["axis"]
            take = np.arange(np.asarray(inputs[0]).shape[axis]) // block
            return np.take(scale, take, axis=axis), np.take(zp, take, axis=axis)
        if scale.size > 1:
            shape = axis_shape(ndim, node.attrs["axis"], scale.size)
            return scale.reshape(shape), zp.reshape(shape)
        return scale.reshape(()), zp.reshape(())

    def _emit(self, node: Node, ctx: EmitContext, fn: str, *extra: object) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        scale = node.inputs[1]
        assert scale is not None
        zp = node.input(2)
        zp_ptr = "NULL" if zp is None else ctx.ptr(zp)
        block = node.attrs.get("block_size", 0)
        if block:
            outer, axis_len, inner = split_axis(x.shape, node.attrs["axis"])
            blocked = fn.replace("quantize_", "quantize_blocked_", 1)
            ctx.call("quantize", blocked, ctx.ptr(x), ctx.ptr(scale), zp_ptr, ctx.ptr(y),
                     outer, axis_len, inner, block, *extra)
            return
        outer, axis_len, inner = _axis_geometry(x.shape, node.attrs["axis"], scale.type.numel)
        ctx.call("quantize", fn, ctx.ptr(x), ctx.ptr(scale), zp_ptr, ctx.ptr(y),
                 outer, axis_len, inner, *extra)


@register_op
class QuantizeLinear(_QuantizeBase):
    """y = saturate(rint(x / scale) + zero_point), rint rounding half to even. The output
    type is the zero point's (uint8 when it is absent, or `output_dtype`)."""

    name = "QuantizeLinear"
    attrs = {
        "axis": Attr("int", 1),
        "saturate": Attr("int", 1),
        "block_size": Attr("int", 0),
        "output_dtype": Attr("int", 0),
    }

    def normalize(self, node: Node, opset: int) -> None:
        self._check(node, opset)
        if input_type(node, 0).dtype is not DType.F32:
            raise UnsupportedError(f"QuantizeLinear node '{node.name}': input must be float32")
        self._out_dtype(node)

    def _out_dtype(self, node: Node) -> DType:
        zp = node.input(2)
        if zp is not None:
            dtype = zp.dtype
        else:
            code = node.attrs.get("output_dtype", 0)
            dtype = _ONNX_Q_TYPES.get(code, DType.U8) if code else DType.U8
            if code and code not in _ONNX_Q_TYPES:
                raise UnsupportedError(f"QuantizeLinear node '{node.name}': output type {code}")
        if dtype is DType.I32 or (dtype not in _RANGE and dtype not in _FLOAT_QTYPES):
            raise UnsupportedError(
                f"QuantizeLinear node '{node.name}': output type {dtype.value} is not supported"
            )
        return dtype

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        dtype = self._out_dtype(node)
        plain = not node.attrs.get("block_size") and dtype in INT_RANGE
        quant = const_quant_params(node, 1, node.attrs.get("axis")) if plain else None
        return [TensorType(dtype, x.shape, quant)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        dtype = self._out_dtype(node)
        scale, zp = self._params(node, inputs, x.ndim)
        if dtype in _FLOAT_QTYPES:
            v = np.asarray(x, np.float32) / scale
            if dtype is DType.F4E2M1:
                v = v + zp
            return [lowp_cast(v.astype(np.float32), dtype, bool(node.attrs.get("saturate", 1)))]
        lo, hi = _RANGE[dtype]
        return [quantize_array(x, scale, zp, lo, hi).astype(dtype.np)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        dtype = node.outputs[0].dtype
        if dtype in _FLOAT_QTYPES:
            saturate = 1 if node.attrs.get("saturate", 1) else 0
            self._emit(node, ctx, f"tinyc_quantize_f32_{dtype.value}", saturate)
            return
        self._emit(node, ctx, f"tinyc_quantize_f32_{SUFFIX[dtype]}")


@register_op
class DequantizeLinear(_QuantizeBase):
    """y = (float)(x - zero_point) * scale.

    Never folded, even on a constant input: int8 weights behind a DequantizeLinear are what
    `qdq-lower` turns into integer kernels; it folds the ones it cannot use itself."""

    name = "DequantizeLinear"
    attrs = {"axis": Attr("int", 1), "block_size": Attr("int", 0)}

    def normalize(self, node: Node, opset: int) -> None:
        self._check(node, opset)
        x_dtype = input_type(node, 0).dtype
        if x_dtype not in SUFFIX and x_dtype not in _FLOAT_QTYPES:
            raise UnsupportedError(
                f"DequantizeLinear node '{node.name}': input type "
                f"{input_type(node, 0).dtype.value} is not supported"
            )

    def infer(self, node: Node) -> list[TensorType]:
        return [TensorType(DType.F32, input_type(node, 0).shape)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        scale, zp = self._params(node, inputs, x.ndim)
        if _float_qtype(x):  # the zero point is not read, as in the ONNX reference
            return [np.asarray(x).astype(np.float32) * scale]
        return [dequantize_array(x, scale, zp)]

    def fold(self, node: Node) -> list[np.ndarray] | None:
        return None

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x = node.inputs[0]
        assert x is not None
        sfx = x.dtype.value if x.dtype in _FLOAT_QTYPES else SUFFIX[x.dtype]
        self._emit(node, ctx, f"tinyc_dequantize_{sfx}_f32")


def dynamic_quantize_reference(x: np.ndarray) -> tuple[np.ndarray, np.float32, np.uint8]:
    """ONNX DynamicQuantizeLinear (uint8), float32 step by step like the C kernel."""
    x = np.asarray(x, np.float32)
    zero = np.float32(0)
    lo = min(zero, x.min()) if x.size else zero
    hi = max(zero, x.max()) if x.size else zero
    span = np.float32(1) if hi == lo else np.float32(hi - lo)
    scale = np.float32(span / np.float32(255))
    izp = np.float32(zero - np.float32(lo / scale))
    zp = np.float32(np.rint(min(max(izp, zero), np.float32(255))))
    y = quantize_array(x, scale, int(zp), 0, 255).astype(np.uint8)
    return y, scale, np.uint8(zp)


@register_op
class DynamicQuantizeLinear(OpDef):
    """(y, y_scale, y_zero_point) = uint8 quantization of x over its own [min(x,0), max(x,0)]."""

    name = "DynamicQuantizeLinear"

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        if x.dtype is not DType.F32:
            raise UnsupportedError(
                f"DynamicQuantizeLinear node '{node.name}': input {x.dtype.value}"
            )
        return [TensorType(DType.U8, x.shape), TensorType(DType.F32, ()), TensorType(DType.U8, ())]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        assert inputs[0] is not None
        y, scale, zp = dynamic_quantize_reference(inputs[0])
        return [y, np.asarray(scale), np.asarray(zp)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x = node.inputs[0]
        assert x is not None
        y, s, z = node.outputs
        ctx.call("quantize", "tinyc_dynamic_quantize_f32_u8", ctx.ptr(x), ctx.ptr(y), ctx.ptr(s),
                 ctx.ptr(z), x.type.numel)


# -- operator forms: integer products ------------------------------------------------------


def _int8_input(node: Node, index: int, what: str) -> DType:
    t = input_type(node, index).dtype
    if t not in (DType.I8, DType.U8):
        raise UnsupportedError(f"{node.op} node '{node.name}': {what} of type {t.value}")
    return t


def _zp_array(value: np.ndarray | None) -> np.ndarray:
    return np.zeros((), np.int64) if value is None else np.asarray(value, np.int64)


def requant_float_reference(
    acc: np.ndarray, multiplier: np.ndarray, zp: np.ndarray, dtype: DType
) -> np.ndarray:
    """The operator forms' float requantization: saturate(rint(acc * m) + zp), with m the
    float32 product x_scale * w_scale / y_scale and the multiply in double (as in C)."""
    r = np.rint(acc.astype(np.float64) * multiplier.astype(np.float64))
    lo, hi = INT_RANGE[dtype]
    return np.clip(r + zp, lo, hi).astype(dtype.np)


class _IntConvBase(OpDef):
    """ConvInteger / QLinearConv geometry (2-D and 1-D, grouped)."""

    min_opset = 10

    x_index, w_index = 0, 1
    attrs = {
        "auto_pad": Attr("string", "NOTSET"),
        "dilations": WINDOW_STEP,
        "group": GROUP,
        "kernel_shape": WINDOW_STEP,
        "pads": WINDOW_PADS,
        "strides": WINDOW_STEP,
    }

    def normalize(self, node: Node, opset: int) -> None:
        x, w = input_type(node, self.x_index), input_type(node, self.w_index)
        if x.rank not in (3, 4) or w.rank != x.rank:
            raise UnsupportedError(f"{node.op} node '{node.name}': rank {x.rank} convolution")
        _int8_input(node, self.x_index, "input")
        _int8_input(node, self.w_index, "weight")
        normalize_window(node, x.shape[2:], w.shape[2:])
        n = x.rank - 2
        node.attrs["strides"] = node.attrs["strides"] or [1] * n
        node.attrs["dilations"] = node.attrs["dilations"] or [1] * n

    def out_shape(self, node: Node) -> tuple[int, ...]:
        x, w = input_type(node, self.x_index), input_type(node, self.w_index)
        a = node.attrs
        if x.shape[1] != w.shape[1] * a["group"] or w.shape[0] % a["group"]:
            raise ModelError(f"{node.op} node '{node.name}': channels and group do not agree")
        n = x.rank - 2
        spatial = tuple(
            output_size(x.shape[2 + i], w.shape[2 + i], a["strides"][i], a["dilations"][i],
                        a["pads"][i], a["pads"][i + n], False)
            for i in range(n)
        )
        return (x.shape[0], w.shape[0]) + spatial

    def int_acc(
        self, node: Node, x: np.ndarray, xz: np.ndarray, w: np.ndarray, wz: np.ndarray,
        b: np.ndarray | None,
    ) -> np.ndarray:
        a = node.attrs
        m = w.shape[0]
        wz = wz.reshape((m,) + (1,) * (w.ndim - 1)) if wz.size > 1 else wz
        xi = x.astype(np.int64) - xz
        wi = w.astype(np.int64) - wz
        return conv_reference(xi, wi, b, a["strides"], a["dilations"], a["pads"], a["group"],
                              node.outputs[0].shape[2:], acc_dtype=np.int64)

    def geometry(self, node: Node) -> list[int]:
        x = input_type(node, self.x_index)
        w = input_type(node, self.w_index)
        y = node.outputs[0].type
        return conv_geometry(x.shape, w.shape, y.shape, node.attrs)


def conv_geometry(
    xs: tuple[int, ...], ws: tuple[int, ...], ys: tuple[int, ...], a: dict[str, object]
) -> list[int]:
    """The 16 leading int32 fields shared by every tinyc 2-D convolution params struct:
    n, c, h, w, m, oh, ow, kh, kw, group, stride_h, stride_w, dil_h, dil_w, pad_top,
    pad_left. 1-D convolutions run as 2-D with a unit height."""
    n_sp = len(xs) - 2
    pre = 2 - n_sp
    xsp = (1,) * pre + tuple(xs[2:])
    ksp = (1,) * pre + tuple(ws[2:])
    ysp = (1,) * pre + tuple(ys[2:])
    st = [1] * pre + list(a["strides"])  # type: ignore[call-overload]
    dl = [1] * pre + list(a["dilations"])  # type: ignore[call-overload]
    pads = list(a["pads"])  # type: ignore[call-overload]
    pad_top, pad_left = (0, pads[0]) if n_sp == 1 else (pads[0], pads[1])
    return [xs[0], xs[1], xsp[0], xsp[1], ws[0], ysp[0], ysp[1], ksp[0], ksp[1],
            int(a["group"]), st[0], st[1], dl[0], dl[1], pad_top, pad_left]  # type: ignore[call-overload]


def _len_code(value: Value | None) -> int:
    return 0 if value is None else value.type.numel


def _ptr(ctx: EmitContext, value: Value | None) -> str:
    return "NULL" if value is None else ctx.ptr(value)


@register_op
class ConvInteger(_IntConvBase):
    """y (int32) = conv(x - x_zero_point, w - w_zero_point); padding contributes zero."""

    name = "ConvInteger"

    def infer(self, node: Node) -> list[TensorType]:
        return [TensorType(DType.I32, self.out_shape(node))]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x, w = inputs[0], inputs[1]
        assert x is not None and w is not None
        xz = _zp_array(inputs[2] if len(inputs) > 2 else None)
        wz = _zp_array(inputs[3] if len(inputs) > 3 else None)
        return [self.int_acc(node, x, xz, w, wz, None).astype(np.int32)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, w = node.inputs[0], node.inputs[1]
        assert x is not None and w is not None
        xz, wz = node.input(2), node.input(3)
        emit_qlinear_conv(ctx, node, x, None, xz, w, None, wz, None, None, None)


@register_op
class QLinearConv(_IntConvBase):
    """y = saturate(rint(conv(x - xz, w - wz) + B) * xs * ws / ys) + yz). Weight scale and
    zero point may be per output channel."""

    name = "QLinearConv"
    x_index, w_index = 0, 3

    def normalize(self, node: Node, opset: int) -> None:
        super().normalize(node, opset)
        for i in (1, 4, 6):
            _require_f32_scale(node, i)

    def infer(self, node: Node) -> list[TensorType]:
        dtype = input_type(node, 7).dtype
        if dtype not in (DType.I8, DType.U8):
            raise UnsupportedError(f"QLinearConv node '{node.name}': output type {dtype.value}")
        quant = const_quant_params(node, 6, None)
        return [TensorType(dtype, self.out_shape(node), quant)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x, xs, xz, w, ws, wz, ys, yz = inputs[:8]
        b = inputs[8] if len(inputs) > 8 else None
        assert x is not None and w is not None and xs is not None and ws is not None
        assert ys is not None and yz is not None
        acc = self.int_acc(node, x, _zp_array(xz), w, _zp_array(wz), b)
        m = w.shape[0]
        mult = (np.float32(xs.reshape(())) * np.asarray(ws, np.float32).reshape(-1)
                / np.float32(ys.reshape(()))).astype(np.float32)
        mult = np.broadcast_to(mult, (m,)).reshape((1, m) + (1,) * (acc.ndim - 2))
        return [requant_float_reference(acc, mult, np.asarray(yz, np.int64), node.outputs[0].dtype)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, xs, xz, w, ws, wz, ys, yz = (node.input(i) for i in range(8))
        assert x is not None and w is not None
        emit_qlinear_conv(ctx, node, x, xs, xz, w, ws, wz, ys, yz, node.input(8))


def emit_qlinear_conv(
    ctx: EmitContext, node: Node, x: Value, xs: Value | None, xz: Value | None, w: Value,
    ws: Value | None, wz: Value | None, ys: Value | None, yz: Value | None, b: Value | None,
) -> None:
    y = node.outputs[0]
    if x.type.rank not in (3, 4):
        raise UnsupportedError(f"{node.op} node '{node.name}': rank {x.type.rank}")
    fields = conv_geometry(x.shape, w.shape, y.shape, node.attrs)
    fields += [_TYPE_CODE[x.dtype], _TYPE_CODE[w.dtype], _TYPE_CODE[y.dtype],  # type: ignore[list-item]
               _len_code(xz), _len_code(wz), _len_code(ws)]
    params = ctx.params("tinyc_qlinear_conv_params", "{" + ", ".join(map(str, fields)) + "}",
                        f"qlconv_{y.name}")
    ctx.call("qlinear", "tinyc_qlinear_conv", ctx.ptr(x), _ptr(ctx, xs), _ptr(ctx, xz),
             ctx.ptr(w), _ptr(ctx, ws), _ptr(ctx, wz), _ptr(ctx, ys), _ptr(ctx, yz),
             _ptr(ctx, b), ctx.ptr(y), params)


class _IntMatMulBase(OpDef):
    """MatMulInteger / QLinearMatMul: numpy matmul shapes, batched with broadcasting."""

    min_opset = 10

    a_index, b_index = 0, 1

    def shapes(self, node: Node) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        a, b = input_type(node, self.a_index).shape, input_type(node, self.b_index).shape
        if len(a) < 2 or len(b) < 2:
            raise UnsupportedError(f"{node.op} node '{node.name}': 1-D operands")
        if a[-1] != b[-2]:
            raise ModelError(f"{node.op} node '{node.name}': shapes {list(a)} and {list(b)}")
        batch = broadcast_shapes(a[:-2], b[:-2], where=f"{node.op} node '{node.name}'")
        return batch, a, b

    def out_shape(self, node: Node) -> tuple[int, ...]:
        _int8_input(node, self.a_index, "A")
        _int8_input(node, self.b_index, "B")
        batch, a, b = self.shapes(node)
        return batch + (a[-2], b[-1])

    def int_acc(
        self, a: np.ndarray, az: np.ndarray, b: np.ndarray, bz: np.ndarray
    ) -> np.ndarray:
        # a zero point of length M is per row of A; of length N per column of B
        az = az.reshape(-1, 1) if az.size > 1 else az
        return np.matmul(a.astype(np.int64) - az, b.astype(np.int64) - bz)

    def emit_call(
        self, node: Node, ctx: EmitContext, ins: list[Value | None], scales: bool
    ) -> None:
        batch, ash, bsh = self.shapes(node)
        a, b = ins[0], ins[3]
        y = node.outputs[0]
        assert a is not None and b is not None
        m, k, n = ash[-2], ash[-1], bsh[-1]
        sa = [s * m * k for s in broadcast_strides(ash[:-2], batch)]
        sb = [s * k * n for s in broadcast_strides(bsh[:-2], batch)]
        dims, (sa, sb) = merge_dims(batch, sa, sb)
        if len(dims) != 1:
            raise UnsupportedError(f"{node.op} node '{node.name}': batch broadcasting pattern")
        fields = [dims[0], m, k, n, sa[0], sb[0], _TYPE_CODE[a.dtype], _TYPE_CODE[b.dtype],
                  _TYPE_CODE[y.dtype], _len_code(ins[2]), _len_code(ins[5]),
                  _len_code(ins[1]) if scales else 0, _len_code(ins[4]) if scales else 0]
        params = ctx.params("tinyc_qlinear_matmul_params",
                            "{" + ", ".join(map(str, fields)) + "}", f"qlmm_{y.name}")
        args = [_ptr(ctx, v) for v in ins]
        ctx.call("qlinear", "tinyc_qlinear_matmul", *args, ctx.ptr(y), params)


@register_op
class MatMulInteger(_IntMatMulBase):
    """y (int32) = (A - a_zero_point) @ (B - b_zero_point); a zero point per row of A or per
    column of B is allowed."""

    name = "MatMulInteger"

    def infer(self, node: Node) -> list[TensorType]:
        return [TensorType(DType.I32, self.out_shape(node))]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        a, b = inputs[0], inputs[1]
        assert a is not None and b is not None
        az = _zp_array(inputs[2] if len(inputs) > 2 else None)
        bz = _zp_array(inputs[3] if len(inputs) > 3 else None)
        return [self.int_acc(a, az, b, bz).astype(np.int32)]

    def macs(self, node: Node) -> int:
        return int(np.prod(self.out_shape(node))) * input_type(node, 0).shape[-1]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        ins = [node.input(0), None, node.input(2), node.input(1), None, node.input(3), None, None]
        self.emit_call(node, ctx, ins, scales=False)


@register_op
class QLinearMatMul(_IntMatMulBase):
    """y = saturate(rint((A - az) @ (B - bz) * as * bs / ys) + yz); per-tensor or per-row /
    per-column parameters."""

    name = "QLinearMatMul"
    a_index, b_index = 0, 3

    def normalize(self, node: Node, opset: int) -> None:
        for i in (1, 4, 6):
            _require_f32_scale(node, i)

    def infer(self, node: Node) -> list[TensorType]:
        dtype = input_type(node, 7).dtype
        if dtype not in (DType.I8, DType.U8):
            raise UnsupportedError(f"QLinearMatMul node '{node.name}': output {dtype.value}")
        return [TensorType(dtype, self.out_shape(node), const_quant_params(node, 6, None))]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        a, a_s, az, b, b_s, bz, ys, yz = inputs[:8]
        assert a is not None and b is not None and a_s is not None and b_s is not None
        assert ys is not None and yz is not None
        acc = self.int_acc(a, _zp_array(az), b, _zp_array(bz))
        sa = np.asarray(a_s, np.float32).reshape(-1)
        sa = sa.reshape(-1, 1) if sa.size > 1 else sa.reshape(())
        sb = np.asarray(b_s, np.float32).reshape(-1)
        sb = sb if sb.size > 1 else sb.reshape(())
        mult = (sa * sb / np.float32(ys.reshape(()))).astype(np.float32)
        return [requant_float_reference(acc, np.asarray(mult), np.asarray(yz, np.int64).reshape(()),
                                        node.outputs[0].dtype)]

    def macs(self, node: Node) -> int:
        return int(np.prod(self.out_shape(node))) * input_type(node, 0).shape[-1]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        self.emit_call(node, ctx, [node.input(i) for i in range(8)], scales=True)
