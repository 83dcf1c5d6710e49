"""tinyc's own integer ops: the int8 (and int16x8) kernels that quantized models compile to.

These are not ONNX operators; the quantization passes (`quantize-int8`, `qdq-lower`) create
them, and every one reads its quantization parameters from its values' types
(`TensorType.quant`). Conventions (TFLite Micro's `reference_integer_ops`):

- activations int8, asymmetric per tensor: real = s * (q - zp);
- weights int8, symmetric (zp 0) per output channel, in [-127, 127]; QConv/QGemm with
  `weight_bits` 4 hold values in [-8, 7] that the C stores packed two per byte (`qint4`);
- bias int32 with scale s_x * s_w[c], zero point 0;
- every result is requantized in fixed point with the multipliers of `tinyc.quant.fixedpoint`
  (computed here, at compile time, from the scales) and clamped to [act_min, act_max], which
  is also how a fused Relu/Clip is applied.

`reference` is the exact integer semantics (numpy, int64 where C uses int32 or int64) and
the generated C is bit-exact with it; `emit` calls the `tinyc_*_s8` kernels of
`codegen/kernels/tinyc_q*.h` with `static const` multiplier/shift tables.

int16x8 (`--quantize int16x8`, TFLite's 16x8 mode): the same ops, told apart by their
values' types (`act_dtype`: the first input's dtype, int8 or int16). With int16
activations the activations are symmetric (zero point 0), the bias int64, QConv/QGemm
accumulate in int64 and requantize with the same fixed-point rule on the 64-bit
accumulator (`fixedpoint`: |acc| < 2^47, shift <= 15), and `emit` calls the `*_s16`
kernels of `tinyc_qconv16.h` / `tinyc_qelementwise16.h`. Each QConv/QGemm's C also gets
the compile-time proof `acc32` (`int32_accumulator_safe`): whether every accumulator fits
int32, which lets the Cortex-M4 kernels accumulate with SMLAD instead of SMLALD.
QLut and QSoftmax stay int8-only (with int16x8 their float ops stay float).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinyc.errors import ModelError
from tinyc.ir import DType, Node, QuantParams, TensorType, Value
from tinyc.ops.activation import act_c_init, apply_activation
from tinyc.ops.conv import conv_reference
from tinyc.ops.ewbase import inplace_same_shape
from tinyc.ops.layout import broadcast_shapes, broadcast_strides, c_int_list, merge_dims, split_axis
from tinyc.ops.qint4 import (
    WEIGHT_BITS_ATTR,
    check_int4_values,
    conv_w4_work_bytes,
    emit_conv_w4,
    emit_fc_w4,
    fc_w4_work_bytes,
    packs_int4,
)
from tinyc.ops.qpack import m4_conv_kernel, pack_records, packs_dense
from tinyc.ops.quant import conv_geometry
from tinyc.ops.qwork import (
    QCONV_GENERAL,
    QCONV_TRIPLES,
    QCONV_UNPACKED,
    ConvGeometry,
    dense_short_only,
    dense_takes_triples,
    qconv_work_bytes,
    qfc_work_bytes,
    qpool_work_bytes,
    uses_m4_kernels,
)
from tinyc.ops.registry import (
    FLAG,
    GROUP,
    WINDOW_PADS,
    WINDOW_STEP,
    Alias,
    Attr,
    BlockStream,
    MemoryBehavior,
    OpDef,
    PlaneStream,
    input_type,
    register_op,
)
from tinyc.ops.window import output_size
from tinyc.quant import semantics, tflite_fixedpoint
from tinyc.quant.fixedpoint import (
    FLOAT_SHIFT,
    TFLITE_SHIFT_BIAS,
    WIDE_ACC_LIMIT,
    WIDE_MAX_SHIFT,
    MultiplierError,
    float_multipliers,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    quantize_multipliers,
    requantize,
    round_half_away,
    tflite_multipliers,
)
from tinyc.quant.params import ACT_DTYPES, act_limits, channel_scales

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext

#: every requantizing op's clamp, and its integer arithmetic (`tinyc.quant.semantics`)
ACT_ATTRS = {"act_min": Attr("int", -128), "act_max": Attr("int", 127),
             semantics.ATTR: Attr("string", semantics.FIXEDPOINT)}
CONV_ATTRS = {
    "dilations": WINDOW_STEP,
    "group": GROUP,
    "kernel_shape": WINDOW_STEP,
    "pads": WINDOW_PADS,
    "strides": WINDOW_STEP,
}
POOL_ATTRS = {
    "ceil_mode": FLAG,
    "count_include_pad": FLAG,
    "dilations": WINDOW_STEP,
    "kernel_shape": WINDOW_STEP,
    "pads": WINDOW_PADS,
    "strides": WINDOW_STEP,
}
#: the left shift TFLite uses to give Add's rescaled inputs fractional headroom (int8; with
#: int16 activations 15, so |x| 2^15 stays in int32)
ADD_LEFT_SHIFT = 20
ADD_LEFT_SHIFT_16 = 15
#: fixed-point bits of the softmax probabilities before the output requantization
SOFTMAX_PROB_BITS = 23
INT32_LIMIT = 2**31


def quant_of(value: Value, node: Node) -> QuantParams:
    """The quantization parameters of `value`, which an integer op requires."""
    if value.type.quant is None:
        raise ModelError(f"{node.op} node '{node.name}': %{value.name} has no quantization params")
    return value.type.quant


def scale_zp(value: Value, node: Node) -> tuple[float, int]:
    """(scale, zero point) of a per-tensor quantized value."""
    q = quant_of(value, node)
    if len(q.scale) != 1:
        raise ModelError(f"{node.op} node '{node.name}': %{value.name} must be per-tensor")
    return q.scale[0], q.zero_point[0]


def _check_acc(acc: np.ndarray, node: Node) -> None:
    """The C kernels accumulate in int32 (int16x8: int64 below 2^47); refuse what would
    overflow there."""
    limit = WIDE_ACC_LIMIT if is_int16(node) else INT32_LIMIT
    if acc.size and (acc.max() >= limit or acc.min() < -limit):
        raise ModelError(f"{node.op} node '{node.name}': accumulator overflow")


def _act(node: Node) -> tuple[int, int]:
    return int(node.attrs["act_min"]), int(node.attrs["act_max"])


def act_dtype(node: Node) -> DType:
    """The activation dtype of an integer op: its first input's, int8 or int16 (a fused
    boundary op, whose first input is float, is int8)."""
    x = node.inputs[0] if node.inputs else None
    return x.dtype if x is not None and x.dtype in ACT_DTYPES else DType.I8


def is_int16(node: Node) -> bool:
    return act_dtype(node) is DType.I16


def no_clamp(dtype: DType) -> dict[str, int]:
    """act_min/act_max attributes that clamp nothing for activations of `dtype`."""
    lo, hi = act_limits(dtype)
    return {"act_min": lo, "act_max": hi}


def _i8(node: Node, shape: tuple[int, ...]) -> list[TensorType]:
    """The op's output type: its activation dtype (`act_dtype`), `shape`."""
    return [TensorType(act_dtype(node), shape)]


def _requantize(node: Node, acc: np.ndarray, q: np.ndarray | int, s: np.ndarray | int,
                zp: int) -> np.ndarray:
    """`fixedpoint.requantize` to the node's activation dtype and clamp."""
    lo, hi = _act(node)
    return requantize(acc, q, s, zp, lo, hi, act_dtype(node).np)


def _c_list(values: np.ndarray | list[int]) -> list[int]:
    return [int(v) for v in np.asarray(values).reshape(-1)]


class _QOp(OpDef):
    """Base: int8 output with the output value's own quantization parameters."""

    def out(self, node: Node) -> tuple[float, int]:
        return scale_zp(node.outputs[0], node)


# -- convolution and fully connected ------------------------------------------------------


def channel_multipliers(node: Node, x: Value, w: Value, y: Value) -> tuple[np.ndarray, np.ndarray]:
    """Per output channel (q, shift) for s_x * s_w[c] / s_y."""
    return scale_multipliers(node, scale_zp(x, node)[0], w, scale_zp(y, node)[0])


