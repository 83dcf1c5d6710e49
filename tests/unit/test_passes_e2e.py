"""The passes end to end: on the `*_raw.onnx` example models (exported without constant
folding, so BatchNormalization, Dropout and shape subgraphs are still there) -O1 and -O2
leave no BatchNormalization, Dropout, Identity or Shape node and no Relu/Clip right after a
Conv/Gemm, and the generated C still matches onnxruntime (rtol 1e-4, atol 1e-5).

C builds cost about a second each, so there are six: one per raw model at -O2 (tests/c
covers every model at -O0 and -O1 under sanitizers) and one for the fused elementwise
kernels (`tinyc_add_act_f32` & co.)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from tests.strategies import make_node
from tinyc.compiler import Options, compile_graph, load_model, optimize
from tinyc.harness import build_host, run_host
from tinyc.interp import run_graph
from tinyc.ir import DType, Graph, TensorType

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"
RAW_MODELS = sorted(MODELS.glob("*_raw.onnx"))
LEFTOVERS = {"BatchNormalization", "Dropout", "Identity", "Shape"}


def onnxruntime_outputs(path: Path, inputs: list[np.ndarray]) -> list[np.ndarray]:
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {i.name: x for i, x in zip(sess.get_inputs(), inputs, strict=True)})


def test_raw_models_exist_and_carry_training_leftovers() -> None:
    assert len(RAW_MODELS) >= 5
    raw = load_model(MODELS / "kws_dscnn_raw.onnx", Options())
    assert {"BatchNormalization", "Dropout"} <= set(raw.op_histogram())


@pytest.mark.parametrize("level", [1, 2])
@pytest.mark.parametrize("path", RAW_MODELS, ids=lambda p: p.stem)
def test_optimized_raw_model_structure(path: Path, level: int) -> None:
    options = Options(opt_level=level, verify_each=True)
    before = load_model(path, options)
    n_before = len(before.nodes)
    graph, _ = optimize(before, options)
    hist = graph.op_histogram()
    assert not LEFTOVERS & set(hist), hist
    for node in graph.nodes:
        if node.op in ("Relu", "Clip"):
            producer = node.inputs[0].producer  # type: ignore[union-attr]
            assert producer is None or producer.op not in ("Conv", "Gemm"), f"unfused {node!r}"
    assert len(graph.nodes) < n_before


@pytest.mark.parametrize("path", RAW_MODELS, ids=lambda p: p.stem)
def test_optimized_raw_model_c_matches_onnxruntime(path: Path, tmp_path: Path) -> None:
    options = Options(opt_level=2)
    graph, _ = optimize(load_model(path, options), options)
    # one C name for every model: their kernel files are then the same text, which the
    # session compiles once (tests/objcache.py)
    compiled = compile_graph(graph, options, "net")
    compiled.code.write(tmp_path)
    exe = build_host(tmp_path, graph, compiled.code.name)
    rng = np.random.default_rng(7)
    inputs = [rng.standard_normal(v.shape).astype(np.float32) for v in graph.inputs]
    got = run_host(exe, graph, inputs)
    for g, e in zip(got, onnxruntime_outputs(path, inputs), strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)


def test_fused_elementwise_kernels_match_the_interpreter(tmp_path: Path) -> None:
    """Each f32 binary op with a fused activation of each kind, broadcasting included."""
    g = Graph("binact")
    x = g.add_input("x", TensorType(DType.F32, (2, 3, 4)))
    y = g.add_input("y", TensorType(DType.F32, (3, 1)))
    acts = [("Relu", []), ("Clip", [-0.5, 0.75]), ("LeakyRelu", [0.1]),
            ("HardSigmoid", [0.2, 0.5]), ("HardSwish", []), ("Sigmoid", [])]
    outs = []
    for i, (act, params) in enumerate(acts):
        for op in ("Add", "Sub", "Mul", "Div"):
            b = g.add_const(f"c{i}{op}", np.full((4,), 0.5 + i, np.float32))
            rhs = b if op == "Div" else y
            node = make_node(g, op, [x, rhs], activation=act, activation_params=params)
            outs.append(node.outputs[0])
    g.outputs = outs
    compiled = compile_graph(g, Options(), "binact")
    compiled.code.write(tmp_path)
    assert "tinyc_add_act_f32" in compiled.code.files["binact.c"]
    exe = build_host(tmp_path, g, compiled.code.name)
    rng = np.random.default_rng(3)
    inputs = [rng.standard_normal(v.shape).astype(np.float32) * 3 for v in g.inputs]
    expected = run_graph(g, {v.name: a for v, a in zip(g.inputs, inputs, strict=True)})
    for got, exp in zip(run_host(exe, g, inputs), expected, strict=True):
        np.testing.assert_allclose(got, exp, rtol=1e-6, atol=1e-6)
