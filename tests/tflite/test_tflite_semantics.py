"""TFLite integer semantics (`tinyc.quant.semantics.TFLITE`): int8 `.tflite` models give
TFLite Micro's outputs bit for bit, through the generated C on the host (one build, many
random inputs) and through tinyc's interpreter. QEMU Cortex-M4: tests/mcu/test_qemu_tflite.py."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

from tests.tflite.tflm_reference import MODELS, random_inputs, tflite_micro_outputs
from tinyc.compiler import Options, compile_graph, load_model, optimize
from tinyc.harness import build_host, run_host
from tinyc.interp import run_graph
from tinyc.quant import semantics

#: the shared MLPerf Tiny models (100 inputs each) and the small op models (30)
CASES = [("kws_ref_model", 100), ("pretrainedResnet_quant", 100), ("ad01_int8", 100),
         ("ops_int8", 30), ("dense3d_int8", 30), ("dense3d_uint8io", 30)]


def _assert_equal(got: list[list[np.ndarray]], want: list[list[np.ndarray]]) -> None:
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        for a, b in zip(g, w, strict=True):
            np.testing.assert_array_equal(a.reshape(b.shape), b, err_msg=f"input {i}")


@pytest.mark.parametrize(("stem", "n"), CASES)
def test_c_on_the_host_equals_tflite_micro(stem: str, n: int) -> None:
    graph, _ = optimize(load_model(MODELS / f"{stem}.tflite", Options()), Options())
    assert any(semantics.is_tflite(node) for node in graph.nodes)
    compiled = compile_graph(graph, Options(), stem.lower())
    xs = random_inputs(stem, n, seed=11)
    with tempfile.TemporaryDirectory(prefix="tinyc-tflsem-") as tmp:
        compiled.code.write(Path(tmp))
        exe = build_host(Path(tmp), graph, compiled.code.name)
        got = [run_host(exe, graph, [x]) for x in xs]
    _assert_equal(got, tflite_micro_outputs(stem, xs))


@pytest.mark.parametrize(("stem", "n"), CASES)
def test_interpreter_equals_tflite_micro(stem: str, n: int) -> None:
    graph, _ = optimize(load_model(MODELS / f"{stem}.tflite", Options()), Options())
    xs = random_inputs(stem, n, seed=12)
    got = [run_graph(graph, {graph.inputs[0].name: x}) for x in xs]
    _assert_equal(got, tflite_micro_outputs(stem, xs))


def test_onnx_import_keeps_onnxruntime_semantics() -> None:
    """The semantics is the frontend's choice: an ONNX QDQ file still gets onnxruntime's."""
    model = Path(__file__).parent.parent / "models" / "qoperator" / "cnn_qdq_s8.onnx"
    graph, _ = optimize(load_model(model, Options()), Options())
    assert any(semantics.is_onnxruntime(n) for n in graph.nodes)
    assert not any(semantics.is_tflite(n) for n in graph.nodes)
