"""`--quantize auto` and `--layer-precision` on the digits CNN.

Every precision keeps the digits CNN's accuracy when it is calibrated on its training
images, so the auto tests calibrate on those images scaled by 0.3: a calibration set that
does not cover the input range (a real mistake), which clips the first layer's int8 input
and costs about 20 points with every layer at int8. The search must then find a mix, keep
it within the allowed drop, and its figures must be what the compiler and the generated C
measure independently.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import tinyc
from tests.clirun import assert_one_line, cli
from tinyc.cli import main
from tinyc.compiler import Options, load_model, optimize
from tinyc.errors import UsageError
from tinyc.interp import run_graph
from tinyc.ir import DType, Graph
from tinyc.ops.qint4 import weight_bits
from tinyc.passes.quantize_int8 import QUANTIZED_KEY
from tinyc.quant.auto import AutoResult, search

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"
MODEL = MODELS / "digits_cnn.onnx"
TEST_X, TEST_Y = MODELS / "digits_test_x.npy", MODELS / "digits_test_y.npy"


@pytest.fixture(scope="module")
def narrow_calib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("auto") / "calib.npy"
    np.save(path, 0.3 * np.load(MODELS / "digits_train_x.npy")[:64])
    return path


def auto_options(calib: Path, max_drop: float, objective: str = "flash") -> Options:
    return Options(quantize="auto", calib=str(calib), eval_data=(str(TEST_X), str(TEST_Y)),
                   max_drop=max_drop, objective=objective)


@pytest.fixture(scope="module")
def chosen(narrow_calib: Path) -> AutoResult:
    return search(MODEL, auto_options(narrow_calib, 1.0))


def accuracy(graph: Graph) -> float:
    x, y = np.load(TEST_X), np.load(TEST_Y)
    name = graph.inputs[0].name
    pred = [int(run_graph(graph, {name: s[None]})[0].argmax()) for s in x]
    return float(np.mean(np.array(pred) == y))


def test_auto_picks_a_mix_within_max_drop(chosen: AutoResult) -> None:
    """The clipped first layer stays float, with half weights (float16 costs it nothing);
    the insensitive layers take int4 weights: smaller than uniform int8, within budget."""
    assert set(chosen.uniform) == {"float16", "int8", "int4"}
    int8_acc, int8_flash = chosen.uniform["int8"]
    assert int8_acc < chosen.float_accuracy - 0.05  # uniform int8 is out of the budget
    assert chosen.uniform["int4"][1] < int8_flash < chosen.uniform["float16"][1]
    assert chosen.accuracy >= chosen.float_accuracy - 0.01
    assert chosen.uniform["int4"][1] < chosen.cost < int8_flash
    # the most sensitive layer is the one kept in float, the others are int4
    worst = min(chosen.layers, key=lambda c: c.accuracy["int8"])
    assert worst.precision == "float16"
    assert {c.precision for c in chosen.layers if c is not worst} == {"int4"}
    for c in chosen.layers:  # each layer's gains order as its weights' bytes
        assert 0 < c.gain["float16"] < c.gain["int8"] < c.gain["int4"]


def test_auto_choice_is_what_the_compiler_and_the_c_measure(
    chosen: AutoResult, narrow_calib: Path, tmp_path: Path
) -> None:
    result = tinyc.compile(MODEL, tmp_path / "out", quantize="auto", calib=narrow_calib,
                           eval_data=(TEST_X, TEST_Y), max_drop=1.0)
    assert result.auto is not None
    assert result.auto.layer_precision == chosen.layer_precision
    assert result.weight_bytes == chosen.cost
    nodes = {n.name: n for n in result.graph.nodes}
    for c in chosen.layers:
        node = nodes[c.name]
        if c.precision == "float16":  # still float, reading half weights
            assert node.op == "Conv" and node.inputs[1].dtype is DType.F16
        else:
            assert c.precision == "int4" and node.op in ("QConv", "QGemm")
            assert weight_bits(node) == 4
    assert accuracy(result.graph) == pytest.approx(chosen.accuracy)
    assert result.auto.c_accuracy == pytest.approx(chosen.accuracy, abs=1.5 / 360)


def test_max_drop_zero_allows_no_loss(narrow_calib: Path) -> None:
    """With the narrow calibration every quantized mix loses a sample (the int8 logits
    clip), so a zero budget leaves the model float; the normal calibration loses nothing."""
    result = search(MODEL, auto_options(narrow_calib, 0.0, objective="ram"))
    assert not result.quantized
    assert {c.precision for c in result.layers} == {"float32"}
    assert (result.accuracy, result.cost) == (result.float_accuracy, result.float_cost)
    assert all(not s.kept for s in result.steps)
    result = search(MODEL, auto_options(MODELS / "digits_train_x.npy", 0.0, objective="ram"))
    assert result.quantized and result.accuracy >= result.float_accuracy
    assert result.cost < result.float_cost
    cost = result.float_cost
    for step in result.steps:  # a move is kept only when it loses nothing and saves RAM
        if step.kept:
            assert step.accuracy >= result.float_accuracy
        else:
            assert step.accuracy < result.float_accuracy or step.cost >= cost
        cost = step.cost if step.kept else cost


def test_layer_precision_keeps_the_named_layer_float(tmp_path: Path) -> None:
    calib = MODELS / "digits_train_x.npy"
    mixed = tinyc.compile(MODEL, tmp_path / "mixed", quantize="int8", calib=calib,
                          layer_precision={"/conv2/*": "float32"})
    plain = tinyc.compile(MODEL, tmp_path / "int8", quantize="int8", calib=calib)
    ops = {n.name: n.op for n in mixed.graph.nodes}
    assert ops["/conv2/Conv"] == "Conv" and ops["/conv1/Conv"] == "QConv"
    conv2 = next(n for n in mixed.graph.nodes if n.name == "/conv2/Conv")
    conv2_w = conv2.inputs[1].type.numel  # float32 instead of int8 weights
    assert mixed.weight_bytes >= plain.weight_bytes + 3 * conv2_w
    assert accuracy(mixed.graph) > 0.98


def test_layer_precision_float16_and_int4_weights(tmp_path: Path) -> None:
    """float16 and int4 on one layer each: against float32 on that layer, half weights save
    2 of its weights' 4 bytes; against int8, int4 weights save half a byte each."""
    calib = MODELS / "digits_train_x.npy"

    def compiled(conv2: str, fc: str) -> tinyc.CompileResult:
        return tinyc.compile(MODEL, tmp_path / f"{conv2}-{fc}", quantize="int8", calib=calib,
                             layer_precision={"/conv2/*": conv2, "/fc/*": fc})

    mixed = compiled("float16", "int4")
    nodes = {n.name: n for n in mixed.graph.nodes}
    conv2, fc = nodes["/conv2/Conv"], nodes["/fc/Gemm"]
    assert conv2.op == "Conv" and conv2.inputs[1].dtype is DType.F16
    assert fc.op == "QGemm" and weight_bits(fc) == 4 and weight_bits(nodes["/conv1/Conv"]) == 8
    conv2_w, fc_w = conv2.inputs[1].type.numel, fc.inputs[1].type.numel
    assert compiled("float32", "int4").weight_bytes - mixed.weight_bytes == 2 * conv2_w
    assert compiled("float16", "int8").weight_bytes - mixed.weight_bytes == fc_w // 2
    how = mixed.graph.metadata[QUANTIZED_KEY]
    assert "float16 layers: /conv2/Conv" in how and "int4 layers: /fc/Gemm" in how
    assert accuracy(mixed.graph) > 0.98


