"""Pruned models as generated C (built -std=c99 -Werror with ASan/UBSan):

- the sparse kernels compute exactly what the dense kernels compute on the same sparse
  weights (every Conv geometry and Gemm form in one multi-output graph, built twice);
- the digits CNN at 80 % unstructured sparsity stores <= 0.4x the dense weight bytes and
  its C matches the interpreter;
- kws_dscnn and resnet8 with half their channels compile and match the interpreter.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.strategies import make_node
from tinyc.compiler import Options, compile_graph, load_model, optimize
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
from tinyc.interp import run_graph
from tinyc.ir import DType, Graph, TensorType
from tinyc.ir.verify import verify
from tinyc.passes import PassContext
from tinyc.passes.sparsify_weights import SparsifyWeights

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"

CONVS = [
    ((8, 3, 3, 3), (1, 3, 7, 6), {"pads": [1, 1, 1, 1]}),
    ((6, 2, 3, 2), (1, 4, 9, 8), {"pads": [0, 1, 2, 0], "strides": [2, 1], "group": 2}),
    ((4, 1, 3, 3), (2, 4, 6, 6), {"pads": [2, 2, 2, 2], "dilations": [2, 2], "group": 4,
                                  "activation": "Clip", "activation_params": [-0.5, 0.5]}),
    ((5, 4, 1, 1), (1, 4, 5, 5), {"activation": "Relu", "activation_params": []}),
    ((7, 6, 1, 1), (1, 6, 4, 4), {"strides": [2, 2]}),
    ((3, 2, 4), (1, 2, 11), {"pads": [1, 2], "strides": [2]}),
    ((4, 3, 5, 5), (1, 3, 4, 4), {"pads": [2, 2, 2, 2]}),  # window wider than the input
]


def sparse(shape: tuple[int, ...], density: float, rng: np.random.Generator) -> np.ndarray:
    w = rng.standard_normal(shape).astype(np.float32)
    return np.where(rng.random(shape) < density, w, 0).astype(np.float32)


def many_layers() -> Graph:
    """One graph, one input and one output per layer, so one build covers every case."""
    rng = np.random.default_rng(7)
    g = Graph("layers")
    for i, (wshape, xshape, attrs) in enumerate(CONVS):
        x = g.add_input(f"x{i}", TensorType(DType.F32, xshape))
        w = g.add_const(f"w{i}", sparse(wshape, 0.35, rng))
        b = g.add_const(f"b{i}", rng.standard_normal(wshape[0]).astype(np.float32))
        g.outputs.append(make_node(g, "Conv", [x, w, b], **attrs).outputs[0])
    gemms = [(0, (3,), 0.3), (1, (1, 5), 0.2), (1, None, 0.05)]
    for j, (trans_b, cshape, density) in enumerate(gemms):
        x = g.add_input(f"a{j}", TensorType(DType.F32, (2, 300)))
        w = sparse((5, 300), density, rng)  # gaps over 255: filler entries
        w = w if trans_b else np.ascontiguousarray(w.T)
        ins = [x, g.add_const(f"g{j}", w)]
        if cshape is not None:
            shape = (5,) if cshape == (3,) else cshape
            ins.append(g.add_const(f"c{j}", rng.standard_normal(shape).astype(np.float32)))
        g.outputs.append(make_node(g, "Gemm", ins, transB=trans_b, alpha=0.5,
                                   activation="Relu" if j == 2 else "",
                                   activation_params=[]).outputs[0])
    verify(g)
    return g


def build_and_run(graph: Graph, tmp: Path, inputs: list[np.ndarray]) -> list[np.ndarray]:
    compiled = compile_graph(graph, Options(), "m")
    compiled.code.write(tmp)
    return run_host(build_host(tmp, graph, "m", SANITIZE_FLAGS), graph, inputs)


def test_sparse_kernels_equal_dense_kernels_in_c(tmp_path: Path) -> None:
    dense = many_layers()
    rng = np.random.default_rng(8)
    inputs = [rng.standard_normal(v.shape).astype(np.float32) for v in dense.inputs]
    want = build_and_run(dense, tmp_path / "dense", inputs)
    sparse_graph = many_layers()
    assert SparsifyWeights(policy="always")(sparse_graph, PassContext(verify_each=True)).modified
    assert set(sparse_graph.op_histogram()) == {"SparseConv", "SparseGemm"}
    got = build_and_run(sparse_graph, tmp_path / "sparse", inputs)
    feeds = {v.name: x for v, x in zip(sparse_graph.inputs, inputs, strict=True)}
    ref = run_graph(sparse_graph, feeds)
    for g, w, r in zip(got, want, ref, strict=False):
        np.testing.assert_array_equal(g, w)  # same sums in the same order
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5)


def test_digits_80_percent_unstructured(tmp_path: Path) -> None:
    dense_opts, opts = Options(), Options(prune="unstructured:0.8")
    dense, _ = optimize(load_model(MODELS / "digits_cnn.onnx", dense_opts), dense_opts)
    graph, _ = optimize(load_model(MODELS / "digits_cnn.onnx", opts), opts)
    dense_bytes = compile_graph(dense, dense_opts, "d").code.weight_bytes
    compiled = compile_graph(graph, opts, "digits")
    assert compiled.code.weight_bytes <= 0.4 * dense_bytes
    assert "SparseGemm" in graph.op_histogram()
    compiled.code.write(tmp_path)
    exe = build_host(tmp_path, graph, "digits", SANITIZE_FLAGS)
    for x in np.load(MODELS / "digits_test_x.npy")[:3]:
        x = x.reshape(1, 1, 8, 8)
        (got,) = run_host(exe, graph, [x])
        (want,) = run_graph(graph, {"input": x})
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("model", ["kws_dscnn", "resnet8"])
def test_half_channels_compile_and_match(model: str, tmp_path: Path) -> None:
    opts = Options(prune="channels:0.5")
    graph, _ = optimize(load_model(MODELS / f"{model}.onnx", opts), opts)
    compiled = compile_graph(graph, opts, model)
    compiled.code.write(tmp_path)
    exe = build_host(tmp_path, graph, model, SANITIZE_FLAGS)
    x = np.random.default_rng(3).standard_normal(graph.inputs[0].shape).astype(np.float32)
    (got,) = run_host(exe, graph, [x])
    (want,) = run_graph(graph, {graph.inputs[0].name: x})
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_int8_sparse_kernels_bit_exact(tmp_path: Path) -> None:
    """With int8 quantization the pruned layers become SparseQConv/SparseQGemm; their C is
    bit-exact with the interpreter and with the dense int8 kernels."""
    x = np.load(MODELS / "digits_test_x.npy")[:1]
    calib = tmp_path / "calib.npy"
    np.save(calib, np.load(MODELS / "digits_train_x.npy")[:20])
    outs = {}
    for sparse_policy in ("never", "always"):
        opts = Options(quantize="int8", calib=str(calib),
                       prune="unstructured:0.8", sparse=sparse_policy)
        graph, _ = optimize(load_model(MODELS / "digits_cnn.onnx", opts), opts)
        ops = graph.op_histogram()
        assert ("SparseQConv" in ops) == (sparse_policy == "always")
        compiled = compile_graph(graph, opts, "q")
        out = tmp_path / sparse_policy
        compiled.code.write(out)
        (got,) = run_host(build_host(out, graph, "q", SANITIZE_FLAGS), graph, [x])
        (want,) = run_graph(graph, {"input": x})
        np.testing.assert_array_equal(got, want)
        outs[sparse_policy] = got
    np.testing.assert_array_equal(outs["never"], outs["always"])
