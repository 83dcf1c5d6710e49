"""Quantized example models, end to end: every model compiled with `--quantize int8`
(random calibration data for the MLPerf Tiny models, digits_train_x for the digits CNN) and
with `--quantize dynamic` builds warning-free under ASan/UBSan and is bit-exact with the
reference interpreter; flash and arena shrink as promised; the digits CNN keeps its
accuracy; and the CLI reports what it did."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.clirun import strip_progress
from tinyc.cli import main
from tinyc.compiler import Compiled, Options, compile_graph, load_model, optimize
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
from tinyc.interp import run_graph
from tinyc.ir import DType, Graph
from tinyc.memory import plan_memory
from tinyc.quant.lower import INTEGER_OPS, float_ops

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"
MODEL_NAMES = ["ad_autoencoder", "digits_cnn", "kws_dscnn", "resnet8", "vww_mobilenet"]


def calibration_file(name: str, tmp_path: Path, n: int = 2) -> Path:
    path = tmp_path / "calib.npy"
    if name.startswith("digits"):
        np.save(path, np.load(MODELS / "digits_train_x.npy")[:32])
        return path
    graph = load_model(MODELS / f"{name}.onnx", Options())
    shape = graph.inputs[0].shape
    np.save(path, np.random.default_rng(1).standard_normal((n,) + shape).astype(np.float32))
    return path


def float_figures(name: str) -> tuple[int, int]:
    """(weight bytes, arena bytes) of the float model, without generating its C."""
    options = Options()
    graph, _ = optimize(load_model(MODELS / f"{name}.onnx", options), options)
    weights = sum(c.type.nbytes for c in graph.constants if c.uses)
    return weights, plan_memory(graph, align=16).size


def compile_model(name: str, options: Options) -> Compiled:
    graph = load_model(MODELS / f"{name}.onnx", options)
    graph, _ = optimize(graph, options)
    return compile_graph(graph, options, name)


def sample_inputs(graph: Graph, name: str, seed: int) -> list[np.ndarray]:
    if name.startswith("digits"):
        x = np.load(MODELS / "digits_test_x.npy")[seed : seed + 1]
        return [x.reshape(graph.inputs[0].shape)]
    rng = np.random.default_rng(seed)
    out = []
    for v in graph.inputs:
        if v.dtype is DType.F32:
            out.append(rng.standard_normal(v.shape).astype(np.float32))
        else:
            out.append(rng.integers(-128, 128, v.shape).astype(v.dtype.np))
    return out


def assert_bit_exact(compiled: Compiled, name: str, tmp_path: Path, seeds: tuple[int, ...],
                     opt: str = "-O0") -> None:
    g = compiled.graph
    compiled.code.write(tmp_path)
    # -O0 halves the build time of the large weight tables; the sanitizers see the same UB
    exe = build_host(tmp_path, g, compiled.code.name, [*SANITIZE_FLAGS, opt])
    for seed in seeds:
        inputs = sample_inputs(g, name, seed)
        got = run_host(exe, g, inputs)
        want = run_graph(g, {v.name: x for v, x in zip(g.inputs, inputs, strict=True)})
        for v, a, b in zip(g.outputs, got, want, strict=True):
            np.testing.assert_array_equal(a, b, err_msg=f"{name}: output {v.name}")


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_static_int8_model_is_bit_exact_and_small(name: str, tmp_path: Path) -> None:
    options = Options(quantize="int8", calib=str(calibration_file(name, tmp_path)))
    compiled = compile_model(name, options)
    g = compiled.graph
    # every compute op became an integer kernel; only the boundary stays float
    assert float_ops(g) == []
    assert {n.op for n in g.nodes} & INTEGER_OPS
    # the boundary: the input quantized by the first layer itself (fuse-qboundary) or staged
    fused = sum(n.op in ("QConvBoundary", "QGemmBoundary") and bool(n.attrs["x_quant"])
                for n in g.nodes)
    assert sum(n.op == "QuantizeLinear" for n in g.nodes) + fused == len(g.inputs)
    weights, arena = float_figures(name)
    assert compiled.code.weight_bytes <= 0.3 * weights
    # with the float interface too: the first/last layers read/write the float tensors
    # themselves (fuse-qboundary), so no int8 copy of the input or output sizes the arena;
    # the int8 kernels' scratch (their Cortex-M4 column or widened row, on any target) is
    # planned workspace too, live one node at a time, so it adds at most the largest one
    work = max((r.size for r in compiled.plan.reqs if r.name.startswith("work@")), default=0)
    assert compiled.plan.size <= 0.3 * arena + work, (compiled.plan.size, arena, work)
    assert_bit_exact(compiled, name, tmp_path / "c", seeds=(0,))
    source = compiled.code.files[f"{name}.c"]
    if name in ("kws_dscnn", "resnet8"):  # their inner layers run in row bands (band-rows;
        assert "tinyc_qband_s8" in source  # KWS's several rows a step, tests/c/test_band_*)


@pytest.mark.parametrize("name", ["kws_dscnn"])
def test_int8_interface_is_small_and_bit_exact(name: str, tmp_path: Path) -> None:
    calib = str(calibration_file(name, tmp_path))
    compiled = compile_model(name, Options(quantize="int8", calib=calib, io="int8"))
    g = compiled.graph
    assert [v.dtype for v in g.inputs + g.outputs] == [DType.I8, DType.I8]
    assert g.inputs[0].name == "input"  # the interface keeps the model's names
    header = compiled.code.files[f"{name}.h"]
    upper = name.upper()
    for key in ("INPUT0_SCALE", "INPUT0_ZERO_POINT", "OUTPUT0_SCALE", "OUTPUT0_ZERO_POINT"):
        assert f"#define {upper}_{key} " in header
    assert f"int {name}_run(const int8_t *input0, int8_t *output0);" in header
    assert compiled.plan.size <= 0.3 * float_figures(name)[1]
    assert_bit_exact(compiled, name, tmp_path / "c", seeds=(2,), opt="-O2")


@pytest.mark.parametrize("name", ["digits_cnn"])
def test_dynamic_model_is_bit_exact(name: str, tmp_path: Path) -> None:
    compiled = compile_model(name, Options(quantize="dynamic"))
    ops = compiled.graph.op_histogram()
    assert ops.get("QDynConv", 0) + ops.get("QDynGemm", 0) >= 3
    assert "Conv" not in ops and "Gemm" not in ops
    # the outputs come from the hybrid kernels, whose float epilogue is exact too
    assert_bit_exact(compiled, name, tmp_path, seeds=(0,))


def test_digits_int8_accuracy_matches_float(tmp_path: Path) -> None:
    """The interpreter is bit-exact with the C (above), so it measures the C's accuracy."""
    x = np.load(MODELS / "digits_test_x.npy")
    y = np.load(MODELS / "digits_test_y.npy")
    calib = str(calibration_file("digits_cnn", tmp_path))
    accuracy = {}
    for label, options in (("float", Options()),
                           ("int8", Options(quantize="int8", calib=calib))):
        g, _ = optimize(load_model(MODELS / "digits_cnn.onnx", options), options)
        hits = sum(int(run_graph(g, {"input": x[i : i + 1]})[0].argmax() == y[i])
                   for i in range(len(x)))
        accuracy[label] = hits / len(x)
    assert accuracy["float"] - accuracy["int8"] <= 0.005, accuracy