def test_mixed_graph_c_matches_the_interpreter(tmp_path: Path) -> None:
    """Every precision in one graph (float32, float16, int8, int4 layers): the generated C
    gives the interpreter's outputs, the integer layers bit for bit (the float ones agree to
    rounding, well under one output step) and the same class for every sample."""
    from tinyc.harness import build_host, run_host_batch

    result = tinyc.compile(MODEL, tmp_path / "out", quantize="int8",
                           calib=MODELS / "digits_train_x.npy", arena="static",
                           layer_precision={"/conv1/*": "float16", "/conv2/*": "int4",
                                            "/fc/*": "float32"})
    ops = {n.name: n.op for n in result.graph.nodes}
    assert (ops["/conv1/Conv"], ops["/conv2/Conv"], ops["/fc/Gemm"]) == ("Conv", "QConv", "Gemm")
    x = np.load(TEST_X)[:60]
    exe = build_host(result.out_dir, result.graph, result.name)
    c_outs = [o[0] for o in run_host_batch(exe, result.graph, [[s[None]] for s in x])]
    name = result.graph.inputs[0].name
    ref = [run_graph(result.graph, {name: s[None]})[0] for s in x]
    for c, r in zip(c_outs, ref, strict=True):
        np.testing.assert_allclose(c, r, rtol=1e-4, atol=1e-5)
        assert int(c.argmax()) == int(r.argmax())


