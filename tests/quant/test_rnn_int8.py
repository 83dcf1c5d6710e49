"""Integer LSTM and GRU (`QLSTM`, `QGRU`, tinyc/ops/qrnn.py): `--quantize int8` lowers the
recurrent layers of the digits LSTM/GRU examples and of hand-built ONNX graphs (both
directions, batch-first layout, sequence lengths, initial states); the generated C
(portable and the Cortex-M4 variant's host form, under ASan/UBSan) is bit-exact with the
interpreter; the int8 builds are smaller and as accurate as float; the fixed-point tanh and
sigmoid stay within a stated bound of the real functions; exotic cells stay float; MACs are
counted. The QEMU run is tests/mcu/test_qemu_rnn_int8.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from tinyc.compiler import Compiled, Options, compile_graph, load_model, optimize
from tinyc.frontend.onnx import import_model
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
from tinyc.interp import run_graph
from tinyc.ir import Graph
from tinyc.ir.text import external_constants, parse_graph, print_graph
from tinyc.mcu.validate import count_macs
from tinyc.memory import plan_memory
from tinyc.ops.qrnn import lut_sigmoid, lut_tanh, rshift_round
from tinyc.passes.base import PassContext
from tinyc.passes.quantize_int8 import QuantizeInt8, prepare_for_quantization
from tinyc.quant.calibration import calibrate
from tinyc.quant.lower import float_ops

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"
CALIB = MODELS / "digits_train_x.npy"
#: worst error of the Q0.15 tanh/sigmoid (table step 1/16, linear interpolation)
LUT_TOLERANCE = 4e-4


def compile_file(path: Path, options: Options, name: str) -> Compiled:
    graph, _ = optimize(load_model(path, options), options)
    return compile_graph(graph, options, name)


def float_figures(path: Path) -> tuple[int, int, Graph]:
    """(weight bytes, arena bytes, graph) of the float build."""
    options = Options()
    graph, _ = optimize(load_model(path, options), options)
    weights = sum(c.type.nbytes for c in graph.constants if c.uses)
    return weights, plan_memory(graph, align=16).size, graph


def assert_c_matches_interpreter(compiled: Compiled, inputs: list[list[np.ndarray]],
                                 tmp_path: Path) -> None:
    g = compiled.graph
    compiled.code.write(tmp_path)
    exe = build_host(tmp_path, g, compiled.code.name, [*SANITIZE_FLAGS, "-O1"])
    for sample in inputs:
        got = run_host(exe, g, sample)
        want = run_graph(g, {v.name: x for v, x in zip(g.inputs, sample, strict=True)})
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name, op", [("digits_lstm", "QLSTM"), ("digits_gru", "QGRU")])
def test_example_model_int8_is_small_and_bit_exact(name: str, op: str, tmp_path: Path) -> None:
    path = MODELS / f"{name}.onnx"
    compiled = compile_file(path, Options(quantize="int8", calib=str(CALIB)), name)
    ops = compiled.graph.op_histogram()
    assert ops.get(op) == 1 and "LSTM" not in ops and "GRU" not in ops
    assert float_ops(compiled.graph) == []  # the Gather of h_n[-1] moves int8 too
    weights, arena, float_graph = float_figures(path)
    assert compiled.code.weight_bytes <= 0.3 * weights, (compiled.code.weight_bytes, weights)
    assert compiled.plan.size < arena
    # the recurrent layer's MACs are counted, the same in both builds
    assert count_macs(compiled.graph) == count_macs(float_graph) > 8 * 32 * 32
    x = np.load(MODELS / "digits_test_x.npy")
    inputs = [[x[i : i + 1]] for i in (0, 1, 2)]
    assert_c_matches_interpreter(compiled, inputs, tmp_path)


@pytest.mark.parametrize("name", ["digits_lstm", "digits_gru"])
def test_example_model_int8_accuracy(name: str) -> None:
    """The interpreter is bit-exact with the C (above), so it measures the C's accuracy;
    the int8 build may lose at most one point on the 360 held-out digits."""
    x = np.load(MODELS / "digits_test_x.npy")
    y = np.load(MODELS / "digits_test_y.npy")
    accuracy = {}
    for label, options in (("float", Options()),
                           ("int8", Options(quantize="int8", calib=str(CALIB)))):
        g, _ = optimize(load_model(MODELS / f"{name}.onnx", options), options)
        hits = sum(int(run_graph(g, {"input": x[i : i + 1]})[0].argmax() == y[i])
                   for i in range(len(y)))
        accuracy[label] = hits / len(y)
    assert accuracy["float"] >= 0.95
    assert accuracy["int8"] >= accuracy["float"] - 0.01, accuracy


# -- hand-built recurrent graphs ------------------------------------------------------------

SEQ, BATCH, INPUT, HIDDEN = 5, 2, 6, 7


def recurrent_model(op: str, direction: str, layout: int, with_lens: bool,
                    with_state: bool, seed: int, gain: float = 1.0, only_y: bool = False,
                    state_io: bool = False, **attrs: object) -> onnx.ModelProto:
    """An ONNX LSTM/GRU with random weights (times `gain`), X (and optionally sequence
    lengths) as inputs; outputs Y and Y_h (or only Y: what torch's dynamo exporter writes
    when h_n is unused). With `state_io` the initial states are inputs too and an LSTM also
    outputs Y_c: a stateful model that a streaming caller feeds its last state."""
    rng = np.random.default_rng(seed)
    dirs = 2 if direction == "bidirectional" else 1
    gates = 4 if op == "LSTM" else 3
    x_shape = [BATCH, SEQ, INPUT] if layout else [SEQ, BATCH, INPUT]
    state = [BATCH, dirs, HIDDEN] if layout else [dirs, BATCH, HIDDEN]
    inits = [
        numpy_helper.from_array(
            (rng.standard_normal((dirs, gates * HIDDEN, INPUT)) * 0.5 * gain).astype(np.float32),
            "W"),
        numpy_helper.from_array(
            (rng.standard_normal((dirs, gates * HIDDEN, HIDDEN)) * 0.4 * gain).astype(np.float32),
            "R"),
        numpy_helper.from_array(
            (rng.standard_normal((dirs, 2 * gates * HIDDEN)) * 0.2 * gain).astype(np.float32),
            "B"),
    ]
    names = ["x", "W", "R", "B", "lens" if with_lens else "", "h0" if with_state else ""]
    if with_state:
        inits.append(numpy_helper.from_array(
            (rng.uniform(-0.5, 0.5, state)).astype(np.float32), "h0"))
        if op == "LSTM":
            names.append("c0")
            inits.append(numpy_helper.from_array(
                (rng.uniform(-1, 1, state)).astype(np.float32), "c0"))
    if op == "GRU":
        attrs.setdefault("linear_before_reset", 1)
    outputs = ["y"] if only_y else ["y", "y_h"]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)]
    if with_lens:
        inputs.append(helper.make_tensor_value_info("lens", TensorProto.INT32, [BATCH]))
    if state_io:
        states = ["h0", "c0"] if op == "LSTM" else ["h0"]
        names += [""] * (7 - len(names))
        names[5 : 5 + len(states)] = states
        names = names[: 5 + len(states)]
        inputs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, state) for n in states]
        outputs += ["y_c"] if op == "LSTM" else []
    node = helper.make_node(op, names, outputs, hidden_size=HIDDEN, direction=direction,
                            layout=layout, **attrs)
    y_shape = [BATCH, SEQ, dirs, HIDDEN] if layout else [SEQ, dirs, BATCH, HIDDEN]
    graph = helper.make_graph(
        [node], "rnn", inputs,
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, y_shape if n == "y" else state)
         for n in outputs], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])


def samples(model: onnx.ModelProto, n: int, seed: int) -> list[list[np.ndarray]]:
    """n samples for the model's inputs, in order: x, lens (every length once over the
    samples), initial states."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        sample = []
        for v in model.graph.input:
            shape = [d.dim_value for d in v.type.tensor_type.shape.dim]
            if v.name == "lens":
                sample.append(np.array([SEQ, i % (SEQ + 1)], np.int32))
            else:
                scale = 0.5 if v.name == "h0" else 1.0
                sample.append(rng.uniform(-scale, scale, shape).astype(np.float32))
        out.append(sample)
    return out