def scale_multipliers(node: Node, sx: float, w: Value, sy: float) -> tuple[np.ndarray, np.ndarray]:
    """`channel_multipliers` from the two activation scales themselves (a fused boundary
    node has no int8 value to carry one of them)."""
    scales = channel_scales(quant_of(w, node), w.shape[0])
    if semantics.is_onnxruntime(node):
        f32 = np.float32
        return float_multipliers((f32(sx) * np.asarray(scales, f32)).astype(f32) / f32(sy))
    if semantics.is_tflite(node):  # double(s_x) * double(s_w[c]) / double(s_y), as TFLite
        return tflite_multipliers(float(sx) * np.asarray(scales, np.float64) / float(sy))
    q, s = quantize_multipliers(sx * scales / sy)
    if is_int16(node) and s.size and int(s.max()) > WIDE_MAX_SHIFT:
        raise MultiplierError(f"{node.op} node '{node.name}': requantization multiplier "
                              f"2^{int(s.max())} too large for the 64-bit accumulator")
    return q, s


def int32_accumulator_safe(node: Node) -> bool:
    """The compile-time proof an int16x8 QConv/QGemm's C may accumulate in int32: for every
    output channel, 32768 sum |W[c]| + |B[c]| < 2^31 (|x| <= 32768)."""
    w, b = node.inputs[1], node.input(2)
    if w is None or w.const is None:
        return False
    mags = np.abs(w.const.astype(np.int64)).reshape(w.shape[0], -1).sum(axis=1) * 32768
    if b is not None and b.const is not None:
        mags = mags + np.abs(b.const.astype(np.int64)).reshape(-1)
    elif b is not None:
        return False
    return bool(mags.max(initial=0) < INT32_LIMIT)


def _weight_check(node: Node, w: Value) -> None:
    q = quant_of(w, node)
    if any(z != 0 for z in q.zero_point):
        raise ModelError(f"{node.op} node '{node.name}': weights must be symmetric (zero point 0)")
    if q.axis not in (None, 0):
        raise ModelError(f"{node.op} node '{node.name}': weights must be quantized along axis 0")


@register_op
class QConv(_QOp):
    """int8 2-D/1-D convolution (grouped, depthwise): y = clamp(zp_y + mbqm(sum (x - zp_x) w
    + b, M[c]), act_min, act_max), M[c] = s_x s_w[c] / s_y. Padding stands for zp_x."""

    name = "QConv"
    attrs = {**CONV_ATTRS, **ACT_ATTRS, **WEIGHT_BITS_ATTR}

    def infer(self, node: Node) -> list[TensorType]:
        x, w = input_type(node, 0), input_type(node, 1)
        a = node.attrs
        if x.rank not in (3, 4) or w.rank != x.rank or x.shape[1] != w.shape[1] * a["group"]:
            raise ModelError(f"QConv node '{node.name}': shapes {x.shape}, {w.shape} disagree")
        n = x.rank - 2
        spatial = tuple(
            output_size(x.shape[2 + i], w.shape[2 + i], a["strides"][i], a["dilations"][i],
                        a["pads"][i], a["pads"][i + n], False)
            for i in range(n)
        )
        return _i8(node, (x.shape[0], w.shape[0]) + spatial)

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        xv = node.inputs[0]
        assert xv is not None
        return [qconv_int8(node, inputs, scale_zp(xv, node), self.out(node))]

    def macs(self, node: Node) -> int:
        return node.outputs[0].type.numel * int(np.prod(input_type(node, 1).shape[1:]))

    def stream_kernel(self, node: Node) -> str | None:
        """Which overlapping ("in place") kernel can run this node, as for float Conv:
        depthwise channel by channel, 1x1 pixel by pixel, a dense stride-1 `same` conv
        row by row."""
        x, w, y = node.inputs[0], node.inputs[1], node.outputs[0]
        if x is None or w is None or x.type.rank not in (3, 4) or is_int16(node):
            return None
        a = node.attrs
        c, m = x.shape[1], y.shape[1]
        if a["group"] == c == m:
            return "dwconv2d"
        if a["group"] != 1 or x.shape[0] != 1 or any(st != 1 for st in a["strides"]):
            return None
        if all(k == 1 for k in w.shape[2:]) and not any(a["pads"]):
            return "conv1x1"
        if packs_int4(node):
            return None  # (no int4 row-streaming kernel)
        if x.shape[2:] == y.shape[2:]:
            return "conv2d_rows"
        return None

    def memory_behavior(self, node: Node) -> list[MemoryBehavior]:
        """The float kernels' streaming overlaps (tinyc_inplace.h), in int8 (see
        `stream_kernel`)."""
        kernel = self.stream_kernel(node)
        if kernel is None:
            return []
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        n, c, m = x.shape[0], x.shape[1], y.shape[1]
        in_plane = x.type.numel // max(n * c, 1)
        out_plane = y.type.numel // max(n * m, 1)
        if kernel == "dwconv2d":
            return [BlockStream(0, n * c, in_plane, out_plane, out_plane)]
        if kernel == "conv1x1":
            return [PlaneStream(0, in_plane, c, m, 1, min(c, m))]
        rows = (node.attrs["pads"][0] if x.type.rank == 4 else 0) + 1
        return [PlaneStream(0, in_plane, c, m, 1, rows * m * y.shape[-1])]

    def workspace(self, node: Node, kernel_dirs: tuple[str, ...] | None = None) -> int:
        """The M4 kernels' column or padded depthwise plane (`qwork`); with int4 weights,
        the `qint4` kernels' (which unpack weights there on every target)."""
        if packs_int4(node):
            return conv_w4_work_bytes(qconv_geometry(node), qconv_depthwise(node), kernel_dirs)
        if not uses_m4_kernels(kernel_dirs):
            return 0
        if is_int16(node):
            return qconv16_work_bytes(node)
        return qconv_work_bytes(qconv_geometry(node), qconv_depthwise(node))

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, w = node.inputs[0], node.inputs[1]
        b, y = node.input(2), node.outputs[0]
        assert x is not None and w is not None
        if is_int16(node):
            emit_int16(node, ctx, "qconv16_params", "qconv16",
                       "tinyc_depthwise_conv2d_s16" if qconv_depthwise(node)
                       else "tinyc_conv2d_s16")
            return
        init = qconv_params_init(node, ctx, scale_zp(x, node), self.out(node))
        params = ctx.params("tinyc_qconv_params", init, f"qconv_{y.name}")
        if packs_int4(node):
            stream = self.stream_kernel(node) if ctx.overlap(node) is not None else None
            emit_conv_w4(node, ctx, params, qconv_depthwise(node), stream)
            return
        bias = ctx.ptr(b) if b is not None else "NULL"
        weights = qconv_weights(node, ctx, init)
        if ctx.overlap(node) is not None:  # the planner placed y over x: the streaming form
            fn = self.stream_kernel(node)
            ctx.call("qconv", f"tinyc_{fn}_stream_s8", ctx.ptr(x), weights, bias, ctx.ptr(y),
                     ctx.scratch(node, DType.I8), ctx.workspace(node, DType.I32), params)
            return
        fn = "tinyc_depthwise_conv2d_s8" if qconv_depthwise(node) else "tinyc_conv2d_s8"
        ctx.call("qconv", fn, ctx.ptr(x), weights, bias, ctx.ptr(y),
                 ctx.workspace(node, DType.I32), params)


def _int8_operands(node: Node, inputs: list[np.ndarray | None]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, Value]:
    """(x, w, b or None, the weight Value) of a QConv/QGemm-shaped node, weights checked."""
    x, w = inputs[0], inputs[1]
    assert x is not None and w is not None
    wv = node.inputs[1]
    assert wv is not None
    _weight_check(node, wv)
    check_int4_values(node, w)
    return x, w, inputs[2] if len(inputs) > 2 else None, wv


def qconv_int8(node: Node, inputs: list[np.ndarray | None], xq: tuple[float, int],
               yq: tuple[float, int]) -> np.ndarray:
    """QConv's integer semantics on int8 `inputs` (x, w, b?), with the activations'
    (scale, zero point) given: shared by QConv and its float-boundary fusion."""
    x, w, b, wv = _int8_operands(node, inputs)
    a = node.attrs
    acc = conv_reference(x.astype(np.int64) - xq[1], w.astype(np.int64), b, a["strides"],
                         a["dilations"], a["pads"], a["group"], node.outputs[0].shape[2:],
                         acc_dtype=np.int64)
    _check_acc(acc, node)
    q, s = scale_multipliers(node, xq[0], wv, yq[0])
    shape = (1, -1) + (1,) * (acc.ndim - 2)
    return _requantize(node, acc, q.reshape(shape), s.reshape(shape), yq[1])


