"""TFLite builtin operators as ONNX ops (float, between DequantizeLinear/QuantizeLinear for
quantized tensors; see `builder`). One converter per builtin; the table at the end is the
list of what the frontend supports."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import numpy as np
import tflite
from onnx import TensorProto, helper
from tflite.ActivationFunctionType import ActivationFunctionType as Act
from tflite.Padding import Padding

from tinyc.errors import ModelError, UnsupportedError
from tinyc.frontend.tflite.builder import NCHW, NHWC, TO_NCHW, OnnxBuilder, is_quantized
from tinyc.frontend.tflite.constants import dequantized
from tinyc.frontend.tflite.reader import Operator, Tensor


def options(op: Operator, cls: type) -> Any:
    """The op's builtin options table read as `cls` (a `tflite` package options class).
    Its fields are read lazily from the flatbuffer, so each read of a corrupt table is a
    one-line ModelError (through `_Options`), not a flatbuffers exception."""
    if op.options is None:
        raise ModelError(f"operator {op.index} ({op.name}): no builtin options")
    opts = cls()
    opts.Init(op.options.Bytes, op.options.Pos)  # type: ignore[attr-defined]
    return _Options(opts, op)


class _Options:
    def __init__(self, table: object, op: Operator) -> None:
        self._table, self._op = table, op

    def __getattr__(self, field: str) -> Callable[[], Any]:
        read = getattr(self._table, field)

        def value() -> Any:
            try:
                return read()
            except (struct.error, TypeError):  # flatbuffers' out-of-bounds and bad offsets
                raise ModelError(f"operator {self._op.index} ({self._op.name}): corrupt "
                                 f"options ({field})") from None
        return value


def activation(b: OnnxBuilder, op: Operator, real: str, fused: int) -> str:
    """Apply a fused activation to float `real` (Relu/Clip, which `qdq-lower` turns into
    the integer op's clamp)."""
    if fused == Act.NONE:
        return real
    if fused == Act.RELU:
        return b.node("Relu", [real])
    bounds = {Act.RELU6: (0.0, 6.0), Act.RELU_N1_TO_1: (-1.0, 1.0)}.get(fused)
    if bounds is None:
        raise UnsupportedError(f"operator {op.index} ({op.name}): fused activation {fused} "
                               "is not supported")
    lo = b.const(np.array(bounds[0], np.float32), "min")
    hi = b.const(np.array(bounds[1], np.float32), "max")
    return b.node("Clip", [real, lo, hi])


def same_pads(in_hw: tuple[int, int], k_hw: tuple[int, int], stride: tuple[int, int],
              dilation: tuple[int, int], padding: int) -> list[int]:
    """ONNX pads [top, left, bottom, right] for TFLite's SAME/VALID (SAME puts the odd pixel
    at the end, as TensorFlow does)."""
    if padding == Padding.VALID:
        return [0, 0, 0, 0]
    before, after = [], []
    for n, k, s, d in zip(in_hw, k_hw, stride, dilation):
        out = -(-n // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
        before.append(total // 2)
        after.append(total - total // 2)
    return before + after


def _positive(op: Operator, what: str, values: tuple[int, ...]) -> tuple[int, ...]:
    if any(v < 1 for v in values):
        raise ModelError(f"operator {op.index} ({op.name}): {what} {list(values)} not >= 1")
    return values


def _tensor(b: OnnxBuilder, op: Operator, i: int) -> Tensor:
    return b.sub.tensors[op.inputs[i]]


def _bias(b: OnnxBuilder, op: Operator, n_in: int) -> list[str]:
    if len(op.inputs) <= n_in or op.inputs[n_in] < 0:
        return []
    bias = _tensor(b, op, n_in)
    if bias.data is None:
        raise UnsupportedError(f"operator {op.index} ({op.name}): bias is not a constant")
    return [b.real_const(bias.data.reshape(-1), bias.quant, 0, "bias")]


def _weights(b: OnnxBuilder, op: Operator, perm: tuple[int, ...]) -> tuple[str, Tensor]:
    w = _tensor(b, op, 1)
    if w.data is None:
        raise UnsupportedError(f"operator {op.index} ({op.name}): weights are not a constant")
    axis = perm.index(w.quant.axis) if w.quant is not None and w.quant.per_channel else 0
    return b.real_const(w.data.transpose(perm), w.quant, axis, "weights"), w


def conv_2d(b: OnnxBuilder, op: Operator) -> None:
    o = options(op, tflite.Conv2DOptions)
    _conv(b, op, o, (0, 3, 1, 2), group=None)


def depthwise_conv_2d(b: OnnxBuilder, op: Operator) -> None:
    o = options(op, tflite.DepthwiseConv2DOptions)
    _conv(b, op, o, (3, 0, 1, 2), group=_tensor(b, op, 0).shape[3])


def _conv(b: OnnxBuilder, op: Operator, o: Any, perm: tuple[int, ...],
          group: int | None) -> None:
    x, w = _tensor(b, op, 0), _tensor(b, op, 1)
    k_hw = (w.shape[1], w.shape[2])
    stride = _positive(op, "strides", (o.StrideH(), o.StrideW()))
    dilation = _positive(op, "dilations", (o.DilationHFactor(), o.DilationWFactor()))
    pads = same_pads((x.shape[1], x.shape[2]), k_hw, stride, dilation, o.Padding())
    attrs: dict[str, object] = {"kernel_shape": list(k_hw), "strides": list(stride),
                                "dilations": list(dilation), "pads": pads}
    if group is not None:
        attrs["group"] = group
    if is_hybrid(x, w):
        y = _hybrid(b, op, b.real_value(op.inputs[0], NCHW), perm, "ConvInteger", attrs)
    else:
        w_real, _ = _weights(b, op, perm)
        y = b.node("Conv", [b.real_value(op.inputs[0], NCHW), w_real, *_bias(b, op, 2)],
                   **attrs)
    y = activation(b, op, y, o.FusedActivationFunction())
    b.write(op.outputs[0], y, NCHW)


def is_hybrid(x: Tensor, w: Tensor) -> bool:
    """A dynamic-range ("hybrid") op: float32 activations, int8 weights."""
    return x.dtype == np.float32 and w.dtype == np.int8 and w.quant is not None


def _hybrid(b: OnnxBuilder, op: Operator, x: str, perm: tuple[int, ...], onnx_op: str,
            attrs: dict[str, object]) -> str:
    """A hybrid conv / fully connected (int8 weights permuted by `perm` to ConvInteger's
    OIHW or MatMulInteger's [in, out]) as onnxruntime's dynamic-quantization pattern:
    DynamicQuantizeLinear, ConvInteger / MatMulInteger, a float rescale, the bias. `qdq-lower`
    turns it into tinyc's QDynConv / QDynGemm (int8 weights, an integer accumulation, a
    float epilogue), whose input quantization (uint8, per tensor, with a zero point) is
    TFLite's asymmetric one (per-channel conv, FC with asymmetric_quantize_inputs): the
    results agree to float rounding. TFLite's symmetric one (an FC without that option) and
    its per-row one (an FC over several rows) round the input differently."""
    w = _const_input(b, op, 1, "weights")
    quant = _tensor(b, op, 1).quant
    assert quant is not None
    out_axis = perm[0] if onnx_op == "ConvInteger" else perm[1]
    if np.any(quant.zero_point != 0) or quant.per_channel and quant.axis != out_axis:
        raise UnsupportedError(f"operator {op.index} ({op.name}): hybrid weights with a zero "
                               "point or not quantized per output channel")
    xq, xs, xz = (b.fresh(f"{b.label}_{name}") for name in ("xq", "xs", "xz"))
    b.nodes.append(helper.make_node("DynamicQuantizeLinear", [x], [xq, xs, xz],
                                    name=b.fresh(f"{b.label}_DynamicQuantizeLinear")))
    acc = b.node(onnx_op, [xq, b.const(w.transpose(perm), "weights"), xz], **attrs)
    scale = b.node("Mul", [xs, b.const(quant.scale.astype(np.float32), "weight_scale")])
    channels = (1, -1, 1, 1) if onnx_op == "ConvInteger" else (1, -1)
    if quant.per_channel:
        scale = b.node("Reshape", [scale, b.const(np.array(channels, np.int64), "shape")])
    y = b.node("Mul", [b.node("Cast", [acc], to=TensorProto.FLOAT), scale])
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        _const_input(b, op, 2, "bias")
        bias = dequantized(_tensor(b, op, 2)).reshape((-1,) + (1,) * (len(channels) - 2))
        y = b.node("Add", [y, b.const(bias, "bias")])
    return y


def _pool(onnx_op: str) -> Callable[[OnnxBuilder, Operator], None]:
    def convert(b: OnnxBuilder, op: Operator) -> None:
        o = options(op, tflite.Pool2DOptions)
        x = _tensor(b, op, 0)
        k_hw = _positive(op, "filter", (o.FilterHeight(), o.FilterWidth()))
        stride = _positive(op, "strides", (o.StrideH(), o.StrideW()))
        pads = same_pads((x.shape[1], x.shape[2]), k_hw, stride, (1, 1), o.Padding())
        y = b.node(onnx_op, [b.real_value(op.inputs[0], NCHW)], kernel_shape=list(k_hw),
                   strides=list(stride), pads=pads)
        b.write(op.outputs[0], activation(b, op, y, o.FusedActivationFunction()), NCHW)
    return convert


def fully_connected(b: OnnxBuilder, op: Operator) -> None:
    o = options(op, tflite.FullyConnectedOptions)
    x, w = _tensor(b, op, 0), _tensor(b, op, 1)
    if w.data is None:
        raise UnsupportedError(f"operator {op.index} ({op.name}): weights are not a constant")
    if o.WeightsFormat() != 0:
        raise UnsupportedError(f"operator {op.index} ({op.name}): shuffled weights")
    n_in = w.shape[1]
    if n_in == 0 or int(np.prod(x.shape)) % n_in:
        raise ModelError(f"operator {op.index} ({op.name}): input {list(x.shape)} does not "
                         f"flatten to rows of {n_in}")
    src = b.value(op.inputs[0], NHWC)
    if x.shape != (int(np.prod(x.shape)) // n_in, n_in):
        src = b.node("Reshape", [src, b.const(np.array([-1, n_in], np.int64), "shape")])
    real = b.dequantize(op.inputs[0], src)
    if is_hybrid(x, w):
        y = _hybrid(b, op, real, (1, 0), "MatMulInteger", {})
    else:
        w_real = b.real_const(w.data, w.quant, 0, "weights")
        y = b.node("Gemm", [real, w_real, *_bias(b, op, 2)], transB=1)
    y = activation(b, op, y, o.FusedActivationFunction())
    out = b.sub.tensors[op.outputs[0]]
    _write_shaped(b, op.outputs[0], y, out, (int(np.prod(x.shape)) // n_in, w.shape[0]))


def _write_shaped(b: OnnxBuilder, t: int, real: str, out: Tensor,
                  shape: tuple[int, ...]) -> None:
    """Write float `real` of `shape` as tensor `t`, reshaped to `t`'s own shape after the
    QuantizeLinear (so `qdq-lower` still sees the op's result go straight to a Q)."""
    if tuple(out.shape) == shape:
        b.write(t, real, NHWC)
        return
    shape_c = b.const(np.array(out.shape, np.int64), "shape")
    b.alias(t, b.node("Reshape", [b.quantize_as(t, real), shape_c], b.tensor_name(t, NHWC)))


def _same_quant(a: Tensor, b: Tensor) -> bool:
    if a.quant is None or b.quant is None:
        return a.quant is None and b.quant is None and a.dtype == b.dtype
    return (a.dtype == b.dtype and np.array_equal(a.quant.scale, b.quant.scale)
            and np.array_equal(a.quant.zero_point, b.quant.zero_point))


def _movement(b: OnnxBuilder, op: Operator, onnx_op: str, extra: list[str],
              **attrs: object) -> None:
    """A data-movement op in NHWC, then a Reshape to the output's static shape. It moves
    the stored integers when input and output share their parameters (TFLite's rule for
    these ops), else it moves real numbers and requantizes."""
    x, out = _tensor(b, op, 0), b.sub.tensors[op.outputs[0]]
    same = _same_quant(x, out)
    src = b.value(op.inputs[0], NHWC) if same else b.real_value(op.inputs[0], NHWC)
    y = b.node(onnx_op, [src, *extra], **attrs) if onnx_op else src
    shape = b.const(np.array(out.shape, np.int64), "shape")
    if same:
        b.alias(op.outputs[0], b.node("Reshape", [y, shape], b.tensor_name(op.outputs[0], NHWC)))
    else:
        b.write(op.outputs[0], b.node("Reshape", [y, shape]), NHWC)


def reshape(b: OnnxBuilder, op: Operator) -> None:
    """RESHAPE, SQUEEZE, EXPAND_DIMS: the output tensor's static shape says it all."""
    _movement(b, op, "", [])


def transpose(b: OnnxBuilder, op: Operator) -> None:
    perm = _const_input(b, op, 1, "perm")
    _movement(b, op, "Transpose", [], perm=[int(a) for a in perm.reshape(-1)])


def strided_slice(b: OnnxBuilder, op: Operator) -> None:
    o = options(op, tflite.StridedSliceOptions)
    if o.EllipsisMask() or o.NewAxisMask():
        raise UnsupportedError(f"operator {op.index} ({op.name}): ellipsis or new-axis mask")
    begin, end, steps = (_const_input(b, op, i, what).astype(np.int64).reshape(-1)
                         for i, what in ((1, "begin"), (2, "end"), (3, "strides")))
    big = np.iinfo(np.int64).max
    starts, ends = begin.copy(), end + begin if o.Offset() else end.copy()
    for i, step in enumerate(steps):
        if o.BeginMask() >> i & 1:
            starts[i] = 0 if step > 0 else big
        if o.EndMask() >> i & 1:
            ends[i] = big if step > 0 else -big
        if o.ShrinkAxisMask() >> i & 1:
            ends[i], steps[i] = begin[i] + 1 if begin[i] != -1 else big, 1
    consts = [b.const(a, name) for a, name in ((starts, "starts"), (ends, "ends"),
                                                (np.arange(len(steps), dtype=np.int64), "axes"),
                                                (steps, "steps"))]
    _movement(b, op, "Slice", consts)


def _const_input(b: OnnxBuilder, op: Operator, i: int, what: str) -> np.ndarray:
    t = _tensor(b, op, i)
    if t.data is None:
        raise UnsupportedError(f"operator {op.index} ({op.name}): {what} is not a constant")
    return t.data


def _elementwise_layout(b: OnnxBuilder, op: Operator, ins: list[int]) -> str:
    """NCHW when every input is 4-D (or a constant broadcast on trailing axes) and one
    already exists in NCHW; NHWC otherwise."""
    tensors = [b.sub.tensors[i] for i in ins]
    ok = all(len(t.shape) == 4 or (t.data is not None and len(t.shape) <= 4) for t in tensors)
    if ok and len(b.sub.tensors[op.outputs[0]].shape) == 4 and any(
            b.has(i, NCHW) for i in ins):
        return NCHW
    return NHWC


def _binary(onnx_op: str, cls: type | None) -> Callable[[OnnxBuilder, Operator], None]:
    def convert(b: OnnxBuilder, op: Operator) -> None:
        layout = _elementwise_layout(b, op, op.inputs[:2])
        y = b.node(onnx_op, [b.real_value(i, layout) for i in op.inputs[:2]])
        if cls is not None and op.options is not None:
            y = activation(b, op, y, options(op, cls).FusedActivationFunction())
        b.write(op.outputs[0], y, layout)
    return convert


def _unary(onnx_op: str, **attrs: object) -> Callable[[OnnxBuilder, Operator], None]:
    def convert(b: OnnxBuilder, op: Operator) -> None:
        layout = _elementwise_layout(b, op, op.inputs[:1])
        b.write(op.outputs[0], b.node(onnx_op, [b.real_value(op.inputs[0], layout)], **attrs),
                layout)
    return convert


def relu6(b: OnnxBuilder, op: Operator) -> None:
    layout = _elementwise_layout(b, op, op.inputs[:1])
    b.write(op.outputs[0], activation(b, op, b.real_value(op.inputs[0], layout), Act.RELU6),
            layout)


def leaky_relu(b: OnnxBuilder, op: Operator) -> None:
    alpha = options(op, tflite.LeakyReluOptions).Alpha()
    _unary("LeakyRelu", alpha=float(alpha))(b, op)


def softmax(b: OnnxBuilder, op: Operator) -> None:
    beta = options(op, tflite.SoftmaxOptions).Beta()
    x = b.real_value(op.inputs[0], NHWC)
    if beta != 1.0:
        x = b.node("Mul", [x, b.const(np.array(beta, np.float32), "beta")])
    b.write(op.outputs[0], b.node("Softmax", [x], axis=-1), NHWC)


def quantize(b: OnnxBuilder, op: Operator) -> None:
    """QUANTIZE (float -> int, or a requantization int -> int) and DEQUANTIZE."""
    layout = _elementwise_layout(b, op, op.inputs[:1])
    b.write(op.outputs[0], b.real_value(op.inputs[0], layout), layout)


def mean(b: OnnxBuilder, op: Operator) -> None:
    """MEAN; over H and W of a 4-D tensor it is a GlobalAveragePool in NCHW (an integer
    kernel in int8 models), reshaped when the reduced axes are dropped."""
    x = _tensor(b, op, 0)
    axes = sorted({int(a) % max(len(x.shape), 1)
                   for a in _const_input(b, op, 1, "axes").reshape(-1)})
    keep = options(op, tflite.ReducerOptions).KeepDims()
    out = op.outputs[0]
    if len(x.shape) == 4 and axes == [1, 2]:
        y = b.node("GlobalAveragePool", [b.real_value(op.inputs[0], NCHW)])
        if keep:
            b.write(out, y, NCHW)
        else:
            shape = b.const(np.array(b.sub.tensors[out].shape, np.int64), "shape")
            b.alias(out, b.node("Reshape", [b.quantize_as(out, y), shape],
                                b.tensor_name(out, NHWC)))
        return
    if is_quantized(x):
        _mean_as_pool(b, op, axes)
        return
    y = b.node("ReduceMean", [b.real_value(op.inputs[0], NHWC)], axes=axes,
               keepdims=int(bool(keep)))
    b.write(out, y, NHWC)


def _mean_as_pool(b: OnnxBuilder, op: Operator, axes: list[int]) -> None:
    """MEAN of a quantized tensor over any axes as a GlobalAveragePool, which has an integer
    kernel: the kept axes become its channels, the reduced ones its one spatial axis
    ([1, kept, reduced] after a Transpose of the integers when the reduced axes are not the
    trailing ones), then a Reshape to the output's shape."""
    x, out = _tensor(b, op, 0), op.outputs[0]
    kept = [a for a in range(len(x.shape)) if a not in axes]
    src = b.value(op.inputs[0], NHWC)
    if kept + axes != list(range(len(x.shape))):
        src = b.node("Transpose", [src], perm=kept + axes)
    rows = [int(np.prod([x.shape[a] for a in group], dtype=np.int64)) for group in (kept, axes)]
    src = b.node("Reshape", [src, b.const(np.array([1, *rows], np.int64), "shape")])
    y = b.node("GlobalAveragePool", [b.dequantize(op.inputs[0], src)])
    shape = b.const(np.array(b.sub.tensors[out].shape, np.int64), "shape")
    b.alias(out, b.node("Reshape", [b.quantize_as(out, y), shape], b.tensor_name(out, NHWC)))


def concatenation(b: OnnxBuilder, op: Operator) -> None:
    o = options(op, tflite.ConcatenationOptions)
    rank = len(b.sub.tensors[op.outputs[0]].shape)
    axis = o.Axis() % rank
    layout = _elementwise_layout(b, op, op.inputs)
    if layout == NCHW:
        axis = TO_NCHW.index(axis)
    y = b.node("Concat", [b.real_value(i, layout) for i in op.inputs], axis=axis)
    b.write(op.outputs[0], activation(b, op, y, o.FusedActivationFunction()), layout)


def pad(b: OnnxBuilder, op: Operator) -> None:
    """PAD and PADV2 (constant padding; the pad value is a real number, zero for PAD)."""
    p = _tensor(b, op, 1)
    if p.data is None:
        raise UnsupportedError(f"operator {op.index} ({op.name}): paddings are not a constant")
    pads = p.data.astype(np.int64).reshape(-1, 2)
    inputs = [b.real_value(op.inputs[0], NHWC),
              b.const(np.concatenate([pads[:, 0], pads[:, 1]]), "pads")]
    if len(op.inputs) > 2:
        value = _tensor(b, op, 2)
        # a constant pad value as a float constant, which the importer makes the Pad's
        # `value` (so `qdq-lower` can pad the integers with its int8 level)
        inputs.append(b.real_value(op.inputs[2], NHWC) if value.data is None else
                      b.const(dequantized(value).reshape(()), "value"))
    b.write(op.outputs[0], b.node("Pad", inputs), NHWC)


def _resize(mode: str, cls: type) -> Callable[[OnnxBuilder, Operator], None]:
    """RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR as an ONNX Resize in NCHW. TensorFlow's
    coordinate rules in ONNX's terms: half_pixel_centers is `half_pixel` (nearest: the
    source index floor((x + 0.5) / scale), which is half_pixel rounded half up),
    align_corners is `align_corners` (nearest: roundf, half up for these positive
    coordinates), neither is `asymmetric` (nearest: floor)."""
    def convert(b: OnnxBuilder, op: Operator) -> None:
        o = options(op, cls)
        if o.AlignCorners() and o.HalfPixelCenters():
            raise ModelError(f"operator {op.index} ({op.name}): align_corners and "
                             "half_pixel_centers are exclusive")
        coords = ("align_corners" if o.AlignCorners() else
                  "half_pixel" if o.HalfPixelCenters() else "asymmetric")
        nearest = "floor" if coords == "asymmetric" else "round_prefer_ceil"
        out = b.sub.tensors[op.outputs[0]]
        if len(out.shape) != 4:
            raise UnsupportedError(f"operator {op.index} ({op.name}): input is not 4-D")
        sizes = b.const(np.array([out.shape[i] for i in TO_NCHW], np.int64), "sizes")
        y = b.node("Resize", [b.real_value(op.inputs[0], NCHW), "", "", sizes], mode=mode,
                   coordinate_transformation_mode=coords, nearest_mode=nearest)
        b.write(op.outputs[0], y, NCHW)
    return convert


#: UNIDIRECTIONAL_SEQUENCE_LSTM's inputs: the weights and biases of the gates in ONNX's
#: order (input, output, forget, cell), and the peepholes (input, output, forget)
_LSTM_W, _LSTM_R, _LSTM_B, _LSTM_P = (1, 4, 2, 3), (5, 8, 6, 7), (12, 15, 13, 14), (9, 11, 10)
#: projection weights and bias, layer-norm coefficients: no ONNX LSTM equivalent
_LSTM_UNSUPPORTED = (16, 17, 20, 21, 22, 23)


def unidirectional_sequence_lstm(b: OnnxBuilder, op: Operator) -> None:
    """UNIDIRECTIONAL_SEQUENCE_LSTM as an ONNX LSTM (layout 1 for batch-major input) on
    real numbers. An int8 LSTM's weights and biases become float constants (TFLite quantizes
    each gate with its own scale) and its input and output keep their integer parameters
    behind DequantizeLinear / QuantizeLinear. The state starts at zero on every run: TFLite
    keeps it in variable tensors between invocations unless the caller resets them."""
    o = options(op, tflite.UnidirectionalSequenceLSTMOptions)
    where = f"operator {op.index} ({op.name})"
    present = [k < len(op.inputs) and op.inputs[k] >= 0 for k in range(24)]
    if any(present[k] for k in _LSTM_UNSUPPORTED):
        raise UnsupportedError(f"{where}: projection or layer normalization")
    x = _tensor(b, op, 0)
    steps = x.shape[0] if o.TimeMajor() else x.shape[1]
    # |c_t| <= |c_(t-1)| + 1 (a sigmoid times the previous cell plus a sigmoid times a
    # tanh), so from zero the cell stays within `steps`, and a clip at or above it never acts
    integer = _integer_lstm(b, op, present)
    if o.CellClip() and o.CellClip() < steps and not integer:
        raise UnsupportedError(f"{where}: cell clip {o.CellClip()} below the sequence "
                               f"length {steps} (ONNX's LSTM does not clip its cell)")
    if o.FusedActivationFunction() != Act.TANH:
        raise UnsupportedError(f"{where}: activation {o.FusedActivationFunction()} (only "
                               "tanh is supported)")
    for k in (18, 19):
        state = _tensor(b, op, k) if present[k] else None
        if state is not None and state.data is not None and np.any(state.data):
            raise UnsupportedError(f"{where}: non-zero initial state")

    def stacked(keys: tuple[int, ...], hint: str) -> str:
        parts = [dequantized(_const_lstm(b, op, k)) for k in keys]
        return b.const(np.concatenate(parts)[None], hint)

    hidden = _tensor(b, op, 5).shape[0]
    time_major = bool(o.TimeMajor())
    if integer:
        inputs = _integer_lstm_operands(b, op, hidden)
        y = b.node("LSTM", inputs, hidden_size=hidden, layout=0 if time_major else 1)
        if o.CellClip():  # no ONNX LSTM attribute means it: set on the IR node after import
            b.ir_attrs[b.nodes[-1].name] = {TFLITE_CELL_CLIP: float(o.CellClip())}
        _write_lstm(b, op, y, time_major, hidden)
        return
    inputs = [b.real_value(op.inputs[0], NHWC), stacked(_LSTM_W, "W"), stacked(_LSTM_R, "R")]
    bias = np.concatenate([dequantized(_const_lstm(b, op, k)) for k in _LSTM_B])
    inputs.append(b.const(np.concatenate([bias, np.zeros_like(bias)])[None], "B"))
    if any(present[k] for k in _LSTM_P):
        peep = [dequantized(_const_lstm(b, op, k)) if present[k] else
                np.zeros(hidden, np.float32) for k in _LSTM_P]
        inputs += ["", "", "", b.const(np.concatenate(peep)[None], "P")]
    y = b.node("LSTM", inputs, hidden_size=hidden, layout=0 if time_major else 1)
    _write_lstm(b, op, y, time_major, hidden)


#: the IR LSTM attribute carrying an int8 TFLite LSTM's cell clip (real units), which only
#: `qdq-lower`'s TFLite LSTM rule reads
TFLITE_CELL_CLIP = "tflite_cell_clip"


def _write_lstm(b: OnnxBuilder, op: Operator, y: str, time_major: bool, hidden: int) -> None:
    x = _tensor(b, op, 0)
    shape = (x.shape[0], x.shape[1], 1, hidden)  # Y: [T, 1, B, H] / [B, T, 1, H]
    out = b.sub.tensors[op.outputs[0]]
    if time_major:
        shape = (x.shape[0], 1, x.shape[1], hidden)
    _write_shaped(b, op.outputs[0], y, out, shape)


def _integer_lstm(b: OnnxBuilder, op: Operator, present: list[bool]) -> bool:
    """An int8 LSTM as TFLite Micro runs it: int8 input, output and hidden state, int8
    per-tensor weights, int32 biases, an int16 cell state, no peepholes."""
    def typed(k: int, dtype: type) -> bool:
        t = _tensor(b, op, k)
        return t.dtype == np.dtype(dtype) and t.quant is not None and not t.quant.per_channel

    out = b.sub.tensors[op.outputs[0]]
    return (present[18] and present[19] and not any(present[k] for k in _LSTM_P)
            and typed(0, np.int8) and typed(18, np.int8) and typed(19, np.int16)
            and out.dtype == np.dtype(np.int8)
            and all(typed(k, np.int8) for k in (*_LSTM_W, *_LSTM_R))
            and all(typed(k, np.int32) for k in _LSTM_B))


def _integer_lstm_operands(b: OnnxBuilder, op: Operator, hidden: int) -> list[str]:
    """The ONNX LSTM's operands carrying TFLite's integers (`tinyc.quant.lower_tflite_lstm`
    reads them back): DequantizeLinears of the stacked int8 weights and int32 biases (one
    scale per gate, repeated per row), of the hidden state's zero point (initial_h, real 0)
    and of int32 zeros at the cell state's scale (initial_c)."""
    x = _tensor(b, op, 0)
    time_major = options(op, tflite.UnidirectionalSequenceLSTMOptions).TimeMajor()
    batch = x.shape[1] if time_major else x.shape[0]

    def dq(data: np.ndarray, scales: np.ndarray, zero_points: np.ndarray, hint: str) -> str:
        stored = b.const(data, hint)
        scale = b.const(scales.astype(np.float32), "scale")
        zp = b.const(zero_points.astype(data.dtype), "zero_point")
        return b.node("DequantizeLinear", [stored, scale, zp], axis=1)

    def gates(keys: tuple[int, ...], hint: str) -> str:
        ts = [_const_lstm(b, op, k) for k in keys]
        data = np.concatenate([t.data for t in ts])[None]
        scales = np.repeat([t.quant.scale[0] for t in ts], hidden)
        return dq(data, scales, np.zeros_like(scales, np.int64), hint)

    def state(k: int, dtype: type, code: int, hint: str) -> str:
        quant = _tensor(b, op, k).quant
        assert quant is not None
        stored = b.const(np.full((1, batch, hidden), code, dtype), hint)
        scale = b.const(np.array(quant.scale[0], np.float32), "scale")
        return b.node("DequantizeLinear", [stored, scale, b.const(np.array(code, dtype), "zp")])

    w, r = gates(_LSTM_W, "W"), gates(_LSTM_R, "R")
    bias = [_const_lstm(b, op, k) for k in _LSTM_B]
    data = np.concatenate([t.data for t in bias] + [np.zeros(4 * hidden, np.int32)])[None]
    scales = np.concatenate([np.repeat([t.quant.scale[0] for t in bias], hidden),
                             np.ones(4 * hidden)])
    bq = dq(data.astype(np.int32), scales, np.zeros_like(scales, np.int64), "B")
    zh = int(_tensor(b, op, 18).quant.zero_point[0])
    h0 = state(18, np.int8, zh, "initial_h")
    c0 = state(19, np.int32, 0, "initial_c")
    return [b.real_value(op.inputs[0], NHWC), w, r, bq, "", h0, c0]



def _const_lstm(b: OnnxBuilder, op: Operator, k: int) -> Tensor:
    t = _tensor(b, op, k)
    if t.data is None:
        raise UnsupportedError(f"operator {op.index} ({op.name}): input {k} is not a constant")
    return t


CONVERTERS: dict[str, Callable[[OnnxBuilder, Operator], None]] = {
    "CONV_2D": conv_2d,
    "DEPTHWISE_CONV_2D": depthwise_conv_2d,
    "FULLY_CONNECTED": fully_connected,
    "AVERAGE_POOL_2D": _pool("AveragePool"),
    "MAX_POOL_2D": _pool("MaxPool"),
    "ADD": _binary("Add", tflite.AddOptions),
    "SUB": _binary("Sub", tflite.SubOptions),
    "MUL": _binary("Mul", tflite.MulOptions),
    "RESHAPE": reshape,
    "SQUEEZE": reshape,
    "EXPAND_DIMS": reshape,
    "SOFTMAX": softmax,
    "QUANTIZE": quantize,
    "DEQUANTIZE": quantize,
    "RELU": _unary("Relu"),
    "RELU6": relu6,
    "LOGISTIC": _unary("Sigmoid"),
    "TANH": _unary("Tanh"),
    "HARD_SWISH": _unary("HardSwish"),
    "LEAKY_RELU": leaky_relu,
    "MEAN": mean,
    "CONCATENATION": concatenation,
    "PAD": pad,
    "PADV2": pad,
    "TRANSPOSE": transpose,
    "STRIDED_SLICE": strided_slice,
    "RESIZE_BILINEAR": _resize("linear", tflite.ResizeBilinearOptions),
    "RESIZE_NEAREST_NEIGHBOR": _resize("nearest", tflite.ResizeNearestNeighborOptions),
    "UNIDIRECTIONAL_SEQUENCE_LSTM": unidirectional_sequence_lstm,
}

#: builtin -> how many leading inputs it requires (1 when not listed)
REQUIRED_INPUTS = {"CONV_2D": 2, "DEPTHWISE_CONV_2D": 2, "FULLY_CONNECTED": 2, "ADD": 2,
                   "SUB": 2, "MUL": 2, "MEAN": 2, "PAD": 2, "PADV2": 2, "TRANSPOSE": 2,
                   "STRIDED_SLICE": 4, "RESIZE_BILINEAR": 2, "RESIZE_NEAREST_NEIGHBOR": 2}
#: builtin -> the inputs that must be 4-D (NHWC)
RANK4_INPUTS = {"CONV_2D": (0, 1), "DEPTHWISE_CONV_2D": (0, 1), "AVERAGE_POOL_2D": (0,),
                "MAX_POOL_2D": (0,), "RESIZE_BILINEAR": (0,), "RESIZE_NEAREST_NEIGHBOR": (0,)}


def check_operator(b: OnnxBuilder, op: Operator) -> None:
    """The operand structure a converter relies on, as a ModelError (exit 3) rather than
    a traceback: its required inputs present, one output, 4-D operands where it says so."""
    where = f"operator {op.index} ({op.name})"
    n = REQUIRED_INPUTS.get(op.name, 1)
    if len(op.inputs) < n or any(i < 0 for i in op.inputs[:n]):
        raise ModelError(f"{where}: needs {n} input tensor(s), has {len(op.inputs)}")
    if len(op.outputs) != 1 or op.outputs[0] < 0:
        raise ModelError(f"{where}: needs one output tensor, has {len(op.outputs)}")
    for i in RANK4_INPUTS.get(op.name, ()):
        if len(b.sub.tensors[op.inputs[i]].shape) != 4:
            raise ModelError(f"{where}: input {i} is not 4-D")
    if op.name == "FULLY_CONNECTED" and len(_tensor(b, op, 1).shape) != 2:
        raise ModelError(f"{where}: weights are not 2-D")
    if op.name == "UNIDIRECTIONAL_SEQUENCE_LSTM":
        _check_lstm(b, op, where)


def _check_lstm(b: OnnxBuilder, op: Operator, where: str) -> None:
    """20 or 24 inputs, all gates' weights and biases, a 3-D input and gate weights of one
    hidden size that fits it."""
    if len(op.inputs) not in (20, 24):
        raise ModelError(f"{where}: {len(op.inputs)} inputs, not 20 or 24")
    if op.inputs[1] < 0:  # coupled input and forget gates
        raise UnsupportedError(f"{where}: CIFG (no input gate) is not supported")
    missing = [k for k in (*_LSTM_W, *_LSTM_R, *_LSTM_B) if op.inputs[k] < 0]
    if missing:
        raise ModelError(f"{where}: input {missing[0]} is missing")
    x = _tensor(b, op, 0)
    if len(x.shape) != 3:
        raise ModelError(f"{where}: input is not 3-D")
    hidden = _tensor(b, op, 5).shape[0] if len(_tensor(b, op, 5).shape) == 2 else -1
    want = {k: (hidden, x.shape[2]) for k in _LSTM_W}
    want.update({k: (hidden, hidden) for k in _LSTM_R})
    want.update({k: (hidden,) for k in _LSTM_B})
    want.update({k: (hidden,) for k in _LSTM_P if op.inputs[k] >= 0})
    for k, shape in want.items():
        if _tensor(b, op, k).shape != shape:
            raise ModelError(f"{where}: input {k} has shape {list(_tensor(b, op, k).shape)}, "
                             f"not {list(shape)}")