def calibration_file(model: onnx.ModelProto, path: Path, n: int = 16) -> Path:
    """An .npz of n samples keyed by input name."""
    names = [v.name for v in model.graph.input]
    data = samples(model, n, seed=1)
    np.savez(path, **{name: np.stack([s[i] for s in data]) for i, name in enumerate(names)})
    return path


#: (op, direction, layout, sequence lengths, initial states, kernel variant, attributes):
#: each option on both kernel variants (the Cortex-M4 one, SMLAD order and 4-wide rows, in
#: its host form, on rows of 6 and 7); a bidirectional layer's second direction is reverse;
#: GRU with linear_before_reset = 0 (ONNX's default) and 1 (PyTorch's)
CASES = [
    ("LSTM", "forward", 0, True, False, "generic", {}),
    ("LSTM", "bidirectional", 1, True, True, "cortex-m4", {}),
    ("GRU", "forward", 1, False, True, "cortex-m4", {}),
    ("GRU", "bidirectional", 0, True, False, "generic", {"linear_before_reset": 0}),
    ("GRU", "reverse", 1, True, True, "cortex-m4", {"linear_before_reset": 0}),
]


@pytest.mark.parametrize("op, direction, layout, with_lens, with_state, target, attrs", CASES)
def test_recurrent_variants_int8(op: str, direction: str, layout: int, with_lens: bool,
                                 with_state: bool, target: str, attrs: dict[str, object],
                                 tmp_path: Path) -> None:
    model = recurrent_model(op, direction, layout, with_lens, with_state, seed=len(op) + layout,
                            **attrs)
    path = tmp_path / "rnn.onnx"
    onnx.save(model, path)
    calib = calibration_file(model, tmp_path / "calib.npz")
    options = Options(quantize="int8", calib=str(calib), target=target)
    compiled = compile_file(path, options, "rnn")
    assert float_ops(compiled.graph) == []
    assert compiled.graph.op_histogram().get(f"Q{op}") == 1
    tests = samples(model, 3, seed=7)
    # inputs 4x past the calibrated range saturate the int8 input and the int16 gates
    loud = [[tests[0][0] * 4, *tests[0][1:]]]
    assert_c_matches_interpreter(compiled, tests + loud, tmp_path / "c")
    # and the int8 layer computes the float layer: within a few hidden-state steps
    float_graph, _ = optimize(load_model(path, Options()), Options())
    for sample in tests:
        feeds = {v.name: x for v, x in zip(float_graph.inputs, sample, strict=True)}
        want = run_graph(float_graph, feeds)
        got = run_graph(compiled.graph, feeds)
        for a, b in zip(got, want, strict=True):
            assert np.abs(a - b).max() < 0.06, np.abs(a - b).max()


