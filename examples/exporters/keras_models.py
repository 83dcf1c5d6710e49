"""Build small Keras networks and export each one three ways, for tests/test_nhwc.py.

Dev-only script: it needs TensorFlow, Keras 3 and tf2onnx, which neither tinyc nor its
tests use (a venv of its own: ``pip install tensorflow tf2onnx``; written against
tensorflow 2.21, keras 3.15, tf2onnx 1.17, onnx 1.23). Everything is seeded, so a re-run
writes the same networks. For each network NAME it writes into tests/models/exporters/:

* ``NAME_tf2onnx.onnx``: ``tf2onnx.convert.from_keras`` at opset 13 with its default
  optimizers, as a user gets it. The graph input stays NHWC.
* ``NAME_tf2onnx_nhwc.onnx``: the same conversion without tf2onnx's own transpose
  optimizer, i.e. the graph as the converter writes it: every convolution and pool wrapped
  in NHWC->NCHW and NCHW->NHWC Transposes, elementwise ops, Pad, Concat and the reductions
  in NHWC between them (what older tf2onnx releases, or a failure of that optimizer, leave).
* ``NAME_nchw.onnx``: the clean twin, written with onnx.helper from the same Keras
  weights, NCHW throughout as torch would export it (BatchNormalization nodes, Keras'
  explicit ZeroPadding2D folded into the convolution's pads, Gemm for Dense).

Each file is checked against Keras with onnxruntime when it is installed (the NHWC input
is transposed for the twin). Run from the repository root::

    /path/to/tfvenv/bin/python examples/exporters/keras_models.py
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf2onnx  # noqa: E402
import tf2onnx.optimizer  # noqa: E402
from keras import layers  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

OPSET = 13
OUT = Path(__file__).resolve().parents[2] / "tests" / "models" / "exporters"


# -- the networks ---------------------------------------------------------------------------


def kws_dscnn() -> keras.Model:
    """DS-CNN keyword spotting (MLPerf Tiny's shape, narrower): [1,49,10,1] MFCCs."""
    inp = keras.Input((49, 10, 1), batch_size=1, name="input")
    x = layers.Conv2D(32, (10, 4), strides=(2, 2), padding="same")(inp)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    for _ in range(3):
        x = layers.DepthwiseConv2D(3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.Conv2D(32, 1)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    x = layers.AveragePooling2D((25, 5))(x)
    x = layers.Flatten()(x)
    x = layers.Dense(12, activation="softmax")(x)
    return keras.Model(inp, x, name="kws_dscnn")


def mobilenet_v2() -> keras.Model:
    """A tiny MobileNetV2 at 32x32: inverted residuals; stride-2 depthwise convolutions get
    Keras' explicit ZeroPadding2D (a Pad in ONNX), as keras.applications writes them."""
    inp = keras.Input((32, 32, 3), batch_size=1, name="input")
    x = layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(inp)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU(6.0)(x)

    def block(x: keras.KerasTensor, cin: int, cout: int, stride: int) -> keras.KerasTensor:
        y = layers.Conv2D(cin * 4, 1, use_bias=False)(x)
        y = layers.BatchNormalization()(y)
        y = layers.ReLU(6.0)(y)
        if stride == 2:
            y = layers.ZeroPadding2D(((0, 1), (0, 1)))(y)
            y = layers.DepthwiseConv2D(3, strides=2, padding="valid", use_bias=False)(y)
        else:
            y = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(y)
        y = layers.BatchNormalization()(y)
        y = layers.ReLU(6.0)(y)
        y = layers.Conv2D(cout, 1, use_bias=False)(y)
        y = layers.BatchNormalization()(y)
        return layers.Add()([x, y]) if stride == 1 and cin == cout else y

    for cin, cout, stride in ((8, 8, 1), (8, 16, 2), (16, 16, 1), (16, 24, 2), (24, 24, 1)):
        x = block(x, cin, cout, stride)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(10)(x)
    return keras.Model(inp, x, name="mobilenet_v2")


def concat_net() -> keras.Model:
    """An Inception-like block: three branches joined by a channel Concatenate, then a
    max pool, a global average pool and a softmax Dense."""
    inp = keras.Input((24, 24, 3), batch_size=1, name="input")
    x = layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    a = layers.Conv2D(8, 1, activation="relu")(x)
    b = layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    c = layers.MaxPooling2D(3, strides=1, padding="same")(x)
    x = layers.Concatenate()([a, b, c])
    x = layers.MaxPooling2D(2)(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(5, activation="softmax")(x)
    return keras.Model(inp, x, name="concat_net")


def flatten_cnn() -> keras.Model:
    """The classic small CNN: convolutions and pools, then Flatten of a 4x4x16 NHWC map
    into a Dense (tf2onnx keeps a Transpose before that Flatten even with its optimizer)."""
    inp = keras.Input((16, 16, 3), batch_size=1, name="input")
    x = layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(32, activation="relu")(x)
    x = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inp, x, name="flatten_cnn")


NETWORKS: dict[str, Callable[[], keras.Model]] = {
    "kws_dscnn": kws_dscnn,
    "mobilenet_v2": mobilenet_v2,
    "concat_net": concat_net,
    "flatten_cnn": flatten_cnn,
}


def randomize(model: keras.Model, seed: int) -> None:
    """Non-trivial BatchNorm statistics and biases (Keras starts them at 0/1, which would
    let an exporter drop them)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, c), rng.normal(0, 0.1, c),
                               rng.normal(0, 0.1, c), rng.uniform(0.5, 1.5, c)])
        elif getattr(layer, "use_bias", False) and layer.bias is not None:
            kernel = layer.get_weights()[0]
            layer.set_weights([kernel, rng.normal(0, 0.1, layer.bias.shape)])


# -- tf2onnx --------------------------------------------------------------------------------


def tf2onnx_export(model: keras.Model, transpose_optimizer: bool) -> onnx.ModelProto:
    spec = (tf.TensorSpec(tuple(model.input.shape), tf.float32, name="input"),)
    optimizers = {name: opt for name, opt in tf2onnx.optimizer._get_optimizers().items()
                  if transpose_optimizer or name != "optimize_transpose"}
    proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=OPSET,
                                          optimizers=optimizers)
    return proto


# -- the NCHW twin --------------------------------------------------------------------------


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's SAME padding: the odd pixel goes at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class TwinBuilder:
    """Writes the Keras layers as NCHW ONNX nodes; `names` maps a Keras tensor to its
    ONNX value, `pending_pads` holds a ZeroPadding2D until the convolution that reads it,
    `flattened` the NHWC map shape of a Flatten until the Dense that reads it."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.names: dict[int, str] = {}
        self.pending_pads: dict[int, tuple[int, int, int, int]] = {}
        self.flattened: dict[int, tuple[int, int, int]] = {}

    def const(self, name: str, data: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(data, np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], out: str, **attrs: object) -> str:
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def bias(self, name: str, weights: list[np.ndarray]) -> list[str]:
        return [self.const(name + "_b", weights[1])] if len(weights) > 1 else []

    def activation(self, layer: keras.layers.Layer, x: str) -> str:
        act = getattr(layer, "activation", None)
        name = getattr(act, "__name__", "linear")
        if name == "relu":
            return self.node("Relu", [x], layer.name + "_relu")
        if name == "softmax":
            return self.node("Softmax", [x], layer.name + "_softmax", axis=-1)
        assert name == "linear", name
        return x

    def window(self, layer: keras.layers.Layer, shape: tuple[int, ...],
               kernel: tuple[int, int], extra: tuple[int, int, int, int]) -> dict[str, object]:
        strides = tuple(layer.strides)
        if layer.padding == "same":
            (t, b), (le, r) = (same_pads(shape[i + 1], kernel[i], strides[i]) for i in (0, 1))
        else:
            t = b = le = r = 0
        pt, pl, pb, pr = extra
        return {"kernel_shape": list(kernel), "strides": list(strides),
                "pads": [t + pt, le + pl, b + pb, r + pr]}

    def layer(self, layer: keras.layers.Layer) -> None:
        ins = layer.input if isinstance(layer.input, list) else [layer.input]
        srcs = [self.names[id(t)] for t in ins]
        extra = self.pending_pads.get(id(ins[0]), (0, 0, 0, 0))
        shape = tuple(ins[0].shape)
        weights = layer.get_weights()
        name = layer.name
        if isinstance(layer, layers.ZeroPadding2D):
            (t, b), (le, r) = layer.padding
            self.names[id(layer.output)] = srcs[0]
            self.pending_pads[id(layer.output)] = (t, le, b, r)
            return
        if isinstance(layer, layers.DepthwiseConv2D):
            k = weights[0]  # [kh, kw, c, 1]
            w = self.const(name + "_w", k.transpose(2, 3, 0, 1))
            y = self.node("Conv", [srcs[0], w, *self.bias(name, weights)], name, group=k.shape[2],
                          **self.window(layer, shape, k.shape[:2], extra))
        elif isinstance(layer, layers.Conv2D):
            k = weights[0]  # [kh, kw, cin, cout]
            w = self.const(name + "_w", k.transpose(3, 2, 0, 1))
            y = self.node("Conv", [srcs[0], w, *self.bias(name, weights)], name,
                          **self.window(layer, shape, k.shape[:2], extra))
        elif isinstance(layer, layers.BatchNormalization):
            params = [self.const(f"{name}_{p}", v) for p, v in
                      zip(("scale", "bias", "mean", "var"), weights, strict=True)]
            y = self.node("BatchNormalization", [srcs[0], *params], name, epsilon=layer.epsilon)
        elif isinstance(layer, layers.ReLU):
            if layer.max_value is None:
                y = self.node("Relu", srcs, name)
            else:
                lo, hi = self.const(name + "_lo", 0.0), self.const(name + "_hi", layer.max_value)
                y = self.node("Clip", [srcs[0], lo, hi], name)
        elif isinstance(layer, layers.Add):
            y = self.node("Add", srcs, name)
        elif isinstance(layer, layers.Concatenate):
            y = self.node("Concat", srcs, name, axis=1)
        elif isinstance(layer, (layers.MaxPooling2D, layers.AveragePooling2D)):
            op = "MaxPool" if isinstance(layer, layers.MaxPooling2D) else "AveragePool"
            y = self.node(op, srcs, name,
                          **self.window(layer, shape, tuple(layer.pool_size), extra))
        elif isinstance(layer, layers.GlobalAveragePooling2D):
            y = self.node("Flatten", [self.node("GlobalAveragePool", srcs, name + "_gap")], name)
        elif isinstance(layer, layers.Flatten):
            self.flattened[id(layer.output)] = shape[1:]
            y = self.node("Flatten", srcs, name)
        elif isinstance(layer, layers.Dense):
            kernel = weights[0]  # [K, N], K in NHWC order after a Flatten: make it NCHW
            if id(ins[0]) in self.flattened:
                h, w_, c = self.flattened[id(ins[0])]
                kernel = kernel.reshape(h, w_, c, -1).transpose(2, 0, 1, 3).reshape(h * w_ * c, -1)
            w = self.const(name + "_w", kernel.T)
            y = self.node("Gemm", [srcs[0], w, *self.bias(name, weights)], name, transB=1)
        else:
            raise NotImplementedError(type(layer).__name__)
        self.names[id(layer.output)] = self.activation(layer, y)


def nchw_twin(model: keras.Model) -> onnx.ModelProto:
    b = TwinBuilder()
    n, h, w, c = model.input.shape
    b.names[id(model.input)] = "input"
    for layer in model.layers:
        if not isinstance(layer, layers.InputLayer):
            b.layer(layer)
    out = b.node("Identity", [b.names[id(model.output)]], "output")
    graph = helper.make_graph(
        b.nodes, model.name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [n, c, h, w])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, list(model.output.shape))],
        b.inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="keras_models.py nchw twin")
    proto.ir_version = 8
    onnx.checker.check_model(proto, full_check=True)
    return proto


