"""Export small networks with the real exporters, as pattern and clean twin.

Dev-only (needs torch, onnxscript, onnx, onnxruntime; tinyc and its tests do not):

    /work/devvenv/bin/python examples/exporters/make_models.py

writes into ``tests/models/exporters/``:

* ``mbv3_legacy13.onnx``: a MobileNetV3-small-like net (hardswish, squeeze-excite with a
  hardsigmoid gate, 32x32 input) through the legacy exporter at opset 13, which writes
  hardswish as ``x * HardSigmoid{1/6, 1/2}(x)``; ``mbv3_legacy14.onnx``, the same weights
  at opset 14 (a HardSwish op: the clean twin); ``mbv3_dynamo.onnx``, the dynamo exporter.
* ``keraspad_pattern.onnx``: ``F.pad`` before each stride-2 depthwise conv (Keras's
  explicit padding), before a MaxPool (after a Relu) and before an AveragePool that counts
  padding; ``keraspad_clean.onnx``: the same weights with the padding in the conv/pool.
* ``keraspad_pattern_qdq.onnx`` / ``keraspad_clean_qdq.onnx``: both through onnxruntime's
  ``quantize_static`` (QDQ, int8, per channel): the explicit Pads become int8 Pads of the
  zero point between Q/DQ pairs.
* ``paddle_hardswish.onnx``: Paddle's ``x * Clip(x + 3, 0, 6) / 6`` built with onnx.helper
  (Paddle is not installable here), ``paddle_clean.onnx`` its twin with HardSwish ops.

Everything is seeded; each file is checked by onnx and its outputs compared between
onnxruntime and torch (numpy for the helper-built graphs; the float model for the QDQ
ones, within a loose bound) before it is written.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_static,
)
from torch import nn

OUT = Path(__file__).resolve().parents[2] / "tests" / "models" / "exporters"


# -- MobileNetV3-small-like ------------------------------------------------------------------


class SqueezeExcite(nn.Module):
    def __init__(self, c: int, mid: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Conv2d(c, mid, 1), nn.Conv2d(mid, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.adaptive_avg_pool2d(x, 1)
        return x * F.hardsigmoid(self.fc2(F.relu(self.fc1(s))))


def conv_bn(cin: int, cout: int, k: int, stride: int, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout))


class Block(nn.Module):
    """Inverted residual: expand 1x1, depthwise kxk, optional SE, project 1x1."""

    def __init__(self, cin: int, mid: int, cout: int, k: int, stride: int, se: bool,
                 act: type[nn.Module]) -> None:
        super().__init__()
        self.expand = nn.Sequential(conv_bn(cin, mid, 1, 1), act())
        self.dw = nn.Sequential(conv_bn(mid, mid, k, stride, groups=mid), act())
        self.se = SqueezeExcite(mid, max(8, mid // 4)) if se else nn.Identity()
        self.project = conv_bn(mid, cout, 1, 1)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.se(self.dw(self.expand(x))))
        return x + y if self.residual else y


class TinyMobileNetV3(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(conv_bn(3, 16, 3, 2), nn.Hardswish())
        self.blocks = nn.Sequential(
            Block(16, 16, 16, 3, 2, True, nn.ReLU),
            Block(16, 32, 16, 3, 2, False, nn.ReLU),
            Block(16, 48, 16, 3, 1, False, nn.ReLU),
            Block(16, 48, 24, 5, 2, True, nn.Hardswish),
            Block(24, 64, 24, 5, 1, True, nn.Hardswish),
        )
        self.head = nn.Sequential(conv_bn(24, 64, 1, 1), nn.Hardswish())
        self.classifier = nn.Sequential(nn.Linear(64, 48), nn.Hardswish(), nn.Linear(48, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.head(self.blocks(self.stem(x)))
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(y, 1), 1))


# -- Keras-style explicit padding ------------------------------------------------------------


class PadNet(nn.Module):
    """``explicit=True``: F.pad then an unpadded conv/pool (Keras/tf2onnx); False: the same
    padding inside the conv/pool (the clean export). Same parameters either way."""

    def __init__(self, explicit: bool) -> None:
        super().__init__()
        self.explicit = explicit
        p = 0 if explicit else 1
        self.stem = nn.Conv2d(3, 16, 3, 1, 1)
        self.dw1 = nn.Conv2d(16, 16, 3, 2, p, groups=16)
        self.pw1 = nn.Conv2d(16, 32, 1)
        self.dw2 = nn.Conv2d(32, 32, 3, 2, p, groups=32)
        self.pw2 = nn.Conv2d(32, 32, 1)
        self.maxpool = nn.MaxPool2d(3, 1, p)
        self.avgpool = nn.AvgPool2d(3, 1, p, count_include_pad=True)
        self.fc = nn.Linear(32, 10)

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, (1, 1, 1, 1)) if self.explicit else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.stem(x))
        x = F.relu(self.pw1(F.relu(self.dw1(self.pad(x)))))
        x = F.relu(self.pw2(F.relu(self.dw2(self.pad(x)))))
        x = self.avgpool(self.pad(self.maxpool(self.pad(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# -- exporting and checking ------------------------------------------------------------------


def randomize_bn(model: nn.Module, gen: torch.Generator) -> None:
    """Non-trivial BatchNorm statistics, so folding them is exercised."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=gen) * 0.1)


