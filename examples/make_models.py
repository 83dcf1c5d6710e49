"""Build the example ONNX models for tinyc.

Dev-only script (needs torch and scikit-learn, which tinyc itself does not).
It builds small float32, batch-1, static-shape models modelled on the MLPerf
Tiny reference networks, plus a CNN trained on scikit-learn's bundled digits
dataset, and exports each one twice into ``examples/models/``. (The anomaly
detection autoencoder is MLPerf Tiny's trained model, which
``make_ad_model.py`` converts; this script does not touch it.)

* ``<name>.onnx``: eval mode with constant folding (Conv+BN folded by torch).
* ``<name>_raw.onnx``: no constant folding and no eval peephole, so
  BatchNormalization, Dropout (rewritten to its inference form) and the
  Shape->Gather->Concat->Reshape subgraph stay in the graph, for testing the
  compiler's own optimisation passes.

Every file is checked (onnx checker, strict shape inference with all shapes
static, an onnxruntime run compared with torch) and summarised in a table.
Everything is seeded, so re-running produces the same models.

Run from the repository root::

    python examples/make_models.py
"""

from __future__ import annotations

import argparse
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import numpy_helper
from sklearn.datasets import load_digits
from torch import nn

OPSET = 17
SEED = 1234
MODELS_DIR = Path(__file__).resolve().parent / "models"
MAX_FILE_BYTES = 1_500_000

# Ops the compiler is expected to handle; anything else is reported.
EXPECTED_OPS = frozenset(
    {
        "Conv",
        "Gemm",
        "MatMul",
        "Add",
        "Relu",
        "Clip",
        "BatchNormalization",
        "AveragePool",
        "MaxPool",
        "GlobalAveragePool",
        "Flatten",
        "Reshape",
        "Shape",
        "Gather",
        "Concat",
        "Unsqueeze",
        "Softmax",
        "Dropout",
        "Identity",
        "Constant",
    }
)


# --------------------------------------------------------------------------
# Model definitions
# --------------------------------------------------------------------------


def conv_bn_relu(
    cin: int,
    cout: int,
    kernel: int | tuple[int, int],
    *,
    stride: int = 1,
    padding: int | tuple[int, int] = 0,
    groups: int = 1,
) -> list[nn.Module]:
    """Conv (with bias, as Keras does by default) + BatchNorm + ReLU."""
    return [
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, groups=groups),
        nn.BatchNorm2d(cout),
        nn.ReLU(),
    ]