def qconv_geometry(node: Node) -> ConvGeometry:
    """The whole layer's `tinyc_qconv_params` geometry of a QConv-like node."""
    x, w, y = node.inputs[0], node.inputs[1], node.outputs[0]
    assert x is not None and w is not None
    return ConvGeometry.of(conv_geometry(x.shape, w.shape, y.shape, node.attrs))


def qconv_depthwise(node: Node) -> bool:
    """True when the node runs with tinyc_depthwise_conv2d_s8 (one input channel a group)."""
    w = node.inputs[1]
    assert w is not None
    return w.shape[1] == 1 and node.attrs["group"] > 1


def _requant_tables(node: Node, ctx: EmitContext, xq: tuple[float, int],
                    yq: tuple[float, int]) -> tuple[str, str, np.ndarray, np.ndarray]:
    """C names of the per-output-channel multiplier and shift tables of a QConv/QGemm-like
    node (weights checked), emitted once for its output, and the multipliers and shifts."""
    w, y = node.inputs[1], node.outputs[0]
    assert w is not None
    _weight_check(node, w)
    q, s = scale_multipliers(node, xq[0], w, yq[0])
    return (ctx.table(DType.I32, q, f"mult_{y.name}"),
            ctx.table(DType.I32, s, f"shift_{y.name}"), np.asarray(q), np.asarray(s))


def qconv_params_init(node: Node, ctx: EmitContext, xq: tuple[float, int],
                      yq: tuple[float, int], y_shape: tuple[int, ...] | None = None) -> str:
    """The `tinyc_qconv_params` initializer of a QConv-like node (multiplier and shift
    tables emitted), from the activations' (scale, zero point)."""
    x, w, y = node.inputs[0], node.inputs[1], node.outputs[0]
    assert x is not None and w is not None
    mult, shift, mults, shifts = _requant_tables(node, ctx, xq, yq)
    lo, hi = _act(node)
    fields = conv_geometry(x.shape, w.shape, y_shape or y.shape, node.attrs)
    if not qconv_depthwise(node) and not dense_short_only(ConvGeometry.of(fields),
                                                          shifts.tolist(), (lo, hi)):
        ctx.kernel_paths.add(QCONV_GENERAL)
    packed = _packed_table(node, ctx, fields, mults, shifts, yq[1], (lo, hi))
    if not qconv_depthwise(node) and packed == "NULL":
        ctx.kernel_paths.add(QCONV_UNPACKED)
    if packed != "NULL" and dense_takes_triples(ConvGeometry.of(fields)):
        ctx.kernel_paths.add(QCONV_TRIPLES)
    fields += [-xq[1], yq[1], lo, hi]
    return "{" + ", ".join(str(f) for f in fields) + f", {mult}, {shift}, {packed}}}"


def _packed_table(node: Node, ctx: EmitContext, fields: list[int], mults: np.ndarray,
                  shifts: np.ndarray, output_zero_point: int, act: tuple[int, int]) -> str:
    """The C name of the layer's packed records (`qpack`) for the Cortex-M4 dense tiles, or
    NULL: only targets that link those kernels, int8 weights and bias known at compile
    time, a dense layer whose channels all take the short form, K % 4 == 0. Its bytes
    count as the weights' (`EmitContext.count_packed`)."""
    w, b = node.inputs[1], node.input(2)
    assert w is not None
    if (not ctx.pack_weights or not m4_conv_kernel(ctx.kernel_dirs) or qconv_depthwise(node)
            or packs_int4(node)
            or is_int16(node) or w.const is None or (b is not None and b.const is None)):
        return "NULL"
    if not packs_dense(ConvGeometry.of(fields), shifts.tolist(), act):
        return "NULL"
    bias = None if b is None else b.const
    records = pack_records(w.const, bias, mults.tolist(), shifts.tolist(), output_zero_point)
    name = ctx.table(DType.I32, records, f"packed_{node.outputs[0].name}")
    ctx.count_packed(w, name, records.nbytes)
    return name


def qconv_weights(node: Node, ctx: EmitContext, params_init: str) -> str:
    """The C expression of a QConv-like node's int8 weights in its kernel call, given its
    `qconv_params_init`: NULL when the layer has packed records (the Cortex-M4 kernel then
    reads nothing else: one image, one group, K <= 576 -- `qpack.packs_dense`), so the int8
    copy is never emitted."""
    w = node.inputs[1]
    assert w is not None
    return ctx.ptr(w) if params_init.endswith(", NULL}") else "NULL"


def qconv16_work_bytes(node: Node) -> int:
    """The Cortex-M4 int16x8 kernels' workspace: one reordered int16 window column of a
    dense conv (c/group kh kw values) or one input row of a fully connected layer."""
    w = node.inputs[1]
    assert w is not None
    if node.op == "QConv" and qconv_depthwise(node):
        return 0
    return 2 * int(np.prod(w.shape[1:]))


