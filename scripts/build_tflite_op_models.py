"""Dev-only: build the small .tflite models of tests/models/tflite/ that exercise the TFLite
frontend's operators beyond the MLPerf Tiny models (float and full-int8 versions of one
graph). Needs TensorFlow (not a tinyc dependency); run it in a venv that has it:

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


def convert(model: tf.Module, int8: bool, io: tf.DType = tf.int8) -> bytes:
    fn = model.__call__.get_concrete_function()
    shape = tuple(fn.inputs[0].shape)
    conv = tf.lite.TFLiteConverter.from_concrete_functions([fn], model)
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


if __name__ == "__main__":
    main(Path(sys.argv[1]))