class DSCNN(nn.Module):
    """MLPerf Tiny keyword spotting DS-CNN ("small", 64 filters).

    Follows ``mlcommons/tiny`` ``keyword_spotting/keras_model.py``. Keras
    ``padding='same'`` with stride 2 pads the 10x4 kernel asymmetrically
    (top 4 / bottom 5, left 1 / right 1); here symmetric padding (5, 1) gives
    the same 25x5 output map with a one-row alignment shift.
    """

    def __init__(self, filters: int = 64, num_classes: int = 12) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            *conv_bn_relu(1, filters, (10, 4), stride=2, padding=(5, 1)),
            nn.Dropout(0.2),
        ]
        for _ in range(4):
            layers += conv_bn_relu(filters, filters, 3, padding=1, groups=filters)
            layers += conv_bn_relu(filters, filters, 1)
        layers += [
            nn.Dropout(0.4),
            nn.AvgPool2d((25, 5)),
            nn.Flatten(),
            nn.Linear(filters, num_classes),
            nn.Softmax(dim=1),
        ]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MobileNetV1(nn.Module):
    """MLPerf Tiny visual wake words MobileNetV1, alpha 0.25, 96x96 input.

    Follows ``mlcommons/tiny`` ``visual_wake_words/vww_model.py`` (plain
    ReLU, AveragePool over the final 3x3 map, Dense + softmax). Stride-2
    layers use symmetric padding 1 instead of Keras' bottom/right-only pad.
    """

    # (pointwise output channels, depthwise stride) for the 13 DS blocks.
    BLOCKS: tuple[tuple[int, int], ...] = (
        (16, 1),
        (32, 2),
        (32, 1),
        (64, 2),
        (64, 1),
        (128, 2),
        (128, 1),
        (128, 1),
        (128, 1),
        (128, 1),
        (128, 1),
        (256, 2),
        (256, 1),
    )

    def __init__(self, num_classes: int = 2) -> None:
        super().__init__()
        cin = 8
        layers: list[nn.Module] = conv_bn_relu(3, cin, 3, stride=2, padding=1)
        for cout, stride in self.BLOCKS:
            layers += conv_bn_relu(cin, cin, 3, stride=stride, padding=1, groups=cin)
            layers += conv_bn_relu(cin, cout, 1)
            cin = cout
        layers += [
            nn.AvgPool2d(3),
            nn.Flatten(),
            nn.Linear(cin, num_classes),
            nn.Softmax(dim=1),
        ]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ResidualStack(nn.Module):
    """Two 3x3 conv+BN layers with an identity or 1x1-conv shortcut."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(cout)
        # The reference uses a plain 1x1 conv (no BN) when the shape changes.
        self.shortcut: nn.Module = (
            nn.Conv2d(cin, cout, 1, stride=stride)
            if stride != 1 or cin != cout
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(self.shortcut(x) + y)


class ResNet8(nn.Module):
    """MLPerf Tiny image classification ResNet-8 for CIFAR-10 (16/32/64)."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(*conv_bn_relu(3, 16, 3, padding=1))
        self.stacks = nn.Sequential(
            ResidualStack(16, 16, 1),
            ResidualStack(16, 32, 2),
            ResidualStack(32, 64, 2),
        )
        self.pool = nn.AvgPool2d(8)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.stacks(self.stem(x)))
        return torch.softmax(self.fc(torch.flatten(x, 1)), dim=1)


class DigitsCNN(nn.Module):
    """Small CNN for the 8x8 scikit-learn digits."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.drop = nn.Dropout(0.25)
        self.fc = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.drop(self.pool(torch.relu(self.conv2(x))))
        # view(size(0), -1) on purpose: gives a Shape->Gather->...->Reshape
        # subgraph when constant folding is off.
        x = x.view(x.size(0), -1)
        return self.fc(x)


# --------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------


@torch.no_grad()
def randomize_batchnorm(model: nn.Module, input_shape: tuple[int, ...]) -> None:
    """Give every BatchNorm non-trivial affine params and running stats.

    gamma/beta are drawn at random; running mean/var are then estimated
    from random inputs (cumulative average), so they are far from 0/1 but
    keep activations in a sane range in eval mode.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for bn in bns:
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.normal_(0.0, 0.2)
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average
    model.eval()
    for bn in bns:
        bn.train()
    for _ in range(4):
        model(torch.randn(32, *input_shape[1:]))
    model.eval()
    for bn in bns:
        bn.momentum = 0.1


def build_random(
    model: nn.Module, input_shape: tuple[int, ...], seed: int
) -> nn.Module:
    """Deterministically initialise an untrained reference model."""
    torch.manual_seed(seed)
    for m in model.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
    randomize_batchnorm(model, input_shape)
    return model.eval()


