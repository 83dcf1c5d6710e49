"""TFLite integer semantics (`tinyc.quant.semantics.TFLITE`): int8 `.tflite` models give
TFLite Micro's outputs bit for bit, through the generated C on the host (one build, many
random inputs) and through tinyc's interpreter. QEMU Cortex-M4: tests/mcu/test_qemu_tflite.py."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from tflite.BuiltinOperator import BuiltinOperator
from tflite_micro.python.tflite_micro import runtime

from tests.tflite.tflm_reference import MODELS, random_inputs, tflite_micro_outputs
from tests.tflite.tiny_models import Int8, unary_model
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
    compiled = compile_graph(graph, Options(), "net")  # kernel objects shared by the cases
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


@pytest.mark.parametrize(("builtin", "y", "alpha"),
                         [(BuiltinOperator.LOGISTIC, (1 / 256, -128), None),
                          (BuiltinOperator.TANH, (1 / 128, 0), None),
                          (BuiltinOperator.LEAKY_RELU, None, 0.2),
                          (BuiltinOperator.HARD_SWISH, None, None)])
def test_int8_activation_tables_equal_tflite_micro(builtin: int, y: tuple | None,
                                                   alpha: float | None, tmp_path: Path) -> None:
    """One-op int8 models on all 256 codes, 20 random parameter sets each: the QLut table is
    TFLite's integer kernel (`tflite_fixedpoint.lut_table`; a float-computed table differs
    for HARD_SWISH on about a third of such parameter sets)."""
    rng = np.random.default_rng(builtin)
    x = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
    for i in range(20):
        def params() -> tuple[float, int]:
            return float(np.exp(rng.uniform(np.log(0.002), np.log(0.3)))), int(
                rng.integers(-128, 128))
        model = unary_model(tmp_path / f"op{i}.tflite", builtin, int8=Int8(params(), y or params()),
                            leaky_alpha=alpha)
        interp = runtime.Interpreter.from_file(str(model))
        interp.set_input(x, 0)
        interp.invoke()
        graph, _ = optimize(load_model(model, Options()), Options())
        assert [n.op for n in graph.nodes] == ["QLut"]
        got = run_graph(graph, {graph.inputs[0].name: x})[0]
        np.testing.assert_array_equal(got.reshape(1, 256), np.array(interp.get_output(0)),
                                      err_msg=f"parameter set {i}")


@pytest.mark.parametrize("builtin", [BuiltinOperator.ADD, BuiltinOperator.SUB,
                                     BuiltinOperator.MUL])
def test_int8_binary_ops_equal_tflite_micro(builtin: int, tmp_path: Path) -> None:
    """One-op int8 models, 20 random parameter sets each (ADD's multipliers in double,
    SUB's in float32, as TFLite Micro computes them), on random codes."""
    rng = np.random.default_rng(builtin)

    def params() -> tuple[float, int]:
        return float(np.exp(rng.uniform(np.log(0.002), np.log(0.3)))), int(
            rng.integers(-128, 128))
    for i in range(20):
        model = unary_model(tmp_path / f"op{i}.tflite", builtin,
                            int8=Int8(params(), params(), params()))
        a, b = (rng.integers(-128, 128, (1, 256)).astype(np.int8) for _ in range(2))
        interp = runtime.Interpreter.from_file(str(model))
        interp.set_input(a, 0)
        interp.set_input(b, 1)
        interp.invoke()
        graph, _ = optimize(load_model(model, Options()), Options())
        assert all(semantics.is_tflite(n) for n in graph.nodes)
        got = run_graph(graph, {graph.inputs[0].name: a, graph.inputs[1].name: b})[0]
        np.testing.assert_array_equal(got.reshape(1, 256), np.array(interp.get_output(0)),
                                      err_msg=f"parameter set {i}")
