"""Sparse storage and the dense/sparse choice: the CSR encoding (fillers, index widths),
the cost model's policies, the sparse ops against the dense ones in the interpreter, and
`sparsify-weights` on models that arrive already sparse."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.strategies import make_node
from tinyc.compiler import Options, load_model, optimize
from tinyc.errors import UsageError
from tinyc.interp import run_graph
from tinyc.ir import DType, Graph, TensorType
from tinyc.ir.text import external_constants, parse_graph, print_graph
from tinyc.ir.verify import verify
from tinyc.passes import PassContext
from tinyc.passes.sparsify_weights import SparsifyWeights, layer_costs
from tinyc.prune.sparse import best_encoding, choose, decode, encode, kernel_set

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"


def sparse_matrix(rows: int, cols: int, density: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((rows, cols)).astype(np.float32)
    return np.where(rng.random((rows, cols)) < density, m, 0).astype(np.float32)


@pytest.mark.parametrize("bits", [8, 16])
def test_roundtrip_with_long_gaps(bits: int) -> None:
    m = np.zeros((3, 1000), np.float32)
    m[0, [0, 1, 300, 999]] = [1, 2, 3, 4]
    m[2, [256, 511, 512]] = [5, 6, 7]  # row 1 empty
    csr = encode(m, bits)
    assert csr is not None and csr.index_bits == bits
    np.testing.assert_array_equal(decode(csr.values, csr.deltas, csr.row_nnz, 1000), m)
    fillers = csr.entries - np.count_nonzero(m)
    assert (fillers > 0) == (bits == 8)
    assert csr.row_nnz.tolist()[1] == 0


def test_best_encoding_and_overflow() -> None:
    dense_ish = sparse_matrix(4, 64, 0.3)
    assert best_encoding(dense_ish).index_bits == 8  # type: ignore[union-attr]
    very_sparse = np.zeros((2, 60000), np.float32)
    very_sparse[:, ::5000] = 1
    assert best_encoding(very_sparse).index_bits == 16  # type: ignore[union-attr]
    assert encode(np.ones((1, 70000), np.float32)) is None  # > 65535 entries in a row


def test_decode_rejects_corrupt_storage() -> None:
    csr = encode(sparse_matrix(2, 10, 0.5))
    assert csr is not None
    with pytest.raises(ValueError):
        decode(csr.values, csr.deltas, csr.row_nnz + 1, 10)
    with pytest.raises(ValueError):
        decode(csr.values, csr.deltas, csr.row_nnz, 2)


def test_policies() -> None:
    assert choose(100, 50, 1000, 1400, "auto")  # smaller, within 1.5x time
    assert not choose(100, 50, 1000, 2000, "auto")
    assert choose(100, 100, 1000, 500, "auto")  # faster, not bigger
    assert choose(100, 50, 1000, 2000, "flash") and not choose(100, 50, 1000, 2000, "speed")
    assert choose(100, 500, 1, 9, "always") and not choose(100, 5, 9, 1, "never")
    with pytest.raises(UsageError):
        choose(1, 1, 1, 1, "fast")
    assert kernel_set("cortex-m7") == "cortex-m4" and kernel_set("generic") == "ref"


def conv_graph(w: np.ndarray, x_shape: tuple[int, ...], **attrs: object) -> Graph:
    g = Graph("conv")
    x = g.add_input("x", TensorType(DType.F32, x_shape))
    b = g.add_const("b", np.linspace(-1, 1, w.shape[0]).astype(np.float32))
    node = make_node(g, "Conv", [x, g.add_const("w", w), b], **attrs)
    g.outputs = [node.outputs[0]]
    return g


CONV_CASES = [
    ((8, 3, 3, 3), (1, 3, 7, 6), {"pads": [1, 1, 1, 1]}),
    ((6, 2, 3, 2), (1, 4, 9, 8), {"pads": [0, 1, 2, 0], "strides": [2, 1], "group": 2}),
    ((4, 1, 3, 3), (2, 4, 6, 6), {"pads": [2, 2, 2, 2], "dilations": [2, 2], "group": 4}),
    ((5, 4, 1, 1), (1, 4, 5, 5), {}),
    ((3, 2, 4), (1, 2, 11), {"pads": [1, 2], "strides": [2],
                             "activation": "Relu", "activation_params": []}),
]


@pytest.mark.parametrize(("wshape", "xshape", "attrs"), CONV_CASES)
def test_sparse_conv_equals_dense_in_interpreter(wshape, xshape, attrs) -> None:  # noqa: ANN001
    rng = np.random.default_rng(1)
    w = np.where(rng.random(wshape) < 0.3, rng.standard_normal(wshape), 0).astype(np.float32)
    g = conv_graph(w, xshape, **attrs)
    feeds = {"x": rng.standard_normal(xshape).astype(np.float32)}
    want = run_graph(g, feeds)[0]
    assert SparsifyWeights(policy="always")(g, PassContext(verify_each=True)).modified
    assert [n.op for n in g.nodes] == ["SparseConv"]
    np.testing.assert_array_equal(run_graph(g, feeds)[0], want)
    # the text IR round-trips the sparse op and its u8/u16 constants
    text = print_graph(g)
    assert print_graph(parse_graph(text, external_constants(g))) == text


@pytest.mark.parametrize("trans_b", [0, 1])
@pytest.mark.parametrize("bias", [None, (5,), (1, 5), (1,)])
def test_sparse_gemm_equals_dense_in_interpreter(trans_b: int, bias) -> None:  # noqa: ANN001
    rng = np.random.default_rng(2)
    g = Graph("gemm")
    x = g.add_input("x", TensorType(DType.F32, (3, 7)))
    w = sparse_matrix(5, 7, 0.4, 3)
    w = w if trans_b else np.ascontiguousarray(w.T)
    ins = [x, g.add_const("w", w)]
    if bias is not None:
        ins.append(g.add_const("c", rng.standard_normal(bias).astype(np.float32)))
    node = make_node(g, "Gemm", ins, transB=trans_b, alpha=0.5, beta=0.75)
    g.outputs = [node.outputs[0]]
    feeds = {"x": rng.standard_normal((3, 7)).astype(np.float32)}
    want = run_graph(g, feeds)[0]
    SparsifyWeights(policy="always")(g, PassContext(verify_each=True))
    assert [n.op for n in g.nodes] == ["SparseGemm"]
    np.testing.assert_allclose(run_graph(g, feeds)[0], want, rtol=1e-6, atol=1e-7)


def test_refusals_keep_dense() -> None:
    rng = np.random.default_rng(4)
    g = Graph("refuse")
    x = g.add_input("x", TensorType(DType.F32, (6, 2)))
    w = g.add_const("w", sparse_matrix(6, 4, 0.1))
    y1 = make_node(g, "Gemm", [x, w], transA=1)  # transA
    c = g.add_const("c", rng.standard_normal((2, 4)).astype(np.float32))
    y2 = make_node(g, "Gemm", [y1.outputs[0], g.add_const("w2", sparse_matrix(4, 4, 0.1)), c])
    g.outputs = [y2.outputs[0]]  # C varies along the rows: stays dense
    verify(g)
    assert not SparsifyWeights(policy="always")(g, PassContext()).modified


def test_auto_detects_sparse_model_and_reports() -> None:
    opts = Options()
    g, _ = optimize(load_model(MODELS / "digits_cnn.onnx", opts), opts)
    assert all(c.choice == "dense" and c.density == 1.0 for c in layer_costs(g))
    fc = next(c for c in g.constants if c.name == "fc.weight")
    fc.const = np.where(np.abs(fc.const) > np.quantile(np.abs(fc.const), 0.9), fc.const, 0)
    assert SparsifyWeights()(g, PassContext(verify_each=True)).modified
    costs = {c.layer: c for c in layer_costs(g)}
    assert costs["/fc/Gemm"].choice == "sparse" and costs["/conv2/Conv"].choice == "dense"
    assert costs["/fc/Gemm"].sparse_flash < 0.2 * costs["/fc/Gemm"].dense_flash
    assert all(c.name != "fc.weight" for c in g.constants)  # the dense copy is gone


def test_compile_default_sparsifies_only_when_it_pays() -> None:
    """-O1 sparsifies a weight that is mostly zeros, never a dense one, and an explicit
    --passes pipeline or -O0 runs no sparsification unless asked."""
    cases = ((Options(), True), (Options(passes="fold-batchnorm"), False),
             (Options(opt_level=0), False), (Options(opt_level=0, sparse="auto"), True))
    for opts, expect in cases:
        g = load_model(MODELS / "digits_cnn.onnx", opts)
        fc = next(c for c in g.constants if c.name == "fc.weight")
        fc.const = np.where(np.abs(fc.const) > np.quantile(np.abs(fc.const), 0.9), fc.const, 0)
        g, _ = optimize(g, opts)
        assert ("SparseGemm" in g.op_histogram()) == expect, opts