def emit_int16(node: Node, ctx: EmitContext, record: str, hint: str, fn: str) -> None:
    """The call of an int16x8 QConv/QGemm kernel (`tinyc_qconv16.h`): geometry, clamp,
    the int32-accumulator proof and the multiplier tables."""
    x, w, b, y = node.inputs[0], node.inputs[1], node.input(2), node.outputs[0]
    assert x is not None and w is not None
    mult, shift, _, _ = _requant_tables(node, ctx, scale_zp(x, node), scale_zp(y, node))
    lo, hi = _act(node)
    if node.op == "QConv":
        fields = conv_geometry(x.shape, w.shape, y.shape, node.attrs)
    else:
        n, k = w.shape
        fields = [x.type.numel // max(k, 1), k, n]
    fields += [lo, hi, int(int32_accumulator_safe(node))]
    init = "{" + ", ".join(str(f) for f in fields) + f", {mult}, {shift}}}"
    params = ctx.params(f"tinyc_{record}", init, f"{hint}_{y.name}")
    ctx.call("qconv16", fn, ctx.ptr(x), ctx.ptr(w), ctx.ptr(b) if b is not None else "NULL",
             ctx.ptr(y), ctx.workspace(node, DType.I32), params)


@register_op
class QGemm(_QOp):
    """int8 fully connected layer: Y[..., n] = requant(sum_k (X[..., k] - zp_x) W[n, k] + B[n]).
    W is [out_features, in_features] (ONNX Gemm with transB=1), per-channel over n."""

    name = "QGemm"
    attrs = {**ACT_ATTRS, **WEIGHT_BITS_ATTR}

    def infer(self, node: Node) -> list[TensorType]:
        x, w = input_type(node, 0), input_type(node, 1)
        if w.rank != 2 or not x.rank or x.shape[-1] != w.shape[1]:
            raise ModelError(f"QGemm node '{node.name}': X {list(x.shape)} and W {list(w.shape)}")
        return _i8(node, x.shape[:-1] + (w.shape[0],))

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        xv = node.inputs[0]
        assert xv is not None
        return [qgemm_int8(node, inputs, scale_zp(xv, node), self.out(node))]

    def macs(self, node: Node) -> int:
        return node.outputs[0].type.numel * input_type(node, 1).shape[1]

    def memory_behavior(self, node: Node) -> list[MemoryBehavior]:
        """Row by row through one row of scratch (tinyc_fully_connected_rows_stream_s8);
        not with int4 weights (that kernel reads int8 rows) nor int16 activations."""
        if packs_int4(node) or is_int16(node):
            return []
        n, k = input_type(node, 1).shape
        rows = input_type(node, 0).numel // max(k, 1)
        return [BlockStream(0, rows, k, n, min(k, n))]

    def workspace(self, node: Node, kernel_dirs: tuple[str, ...] | None = None) -> int:
        """The M4 kernels' widened input row (`qwork`)."""
        if packs_int4(node):
            return fc_w4_work_bytes(input_type(node, 1).shape[1], kernel_dirs)
        if not uses_m4_kernels(kernel_dirs):
            return 0
        if is_int16(node):
            return qconv16_work_bytes(node)
        return qfc_work_bytes(input_type(node, 1).shape[1])

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, w = node.inputs[0], node.inputs[1]
        b, y = node.input(2), node.outputs[0]
        assert x is not None and w is not None
        if is_int16(node):
            emit_int16(node, ctx, "qfc16_params", "qfc16", "tinyc_fully_connected_s16")
            return
        init = qfc_params_init(node, ctx, scale_zp(x, node), self.out(node))
        params = ctx.params("tinyc_qfc_params", init, f"qfc_{y.name}")
        if packs_int4(node):
            emit_fc_w4(node, ctx, params)
            return
        bias = ctx.ptr(b) if b is not None else "NULL"
        if ctx.overlap(node) is not None:  # the planner placed y over x: the streaming form
            ctx.call("qfc", "tinyc_fully_connected_rows_stream_s8", ctx.ptr(x), ctx.ptr(w), bias,
                     ctx.ptr(y), ctx.scratch(node, DType.I8), ctx.workspace(node, DType.I32),
                     params)
            return
        ctx.call("qfc", "tinyc_fully_connected_s8", ctx.ptr(x), ctx.ptr(w), bias, ctx.ptr(y),
                 ctx.workspace(node, DType.I32), params)


def qgemm_int8(node: Node, inputs: list[np.ndarray | None], xq: tuple[float, int],
               yq: tuple[float, int]) -> np.ndarray:
    """QGemm's integer semantics on int8 `inputs` (x, w, b?), with the activations'
    (scale, zero point) given: shared by QGemm and its float-boundary fusion."""
    x, w, b, wv = _int8_operands(node, inputs)
    k = w.shape[1]
    acc = (x.reshape(-1, k).astype(np.int64) - xq[1]) @ w.astype(np.int64).T
    if b is not None:
        acc = acc + b.astype(np.int64).reshape(1, -1)
    _check_acc(acc, node)
    q, s = scale_multipliers(node, xq[0], wv, yq[0])
    y = _requantize(node, acc, q.reshape(1, -1), s.reshape(1, -1), yq[1])
    return y.reshape(x.shape[:-1] + (w.shape[0],))


def qfc_params_init(node: Node, ctx: EmitContext, xq: tuple[float, int],
                    yq: tuple[float, int]) -> str:
    """The `tinyc_qfc_params` initializer of a QGemm-like node (tables emitted)."""
    x, w = node.inputs[0], node.inputs[1]
    assert x is not None and w is not None
    mult, shift, _, _ = _requant_tables(node, ctx, xq, yq)
    lo, hi = _act(node)
    n, k = w.shape
    fields = [x.type.numel // max(k, 1), k, n, -xq[1], yq[1], lo, hi]
    return "{" + ", ".join(str(f) for f in fields) + f", {mult}, {shift}}}"


# -- elementwise ----------------------------------------------------------------------------


def add_multipliers(sa: float, sb: float, sy: float,
                    left_shift: int = ADD_LEFT_SHIFT) -> list[int]:
    """TFLite's Add rescaling: both inputs to 2*max(s_a, s_b) with `left_shift` bits of
    headroom, then to s_y. Returns [qa, sha, qb, shb, qy, shy]."""
    twice = 2.0 * max(sa, sb)
    qa, sha = quantize_multiplier(sa / twice)
    qb, shb = quantize_multiplier(sb / twice)
    qy, shy = quantize_multiplier(twice / ((1 << left_shift) * sy))
    return [qa, sha, qb, shb, qy, shy]


def sub_multipliers(sa: float, sb: float, sy: float) -> list[int]:
    """TFLite's Sub rescaling: Add's, computed in float32 as TFLite Micro's SUB does.
    Returns [qa, sha, qb, shb, qy, shy]."""
    f32 = np.float32
    twice = f32(f32(2) * max(f32(sa), f32(sb)))
    qa, sha = quantize_multiplier(float(f32(f32(sa) / twice)))
    qb, shb = quantize_multiplier(float(f32(f32(sb) / twice)))
    qy, shy = quantize_multiplier(float(f32(twice / f32(f32(1 << ADD_LEFT_SHIFT) * f32(sy)))))
    return [qa, sha, qb, shb, qy, shy]
def add_left_shift(node: Node) -> int:
    return ADD_LEFT_SHIFT_16 if is_int16(node) else ADD_LEFT_SHIFT


def kernel_suffix(node: Node) -> str:
    """`s8` or `s16`: the C kernel variant of the node's activation dtype."""
    return "s16" if is_int16(node) else "s8"


class _QBinary(_QOp):
    #: u8_codes: the model's tensors were uint8 (stored as int8, zero points - 128);
    #: onnxruntime's Add rounds differently on uint8 codes, so its rule adds 128 back
    attrs = {**ACT_ATTRS, "u8_codes": Attr("int", 0, 0, 1)}
    kernel = ""

    def infer(self, node: Node) -> list[TensorType]:
        a, b = input_type(node, 0), input_type(node, 1)
        where = f"{node.op} node '{node.name}'"
        return _i8(node, broadcast_shapes(a.shape, b.shape, where=where))

    def memory_behavior(self, node: Node) -> list[MemoryBehavior]:
        return inplace_same_shape(node)

    def multipliers(self, node: Node) -> list[int]:
        """[qa, sha, qb, shb, qy, shy] (TFLite semantics: the shifts marked for its
        rounding, `TFLITE_SHIFT_BIAS`)."""
        m = self.fixed_multipliers(node)
        if semantics.is_tflite(node):
            m = [v + TFLITE_SHIFT_BIAS if i % 2 and m[i - 1] else v for i, v in enumerate(m)]
        return m

    def fixed_multipliers(self, node: Node) -> list[int]:
        raise NotImplementedError

    def combine(self, node: Node, a: np.ndarray, b: np.ndarray, m: list[int]) -> np.ndarray:
        raise NotImplementedError

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        a, b = inputs
        assert a is not None and b is not None
        av, bv = node.inputs
        assert av is not None and bv is not None
        _, za = scale_zp(av, node)
        _, zb = scale_zp(bv, node)
        _, zy = self.out(node)
        lo, hi = _act(node)
        if semantics.is_onnxruntime(node):
            first, second = (b, a) if self.swapped(node) else (a, b)
            first, second = np.broadcast_arrays(first.astype(np.int64), second.astype(np.int64))
            off = semantics.code_offset(node)
            value = self.onnxruntime_value(node, first + off, second + off) - off
            return [np.clip(value, lo, hi).astype(np.int8)]
        m = self.multipliers(node)
        acc = self.combine(node, a.astype(np.int64) - za, b.astype(np.int64) - zb, m)
        return [_requantize(node, acc, m[4], m[5], zy)]

    def swapped(self, node: Node) -> bool:
        """onnxruntime semantics: whether B is the kernel's first operand, as onnxruntime's
        broadcast loop makes it when A is one value per innermost run and B is not."""
        a, b = node.inputs
        y = node.outputs[0]
        assert a is not None and b is not None
        _, (sa, sb) = merge_dims(
            y.shape, broadcast_strides(a.shape, y.shape), broadcast_strides(b.shape, y.shape)
        )
        return bool(sa) and sa[-1] == 0 and sb[-1] != 0

    def operands(self, node: Node) -> tuple[tuple[float, int], tuple[float, int]]:
        """(scale, zero point) of the kernel's first and second operand (onnxruntime's
        codes in onnxruntime semantics)."""
        a, b = node.inputs
        assert a is not None and b is not None
        pa, pb = scale_zp(a, node), scale_zp(b, node)
        if not semantics.is_onnxruntime(node):
            return pa, pb
        off = semantics.code_offset(node)
        pa, pb = (pa[0], pa[1] + off), (pb[0], pb[1] + off)
        return (pb, pa) if self.swapped(node) else (pa, pb)

    def output(self, node: Node) -> tuple[float, int]:
        """The output's (scale, zero point), in onnxruntime's codes."""
        sy, zy = self.out(node)
        return sy, zy + (semantics.code_offset(node) if semantics.is_onnxruntime(node) else 0)

    def onnxruntime_constants(self, node: Node) -> list[np.float32]:
        """The float32 constants of the onnxruntime rule, in the kernel's operand order:
        [r_first, r_second, k_or_scale]."""
        raise NotImplementedError

    def onnxruntime_value(self, node: Node, first: np.ndarray,
                          second: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def emit(self, node: Node, ctx: EmitContext) -> None:
        a, b = node.inputs
        y = node.outputs[0]
        assert a is not None and b is not None
        if semantics.is_onnxruntime(node) and self.swapped(node):
            a, b = b, a
        params = ctx.params("tinyc_qbinary_params", self.params_init(node),
                            f"q{self.kernel}_{y.name}")
        ctx.call(elementwise_family(node), f"tinyc_{self.kernel}_{kernel_suffix(node)}",
                 ctx.ptr(a), ctx.ptr(b), ctx.ptr(y), params)

    def params_init(self, node: Node) -> str:
        """The `tinyc_qbinary_params` initializer of `node` (operands in kernel order)."""
        a, b = node.inputs
        y = node.outputs[0]
        assert a is not None and b is not None
        ort = semantics.is_onnxruntime(node)
        if ort and self.swapped(node):
            a, b = b, a
        _, za = scale_zp(a, node)
        _, zb = scale_zp(b, node)
        _, zy = self.out(node)
        dims, (sa, sb) = merge_dims(
            y.shape, broadcast_strides(a.shape, y.shape), broadcast_strides(b.shape, y.shape)
        )
        lo, hi = _act(node)
        if ort:
            # float32 bits in the multipliers, FLOAT_SHIFT in the shifts (tinyc_qelementwise.h)
            bits = [int(v) for v in np.asarray(self.onnxruntime_constants(node),
                                                np.float32).view(np.int32)]
            fields = [-za, -zb, bits[0], FLOAT_SHIFT, bits[1], FLOAT_SHIFT,
                      semantics.code_offset(node), bits[2], FLOAT_SHIFT, zy, lo, hi]
        else:
            m = self.multipliers(node)
            fields = [-za, -zb, m[0], m[1], m[2], m[3], add_left_shift(node), m[4], m[5], zy, lo,
                      hi]
        return (f"{{{len(dims)}, {c_int_list(dims)}, {c_int_list(sa)}, {c_int_list(sb)}, "
                + ", ".join(str(f) for f in fields) + "}")


@register_op
class QAdd(_QBinary):
    """int8 Add with broadcasting, TFLite's scheme: both inputs rescaled to a common scale
    with 2^20 headroom, added in int32, requantized to the output."""

    name, kernel = "QAdd", "add"

    def fixed_multipliers(self, node: Node) -> list[int]:
        a, b = node.inputs
        assert a is not None and b is not None
        return add_multipliers(scale_zp(a, node)[0], scale_zp(b, node)[0], self.out(node)[0],
                               add_left_shift(node))

    def onnxruntime_constants(self, node: Node) -> list[np.float32]:
        (sa, za), (sb, zb) = self.operands(node)
        sy, zy = self.output(node)
        return list(semantics.add_constants(sa, za, sb, zb, sy, zy))

    def onnxruntime_value(self, node: Node, first: np.ndarray,
                          second: np.ndarray) -> np.ndarray:
        ra, rb, k = self.onnxruntime_constants(node)
        return semantics.add_value(first, second, ra, rb, k)

    def combine(self, node: Node, a: np.ndarray, b: np.ndarray, m: list[int]) -> np.ndarray:
        shift = add_left_shift(node)
        ra = multiply_by_quantized_multiplier(a * (1 << shift), m[0], m[1])
        rb = multiply_by_quantized_multiplier(b * (1 << shift), m[2], m[3])
        return ra.astype(np.int64) + rb.astype(np.int64)


@register_op
class QSub(QAdd):
    """int8 Sub with broadcasting, TFLite's scheme (made for TFLite semantics only): Add's
    rescaling with multipliers computed in float32, the rescaled inputs subtracted."""

    name, kernel = "QSub", "sub"

    def fixed_multipliers(self, node: Node) -> list[int]:
        a, b = node.inputs
        assert a is not None and b is not None
        return sub_multipliers(scale_zp(a, node)[0], scale_zp(b, node)[0], self.out(node)[0])

    def combine(self, node: Node, a: np.ndarray, b: np.ndarray, m: list[int]) -> np.ndarray:
        """a' - b' (not Add on -b: the high multiply rounds ties asymmetrically)."""
        shift = add_left_shift(node)
        ra = multiply_by_quantized_multiplier(a * (1 << shift), m[0], m[1])
        rb = multiply_by_quantized_multiplier(b * (1 << shift), m[2], m[3])
        return ra.astype(np.int64) - rb.astype(np.int64)


@register_op
class QMul(_QBinary):
    """int8 Mul with broadcasting: requant((a - zp_a)(b - zp_b)) with M = s_a s_b / s_y."""

    name, kernel = "QMul", "mul"

    def fixed_multipliers(self, node: Node) -> list[int]:
        a, b = node.inputs
        assert a is not None and b is not None
        q, s = quantize_multiplier(scale_zp(a, node)[0] * scale_zp(b, node)[0] / self.out(node)[0])
        return [0, 0, 0, 0, q, s]

    def onnxruntime_constants(self, node: Node) -> list[np.float32]:
        (sa, _), (sb, _) = self.operands(node)
        return [np.float32(0), np.float32(0), semantics.mul_scale(sa, sb, self.out(node)[0])]

    def onnxruntime_value(self, node: Node, first: np.ndarray,
                          second: np.ndarray) -> np.ndarray:
        (_, za), (_, zb) = self.operands(node)
        scale = self.onnxruntime_constants(node)[2]
        return semantics.mul_value((first - za) * (second - zb), scale, self.output(node)[1])

    def combine(self, node: Node, a: np.ndarray, b: np.ndarray, m: list[int]) -> np.ndarray:
        return a * b


def rescale_multiplier(node: Node, x: Value, divisor: int = 1) -> tuple[int, int]:
    """(q, shift) for s_x / (s_y * divisor); in onnxruntime semantics (pools) the float32
    s_x / (s_y * float(divisor))."""
    sx, _ = scale_zp(x, node)
    sy, _ = scale_zp(node.outputs[0], node)
    if semantics.is_onnxruntime(node):
        f32 = np.float32
        q, s = float_multipliers([f32(sx) / f32(f32(sy) * f32(divisor))])
        return int(q[0]), int(s[0])
    if semantics.is_tflite(node):  # MEAN folds the count into the mantissa (QGlobalAveragePool)
        q, s = tflite_fixedpoint.mean_multiplier(*quantize_multiplier(sx / sy), divisor)
        return q, s + TFLITE_SHIFT_BIAS if q else 0
    return quantize_multiplier(sx / (sy * divisor))


def requant_fields(node: Node, x: Value, divisor: int = 1) -> list[int]:
    """input_offset, output_offset, multiplier, shift, act_min, act_max."""
    _, zx = scale_zp(x, node)
    _, zy = scale_zp(node.outputs[0], node)
    q, s = rescale_multiplier(node, x, divisor)
    lo, hi = _act(node)
    return [-zx, zy, q, s, lo, hi]


def requant_table(node: Node, xv: Value) -> np.ndarray | None:
    """onnxruntime semantics: the 256-entry table of a QRequantize/QConcat input (None in
    fixed point)."""
    if not semantics.is_onnxruntime(node):
        return None
    sx, zx = scale_zp(xv, node)
    sy, zy = scale_zp(node.outputs[0], node)
    return semantics.requant_table(sx, zx, sy, zy, *_act(node))


def _requant_ref(node: Node, x: np.ndarray, xv: Value) -> np.ndarray:
    table = requant_table(node, xv)
    if table is not None:
        return table[x.astype(np.int64) + 128]
    _, zx = scale_zp(xv, node)
    _, zy = scale_zp(node.outputs[0], node)
    q, s = rescale_multiplier(node, xv)
    return _requantize(node, x.astype(np.int64) - zx, q, s, zy)


#: from this many elements on, a requantization looks its results up in a table of the
#: 256 possible ones, computed here and kept in flash (no RAM, nothing built at run time)
REQUANT_TABLE_MIN = 512


def emit_requantize(
    ctx: EmitContext, node: Node, x: Value, dst: str, outer: int, inner: int,
    x_stride: int, y_stride: int,
) -> None:
    table = requant_table(node, x)
    if table is None and not is_int16(node) and outer * inner >= REQUANT_TABLE_MIN:
        table = _requant_ref(node, np.arange(-128, 128), x).astype(np.int8)
    fields: list[object] = [outer, inner, x_stride, y_stride, *requant_fields(node, x)]
    fields.append("NULL" if table is None else
                  ctx.table(DType.I8, table, f"requant_table_{node.outputs[0].name}"))
    params = ctx.params("tinyc_requant_params", "{" + ", ".join(map(str, fields)) + "}",
                        f"requant_{node.outputs[0].name}")
    ctx.call(elementwise_family(node), f"tinyc_requantize_{kernel_suffix(node)}", ctx.ptr(x),
             dst, params)


def elementwise_family(node: Node) -> str:
    """The kernel family of the node's elementwise and pooling kernels."""
    return "qelementwise16" if is_int16(node) else "qelementwise"


@register_op
class QRequantize(_QOp):
    """int8 -> int8 with new parameters: clamp(zp_y + mbqm(x - zp_x, s_x / s_y)). Also a
    standalone Relu/Clip (the clamp) and the identity when nothing changes."""

    name = "QRequantize"
    attrs = dict(ACT_ATTRS)

    def infer(self, node: Node) -> list[TensorType]:
        return _i8(node, input_type(node, 0).shape)

    def memory_behavior(self, node: Node) -> list[MemoryBehavior]:
        return inplace_same_shape(node)

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        assert inputs[0] is not None and node.inputs[0] is not None
        return [_requant_ref(node, inputs[0], node.inputs[0])]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        emit_requantize(ctx, node, x, ctx.ptr(y), 1, y.type.numel, 0, 0)


@register_op
class QConcat(_QOp):
    """int8 Concat: each input requantized to the output's parameters (a plain copy when
    they already agree)."""

    name = "QConcat"
    attrs = {"axis": Attr("int"), **ACT_ATTRS}

    def infer(self, node: Node) -> list[TensorType]:
        first = input_type(node, 0)
        axis = node.attrs["axis"]
        shape = list(first.shape)
        shape[axis] = sum(input_type(node, i).shape[axis] for i in range(len(node.inputs)))
        return _i8(node, tuple(shape))

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        parts = []
        for x, xv in zip(inputs, node.inputs, strict=True):
            assert x is not None and xv is not None
            parts.append(_requant_ref(node, x, xv))
        return [np.concatenate(parts, axis=node.attrs["axis"])]

    def memory_behavior(self, node: Node) -> list[MemoryBehavior]:
        """As Concat's: with nothing outside the axis but size-1 dims, an input whose
        requantization is the identity (the output's parameters, no clamp) is a contiguous
        slice of the output, so its producer can write straight into it."""
        y = node.outputs[0]
        outer, _, inner = split_axis(y.shape, node.attrs["axis"])
        if outer != 1:
            return []
        out, start = [], 0
        for i, x in enumerate(node.inputs):
            assert x is not None
            if _requantizes_to_itself(node, x):
                out.append(Alias(i, 0, start * inner * y.dtype.itemsize))
            start += x.shape[node.attrs["axis"]]
        return out

    def emit(self, node: Node, ctx: EmitContext) -> None:
        y = node.outputs[0]
        axis = node.attrs["axis"]
        outer, total, inner = split_axis(y.shape, axis)
        start = 0
        for x in node.inputs:
            assert x is not None
            block = x.shape[axis] * inner
            if block and outer and not ctx.is_view(x, y, start * inner * y.dtype.itemsize):
                emit_requantize(ctx, node, x, f"{ctx.ptr(y)} + {start * inner}", outer, block,
                                block, total * inner)
            start += x.shape[axis]


def _requantizes_to_itself(node: Node, x: Value) -> bool:
    """True when requantizing `x` to `node`'s output leaves every value unchanged."""
    lo, hi = act_limits(act_dtype(node))
    every = np.arange(lo, hi + 1, dtype=np.int64)
    return bool(np.array_equal(_requant_ref(node, every, x), every))


@register_op
class QLut(_QOp):
    """int8 -> int8 through a 256-entry table: y = T[x + 128]. The quantizer fills T at
    compile time with quantize(f(dequantize(q))) for any unary float function f (Sigmoid,
    Tanh, HardSwish, ...), so the table is the whole semantics."""

    name = "QLut"

    def infer(self, node: Node) -> list[TensorType]:
        t = input_type(node, 1)
        if t.shape != (256,) or t.dtype is not DType.I8:
            raise ModelError(f"QLut node '{node.name}': table must be i8[256]")
        return _i8(node, input_type(node, 0).shape)

    def memory_behavior(self, node: Node) -> list[MemoryBehavior]:
        return inplace_same_shape(node, [0])

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x, t = inputs
        assert x is not None and t is not None
        return [t[x.astype(np.int64) + 128]]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, t = node.inputs
        y = node.outputs[0]
        assert x is not None and t is not None
        ctx.call("qelementwise", "tinyc_lut_s8", ctx.ptr(x), ctx.ptr(t), ctx.ptr(y), y.type.numel)


# -- pooling ----------------------------------------------------------------------------------


def pool_int_reference(x: np.ndarray, a: dict[str, object], out_spatial: tuple[int, ...],
                       kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Window max or sum of int64 `x` (already minus its zero point) and the element count
    of each window (valid taps, or the padded extent with count_include_pad)."""
    nsp = len(out_spatial)
    k, s, d = a["kernel_shape"], a["strides"], a["dilations"]
    pads = a["pads"]
    assert isinstance(k, list) and isinstance(s, list) and isinstance(d, list)
    assert isinstance(pads, list)
    extra = [
        max(0, (out_spatial[i] - 1) * s[i] + (k[i] - 1) * d[i] + 1 - (x.shape[2 + i] + pads[i]))
        for i in range(nsp)
    ]
    width = [(0, 0), (0, 0)] + [(pads[i], extra[i]) for i in range(nsp)]
    fill = -(2**40) if kind == "max" else 0
    xp = np.pad(x.astype(np.int64), width, constant_values=fill)
    inside = np.pad(np.ones(x.shape[2:], np.int64), width[2:], constant_values=0)
    padded = np.zeros(inside.shape, np.int64)
    padded[tuple(slice(0, x.shape[2 + i] + pads[i] + pads[i + nsp]) for i in range(nsp))] = 1
    counter = padded if a.get("count_include_pad") else inside
    acc = np.full(x.shape[:2] + tuple(out_spatial), fill, np.int64)
    count = np.zeros(out_spatial, np.int64)
    for tap in np.ndindex(*k):
        win = tuple(slice(tap[i] * d[i], tap[i] * d[i] + s[i] * (out_spatial[i] - 1) + 1, s[i])
                    for i in range(nsp))
        patch = xp[(slice(None), slice(None)) + win]
        acc = np.maximum(acc, patch) if kind == "max" else acc + patch
        count = count + counter[win]
    return acc, count


class _QPool(_QOp):
    attrs = {**POOL_ATTRS, **ACT_ATTRS, "u8_codes": Attr("int", 0, 0, 1)}
    kind = ""
    kernel = ""

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        a = node.attrs
        n = x.rank - 2
        if n not in (1, 2):
            raise ModelError(f"{node.op} node '{node.name}': rank {x.rank}")
        spatial = tuple(
            output_size(x.shape[2 + i], a["kernel_shape"][i], a["strides"][i], a["dilations"][i],
                        a["pads"][i], a["pads"][i + n], bool(a["ceil_mode"]))
            for i in range(n)
        )
        return _i8(node, x.shape[:2] + spatial)

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x, xv = inputs[0], node.inputs[0]
        assert x is not None and xv is not None
        sx, zx = scale_zp(xv, node)
        if self.float_window(node):
            sy, zy = self.out(node)
            off = semantics.code_offset(node)
            value = semantics.avgpool_value(x.astype(np.int64) - zx, sx, sy, zy + off,
                                            node.attrs, node.outputs[0].shape[2:]) - off
            return [np.clip(value, *_act(node)).astype(np.int8)]
        if self.tflite_window(node):
            acc, count = pool_int_reference(x.astype(np.int64), node.attrs,
                                            node.outputs[0].shape[2:], self.kind)
            value = round_half_away(acc, np.maximum(count, 1))
            return [np.clip(value, *_act(node)).astype(np.int8)]
        acc, count = pool_int_reference(x.astype(np.int64) - zx, node.attrs,
                                        node.outputs[0].shape[2:], self.kind)
        divisor = self.divisor(node)
        if self.kind == "avg" and not divisor:
            acc = round_half_away(acc, np.maximum(count, 1))
        _, zy = self.out(node)
        q, s = rescale_multiplier(node, xv, max(divisor, 1))
        return [_requantize(node, acc, q, s, zy)]

    def float_window(self, node: Node) -> bool:
        """An average pool in onnxruntime semantics: dequantized taps summed in float32
        (`semantics.avgpool_value`, `tinyc_avgpool2d_onnxruntime`). onnxruntime's
        QLinearAveragePool has no dilations; a dilated pool keeps the acc * float32 scale
        requantization."""
        dilations = node.attrs["dilations"]
        assert isinstance(dilations, list)
        return (self.kind == "avg" and semantics.is_onnxruntime(node)
                and all(d == 1 for d in dilations))

    def tflite_window(self, node: Node) -> bool:
        """An average pool in TFLite semantics: the raw codes' window sum divided by the
        count rounding half away from zero, nothing requantized (TFLite requires equal
        input and output parameters and ignores the output's)."""
        return self.kind == "avg" and semantics.is_tflite(node)

    def divisor(self, node: Node) -> int:
        """The kernel's `divisor`: for an average pool whose windows all count the same
        number of taps, that number (the division joins the requantization: one rounding,
        as onnxruntime's QLinearAveragePool); 0 otherwise."""
        x = input_type(node, 0)
        if self.kind != "avg":
            return 0
        _, count = pool_int_reference(np.zeros((1, 1) + x.shape[2:], np.int64), node.attrs,
                                      node.outputs[0].shape[2:], self.kind)
        first = int(count.reshape(-1)[0])
        return first if first > 0 and bool(np.all(count == first)) else 0

    def workspace(self, node: Node, kernel_dirs: tuple[str, ...] | None = None) -> int:
        """The M4 kernels' pooled row (`qwork.qpool_work_bytes`; the int16 pools need none)."""
        if not uses_m4_kernels(kernel_dirs) or is_int16(node):
            return 0
        return qpool_work_bytes(self.kind, self.fields(node))

    def fields(self, node: Node) -> list[int]:
        """`tinyc_qpool2d_params`, in order."""
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        a = node.attrs
        pad1 = [1] * (4 - x.type.rank)
        hw, ohw = pad1 + list(x.shape[2:]), pad1 + list(y.shape[2:])
        k, s, d = pad1 + a["kernel_shape"], pad1 + a["strides"], pad1 + a["dilations"]
        p = a["pads"]
        pt, pl, pb, pr = (0, p[0], 0, p[1]) if x.type.rank == 3 else tuple(p)
        fields = [x.shape[0] * x.shape[1], hw[0], hw[1], ohw[0], ohw[1], k[0], k[1], s[0], s[1],
                  d[0], d[1], pt, pl, pb, pr, int(a["count_include_pad"])]
        divisor = self.divisor(node)
        if self.tflite_window(node):  # no offsets, per-window division, multiplier 1
            fields += [0, 0, 1 << 30, 1, *_act(node), 0]
        else:
            fields += requant_fields(node, x, max(divisor, 1)) + [divisor]
        if self.float_window(node):
            scales = np.array([scale_zp(x, node)[0], self.out(node)[0]], np.float32)
            fields += [int(b) for b in scales.view(np.int32)]
            fields.append(semantics.code_offset(node))
        else:
            fields += [0, 0, 0]
        return fields

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        init = "{" + ", ".join(map(str, self.fields(node))) + "}"
        params = ctx.params("tinyc_qpool2d_params", init, f"qpool_{y.name}")
        if is_int16(node):
            ctx.call("qelementwise16", f"tinyc_{self.kernel}_s16", ctx.ptr(x), ctx.ptr(y),
                     params)
            return
        ctx.call("qpool", f"tinyc_{self.kernel}_s8", ctx.ptr(x), ctx.ptr(y),
                 ctx.workspace(node, DType.I32), params)


@register_op
class QMaxPool(_QPool):
    """int8 MaxPool (padding ignored), then requantized (exact when the parameters agree)."""

    name, kind, kernel = "QMaxPool", "max", "maxpool2d"


@register_op
class QAveragePool(_QPool):
    """int8 AveragePool: window sum of (x - zp_x) requantized with s_x / (s_y * count), one
    rounding, when every window counts the same taps; otherwise divided by each window's
    count rounding half away from zero, then requantized."""

    name, kind, kernel = "QAveragePool", "avg", "avgpool2d"


@register_op
class QGlobalAveragePool(_QOp):
    """int8 GlobalAveragePool: zp_y + mbqm(sum (x - zp_x), s_x / (s_y * count)), one
    rounding."""

    name = "QGlobalAveragePool"
    attrs = dict(ACT_ATTRS)

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        return _i8(node, x.shape[:2] + (1,) * (x.rank - 2))

    def _count(self, node: Node) -> int:
        x = input_type(node, 0)
        return int(np.prod(x.shape[2:]))

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x, xv = inputs[0], node.inputs[0]
        assert x is not None and xv is not None
        _, zx = scale_zp(xv, node)
        _, zy = self.out(node)
        axes = tuple(range(2, x.ndim))
        acc = (x.astype(np.int64) - zx).sum(axis=axes, keepdims=True)
        q, s = rescale_multiplier(node, xv, self._count(node))
        return [_requantize(node, acc, q, s, zy)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        count = self._count(node)
        fields = [x.shape[0] * x.shape[1], 1, count, 1, 1, 1, count, 1, 1, 1, 1, 0, 0, 0, 0, 0]
        fields += requant_fields(node, x, count) + [count, 0, 0, 0]
        params = ctx.params("tinyc_qpool2d_params", "{" + ", ".join(map(str, fields)) + "}",
                            f"qgap_{y.name}")
        family = "qelementwise16" if is_int16(node) else "qpool"
        ctx.call(family, f"tinyc_global_avgpool_{kernel_suffix(node)}", ctx.ptr(x), ctx.ptr(y),
                 params)


# -- softmax ----------------------------------------------------------------------------------


def softmax_exp_table(scale: float, length: int) -> np.ndarray:
    """T[d] = round(2^B exp(-d s_x)) for d = max - x in [0, 255], trimmed after the last
    non-zero entry; B keeps `length` summed entries below 2^30."""
    bits = min(23, 30 - int(np.ceil(np.log2(max(length, 1)))))
    d = np.arange(256, dtype=np.float64)
    t = np.rint(np.exp(-d * float(scale)) * float(2**bits)).astype(np.int64)
    nonzero = np.nonzero(t)[0]
    last = int(nonzero[-1]) + 1 if nonzero.size else 1
    return t[:last].astype(np.int32)


def softmax_multiplier(node: Node) -> tuple[int, int]:
    """(q, shift) taking a 2^-23 fixed-point probability to the output scale."""
    sy, _ = scale_zp(node.outputs[0], node)
    return quantize_multiplier(2.0**-SOFTMAX_PROB_BITS / sy)


@register_op
class QSoftmax(_QOp):
    """int8 Softmax over `axis` (tensor viewed as [outer, length, inner]), all integer:
    e = T[max - x] from the compile-time exp table T (input 1), p = round(e 2^23 / sum e),
    y = zp_y + mbqm(p, 2^-23 / s_y)."""

    name = "QSoftmax"
    attrs = {"axis": Attr("int", -1), "flatten": Attr("int", 0),
             semantics.ATTR: Attr("string", semantics.FIXEDPOINT)}

    def infer(self, node: Node) -> list[TensorType]:
        return _i8(node, input_type(node, 0).shape)

    def geometry(self, node: Node) -> tuple[int, int, int]:
        shape = input_type(node, 0).shape
        axis = node.attrs["axis"]
        if node.attrs.get("flatten"):
            outer = int(np.prod(shape[:axis]))
            return outer, int(np.prod(shape[axis:])), 1
        return split_axis(shape, axis)

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x, t = inputs
        assert x is not None and t is not None
        outer, length, inner = self.geometry(node)
        v = x.astype(np.int64).reshape(outer, length, inner)
        d = v.max(axis=1, keepdims=True) - v
        if semantics.is_onnxruntime(node):
            sy, zy = self.out(node)
            value = semantics.softmax_value(d, t, sy) + zy
            return [np.clip(value, -128, 127).astype(np.int8).reshape(x.shape)]
        if semantics.is_tflite(node):
            self.check_tflite_output(node)
            return [tflite_fixedpoint.softmax_rows(d, t).astype(np.int8).reshape(x.shape)]
        table = t.astype(np.int64)
        e = np.where(d < table.size, table[np.minimum(d, table.size - 1)], 0)
        total = e.sum(axis=1, keepdims=True)
        p = (e * (1 << SOFTMAX_PROB_BITS) + total // 2) // total
        q, s = softmax_multiplier(node)
        _, zy = self.out(node)
        return [requantize(p, q, s, zy).reshape(x.shape)]

    def check_tflite_output(self, node: Node) -> None:
        """TFLite's int8 softmax writes probabilities at scale 1/256, zero point -128 (TFLite
        Micro refuses other output parameters)."""
        if self.out(node) != (1.0 / 256, -128):
            raise ModelError(f"QSoftmax node '{node.name}': TFLite's int8 softmax needs "
                             f"output scale 1/256 and zero point -128, not {self.out(node)}")

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, t = node.inputs
        y = node.outputs[0]
        assert x is not None and t is not None
        outer, length, inner = self.geometry(node)
        q, s = softmax_multiplier(node)
        sy, zy = self.out(node)
        if semantics.is_onnxruntime(node):  # float32 table and factor (tinyc_qsoftmax.h)
            q, s = int(np.float32(semantics.softmax_factor(sy)).view(np.int32)), FLOAT_SHIFT
        if semantics.is_tflite(node):  # gemmlowp exp table, TFLite's sum and reciprocal
            self.check_tflite_output(node)
            q, s = 0, TFLITE_SHIFT_BIAS
        fields = [outer, length, inner, t.type.numel, ctx.ptr(t), q, s, zy]
        params = ctx.params("tinyc_qsoftmax_params", "{" + ", ".join(map(str, fields)) + "}",
                            f"qsoftmax_{y.name}")
        ctx.call("qsoftmax", "tinyc_softmax_s8", ctx.ptr(x), ctx.ptr(y), params)


# -- dynamic quantization (int8 weights, activations quantized per inference) ---------------


def _dyn_act(node: Node) -> tuple[str, list[float]]:
    return node.attrs.get("activation", ""), list(node.attrs.get("activation_params", []))


def dyn_epilogue(
    acc: np.ndarray, x_scale: np.ndarray, w_scales: np.ndarray, bias: np.ndarray | None,
    channel_shape: tuple[int, ...], act: tuple[str, list[float]],
) -> np.ndarray:
    """y = act(float(acc) * (x_scale * w_scale[c]) + b[c]), float32 step by step like C."""
    s = (np.float32(x_scale.reshape(())) * w_scales.astype(np.float32)).astype(np.float32)
    y = acc.astype(np.float32) * s.reshape(channel_shape)
    if bias is not None:
        y = (y + bias.astype(np.float32).reshape(channel_shape)).astype(np.float32)
    return apply_activation(y.astype(np.float32), act[0], act[1])


class _QDyn(OpDef):
    """Hybrid ops of dynamic quantization: X uint8 with a run-time scale and zero point (the
    outputs of DynamicQuantizeLinear), int8 symmetric per-channel weights, an integer
    accumulation, and a float32 epilogue act(acc * s_x * s_w[c] + b[c]). Only the clamp
    activations (Relu, Clip) are fused, so the float epilogue stays exact."""

    def w_scales(self, node: Node) -> np.ndarray:
        w = node.inputs[3]
        assert w is not None
        _weight_check(node, w)
        return channel_scales(quant_of(w, node), w.shape[0]).astype(np.float32)

    def emit_tables(self, node: Node, ctx: EmitContext) -> tuple[str, str]:
        w = node.inputs[3]
        y = node.outputs[0]
        assert w is not None
        ws = ctx.table(DType.F32, self.w_scales(node), f"wscale_{y.name}")
        act, uses_math = act_c_init(*_dyn_act(node))
        ctx.uses_math |= uses_math
        return ws, act


@register_op
class QDynConv(_QDyn):
    """Dynamic-quantization convolution: inputs (X u8, x_scale, x_zero_point, W i8, B f32?)."""

    name = "QDynConv"
    attrs = {**CONV_ATTRS, "activation": Attr("string", ""),
             "activation_params": Attr("floats", [])}

    def infer(self, node: Node) -> list[TensorType]:
        x, w = input_type(node, 0), input_type(node, 3)
        a = node.attrs
        n = x.rank - 2
        spatial = tuple(
            output_size(x.shape[2 + i], w.shape[2 + i], a["strides"][i], a["dilations"][i],
                        a["pads"][i], a["pads"][i + n], False)
            for i in range(n)
        )
        return [TensorType(DType.F32, (x.shape[0], w.shape[0]) + spatial)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x, xs, xz, w = inputs[:4]
        b = inputs[4] if len(inputs) > 4 else None
        assert x is not None and xs is not None and xz is not None and w is not None
        a = node.attrs
        acc = conv_reference(x.astype(np.int64) - np.int64(xz.reshape(())), w.astype(np.int64),
                             None, a["strides"], a["dilations"], a["pads"], a["group"],
                             node.outputs[0].shape[2:], acc_dtype=np.int64)
        _check_acc(acc, node)
        shape = (1, -1) + (1,) * (acc.ndim - 2)
        return [dyn_epilogue(acc, xs, self.w_scales(node), b, shape, _dyn_act(node))]

    def macs(self, node: Node) -> int:
        return node.outputs[0].type.numel * int(np.prod(input_type(node, 3).shape[1:]))

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, xs, xz, w = node.inputs[:4]
        b, y = node.input(4), node.outputs[0]
        assert x is not None and xs is not None and xz is not None and w is not None
        ws, act = self.emit_tables(node, ctx)
        fields = conv_geometry(x.shape, w.shape, y.shape, node.attrs)
        init = "{" + ", ".join(map(str, fields)) + f", {ws}, {act}}}"
        params = ctx.params("tinyc_dconv_params", init, f"dconv_{y.name}")
        ctx.call("qdynamic", "tinyc_conv2d_u8s8_f32", ctx.ptr(x), ctx.ptr(xs), ctx.ptr(xz),
                 ctx.ptr(w), ctx.ptr(b) if b is not None else "NULL", ctx.ptr(y), params)


@register_op
class QDynGemm(_QDyn):
    """Dynamic-quantization fully connected: Y[..., n] from X[..., k] u8 and W[n, k] i8."""

    name = "QDynGemm"
    attrs = {"activation": Attr("string", ""), "activation_params": Attr("floats", [])}

    def infer(self, node: Node) -> list[TensorType]:
        x, w = input_type(node, 0), input_type(node, 3)
        if w.rank != 2 or x.shape[-1] != w.shape[1]:
            raise ModelError(f"QDynGemm node '{node.name}': X {list(x.shape)}, W {list(w.shape)}")
        return [TensorType(DType.F32, x.shape[:-1] + (w.shape[0],))]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x, xs, xz, w = inputs[:4]
        b = inputs[4] if len(inputs) > 4 else None
        assert x is not None and xs is not None and xz is not None and w is not None
        k = w.shape[1]
        acc = (x.reshape(-1, k).astype(np.int64) - np.int64(xz.reshape(()))) @ w.astype(np.int64).T
        _check_acc(acc, node)
        y = dyn_epilogue(acc, xs, self.w_scales(node), b, (1, -1), _dyn_act(node))
        return [y.reshape(node.outputs[0].shape)]

    def macs(self, node: Node) -> int:
        return node.outputs[0].type.numel * input_type(node, 3).shape[1]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, xs, xz, w = node.inputs[:4]
        b, y = node.input(4), node.outputs[0]
        assert x is not None and xs is not None and xz is not None and w is not None
        ws, act = self.emit_tables(node, ctx)
        n, k = w.shape
        init = f"{{{x.type.numel // max(k, 1)}, {k}, {n}, {ws}, {act}}}"
        params = ctx.params("tinyc_dfc_params", init, f"dfc_{y.name}")
        ctx.call("qdynamic", "tinyc_fully_connected_u8s8_f32", ctx.ptr(x), ctx.ptr(xs),
                 ctx.ptr(xz), ctx.ptr(w), ctx.ptr(b) if b is not None else "NULL", ctx.ptr(y),
                 params)