def test_cli_quantize_reports_float_ops_and_errors(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    calib = calibration_file("kws_dscnn", tmp_path)
    model = str(MODELS / "kws_dscnn.onnx")
    rc = main([model, "-o", str(tmp_path / "out"), "--quantize", "dynamic"])
    out = capsys.readouterr()
    assert rc == 0 and "run in float: AveragePool" in out.out
    rc = main([model, "-o", str(tmp_path / "out2"), "--quantize", "int8", "--calib", str(calib),
               "--calib-method", "percentile"])
    out = capsys.readouterr()
    assert rc == 0 and "run in float" not in out.out
    # off a terminal, calibration is one plain progress line (tinyc.progress)
    assert out.err.startswith("tinyc: calibrating (percentile) on ") and out.err.count("\n") == 1
    assert strip_progress(out.err) == ""
    assert main([model, "-o", str(tmp_path / "o3"), "--quantize", "int8"]) == 2
    assert "needs calibration samples" in capsys.readouterr().err
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((4, 7), np.float32))
    assert main([model, "-o", str(tmp_path / "o4"), "--quantize", "int8", "--calib", str(bad)]) == 2
    assert "needs samples shaped [N, 1, 1, 49, 10] or [N, 1, 49, 10]" in capsys.readouterr().err


def test_cli_quantize_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["quantize-report", str(MODELS / "digits_cnn.onnx"),
               "--calib", str(calibration_file("digits_cnn", tmp_path)), "--methods", "minmax,mse",
               "--eval", str(MODELS / "digits_test_x.npy"), str(MODELS / "digits_test_y.npy"),
               "--limit", "40"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "int8 (minmax)" in out and "int8 (mse)" in out and "float" in out
    assert "SNR dB" in out and "/conv1/Conv_output_0" in out and "<- loses most" in out


def test_portable_targets_reserve_no_cortex_m4_scratch(tmp_path: Path) -> None:
    """The int8 conv/fc scratch is the Cortex-M4 kernels' alone: a target without them plans
    none (its arena is smaller) and its C still equals the interpreter."""
    calib = calibration_file("kws_dscnn", tmp_path)
    arenas = {}
    for target in ("generic", "cortex-m4"):
        compiled = compile_model("kws_dscnn", Options(quantize="int8", calib=str(calib),
                                                      target=target))
        g, plan = compiled.graph, compiled.plan
        convs = [i for i, n in enumerate(g.nodes) if n.op in ("QConv", "QGemm")]
        reserved = [i for i in convs if i in plan.workspace]
        assert bool(reserved) == (target == "cortex-m4"), target
        arenas[target] = plan.size
        if target == "generic":
            assert_bit_exact(compiled, "kws_dscnn", tmp_path / target, seeds=(0,))
    assert arenas["generic"] < arenas["cortex-m4"]