def export(model: nn.Module, x: torch.Tensor, name: str, *, dynamo: bool,
           opset: int) -> onnx.ModelProto:
    model.eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            program = torch.onnx.export(model, (x,), dynamo=True, opset_version=opset,
                                        input_names=["input"], output_names=["logits"])
            program.optimize()
            proto = program.model_proto
            for node in proto.graph.node:  # stack traces: half the file, no meaning here
                del node.metadata_props[:]
        else:
            torch.onnx.export(model, (x,), buf, dynamo=False, opset_version=opset,
                              input_names=["input"], output_names=["logits"])
            proto = onnx.load_from_string(buf.getvalue())
    with torch.no_grad():
        expected = model(x).numpy()
    check_and_save(proto, name, {"input": x.numpy()}, expected)
    return proto


def check_and_save(proto: onnx.ModelProto, name: str, feeds: dict[str, np.ndarray],
                   expected: np.ndarray, atol: float = 1e-5) -> None:
    onnx.checker.check_model(proto, full_check=True)
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, feeds)[0]
    np.testing.assert_allclose(got, expected, rtol=1e-4 if atol <= 1e-5 else 0, atol=atol)
    path = OUT / f"{name}.onnx"
    onnx.save(proto, path)
    ops = sorted({n.op_type for n in proto.graph.node})
    print(f"{path.name:28s} {path.stat().st_size:7d} B  opset "
          f"{proto.opset_import[0].version:2d}  {' '.join(ops)}")


def make_mobilenet() -> None:
    torch.manual_seed(0)
    model = TinyMobileNetV3().eval()
    randomize_bn(model, torch.Generator().manual_seed(1))
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    export(model, x, "mbv3_legacy13", dynamo=False, opset=13)
    export(model, x, "mbv3_legacy14", dynamo=False, opset=14)
    export(model, x, "mbv3_dynamo", dynamo=True, opset=18)


def make_padnet() -> None:
    torch.manual_seed(3)
    clean = PadNet(explicit=False).eval()
    pattern = PadNet(explicit=True).eval()
    pattern.load_state_dict(clean.state_dict())
    x = torch.randn(1, 3, 48, 48, generator=torch.Generator().manual_seed(4))
    export(pattern, x, "keraspad_pattern", dynamo=False, opset=13)
    export(clean, x, "keraspad_clean", dynamo=False, opset=13)
    with torch.no_grad():
        expected = clean(x).numpy()
    for name in ("keraspad_pattern", "keraspad_clean"):
        quantize_qdq(name, x.numpy(), expected)


