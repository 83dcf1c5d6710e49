"""Dev-only: build the small .tflite models of tests/models/tflite/ that exercise the TFLite
frontend's operators beyond the MLPerf Tiny models: float and full-int8 (per-channel, with a
representative dataset) versions of each graph, plus dynamic-range "hybrid" (int8 weights,
float activations) and float16-weight versions of one. Needs TensorFlow (not a tinyc
dependency); run it in a venv that has it:

    python scripts/build_tflite_op_models.py tests/models/tflite

Weights and the int8 calibration data are seeded random numbers, so a rerun gives the same
weights (the converter's output may still vary between TensorFlow versions)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

SHAPE = (1, 8, 8, 3)
SEQ_SHAPE = (1, 4, 8)
IMAGE_SHAPE = (1, 16, 16, 3)
#: keyword-ish LSTM input: frames x MFCC features (10 frames: the converter clips the
#: cell at 10, which a zero-started cell cannot reach in 10 steps)
LSTM_STEPS, LSTM_FEATURES, LSTM_UNITS = 10, 10, 16
#: the longer int8 LSTM: more steps than the clip, more units
LONG_STEPS, LONG_FEATURES, LONG_UNITS = 24, 8, 24


class OpsModel(tf.Module):
    """conv+relu6, max pool, depthwise conv, logistic, tanh, mul, sub, leaky relu, hard
    swish, concatenation, pad, mean, fully connected, softmax, transpose, strided slice,
    squeeze, add with relu."""

    def __init__(self) -> None:
        rng = np.random.default_rng(0)

        def var(*shape: int, scale: float = 0.3) -> tf.Variable:
            return tf.Variable(rng.standard_normal(shape).astype(np.float32) * scale)

        self.w_conv, self.b_conv = var(3, 3, 3, 8), var(8)
        self.w_dw, self.b_dw = var(3, 3, 8, 1), var(8)
        self.w_fc, self.b_fc = var(16, 5), var(5)

    @tf.function(input_signature=[tf.TensorSpec(SHAPE, tf.float32)])
    def __call__(self, x: tf.Tensor) -> tuple[tf.Tensor, ...]:
        c = tf.nn.relu6(tf.nn.conv2d(x, self.w_conv, 1, "SAME") + self.b_conv)
        m = tf.nn.max_pool2d(c, 2, 2, "VALID")
        d = tf.nn.depthwise_conv2d(m, self.w_dw, [1, 1, 1, 1], "SAME") + self.b_dw
        d = m + d * 0.5
        s = tf.sigmoid(d) * tf.tanh(d) - d
        h = tf.nn.leaky_relu(s, 0.2)
        h = h * tf.nn.relu6(h + 3.0) / 6.0
        cat = tf.concat([h, m], axis=-1)
        p = tf.pad(cat, [[0, 0], [1, 1], [1, 1], [0, 0]])
        g = tf.reduce_mean(p, axis=[1, 2])
        logits = tf.nn.softmax(tf.matmul(g, self.w_fc) + self.b_fc)
        t = tf.transpose(cat, [0, 3, 1, 2])
        sl = tf.squeeze(cat[:, 1:3, 0:1, ::2], axis=2)
        r = tf.nn.relu(cat + p[:, 1:5, 1:5, :])
        return logits, t, sl, r


class ResizeModel(tf.Module):
    """RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR with each coordinate rule."""

    @tf.function(input_signature=[tf.TensorSpec(SHAPE, tf.float32)])
    def __call__(self, x: tf.Tensor) -> tuple[tf.Tensor, ...]:
        v1 = tf.compat.v1.image
        return (v1.resize_nearest_neighbor(x, (13, 11)),
                v1.resize_nearest_neighbor(x, (13, 11), half_pixel_centers=True),
                v1.resize_nearest_neighbor(x, (13, 11), align_corners=True),
                v1.resize_bilinear(x, (13, 11)),
                v1.resize_bilinear(x, (13, 11), half_pixel_centers=True),
                v1.resize_bilinear(x, (5, 6), align_corners=True))


class SequenceDenseModel(tf.Module):
    """FULLY_CONNECTED on a [1, 4, 8] input that keeps its leading dimensions, with RELU."""

    def __init__(self) -> None:
        rng = np.random.default_rng(2)
        self.w = tf.Variable(rng.standard_normal((8, 6)).astype(np.float32) * 0.4)
        self.b = tf.Variable(rng.standard_normal(6).astype(np.float32) * 0.1)

    @tf.function(input_signature=[tf.TensorSpec(SEQ_SHAPE, tf.float32)])
    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.nn.relu(tf.einsum("bti,io->bto", x, self.w) + self.b)


def _vars(seed: int):  # noqa: ANN202
    rng = np.random.default_rng(seed)

    def var(*shape: int, scale: float = 0.3) -> tf.Variable:
        return tf.Variable(rng.standard_normal(shape).astype(np.float32) * scale)
    return var


class MobileBlockModel(tf.Module):
    """A MobileNetV3-style block: stride-2 conv with hard swish, depthwise conv with relu,
    squeeze-excite (MEAN keeping dims, 1x1 convs, hard sigmoid, MUL), 1x1 projection with a
    residual ADD; then PADV2, MEAN over the channels, over H and over everything."""

    def __init__(self) -> None:
        var = _vars(3)
        self.w_stem, self.b_stem = var(3, 3, 3, 16), var(16, scale=0.1)
        self.w_dw, self.b_dw = var(3, 3, 16, 1), var(16, scale=0.1)
        self.w_se1, self.b_se1 = var(1, 1, 16, 8), var(8, scale=0.1)
        self.w_se2, self.b_se2 = var(1, 1, 8, 16), var(16, scale=0.1)
        self.w_proj, self.b_proj = var(1, 1, 16, 16), var(16, scale=0.1)

    @tf.function(input_signature=[tf.TensorSpec(IMAGE_SHAPE, tf.float32)])
    def __call__(self, x: tf.Tensor) -> tuple[tf.Tensor, ...]:
        s = tf.nn.conv2d(x, self.w_stem, 2, "SAME") + self.b_stem
        s = s * tf.nn.relu6(s + 3.0) / 6.0
        d = tf.nn.relu(tf.nn.depthwise_conv2d(s, self.w_dw, [1, 1, 1, 1], "SAME") + self.b_dw)
        e = tf.reduce_mean(d, axis=[1, 2], keepdims=True)
        e = tf.nn.relu(tf.nn.conv2d(e, self.w_se1, 1, "VALID") + self.b_se1)
        e = tf.nn.conv2d(e, self.w_se2, 1, "VALID") + self.b_se2
        d = d * (tf.nn.relu6(e + 3.0) / 6.0)
        y = tf.nn.conv2d(d, self.w_proj, 1, "VALID") + self.b_proj + s
        p = tf.pad(y, [[0, 0], [1, 0], [0, 1], [0, 0]], constant_values=0.5)
        return (tf.reduce_mean(p, axis=[1, 2]), tf.reduce_mean(p, axis=3),
                tf.reduce_mean(p, axis=1), tf.reduce_mean(p, axis=[1, 2, 3]))


class WideModel(tf.Module):
    """Conv and fully connected layers whose weights have more than 1,024 elements (the
    converter's dynamic-range and float16 modes leave smaller ones float32)."""

    def __init__(self) -> None:
        var = _vars(4)
        self.w_conv, self.b_conv = var(3, 3, 3, 128), var(128, scale=0.1)
        self.w_dw, self.b_dw = var(3, 3, 128, 1), var(128, scale=0.1)
        self.w_fc, self.b_fc = var(128, 32, scale=0.2), var(32, scale=0.1)
        self.w_out, self.b_out = var(32, 40, scale=0.2), var(40, scale=0.1)

    @tf.function(input_signature=[tf.TensorSpec((1, 8, 8, 3), tf.float32)])
    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        c = tf.nn.relu(tf.nn.conv2d(x, self.w_conv, 2, "SAME") + self.b_conv)
        c = tf.nn.depthwise_conv2d(c, self.w_dw, [1, 1, 1, 1], "SAME") + self.b_dw
        g = tf.reduce_mean(c, axis=[1, 2])
        h = tf.nn.relu(tf.matmul(g, self.w_fc) + self.b_fc)
        return tf.matmul(h, self.w_out) + self.b_out


class Conv1dKeywordModel(tf.Module):
    """Edge Impulse's default keyword-spotting shape: a flat [1, 650] MFCC input (50 frames
    of 13) reshaped to frames, two 1-D convolutions (EXPAND_DIMS, CONV_2D, SQUEEZE or
    RESHAPE) with relu and 1-D max pooling, flatten, fully connected, softmax."""

    def __init__(self) -> None:
        var = _vars(6)
        self.w1, self.b1 = var(3, 13, 8), var(8, scale=0.1)
        self.w2, self.b2 = var(3, 8, 16, scale=0.2), var(16, scale=0.1)
        self.w_fc, self.b_fc = var(13 * 16, 4, scale=0.1), var(4, scale=0.1)

    @tf.function(input_signature=[tf.TensorSpec((1, 650), tf.float32)])
    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        h = tf.reshape(x, (1, 50, 13))
        h = tf.nn.relu(tf.nn.conv1d(h, self.w1, 1, "SAME") + self.b1)
        h = tf.nn.max_pool1d(h, 2, 2, "SAME")
        h = tf.nn.relu(tf.nn.conv1d(h, self.w2, 1, "SAME") + self.b2)
        h = tf.nn.max_pool1d(h, 2, 2, "SAME")
        return tf.nn.softmax(tf.matmul(tf.reshape(h, (1, -1)), self.w_fc) + self.b_fc)


#: what the TFLite converter recognises as a Keras LSTM layer and fuses into one
#: UNIDIRECTIONAL_SEQUENCE_LSTM (Keras 3's own LSTM converts to a WHILE loop)
_KERAS_LSTM = {"api_implements": "lstm_tinyc", "time_major": False, "go_backwards": False}


@tf.function(experimental_attributes=_KERAS_LSTM, autograph=False)
def _keras_lstm(inputs: tf.Tensor, init_h: tf.Tensor, init_c: tf.Tensor, kernel: tf.Tensor,
                recurrent_kernel: tf.Tensor, bias: tf.Tensor) -> tuple[tf.Tensor, ...]:
    """Keras's LSTM (gates i, f, c, o) with the interface of its standard_lstm function."""
    h, c, outputs = init_h, init_c, []
    for t in range(inputs.shape[1]):
        z = tf.matmul(inputs[:, t], kernel) + tf.matmul(h, recurrent_kernel) + bias
        i, f, g, o = tf.split(z, 4, axis=1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        h = tf.sigmoid(o) * tf.tanh(c)
        outputs.append(h)
    return h, tf.stack(outputs, axis=1), h, c, tf.constant(0.0)


class LstmKeywordModel(tf.Module):
    """A keyword-spotting-style LSTM: MFCC frames -> LSTM -> last hidden state -> fully
    connected -> softmax over 6 classes."""

    def __init__(self) -> None:
        var = _vars(5)
        self.kernel = var(LSTM_FEATURES, 4 * LSTM_UNITS)
        self.recurrent = var(LSTM_UNITS, 4 * LSTM_UNITS)
        self.bias = var(4 * LSTM_UNITS, scale=0.1)
        self.w_fc, self.b_fc = var(LSTM_UNITS, 6), var(6, scale=0.1)

    @tf.function(input_signature=[tf.TensorSpec((1, LSTM_STEPS, LSTM_FEATURES), tf.float32)])
    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        zero = tf.zeros((1, LSTM_UNITS))
        # tensors, not variables: the fusion expects the weights as tensor arguments
        weights = (v.read_value() for v in (self.kernel, self.recurrent, self.bias))
        last, _, _, _, _ = _keras_lstm(x, zero, zero, *weights)
        return tf.nn.softmax(tf.matmul(last, self.w_fc) + self.b_fc)


class LongLstmModel(tf.Module):
    """An LSTM over more steps than the converter's cell clip (10) with more units, its whole
    output sequence the model's output. The input, forget and cell gates lean open (bias +3)
    so the cell grows past the clip, which then acts in TFLite's integer LSTM."""

    def __init__(self) -> None:
        var = _vars(7)
        self.kernel = var(LONG_FEATURES, 4 * LONG_UNITS, scale=0.5)
        self.recurrent = var(LONG_UNITS, 4 * LONG_UNITS, scale=0.3)
        open_gates = np.r_[np.full(3 * LONG_UNITS, 3.0), np.zeros(LONG_UNITS)]  # i, f, c
        self.bias = tf.Variable(open_gates.astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec((1, LONG_STEPS, LONG_FEATURES), tf.float32)])
    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        zero = tf.zeros((1, LONG_UNITS))
        weights = (v.read_value() for v in (self.kernel, self.recurrent, self.bias))
        _, sequence, _, _, _ = _keras_lstm(x, zero, zero, *weights)
        return sequence


def convert(model: tf.Module, int8: bool = False, io: tf.DType = tf.int8,
            weights: str = "") -> bytes:
    """The model as a .tflite flatbuffer: float32; full int8 (`int8`, calibrated on seeded
    normal inputs, `io` at the interface); or float activations with `weights` "int8"
    (dynamic range, hybrid kernels) or "float16"."""
    fn = model.__call__.get_concrete_function()
    shape = tuple(fn.inputs[0].shape)
    conv = tf.lite.TFLiteConverter.from_concrete_functions([fn], model)
    if weights:
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        if weights == "float16":
            conv.target_spec.supported_types = [tf.float16]
    if int8:
        rng = np.random.default_rng(1)

        def calibration():  # noqa: ANN202
            for _ in range(50):
                yield [rng.standard_normal(shape).astype(np.float32)]

        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = calibration
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = io
        conv.inference_output_type = io
    return conv.convert()


def main(out: Path) -> None:
    model = OpsModel()
    (out / "ops_float.tflite").write_bytes(convert(model, int8=False))
    (out / "ops_int8.tflite").write_bytes(convert(model, int8=True))
    (out / "resize_float.tflite").write_bytes(convert(ResizeModel(), int8=False))
    (out / "resize_int8.tflite").write_bytes(convert(ResizeModel(), int8=True))
    (out / "dense3d_float.tflite").write_bytes(convert(SequenceDenseModel(), int8=False))
    (out / "dense3d_int8.tflite").write_bytes(convert(SequenceDenseModel(), int8=True))
    # uint8 interface: QUANTIZE uint8 -> int8 at the input and int8 -> uint8 at the output
    (out / "dense3d_uint8io.tflite").write_bytes(
        convert(SequenceDenseModel(), int8=True, io=tf.uint8))
    for stem, m in (("mobile", MobileBlockModel()), ("lstm", LstmKeywordModel()),
                    ("conv1d", Conv1dKeywordModel())):
        (out / f"{stem}_float.tflite").write_bytes(convert(m, int8=False))
        (out / f"{stem}_int8.tflite").write_bytes(convert(m, int8=True))
    (out / "lstm_long_int8.tflite").write_bytes(convert(LongLstmModel(), int8=True))
    (out / "wide_hybrid.tflite").write_bytes(convert(WideModel(), weights="int8"))
    (out / "wide_fp16.tflite").write_bytes(convert(WideModel(), weights="float16"))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