@dataclass
class DigitsData:
    """Seeded split of scikit-learn's digits dataset, pixels in [0, 1]."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


def load_digits_split(seed: int) -> DigitsData:
    """First 80% / last 20% after a seeded shuffle."""
    digits = load_digits()
    order = np.random.default_rng(seed).permutation(len(digits.target))
    # reshape (not [:, None]) so the channel axis gets a normal stride;
    # otherwise torch treats the batch as channels_last and view() fails.
    x = (digits.images[order].astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    y = digits.target[order].astype(np.int64)
    n_train = int(0.8 * len(y))
    return DigitsData(x[:n_train], y[:n_train], x[n_train:], y[n_train:])


def train_digits(
    data: DigitsData, seed: int, epochs: int = 40
) -> tuple[nn.Module, float]:
    """Train DigitsCNN with Adam; returns the eval-mode model and test accuracy."""
    torch.manual_seed(seed)
    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    x = torch.from_numpy(data.train_x)
    y = torch.from_numpy(data.train_y)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(y), generator=gen).split(32):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
        sched.step()
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(data.test_x)).argmax(1).numpy()
    return model, float((pred == data.test_y).mean())


# --------------------------------------------------------------------------
# Export and verification
# --------------------------------------------------------------------------


def make_dropout_inference(model: onnx.ModelProto) -> None:
    """Turn exported training-mode Dropout nodes into inference no-ops.

    The TorchScript exporter only emits Dropout for a module in training
    mode, wired to a constant ``training_mode=True``. Dropping that input
    (it defaults to false) and the unused mask output leaves
    ``Dropout(x, ratio)``, which is an identity at inference.
    """
    graph = model.graph
    consumers = Counter(name for node in graph.node for name in node.input)
    consumers.update(o.name for o in graph.output)
    dead: set[str] = set()
    for node in graph.node:
        if node.op_type != "Dropout":
            continue
        if len(node.input) == 3:
            dead.add(node.input[2])
            del node.input[2]
        if len(node.output) == 2 and consumers[node.output[1]] == 0:
            dead.add(node.output[1])
            del node.output[1]
    still_used = {name for node in graph.node for name in node.input}
    keep = [
        n
        for n in graph.node
        if not (n.op_type == "Constant" and n.output[0] in dead - still_used)
    ]
    del graph.node[:]
    graph.node.extend(keep)
    vi = [v for v in graph.value_info if v.name not in dead]
    del graph.value_info[:]
    graph.value_info.extend(vi)


def export(model: nn.Module, example: torch.Tensor, path: Path, *, raw: bool) -> None:
    """Export with the TorchScript (legacy) exporter; see module docstring."""
    model.eval()
    if raw:
        # Dropout is only exported for modules in training mode; everything
        # else stays in eval mode (BatchNormalization training_mode=0).
        for m in model.modules():
            if isinstance(m, nn.Dropout):
                m.train()
        training = torch.onnx.TrainingMode.PRESERVE
        # With a fully static input the exporter turns x.size(0) into a
        # Constant even without folding; a symbolic batch dim keeps the
        # Shape->Gather->Unsqueeze->Concat->Reshape subgraph. The batch dim
        # is pinned back to 1 afterwards, so all shapes are still static.
        dynamic_axes = {"input": {0: "batch"}, "output": {0: "batch"}}
    else:
        training = torch.onnx.TrainingMode.EVAL
        dynamic_axes = None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        torch.onnx.export(
            model,
            (example,),
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=["input"],
            output_names=["output"],
            training=training,
            do_constant_folding=not raw,
            dynamic_axes=dynamic_axes,
        )
    model.eval()
    if raw:
        proto = onnx.load(str(path))
        make_dropout_inference(proto)
        pin_batch_dim(proto, example.shape[0])
        onnx.save(proto, str(path))


def pin_batch_dim(model: onnx.ModelProto, batch: int) -> None:
    """Replace the symbolic batch dim of the graph inputs/outputs by batch."""
    graph = model.graph
    del graph.value_info[:]
    for vi in [*graph.input, *graph.output]:
        dim = vi.type.tensor_type.shape.dim[0]
        dim.Clear()
        dim.dim_value = batch


def static_shape(vi: onnx.ValueInfoProto) -> bool:
    """Return whether every dim of tensor vi is a known positive int."""
    t = vi.type.tensor_type
    return t.HasField("shape") and all(
        d.HasField("dim_value") and d.dim_value > 0 for d in t.shape.dim
    )


@dataclass
class Row:
    """One line of the summary table."""

    name: str
    size: int
    nodes: int
    params: int
    ops: Counter[str]
    max_err: float


def verify(path: Path, model: nn.Module, rng: np.random.Generator) -> Row:
    """Check, shape-infer, run in onnxruntime and compare with torch."""
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [
        OPSET
    ]
    assert [i.name for i in proto.graph.input] == ["input"], path
    assert [o.name for o in proto.graph.output] == ["output"], path

    inferred = onnx.shape_inference.infer_shapes(
        proto, check_type=True, strict_mode=True, data_prop=True
    )
    g = inferred.graph
    infos = {v.name: v for v in [*g.input, *g.output, *g.value_info]}
    for node in g.node:
        for out in node.output:
            if out and out not in infos:
                raise AssertionError(
                    f"{path.name}: no shape for {out} ({node.op_type})"
                )
    dynamic = [name for name, v in infos.items() if not static_shape(v)]
    if dynamic:
        raise AssertionError(f"{path.name}: non-static shapes: {dynamic}")
    float_io = onnx.TensorProto.FLOAT
    for v in [*g.input, *g.output]:
        assert v.type.tensor_type.elem_type == float_io, v.name

    shape = [d.dim_value for d in g.input[0].type.tensor_type.shape.dim]
    x = rng.standard_normal(shape).astype(np.float32)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, {"input": x})
    with torch.no_grad():
        want = model.eval()(torch.from_numpy(x)).numpy()
    err = float(np.max(np.abs(got - want)))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=path.name)

    size = path.stat().st_size
    assert size <= MAX_FILE_BYTES, f"{path.name} is {size} bytes"
    params = sum(int(np.prod(t.dims)) for t in proto.graph.initializer)
    for node in proto.graph.node:
        if node.op_type == "Constant":
            params += sum(
                numpy_helper.to_array(a.t).size for a in node.attribute if a.t.dims
            )
    ops = Counter(n.op_type for n in proto.graph.node)
    return Row(path.name, size, len(proto.graph.node), params, ops, err)


def print_table(rows: list[Row]) -> None:
    """Print the summary table and any ops outside EXPECTED_OPS."""
    head = f"{'file':<24} {'bytes':>9} {'nodes':>5} {'params':>7} {'ort-torch':>9}  ops"
    print(head)
    print("-" * len(head))
    for r in rows:
        hist = " ".join(
            f"{op}:{n}"
            for op, n in sorted(r.ops.items(), key=lambda kv: (-kv[1], kv[0]))
        )
        cols = f"{r.name:<24} {r.size:>9} {r.nodes:>5} {r.params:>7} {r.max_err:>9.1e}"
        print(f"{cols}  {hist}")
    unexpected = sorted({op for r in rows for op in r.ops} - EXPECTED_OPS)
    print(f"\nopset {OPSET}, unexpected ops: {', '.join(unexpected) or 'none'}")


def main() -> None:
    """Build, export and verify all models."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODELS_DIR, help="output directory")
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)

    digits = load_digits_split(SEED)
    digits_model, acc = train_digits(digits, SEED)
    print(
        f"digits_cnn: test accuracy {acc:.4f} ({len(digits.test_y)} held-out samples)"
    )
    if acc <= 0.95:
        raise SystemExit("digits_cnn accuracy too low")
    np.save(out / "digits_test_x.npy", digits.test_x)
    np.save(out / "digits_test_y.npy", digits.test_y)
    np.save(out / "digits_train_x.npy", digits.train_x[:200])

    models: list[tuple[str, nn.Module, tuple[int, ...]]] = [
        ("kws_dscnn", build_random(DSCNN(), (1, 1, 49, 10), SEED + 1), (1, 1, 49, 10)),
        (
            "vww_mobilenet",
            build_random(MobileNetV1(), (1, 3, 96, 96), SEED + 2),
            (1, 3, 96, 96),
        ),
        ("resnet8", build_random(ResNet8(), (1, 3, 32, 32), SEED + 3), (1, 3, 32, 32)),
        ("digits_cnn", digits_model, (1, 1, 8, 8)),
    ]

    rows: list[Row] = []
    rng = np.random.default_rng(SEED)
    for name, model, shape in models:
        example = torch.zeros(shape)
        for raw in (False, True):
            path = out / f"{name}{'_raw' if raw else ''}.onnx"
            export(model, example, path, raw=raw)
            rows.append(verify(path, model, rng))
    print()
    print_table(rows)


if __name__ == "__main__":
    main()
