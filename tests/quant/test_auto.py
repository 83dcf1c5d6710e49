"""`--quantize auto` and `--layer-precision` on the digits CNN.

Every precision keeps the digits CNN's accuracy when it is calibrated on its training
images, so the auto tests calibrate on those images scaled by 0.3: a calibration set that
does not cover the input range (a real mistake), which clips the first layer's int8 input
and costs about 20 points with every layer at int8. The search must then find a mix, keep
it within the allowed drop, and its figures must be what the compiler and the generated C
measure independently. The int16x8 case calibrates on the training images with one of
them scaled by 100 (a corrupt sample): every range is 100x too wide, which int8's 256
steps cannot afford and int16's 65536 can.
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import tinyc
from tests.clirun import assert_one_line, cli
from tinyc.backend.generate import GeneratedC
from tinyc.cli import main
from tinyc.compiler import Options, load_model, optimize
from tinyc.errors import UsageError
from tinyc.interp import run_graph
from tinyc.ir import DType, Graph
from tinyc.mcu.codesize import flash_bytes
from tinyc.ops.qint4 import weight_bits
from tinyc.passes.quantize_int8 import QUANTIZED_KEY
from tinyc.quant.auto import AutoResult, Candidate, LayerChoice, mix_mode, search
from tinyc.quant.auto_report import print_candidates, print_choice, verdict
from tinyc.quant.driver import LAYER_PRECISIONS, MODE_PRECISIONS

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
    """The clipped first layer stays float; the insensitive layers take int4 weights: the
    cheapest whole flash (weights and code) within budget; uniform int8 is out of it."""
    assert list(chosen.uniform) == list(LAYER_PRECISIONS)
    int8 = chosen.uniform["int8"]
    assert int8.accuracy is not None and int8.accuracy < chosen.float_accuracy - 0.05
    assert chosen.accuracy >= chosen.float_accuracy - 0.01
    assert chosen.chosen.within and chosen.quantized
    assert chosen.cost == min(c.cost for c in chosen.candidates if c.within)
    assert chosen.cost < chosen.uniform["float16"].cost < chosen.float_cost
    # the most sensitive layer is the one kept in float, the others are int4
    worst = min(chosen.layers, key=lambda c: c.accuracy["int8"])
    assert worst.precision in ("float32", "float16")
    assert {c.precision for c in chosen.layers if c is not worst} == {"int4"}
    for c in chosen.candidates:  # flash is the weights and the code the mix links
        assert c.cost > c.weights > 0
    for layer in chosen.layers:  # each layer's weight bytes order as its precision's bits
        alone = {c.mix[layer.name]: c.weights for c in chosen.candidates
                 if c.origin.startswith(f"only {layer.name} ")}
        assert alone["int4"] < alone["int8"] < alone["float16"]


def test_no_single_change_of_the_choice_is_cheaper(chosen: AutoResult) -> None:
    """The search ends where every one-layer change within the chosen mode was measured and
    is dearer or out of the budget."""
    measured = {tuple(c.mix.values()): c for c in chosen.candidates}
    names = [c.name for c in chosen.layers]
    assert chosen.mode == "int8"
    for i, layer in enumerate(chosen.layers):
        for p in MODE_PRECISIONS[chosen.mode]:
            if p == layer.precision:
                continue
            mix = [c.precision for c in chosen.layers]
            mix[i] = p
            other = measured[tuple(mix)]
            assert list(other.mix) == names
            assert other.cost >= chosen.cost or not other.within


def test_auto_choice_is_what_the_compiler_and_the_c_measure(
    chosen: AutoResult, narrow_calib: Path, tmp_path: Path
) -> None:
    result = tinyc.compile(MODEL, tmp_path / "out", quantize="auto", calib=narrow_calib,
                           eval_data=(TEST_X, TEST_Y), max_drop=1.0)
    assert result.auto is not None
    assert result.auto.layer_precision == chosen.layer_precision
    assert result.weight_bytes == chosen.chosen.weights
    written = GeneratedC(result.name, {p.name: p.read_text()
                                       for p in result.out_dir.glob("*.[ch]")})
    assert flash_bytes(written, "generic") == chosen.cost
    nodes = {n.name: n for n in result.graph.nodes}
    for c in chosen.layers:
        node = nodes[c.name]
        if c.precision in ("float32", "float16"):  # still float
            assert node.op == "Conv"
            assert node.inputs[1].dtype is (DType.F16 if c.precision == "float16"
                                            else DType.F32)
        else:
            assert c.precision == "int4" and node.op in ("QConv", "QGemm")
            assert weight_bits(node) == 4
    assert accuracy(result.graph) == pytest.approx(chosen.accuracy)
    assert result.auto.c_accuracy == pytest.approx(chosen.accuracy, abs=1.5 / 360)


def test_report_shows_whole_flash_and_the_saving(chosen: AutoResult) -> None:
    out = io.StringIO()
    print_candidates(chosen, out)
    print_choice(chosen, out)
    text = out.getvalue()
    assert f"{len(chosen.candidates)} mixes measured" in text and "code B" in text
    int8 = chosen.uniform["int8"]
    saved = f"{chosen.cost - int8.cost:+,} B flash"
    assert f"against every layer int8 ({100 * int8.accuracy:.2f}%, outside the budget): " \
        f"{saved} (weights {chosen.chosen.weights - int8.weights:+,} B" in text


def test_uniform_int8_kept_says_why() -> None:
    """When uniform int8 is the cheapest within budget, the verdict gives the next mix's
    weights saved against code added."""
    layers = [LayerChoice("a", "Conv", precision="int8"), LayerChoice("b", "Gemm",
                                                                     precision="int8")]
    int8 = Candidate({"a": "int8", "b": "int8"}, 0.94, 23_829, 8_333, "every layer int8", True)
    mix = Candidate({"a": "int4", "b": "int8"}, 0.935, 25_841, 6_797, "a -> int4", True)
    result = AutoResult("flash", 0.5, 1000, 0.939, 56_948, 32_040, layers, int8,
                        {"int8": int8}, [int8, mix])
    assert verdict(result) == (
        "every layer int8 is the cheapest mix within 0.5 pp of float: the next, a int4; "
        "b int8 (93.50%), saves 1,536 B of weights but adds 3,548 B of code (25,841 "
        "against 23,829 B flash)")


def test_max_drop_zero_allows_no_loss(narrow_calib: Path, tmp_path: Path) -> None:
    """A zero budget: with the narrow calibration a mix that loses nothing exists (the
    clipped first layer float, the others int4); with a calibration at 2 % of the input
    range every quantized mix clips all its activations, and the model stays float."""
    result = search(MODEL, auto_options(narrow_calib, 0.0, objective="ram"))
    assert result.quantized and result.accuracy >= result.float_accuracy
    assert result.cost < result.float_cost
    assert result.cost == min(c.cost for c in result.candidates if c.within)
    for c in result.candidates:  # within budget: evaluated and losing nothing
        assert c.within == (c.accuracy is not None and c.accuracy >= result.float_accuracy)
    tiny = tmp_path / "tiny.npy"
    np.save(tiny, 0.02 * np.load(MODELS / "digits_train_x.npy")[:64])
    result = search(MODEL, auto_options(tiny, 0.0, objective="ram"))
    assert not result.quantized
    assert {c.precision for c in result.layers} == {"float32"}
    assert (result.accuracy, result.cost) == (result.float_accuracy, result.float_cost)
    assert not any(c.within for c in result.candidates)
    assert verdict(result) == "no mix stays within 0 pp of float: the model is compiled in float"


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
    """The CLI's plumbing (the RAM objective: no C compiled per mix, for the suite's time;
    the flash report is `test_report_shows_whole_flash_and_the_saving`)."""
    proc = cli(str(MODEL), "-o", str(tmp_path / "out"), "-q", "--quantize", "auto",
               "--calib", str(narrow_calib), "--eval", str(TEST_X), str(TEST_Y),
               "--max-drop", "1", "--objective", "ram")
    assert proc.returncode == 0, proc.stderr
    assert "chosen mix" in proc.stdout and "(C: " in proc.stdout
    assert "against every layer int8" in proc.stdout
    svg = tmp_path / "sens.svg"
    proc = cli("quantize-report", str(MODEL), "-q", "--quantize", "auto", "--calib",
               str(narrow_calib), "--eval", str(TEST_X), str(TEST_Y), "--max-drop", "1",
               "--objective", "ram", "--svg", str(svg))
    assert proc.returncode == 0, proc.stderr
    assert "per-layer sensitivity" in proc.stdout and "/conv1/Conv" in proc.stdout
    assert "mixes measured" in proc.stdout
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
    ("/conv1/Conv=int32", "use one of float32, float16, int16x8, int8, int4"),
    ("/conv1/Conv=int16x8", "=int16x8 needs --quantize int16x8 (one activation dtype"),
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


def test_layer_precision_int8_needs_int8_activations(tmp_path: Path) -> None:
    proc = cli(str(MODEL), "-o", str(tmp_path / "out"), "--quantize", "int16x8", "--calib",
               str(MODELS / "digits_train_x.npy"), "--layer-precision", "/fc/Gemm=int8")
    assert "with --quantize int16x8 a layer is float32, float16, int16x8" in \
        assert_one_line(proc, 2)


def test_layer_precision_within_int16x8(tmp_path: Path) -> None:
    """Under --quantize int16x8 a layer is float32, float16 or int16x8: the float16 layer
    stays float with half weights between int16 layers, and the C runs it."""
    result = tinyc.compile(MODEL, tmp_path / "out", quantize="int16x8", arena="static",
                           calib=MODELS / "digits_train_x.npy",
                           layer_precision={"/conv2/*": "float16", "/fc/*": "int16x8"})
    nodes = {n.name: n for n in result.graph.nodes}
    assert nodes["/conv2/Conv"].op == "Conv" and nodes["/conv2/Conv"].inputs[1].dtype is DType.F16
    for name, op in (("/conv1/Conv", "QConv"), ("/fc/Gemm", "QGemm")):
        assert nodes[name].op == op and nodes[name].inputs[0].dtype is DType.I16
    assert "float16 layers: /conv2/Conv" in result.graph.metadata[QUANTIZED_KEY]
    assert accuracy(result.graph) > 0.98


def test_layer_precision_int4_on_a_recurrent_layer_is_refused(tmp_path: Path) -> None:
    """The recurrent ops have no int4-weight kernel: int4 on a GRU is an error naming it (the
    last match wins, so a wildcard can be narrowed by a later pair)."""
    gru, calib = MODELS / "digits_gru.onnx", str(MODELS / "digits_train_x.npy")
    proc = cli(str(gru), "-o", str(tmp_path / "out"), "--quantize", "int8", "--calib", calib,
               "--layer-precision", "*=int4")
    line = assert_one_line(proc, 2)
    assert "--layer-precision *=int4: /rnn/GRU is a GRU, which has no int4 kernel" in line
    assert not (tmp_path / "out").exists()
    result = tinyc.compile(gru, tmp_path / "ok", quantize="int8", calib=calib,
                           layer_precision={"*": "int4", "/rnn/*": "int8"})
    nodes = {n.name: n for n in result.graph.nodes}
    assert weight_bits(nodes["/fc/Gemm"]) == 4 and nodes["/rnn/GRU"].op == "QGRU"


@pytest.fixture(scope="module")
def outlier_calib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    x = np.load(MODELS / "digits_train_x.npy")[:64].copy()
    x[0] *= 100.0
    path = tmp_path_factory.mktemp("auto") / "outlier.npy"
    np.save(path, x)
    return path


def test_auto_chooses_int16x8_when_int8_steps_are_too_coarse(outlier_calib: Path,
                                                             tmp_path: Path) -> None:
    """With ranges 100x too wide an int8 step is about 0.4 of a value's real range: every
    int8 mix (float layers keep int8 ops between them, the max pool) is out of a 1-point
    budget, every layer int16x8 is within it and, with 1-byte weights and the small int16
    kernels, the cheapest flash: auto compiles --quantize int16x8, and the generated C
    confirms the interpreter's accuracy."""
    result = tinyc.compile(MODEL, tmp_path / "out", quantize="auto", calib=outlier_calib,
                           eval_data=(TEST_X, TEST_Y), max_drop=1.0)
    auto = result.auto
    assert auto is not None and auto.quantized and auto.mode == "int16x8"
    limit = auto.float_accuracy - 0.01
    for p in ("int8", "int4"):
        assert auto.uniform[p].accuracy is not None and auto.uniform[p].accuracy < limit
    assert not any(c.within for c in auto.candidates if mix_mode(c.mix) == "int8")
    assert auto.uniform["int16x8"].within
    assert auto.cost == min(c.cost for c in auto.candidates if c.within)
    assert auto.cost < auto.uniform["int8"].cost
    assert {c.precision for c in auto.layers} <= set(MODE_PRECISIONS["int16x8"])
    for layer in auto.layers:  # every layer's int16x8 column was measured
        assert "int16x8" in layer.accuracy and "int16x8" in layer.gain
    for node in result.graph.nodes:
        if node.op in ("QConv", "QGemm"):
            assert node.inputs[0].dtype is DType.I16
    written = GeneratedC(result.name, {p.name: p.read_text()
                                       for p in result.out_dir.glob("*.[ch]")})
    assert flash_bytes(written, "generic") == auto.cost
    assert accuracy(result.graph) == pytest.approx(auto.accuracy)
    assert auto.c_accuracy == pytest.approx(auto.accuracy, abs=1.5 / 360)
    out = io.StringIO()
    print_choice(auto, out)
    text = out.getvalue()
    assert ": --quantize int16x8:" in text.splitlines()[0]
    assert "every layer int16x8" in text


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
    assert result.cost == min(c.cost for c in result.candidates if c.within)


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
