"""Build the recurrent example models: an LSTM and a GRU classifier of the digits.

Dev-only script (needs torch and scikit-learn, which tinyc itself does not). Each 8x8
digit is read as a sequence of 8 rows of 8 pixels, keyword-spotting style (frames of
features in, one class out): `nn.LSTM` / `nn.GRU` (hidden 32, batch first) -> the last
hidden state -> `nn.Linear(32, 10)`. Both are trained on the seeded digits split of
`make_models.py` and exported with the TorchScript exporter to `examples/models/`
(`digits_lstm.onnx`, `digits_gru.onnx`), input [1, 1, 8, 8] like the digits CNN's, so the
committed `digits_train_x.npy` (calibration) and `digits_test_x.npy` / `digits_test_y.npy`
(evaluation) serve them as they are.

Run from the repository root::

    python examples/make_rnn_models.py
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import torch
from make_models import MODELS_DIR, OPSET, SEED, load_digits_split
from torch import nn

HIDDEN = 32
EPOCHS = 60


class DigitsRNN(nn.Module):
    """Rows of the image as time steps; classify from the last hidden state."""

    def __init__(self, cell: type[nn.Module]) -> None:
        super().__init__()
        self.rnn = cell(8, HIDDEN, batch_first=True)
        self.fc = nn.Linear(HIDDEN, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, state = self.rnn(x.flatten(1, 2))  # [N, 1, 8, 8] -> [N, 8 rows, 8 pixels]
        h = state[0] if isinstance(state, tuple) else state
        return self.fc(h[-1])


def train(cell: type[nn.Module], x: np.ndarray, y: np.ndarray) -> nn.Module:
    torch.manual_seed(SEED)
    model = DigitsRNN(cell)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, EPOCHS)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(SEED)
    for _ in range(EPOCHS):
        model.train()
        for idx in torch.randperm(len(yt), generator=gen).split(32):
            opt.zero_grad()
            nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
            opt.step()
        sched.step()
    return model.eval()


def main() -> None:
    data = load_digits_split(SEED)
    train_x, test_x = data.train_x, data.test_x
    for name, cell in (("digits_lstm", nn.LSTM), ("digits_gru", nn.GRU)):
        model = train(cell, train_x, data.train_y)
        with torch.no_grad():
            pred = model(torch.from_numpy(test_x)).argmax(1).numpy()
        acc = float((pred == data.test_y).mean())
        path = MODELS_DIR / f"{name}.onnx"
        torch.onnx.export(model, (torch.from_numpy(test_x[:1]),), str(path), dynamo=False,
                          opset_version=OPSET, input_names=["input"], output_names=["output"])
        onnx.checker.check_model(onnx.load(str(path)), full_check=True)
        sess = ort.InferenceSession(str(path))
        ort_pred = np.array([sess.run(None, {"input": s[None]})[0].argmax()
                             for s in test_x])
        ort_acc = float((ort_pred == data.test_y).mean())
        ops = sorted({n.op_type for n in onnx.load(str(path)).graph.node})
        print(f"{name}: torch accuracy {acc:.4f}, onnxruntime {ort_acc:.4f} "
              f"({len(data.test_y)} held-out), {path.stat().st_size} B, ops {ops}")


if __name__ == "__main__":
    main()