class SeededSamples(CalibrationDataReader):
    """Eight N(0, 1) inputs, as tinyc's tests calibrate."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        rng = np.random.default_rng(7)
        self.samples = iter([{"input": rng.standard_normal(shape).astype(np.float32)}
                             for _ in range(8)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.samples, None)


def quantize_qdq(name: str, x: np.ndarray, expected: np.ndarray) -> None:
    """onnxruntime's static QDQ quantization of OUT/name.onnx into OUT/name_qdq.onnx; its
    outputs stay within a few quantization steps of the float model's."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantize_static(str(OUT / f"{name}.onnx"), str(OUT / f"{name}_qdq.onnx"),
                        SeededSamples(x.shape), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                        per_channel=True)
    proto = onnx.load(OUT / f"{name}_qdq.onnx")
    check_and_save(proto, f"{name}_qdq", {"input": x}, expected,
                   atol=0.1 * float(np.abs(expected).max()))


def make_paddle() -> None:
    """Conv -> hardswish -> depthwise Conv -> hardswish -> GlobalAveragePool -> Gemm, the
    hardswish as Paddle writes it (``paddle_hardswish``) or as the op (``paddle_clean``)."""
    rng = np.random.default_rng(5)
    w1 = (rng.standard_normal((8, 3, 3, 3)) * 0.4).astype(np.float32)
    b1 = (rng.standard_normal(8) * 0.5).astype(np.float32)
    w2 = (rng.standard_normal((8, 1, 3, 3)) * 0.5).astype(np.float32)
    b2 = (rng.standard_normal(8) * 0.5).astype(np.float32)
    w3 = (rng.standard_normal((10, 8)) * 0.3).astype(np.float32)
    b3 = (rng.standard_normal(10) * 0.1).astype(np.float32)
    x = rng.standard_normal((1, 3, 32, 32)).astype(np.float32)
    for name, written_out in (("paddle_hardswish", True), ("paddle_clean", False)):
        inits = [numpy_helper.from_array(a, n) for a, n in
                 ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"), (w3, "w3"), (b3, "b3"))]
        nodes = [helper.make_node("Conv", ["input", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1],
                                  strides=[2, 2])]
        nodes += hardswish("c1", "h1", written_out, inits)
        nodes.append(helper.make_node("Conv", ["h1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1],
                                      group=8))
        nodes += hardswish("c2", "h2", written_out, inits)
        nodes += [helper.make_node("GlobalAveragePool", ["h2"], ["g"]),
                  helper.make_node("Flatten", ["g"], ["f"]),
                  helper.make_node("Gemm", ["f", "w3", "b3"], ["logits"], transB=1)]
        graph = helper.make_graph(
            nodes, name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, x.shape)],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, (1, 10))], inits)
        proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)],
                                  producer_name="tinyc examples/exporters")
        proto.ir_version = 8
        check_and_save(proto, name, {"input": x}, numpy_reference(x, w1, b1, w2, b2, w3, b3))


def hardswish(x: str, y: str, written_out: bool, inits: list[onnx.TensorProto]) -> list:
    """Paddle's ``hard_swish`` (offset 3, threshold 6, scale 6) or the HardSwish op."""
    if not written_out:
        return [helper.make_node("HardSwish", [x], [y])]
    if not any(t.name == "three" for t in inits):
        for n, v in (("three", 3.0), ("zero", 0.0), ("six", 6.0)):
            inits.append(numpy_helper.from_array(np.array(v, np.float32), n))
    return [helper.make_node("Add", [x, "three"], [x + "_plus3"]),
            helper.make_node("Clip", [x + "_plus3", "zero", "six"], [x + "_relu6"]),
            helper.make_node("Mul", [x, x + "_relu6"], [x + "_gated"]),
            helper.make_node("Div", [x + "_gated", "six"], [y])]


def numpy_reference(x: np.ndarray, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray,
                    b2: np.ndarray, w3: np.ndarray, b3: np.ndarray) -> np.ndarray:
    def hs(v: torch.Tensor) -> torch.Tensor:
        return v * torch.clamp(v + 3, 0, 6) / 6

    t = torch.from_numpy
    c1 = hs(F.conv2d(t(x), t(w1), t(b1), stride=2, padding=1))
    c2 = hs(F.conv2d(c1, t(w2), t(b2), padding=1, groups=8))
    return (c2.mean((2, 3)) @ t(w3).T + t(b3)).numpy()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    make_mobilenet()
    make_padnet()
    make_paddle()


if __name__ == "__main__":
    main()
