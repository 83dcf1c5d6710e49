"""Build the anomaly-detection example models from MLPerf Tiny's trained autoencoder.

Dev-only script (onnx, onnxruntime; LiteRT, `ai-edge-litert`, for the optional check
against the original). It reads the MLPerf Tiny reference model `ad01_int8.tflite`
(mlcommons/tiny commit 1afd2c9, `benchmark/training/anomaly_detection/trained_models/`,
Apache License 2.0; by default the copy the TFLite frontend's tests hold): ten
FULLY_CONNECTED layers 640-128-128-128-128-8-128-128-128-128-640, ReLU fused on all but
the last, batch norm already folded, int8 weights with per-tensor scales and int32
biases. Each weight and bias is dequantized to float32 (real = scale * (q - zero_point))
and written to `examples/models/` twice, float32 input [1, 640] "input" and output
[1, 640] "output", opset 17 like the other example models:

* ``ad_autoencoder.onnx``: Gemm (transB) + Relu per layer, the form exporters write.
* ``ad_autoencoder_raw.onnx``: MatMul + Add + Relu per layer (weights [in, out]), which
  the compiler's `fuse-matmul-add` and `fuse-activation` passes turn into the former.

Both are checked (onnx checker, strict shape inference, onnxruntime against a numpy
forward pass of the dequantized layers) and, when LiteRT is installed, the float model is
compared with the int8 original on inputs in its input range. The weights are the trained
ones, so the models are deterministic; re-running reproduces the same files.

Run from the repository root::

    python examples/make_ad_model.py [--tflite PATH]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import tflite
from onnx import TensorProto, helper, numpy_helper
from tflite.ActivationFunctionType import ActivationFunctionType as Act

from tinyc.frontend.tflite.constants import dequantized
from tinyc.frontend.tflite.ops import options
from tinyc.frontend.tflite.reader import Subgraph, Tensor, read_tflite

OPSET = 17
IR_VERSION = 8  # what the other example models carry
REPO = Path(__file__).resolve().parents[1]
MODELS_DIR = REPO / "examples" / "models"
#: the repository's copy of the file, unchanged (tests/models/tflite/README.md)
DEFAULT_TFLITE = REPO / "tests" / "models" / "tflite" / "ad01_int8.tflite"
NAME = "ad_autoencoder"
SOURCE = ("MLPerf Tiny anomaly detection autoencoder (ad01), trained weights from "
          "mlcommons/tiny commit 1afd2c9, benchmark/training/anomaly_detection/trained_models/"
          "ad01_int8.tflite (Apache License 2.0); its int8 weights and int32 biases "
          "dequantized to float32 by tinyc's examples/make_ad_model.py.")


@dataclass(frozen=True)
class Dense:
    """One fully connected layer: y = x @ weight.T + bias, then ReLU when `relu`."""

    name: str
    weight: np.ndarray  # [out, in] float32, as TFLite stores it
    bias: np.ndarray  # [out] float32
    relu: bool
    #: the real range of the int8 original's output tensor (it saturates there)
    int8_range: tuple[float, float]


def read_layers(path: Path) -> list[Dense]:
    """The model's FULLY_CONNECTED layers in order, dequantized (the chain is checked:
    each layer reads the previous one's output)."""
    sub = read_tflite(path)
    layers, current = [], sub.inputs[0]
    for op in sub.operators:
        if op.name != "FULLY_CONNECTED" or op.inputs[0] != current:
            raise SystemExit(f"{path}: operator {op.index} ({op.name}) is not the next "
                             "fully connected layer of a chain")
        fused = options(op, tflite.FullyConnectedOptions).FusedActivationFunction()
        if fused not in (Act.NONE, Act.RELU):
            raise SystemExit(f"{path}: operator {op.index}: fused activation {fused}")
        w, b = sub.tensors[op.inputs[1]], sub.tensors[op.inputs[2]]
        layers.append(Dense(_layer_name(sub, op.inputs[1]), dequantized(w), dequantized(b),
                            fused == Act.RELU, _int8_range(sub.tensors[op.outputs[0]])))
        current = op.outputs[0]
    if current != sub.outputs[0]:
        raise SystemExit(f"{path}: the chain does not end at the model's output")
    return layers


def _layer_name(sub: Subgraph, weight: int) -> str:
    """"functional_1/dense_3/MatMul" -> "dense_3" (the Keras layer)."""
    parts = sub.tensors[weight].name.split("/")
    return parts[-2] if len(parts) >= 2 else f"dense_{weight}"


def _int8_range(t: Tensor) -> tuple[float, float]:
    assert t.quant is not None and not t.quant.per_channel
    scale, zero = float(t.quant.scale[0]), int(t.quant.zero_point[0])
    return scale * (-128 - zero), scale * (127 - zero)