def test_large_cell_state_is_bit_exact(tmp_path: Path) -> None:
    """Strong gates grow the cell state past 8: a cell format below Q3.12, whose tanh input
    is shifted left with saturation; the text IR of the integer layer round-trips."""
    model = recurrent_model("LSTM", "forward", 0, False, False, seed=11)
    b = model.graph.initializer[2]
    bias = numpy_helper.to_array(b).copy()
    bias[:, : 4 * HIDDEN] += 4.0  # i, o, f open and g near 1: c gains about 1 a step
    b.CopyFrom(numpy_helper.from_array(bias, "B"))
    onnx.save(model, tmp_path / "rnn.onnx")
    calib = samples(model, 8, seed=1)
    np.save(tmp_path / "calib.npy", np.stack([s[0] for s in calib]))
    options = Options(quantize="int8", calib=str(tmp_path / "calib.npy"), target="cortex-m4")
    compiled = compile_file(tmp_path / "rnn.onnx", options, "rnn")
    (node,) = [n for n in compiled.graph.nodes if n.op == "QLSTM"]
    assert node.attrs["cell_frac"] < 12
    assert_c_matches_interpreter(compiled, samples(model, 2, seed=5), tmp_path / "c")
    text = print_graph(compiled.graph)
    assert print_graph(parse_graph(text, external_constants(compiled.graph))) == text


@pytest.mark.parametrize("op", ["LSTM", "GRU"])
def test_recurrent_node_with_y_only(op: str) -> None:
    model = recurrent_model(op, "forward", 0, False, False, seed=2, only_y=True)
    calib = [s[0] for s in samples(model, 4, seed=1)]
    q = quantize_in_memory(load_model_proto(model), calib)
    assert q.op_histogram().get(f"Q{op}") == 1
    assert len(q.outputs) == 1


@settings(max_examples=12, deadline=None)
@given(st.sampled_from(["LSTM", "GRU", "GRU0"]), st.integers(0, 2**16), st.floats(0.2, 3.0))
def test_int8_cell_follows_the_float_cell(op: str, seed: int, gain: float) -> None:
    """Random weights and inputs: on its calibration inputs (so no value leaves its
    calibrated range and saturates), the integer cell (the interpreter, which the C matches
    bit for bit) stays within a few hidden-state steps of the float cell."""
    lbr = {"linear_before_reset": 0} if op == "GRU0" else {}
    op = op.rstrip("0")
    model = recurrent_model(op, "forward", 0, False, False, seed=seed, gain=gain, **lbr)
    graph = load_model_proto(model)
    calib = [s[0] for s in samples(model, 4, seed=seed + 1)]
    q = quantize_in_memory(graph, calib)
    assert q.op_histogram().get(f"Q{op}") == 1
    f = load_model_proto(model)
    for x in calib[:2]:
        want = run_graph(f, {"x": x})
        got = run_graph(q, {"x": x})
        # int8 steps of the hidden state's range: the error of each of the SEQ steps feeds
        # the next through the int8 state (2 x 300 random draws, LSTM and both GRU forms:
        # at most 9.4 steps)
        step = max(float(np.abs(w).max()) for w in want) / 127
        for a, b in zip(got, want, strict=True):
            assert np.abs(a - b).max() <= 3 * SEQ * step