# -- checks and main ------------------------------------------------------------------------


def check_against_keras(model: keras.Model, files: dict[str, onnx.ModelProto]) -> None:
    """Each file computes what Keras computes (skipped without onnxruntime)."""
    try:
        import onnxruntime as ort
    except ImportError:
        print("  (onnxruntime not installed: not checked against Keras)")
        return
    x = np.random.default_rng(1).standard_normal(tuple(model.input.shape)).astype(np.float32)
    want = model(x, training=False).numpy()
    for suffix, proto in files.items():
        sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        feed = x.transpose(0, 3, 1, 2) if suffix == "nchw" else x
        got = sess.run(None, {sess.get_inputs()[0].name: feed})[0]
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=suffix)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for seed, (name, build) in enumerate(NETWORKS.items()):
        keras.utils.set_random_seed(seed)
        model = build()
        randomize(model, seed)
        files = {"tf2onnx": tf2onnx_export(model, transpose_optimizer=True),
                 "tf2onnx_nhwc": tf2onnx_export(model, transpose_optimizer=False),
                 "nchw": nchw_twin(model)}
        check_against_keras(model, files)
        for suffix, proto in files.items():
            path = OUT / f"{name}_{suffix}.onnx"
            onnx.save(proto, path)
            kinds = sorted({n.op_type for n in proto.graph.node})
            transposes = sum(n.op_type == "Transpose" for n in proto.graph.node)
            print(f"{path.name:32} {path.stat().st_size:7} B  {len(proto.graph.node):3} nodes, "
                  f"{transposes:2} Transpose  {' '.join(kinds)}")


if __name__ == "__main__":
    main()