def forward(layers: list[Dense], x: np.ndarray, *, saturate: bool = False) -> np.ndarray:
    """The float model in numpy (float64), the reference both ONNX forms are checked on;
    with `saturate`, each layer's output is clamped to the int8 original's range."""
    y = x.astype(np.float64)
    for layer in layers:
        y = y @ layer.weight.T.astype(np.float64) + layer.bias
        if layer.relu:
            y = np.maximum(y, 0.0)
        if saturate:
            y = np.clip(y, *layer.int8_range)
    return y


def build(layers: list[Dense], *, raw: bool) -> onnx.ModelProto:
    """Gemm + Relu per layer, or MatMul + Add + Relu when `raw`."""
    nodes, inits, src = [], [], "input"
    for i, layer in enumerate(layers):
        w, b = f"{layer.name}.weight", f"{layer.name}.bias"
        last = i == len(layers) - 1
        out = "output" if last and not layer.relu else f"{layer.name}.linear"
        if raw:
            inits.append(numpy_helper.from_array(np.ascontiguousarray(layer.weight.T), w))
            nodes.append(helper.make_node("MatMul", [src, w], [f"{layer.name}.matmul"]))
            nodes.append(helper.make_node("Add", [f"{layer.name}.matmul", b], [out]))
        else:
            inits.append(numpy_helper.from_array(layer.weight, w))
            nodes.append(helper.make_node("Gemm", [src, w, b], [out], transB=1))
        inits.append(numpy_helper.from_array(layer.bias, b))
        src = out
        if layer.relu:
            src = "output" if last else f"{layer.name}.relu"
            nodes.append(helper.make_node("Relu", [out], [src]))
    width_in, width_out = layers[0].weight.shape[1], layers[-1].weight.shape[0]
    graph = helper.make_graph(
        nodes, NAME + ("_raw" if raw else ""),
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, width_in])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, width_out])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="tinyc examples/make_ad_model.py",
                              ir_version=IR_VERSION)
    model.doc_string = SOURCE
    return model


def check(path: Path, layers: list[Dense], rng: np.random.Generator) -> float:
    """Checker, strict shape inference and onnxruntime vs numpy; the max abs difference."""
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    x = rng.standard_normal((1, layers[0].weight.shape[1])).astype(np.float32)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, {"input": x})
    want = forward(layers, x)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=path.name)
    return float(np.abs(got - want).max())


def compare_with_original(tflite_path: Path, layers: list[Dense], n: int = 16) -> None:
    """The float model against the int8 original (LiteRT) on inputs uniform in the
    original's input range, in output quantization steps. The int8 model saturates where
    its calibration range ends (a few activations per input here), so the float model is
    compared with each layer clamped likewise: what is left is int8 rounding, a couple of
    steps, where a transposed or misread weight would be far off."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        print("LiteRT (ai-edge-litert) not installed: no comparison with the original")
        return
    interp = Interpreter(model_path=str(tflite_path))
    interp.allocate_tensors()
    (inp,), (outp,) = interp.get_input_details(), interp.get_output_details()
    (s_in, z_in), (s_out, z_out) = inp["quantization"], outp["quantization"]
    rng = np.random.default_rng(0)
    lo, hi = s_in * (-128 - z_in), s_in * (127 - z_in)
    plain, clamped = [], []
    for _ in range(n):
        q = np.round(rng.uniform(lo, hi, inp["shape"]) / s_in + z_in).astype(np.int8)
        interp.set_tensor(inp["index"], q)
        interp.invoke()
        got = s_out * (interp.get_tensor(outp["index"]).astype(np.float64) - z_out)
        x = s_in * (q.astype(np.float64) - z_in)
        plain.append(np.abs(got - forward(layers, x)).max() / s_out)
        clamped.append(np.abs(got - forward(layers, x, saturate=True)).max() / s_out)
    print(f"int8 original (LiteRT) vs the float model, {n} inputs uniform in "
          f"[{lo:.1f}, {hi:.1f}], max |diff| in output steps ({s_out:.4f}): "
          f"{max(clamped):.1f} with the original's saturation (median "
          f"{np.median(clamped):.1f}), {max(plain):.1f} without")
    if max(clamped) > 4:
        raise SystemExit("the float model does not match the int8 original")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tflite", type=Path, default=DEFAULT_TFLITE,
                        help="MLPerf Tiny's ad01_int8.tflite (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=MODELS_DIR, help="output directory")
    args = parser.parse_args()
    layers = read_layers(args.tflite)
    print(" -> ".join(str(w) for w in [layers[0].weight.shape[1]] +
                      [layer.weight.shape[0] for layer in layers]),
          f"({sum(layer.weight.size + layer.bias.size for layer in layers):,} parameters)")
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for raw in (False, True):
        path = args.out / f"{NAME}{'_raw' if raw else ''}.onnx"
        onnx.save(build(layers, raw=raw), str(path))
        err = check(path, layers, rng)
        print(f"{path.name}: {path.stat().st_size:,} B, onnxruntime vs numpy {err:.1e}")
    compare_with_original(args.tflite, layers)


if __name__ == "__main__":
    main()
