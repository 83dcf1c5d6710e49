"""`tinyc export`'s IR -> ONNX writer: pruned example models (dense and sparse IR, with and
without BatchNorm folded) come back through onnxruntime and the frontend unchanged in
meaning; what cannot be exported is refused by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from tests.strategies import make_node
from tinyc.compiler import Options, load_model, optimize
from tinyc.errors import UnsupportedError
from tinyc.frontend.onnx_export import EXPORT_OPSET, check_roundtrip, export_onnx
from tinyc.interp import run_graph
from tinyc.ir import DType, Graph, TensorType
from tinyc.passes import PassContext, PassManager, parse_pipeline

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"
PIPE = ("prune-channels{ratio=0.5},prune-unstructured{sparsity=0.6},"
        "sparsify-weights{policy=always}")


def ort_run(path: Path, x: np.ndarray) -> np.ndarray:
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


@pytest.mark.parametrize("model", ["digits_cnn_raw", "kws_dscnn", "resnet8", "ad_autoencoder"])
@pytest.mark.parametrize("level", [0, 1])
def test_pruned_models_roundtrip(model: str, level: int, tmp_path: Path) -> None:
    opts = Options(opt_level=level)
    graph, _ = optimize(load_model(MODELS / f"{model}.onnx", opts), opts)
    graph = PassManager(parse_pipeline(PIPE)).run(graph, PassContext(verify_each=True))
    path = tmp_path / "pruned.onnx"
    proto = export_onnx(graph, path)
    assert proto.opset_import[0].version == EXPORT_OPSET
    assert all(n.op_type not in ("SparseConv", "SparseGemm") for n in proto.graph.node)
    # only the dense weights are stored, not the CSR arrays
    assert not any(i.name.endswith(("_values", "_deltas", "_row_nnz"))
                   for i in proto.graph.initializer)
    assert check_roundtrip(graph, path) < 1e-5
    x = np.random.default_rng(0).standard_normal(graph.inputs[0].shape).astype(np.float32)
    (want,) = run_graph(graph, {graph.inputs[0].name: x})
    np.testing.assert_allclose(ort_run(path, x), want, rtol=1e-4, atol=1e-5)
    if level == 0 and model == "digits_cnn_raw":  # BatchNorm stays, for fine-tuning
        assert "BatchNormalization" in {n.op_type for n in proto.graph.node}


def test_attribute_like_inputs_and_activations(tmp_path: Path) -> None:
    g = Graph("forms")
    x = g.add_input("x", TensorType(DType.F32, (1, 2, 3, 4)))
    p = make_node(g, "Pad", [x], pads=[0, 0, 1, 0, 0, 0, 0, 1], value=0.5).outputs[0]
    c = make_node(g, "Clip", [p], min=-0.2, max=0.7).outputs[0]
    u = make_node(g, "Unsqueeze", [c], axes=[0]).outputs[0]
    s = make_node(g, "Squeeze", [u], axes=[0]).outputs[0]
    r = make_node(g, "Reshape", [s, g.add_const("shape", np.array([1, -1], np.int64))]).outputs[0]
    w = g.add_const("w", np.linspace(-1, 1, r.shape[1] * 3).reshape(3, -1).astype(np.float32))
    y = make_node(g, "Gemm", [r, w], transB=1, activation="LeakyRelu",
                  activation_params=[0.1]).outputs[0]
    g.outputs = [y]
    path = tmp_path / "forms.onnx"
    export_onnx(g, path)
    check_roundtrip(g, path)
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert ops == ["Pad", "Clip", "Unsqueeze", "Squeeze", "Reshape", "Gemm", "LeakyRelu"]


def test_refusals() -> None:
    g = Graph("bad")
    x = g.add_input("x", TensorType(DType.F32, (1, 4)))
    node = make_node(g, "Relu", [x])
    node.attrs["mystery"] = 1
    g.outputs = [node.outputs[0]]
    with pytest.raises(UnsupportedError, match="mystery"):
        export_onnx(g)
