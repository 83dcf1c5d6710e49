"""Build the onnxruntime QOperator test models in ``tests/models/qoperator/``.

Dev-only script (needs onnxruntime's quantizer, which tinyc itself does not). It writes a
small float CNN with onnx.helper that uses every op onnxruntime's QOperator format turns
into a ``com.microsoft`` op -- residual Add, Mul, Sigmoid, LeakyRelu, AveragePool, Concat
of differently scaled inputs, GlobalAveragePool, a Gemm head and Softmax -- and quantizes
it with ``quantize_static`` on a fixed random calibration set, twice: QOperator format
(``cnn_qop_s8.onnx``, int8 activations; ``cnn_qop_u8.onnx``, uint8 activations) and QDQ
format (``cnn_qdq_s8.onnx``, the twin). The float model is kept too (``cnn_float.onnx``).
Everything is seeded, so re-running writes the same files.

Run from the repository root::

    /work/devvenv/bin/python examples/exporters/ort_qoperator.py
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_static,
)

OUT = Path(__file__).resolve().parents[2] / "tests" / "models" / "qoperator"
SHAPE = (1, 3, 12, 12)
OPSET = 17
#: IR 8 is opset 17's; a newer onnx stamps an IR that older onnxruntime builds refuse
IR_VERSION = 8


def float_cnn(rng: np.random.Generator) -> onnx.ModelProto:
    """Conv-Relu, Conv + residual Add, x * Sigmoid(x) (Mul), LeakyRelu, AveragePool,
    Concat with a 1x1 Conv branch, GlobalAveragePool, Flatten, Gemm, Softmax."""
    inits: list[onnx.TensorProto] = []

    def weight(name: str, shape: tuple[int, ...], scale: float) -> str:
        inits.append(numpy_helper.from_array(
            (rng.standard_normal(shape) * scale).astype(np.float32), name))
        return name

    nodes = [
        helper.make_node("Conv", ["x", weight("w1", (8, 3, 3, 3), 0.4), weight("b1", (8,), 0.1)],
                         ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", weight("w2", (8, 8, 3, 3), 0.2), weight("b2", (8,), 0.1)],
                         ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["r1", "c2"], ["res"]),
        helper.make_node("Sigmoid", ["res"], ["gate"]),
        helper.make_node("Mul", ["res", "gate"], ["swish"]),
        helper.make_node("LeakyRelu", ["swish"], ["leaky"], alpha=0.1),
        helper.make_node("AveragePool", ["leaky"], ["pool"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["pool", weight("w3", (8, 8, 1, 1), 0.5),
                                  weight("b3", (8,), 0.2)], ["c3"]),
        helper.make_node("Concat", ["pool", "c3"], ["cat"], axis=1),
        helper.make_node("GlobalAveragePool", ["cat"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["flat"]),
        helper.make_node("Gemm", ["flat", weight("w4", (10, 16), 0.8), weight("b4", (10,), 0.2)],
                         ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes, "qop_cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(SHAPE))],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              ir_version=IR_VERSION, producer_name="tinyc ort_qoperator.py")
    onnx.checker.check_model(model, full_check=True)
    return model


class Calibration(CalibrationDataReader):
    """A fixed random calibration set (seeded), re-iterable for each quantization."""

    def __init__(self, samples: list[np.ndarray]) -> None:
        self.samples = samples
        self.it = iter(samples)

    def get_next(self) -> dict[str, np.ndarray] | None:
        x = next(self.it, None)
        return None if x is None else {"x": x}


def quantize(src: Path, dst: Path, fmt: QuantFormat, act: QuantType,
             samples: list[np.ndarray]) -> None:
    quantize_static(str(src), str(dst), Calibration(samples), quant_format=fmt,
                    activation_type=act, weight_type=QuantType.QInt8, per_channel=True)
    model = onnx.load(str(dst))
    model.ir_version = IR_VERSION
    onnx.save(model, str(dst))


def main() -> None:
    rng = np.random.default_rng(13)
    OUT.mkdir(parents=True, exist_ok=True)
    model = float_cnn(rng)
    float_path = OUT / "cnn_float.onnx"
    onnx.save(model, str(float_path))
    samples = [rng.standard_normal(SHAPE).astype(np.float32) for _ in range(32)]
    variants = {
        "cnn_qop_s8.onnx": (QuantFormat.QOperator, QuantType.QInt8),
        "cnn_qop_u8.onnx": (QuantFormat.QOperator, QuantType.QUInt8),
        "cnn_qdq_s8.onnx": (QuantFormat.QDQ, QuantType.QInt8),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, (fmt, act) in variants.items():
            # the quantizer writes its augmented model next to the input; keep the tree clean
            src = Path(tmp) / "float.onnx"
            onnx.save(model, str(src))
            quantize(src, OUT / name, fmt, act, samples)
    for path in sorted(OUT.glob("*.onnx")):
        ops = Counter(f"{n.domain + ':' if n.domain else ''}{n.op_type}"
                      for n in onnx.load(str(path)).graph.node)
        print(f"{path.name:18} {path.stat().st_size:6} B  {dict(sorted(ops.items()))}")


if __name__ == "__main__":
    main()