@pytest.mark.parametrize("op, direction, layout, target", [
    ("LSTM", "bidirectional", 1, "cortex-m4"), ("LSTM", "forward", 0, "generic"),
    ("GRU", "reverse", 0, "cortex-m4"),
])
def test_stateful_streaming_layer_int8(op: str, direction: str, layout: int, target: str,
                                       tmp_path: Path) -> None:
    """Initial states as inputs and the final ones as outputs (int8 on both sides; the LSTM
    cell state converted to and from int16 in the kernel), bit-exact and close to float."""
    model = recurrent_model(op, direction, layout, True, False, seed=4, state_io=True)
    onnx.save(model, tmp_path / "rnn.onnx")
    calib = calibration_file(model, tmp_path / "calib.npz")
    options = Options(quantize="int8", calib=str(calib), target=target)
    compiled = compile_file(tmp_path / "rnn.onnx", options, "rnn")
    assert float_ops(compiled.graph) == []
    (node,) = [n for n in compiled.graph.nodes if n.op == f"Q{op}"]
    assert len(node.outputs) == (3 if op == "LSTM" else 2)
    tests = samples(model, 3, seed=1)  # calibration samples: nothing saturates
    assert_c_matches_interpreter(compiled, tests, tmp_path / "c")
    float_graph, _ = optimize(load_model(tmp_path / "rnn.onnx", Options()), Options())
    for sample in tests:
        feeds = {v.name: x for v, x in zip(float_graph.inputs, sample, strict=True)}
        for a, b in zip(run_graph(compiled.graph, feeds), run_graph(float_graph, feeds),
                        strict=True):
            assert np.abs(a - b).max() < 0.06, np.abs(a - b).max()


@pytest.mark.parametrize("op, attrs", [
    ("LSTM", {"clip": 0.5}),
    ("LSTM", {"activations": ["HardSigmoid", "Tanh", "Tanh"]}),
    ("LSTM", {"input_forget": 1}),
])
def test_exotic_cells_stay_float(op: str, attrs: dict[str, object], tmp_path: Path) -> None:
    model = recurrent_model(op, "forward", 0, False, False, seed=3, **attrs)
    onnx.save(model, tmp_path / "rnn.onnx")
    np.save(tmp_path / "calib.npy", np.stack([s[0] for s in samples(model, 4, seed=1)]))
    options = Options(quantize="int8", calib=str(tmp_path / "calib.npy"))
    g, _ = optimize(load_model(tmp_path / "rnn.onnx", options), options)
    ops = g.op_histogram()
    assert ops.get(op) == 1 and f"Q{op}" not in ops


def test_rnn_macs_are_counted(tmp_path: Path) -> None:
    model = recurrent_model("GRU", "bidirectional", 0, False, False, seed=0)
    onnx.save(model, tmp_path / "rnn.onnx")
    g, _ = optimize(load_model(tmp_path / "rnn.onnx", Options()), Options())
    assert count_macs(g) == 2 * SEQ * BATCH * 3 * HIDDEN * (INPUT + HIDDEN)


def load_model_proto(model: onnx.ModelProto) -> Graph:
    graph, _ = optimize(import_model(model, {}), Options())
    return graph


def quantize_in_memory(graph: Graph, calib: list[np.ndarray]) -> Graph:
    """`--quantize int8` on an in-memory graph: calibrate on `calib`, then the pass."""
    prepare_for_quantization(graph)
    ranges = calibrate(graph, [{"x": x} for x in calib])
    return QuantizeInt8(ranges=ranges)(graph, PassContext()).graph


# -- the fixed-point functions --------------------------------------------------------------


def test_fixed_point_tanh_and_sigmoid_on_every_input() -> None:
    x = np.arange(-32768, 32768, dtype=np.int64)
    real = x / 4096.0
    assert np.abs(lut_tanh(x) / 32768.0 - np.tanh(real)).max() < LUT_TOLERANCE
    assert np.abs(lut_sigmoid(x) / 32768.0 - 1.0 / (1.0 + np.exp(-real))).max() < LUT_TOLERANCE
    assert lut_sigmoid(x).min() >= 0 and lut_sigmoid(x).max() <= 32767
    assert np.all(np.diff(lut_tanh(x)) >= 0)  # monotonic


@settings(max_examples=50, deadline=None)
@given(st.integers(-(2**30), 2**30), st.integers(0, 30))
def test_rounding_shift_is_round_half_up(v: int, n: int) -> None:
    want = np.floor(v / 2**n + 0.5)
    assert int(rshift_round(np.int64(v), n)) == int(want)
