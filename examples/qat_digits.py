"""Quantization-aware training of the digits CNN, exported with Q/DQ nodes.

Dev-only script (needs torch and scikit-learn, which tinyc itself does not). It trains the
digits CNN of `make_models.py` in float, folds its batch norm, fine-tunes it with PyTorch's
eager-mode QAT (uint8 activations, int8 symmetric per-channel weights, fake-quantized in
training), and exports the fake-quantized model to ONNX: every FakeQuantize becomes a
QuantizeLinear -> DequantizeLinear pair, which tinyc's `qdq-lower` turns into integer kernels
with the scales learned in training. It writes ``examples/models/digits_qat.onnx`` and prints
the onnxruntime accuracy of the exported model on the test split. Seeded; run from the
repository root:

    python examples/qat_digits.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn
from torch.ao import quantization as tq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_models import SEED, DigitsCNN, load_digits_split, train_digits  # noqa: E402

OUT = Path(__file__).resolve().parent / "models" / "digits_qat.onnx"
QAT_EPOCHS = 8


class QatDigits(nn.Module):
    """The digits CNN with module activations and quant stubs, as eager QAT needs them."""

    def __init__(self, src: DigitsCNN) -> None:
        super().__init__()
        self.quant = tq.QuantStub()
        self.conv1, self.bn1, self.relu1 = src.conv1, src.bn1, nn.ReLU()
        self.conv2, self.relu2 = src.conv2, nn.ReLU()
        self.pool = src.pool
        self.fc = src.fc
        self.dequant = tq.DeQuantStub()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu1(self.bn1(self.conv1(self.quant(x))))
        x = self.pool(self.relu2(self.conv2(x)))
        x = torch.flatten(x, 1)
        return self.dequant(self.fc(x))


def qconfig() -> tq.QConfig:
    """uint8 affine activations, int8 symmetric per-channel weights (zero point 0; ONNX
    export needs the full [-128, 127] range)."""
    act = tq.FakeQuantize.with_args(observer=tq.MovingAverageMinMaxObserver, quant_min=0,
                                    quant_max=255, dtype=torch.quint8,
                                    qscheme=torch.per_tensor_affine)
    weight = tq.FakeQuantize.with_args(observer=tq.MovingAveragePerChannelMinMaxObserver,
                                       quant_min=-128, quant_max=127, dtype=torch.qint8,
                                       qscheme=torch.per_channel_symmetric, ch_axis=0)
    return tq.QConfig(activation=act, weight=weight)


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    with torch.no_grad():
        return float((model(torch.from_numpy(x)).argmax(1).numpy() == y).mean())


def main() -> None:
    data = load_digits_split(SEED)
    float_model, float_acc = train_digits(data, SEED)
    print(f"float accuracy (torch): {float_acc:.4f}")
    model = QatDigits(float_model).eval()
    model = tq.fuse_modules(model, [["conv1", "bn1", "relu1"], ["conv2", "relu2"]])
    model.qconfig = qconfig()
    model.train()
    tq.prepare_qat(model, inplace=True)
    torch.manual_seed(SEED)
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)
    x, y = torch.from_numpy(data.train_x), torch.from_numpy(data.train_y)
    for epoch in range(QAT_EPOCHS):
        perm = torch.randperm(len(y))
        for i in range(0, len(y), 64):
            idx = perm[i : i + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
        if epoch == QAT_EPOCHS // 2:
            model.apply(tq.disable_observer)  # freeze the ranges for the last epochs
    model.eval()
    print(f"QAT accuracy (torch fake-quant): {accuracy(model, data.test_x, data.test_y):.4f}")
    torch.onnx.export(model, (torch.from_numpy(data.test_x[:1]),), str(OUT),
                      input_names=["input"], output_names=["output"], opset_version=17,
                      dynamo=False)
    onnx.checker.check_model(onnx.load(str(OUT)))
    sess = ort.InferenceSession(str(OUT), providers=["CPUExecutionProvider"])
    pred = [int(sess.run(None, {"input": data.test_x[i : i + 1]})[0].argmax())
            for i in range(len(data.test_y))]
    print(f"QAT accuracy (onnxruntime, {OUT.name}): {np.mean(np.array(pred) == data.test_y):.4f}")


if __name__ == "__main__":
    main()