def test_cli_auto_reports_and_quantize_report_draws(narrow_calib: Path, tmp_path: Path) -> None:
    proc = cli(str(MODEL), "-o", str(tmp_path / "out"), "-q", "--quantize", "auto",
               "--calib", str(narrow_calib), "--eval", str(TEST_X), str(TEST_Y),
               "--max-drop", "1")
    assert proc.returncode == 0, proc.stderr
    assert "float16" in proc.stdout and "chosen mix" in proc.stdout and "(C: " in proc.stdout
    svg = tmp_path / "sens.svg"
    proc = cli("quantize-report", str(MODEL), "-q", "--quantize", "auto", "--calib",
               str(narrow_calib), "--eval", str(TEST_X), str(TEST_Y), "--max-drop", "1",
               "--svg", str(svg))
    assert proc.returncode == 0, proc.stderr
    assert "per-layer sensitivity" in proc.stdout and "/conv1/Conv" in proc.stdout
    text = svg.read_text()
    assert text.startswith("<svg") and "/conv1/Conv" in text and "max drop 1" in text


@pytest.mark.parametrize(("extra", "message"), [
    ((), "--eval X.npy Y.npy"),
    (("--eval", str(TEST_X), str(TEST_Y)), "--max-drop"),
    (("--eval", str(TEST_X), str(TEST_X), "--max-drop", "1"), "labels must be integers"),
    (("--eval", str(TEST_X), str(TEST_Y), "--max-drop", "-1"), "percentage points"),
])
def test_auto_usage_errors(extra: tuple[str, ...], message: str, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    code = main([str(MODEL), "-o", str(tmp_path / "out"), "-q", "--quantize", "auto",
                 "--calib", str(MODELS / "digits_train_x.npy"), *extra])
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("tinyc: error: ")
    assert message in err[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("flag", "message"), [
    ("/conv1/Conv=int16x8", "use one of float32, float16, int8, int4"),
    ("nosuchlayer*=float32", "no node of the model matches"),
    ("float32", "use NODE=PRECISION"),
])
def test_layer_precision_errors(flag: str, message: str, tmp_path: Path) -> None:
    proc = cli(str(MODEL), "-o", str(tmp_path / "out"), "--quantize", "int8", "--calib",
               str(MODELS / "digits_train_x.npy"), "--layer-precision", flag)
    assert message in assert_one_line(proc, 2)  # before calibration: no progress line


def test_layer_precision_int4_needs_int8_activations(tmp_path: Path) -> None:
    proc = cli(str(MODEL), "-o", str(tmp_path / "out"), "--quantize", "int16x8", "--calib",
               str(MODELS / "digits_train_x.npy"), "--layer-precision", "/fc/Gemm=int4")
    assert "=int4 needs --quantize int8" in assert_one_line(proc, 2)
    assert not (tmp_path / "out").exists()


def test_layer_precision_needs_static_quantization() -> None:
    options = Options(layer_precision=(("/conv1/Conv", "float32"),))
    with pytest.raises(UsageError, match="needs --quantize int8"):
        optimize(load_model(MODEL, options), options)


def test_latency_objective_is_the_cost_models_estimate(narrow_calib: Path,
                                                        tmp_path: Path) -> None:
    """`latency` is the pruning cost model's Cortex-M4 instructions of the Conv/Gemm
    layers, of the graph as compiled; every kept move lowers it."""
    from tinyc.passes.sparsify_weights import layer_costs

    options = replace(auto_options(narrow_calib, 1.0, objective="latency"), target="cortex-m4")
    result = search(MODEL, options)
    graph = tinyc.compile(MODEL, tmp_path / "out", target="cortex-m4").graph
    costs = layer_costs(graph, "never", target="cortex-m4")
    assert len(costs) == 3
    assert result.float_cost == sum(c.sparse_cycles if c.choice == "sparse"
                                     else c.dense_cycles for c in costs)
    assert result.accuracy >= result.float_accuracy - 0.01
    kept = [s.cost for s in result.steps if s.kept]
    assert kept == sorted(kept, reverse=True) and len(set(kept)) == len(kept)


def test_batched_host_run_equals_one_run_per_sample(tmp_path: Path) -> None:
    """The confirmation runs every evaluation sample in one process of the host harness."""
    from tinyc.harness import build_host, run_host, run_host_batch

    result = tinyc.compile(MODEL, tmp_path / "out", quantize="int8",
                           calib=MODELS / "digits_train_x.npy")
    exe = build_host(result.out_dir, result.graph, result.name)
    x = np.load(TEST_X)[:12]
    batched = run_host_batch(exe, result.graph, [[s[None]] for s in x])
    assert len(batched) == len(x)
    for sample, outs in zip(x, batched, strict=True):
        assert np.array_equal(outs[0], run_host(exe, result.graph, [sample[None]])[0])
