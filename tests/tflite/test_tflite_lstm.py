"""An int8 UNIDIRECTIONAL_SEQUENCE_LSTM runs as TFLite Micro's integer LSTM (QLSTMTFLite):
the models' outputs equal TFLite Micro's bit for bit, in tinyc's interpreter, in the host C
(strict flags, ASan/UBSan) and on QEMU Cortex-M4."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.strategies import make_node
from tests.tflite.test_tflite_converter_models import MODELS, _reference
from tests.tflite.test_tflite_models import _compiled, _inputs, _run_c
from tinyc.compiler import Options, compile_graph, load_model, optimize
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
from tinyc.interp import run_graph
from tinyc.ir import DType, Graph, QuantParams, TensorType, Value
from tinyc.ir.verify import verify
from tinyc.mcu.harness import run_qemu_batch
from tinyc.mcu.validate import run_on_mcu
from tinyc.quant import tflite_fixedpoint as tfl

#: int8 LSTM models of scripts/build_tflite_op_models.py: a keyword-style one (10 steps, 16
#: units, into a classifier) and lstm_long_int8 (24 steps, 24 units, the whole sequence out;
#: its cell passes the converter's clip of 10, which then acts)
STEMS = ["lstm_int8", "lstm_long_int8"]


@pytest.mark.parametrize("stem", STEMS)
def test_int8_lstm_equals_tflite_micro_bit_for_bit(stem: str) -> None:
    """100 random inputs (TFLite Micro's LSTM state reset before each): the interpreter and
    the C give TFLite Micro's outputs exactly, with no float op left."""
    graph, compiled = _compiled(stem)
    assert "QLSTMTFLite" in {n.op for n in graph.nodes}
    assert not [n.op for n in graph.nodes if n.outputs[0].dtype is DType.F32]
    xs = _inputs(graph, 100, seed=17)
    want = _reference(stem, xs)
    for i, (x, c_out, w_out) in enumerate(zip(xs, _run_c(graph, compiled, xs), want,
                                              strict=True)):
        interp = run_graph(graph, {graph.inputs[0].name: x})
        for c, got, w in zip(c_out, interp, w_out, strict=True):
            np.testing.assert_array_equal(got.reshape(w.shape), w, err_msg=f"input {i}")
            np.testing.assert_array_equal(c, got, err_msg=f"input {i}")


def test_cell_clip_acts_in_the_long_model() -> None:
    """lstm_long_int8's cell clip (10 at 2^-11: 20480) changes the outputs of some of the
    inputs the bit-exact test takes, so that test covers it."""
    graph, _ = _compiled("lstm_long_int8")
    lstm = next(n for n in graph.nodes if n.op == "QLSTMTFLite")
    assert lstm.attrs["cell_clip"] == 20480
    xs = _inputs(graph, 100, seed=17)
    clipped = [run_graph(graph, {graph.inputs[0].name: x})[0] for x in xs]
    lstm.attrs["cell_clip"] = 0
    changed = sum(not np.array_equal(c, run_graph(graph, {graph.inputs[0].name: x})[0])
                  for c, x in zip(clipped, xs, strict=True))
    assert changed > 0


def test_int16_activations_follow_tflite_reference_forms() -> None:
    """The int16 logistic and tanh on every Q3.12 input: odd/complementary as TFLite's
    forms make them, monotone, and within 2^-14 of the real functions."""
    x = np.arange(-32768, 32768)
    s, t = tfl.logistic_int16(x), tfl.tanh_int16(x, 0, 0)
    assert (np.diff(s) >= 0).all() and (np.diff(t) >= 0).all()
    assert s[32768] == 16384 and t[32768] == 0
    real = x / 4096.0
    assert np.abs(s / 32768 - 1 / (1 + np.exp(-real))).max() < 2**-14
    assert np.abs(t / 32768 - np.tanh(real)).max() < 2**-14
    # a cell state at 2^-11 reads as Q4.11: one right shift of 1 into the Q3.12 form's x 3
    assert tfl.lstm_tanh_args(-11) == (0, 1) and tfl.lstm_tanh_args(-16) == (3, 4)


@pytest.mark.slow
@pytest.mark.parametrize("stem", STEMS)
def test_int8_lstm_on_cortex_m4_equals_tflite_micro(mcu_tools: None, stem: str,
                                                    tmp_path: Path) -> None:
    """The Cortex-M4 build (the portable LSTM kernel) gives TFLite Micro's outputs on QEMU
    (3 inputs; the host build takes 100)."""
    options = Options(target="cortex-m4")
    graph, _ = optimize(load_model(MODELS / f"{stem}.tflite", options), options)
    xs = _inputs(graph, 3, seed=23)
    first, _ = run_on_mcu(graph, options, "net", xs[:1], tmp_path)
    _, rest = run_qemu_batch(first.build, graph, [[x] for x in xs[1:]])  # one QEMU run
    board = [first.run.outputs, *rest]
    for i, (got, want) in enumerate(zip(board, _reference(stem, xs), strict=True)):
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g.reshape(w.shape), w, err_msg=f"input {i}")


def _lstm_graph(layout: int, seed: int) -> tuple[Graph, np.ndarray]:
    """A QLSTMTFLite of 2 sequences, 5 inputs, 6 units (neither a multiple of 4: the SMLAD
    tails) with random int8 weights, and a random input in layout 1 ([batch, seq, input])."""
    rng = np.random.default_rng(seed)
    steps, batch, size, hidden = 7, 2, 5, 6
    g = Graph("lstm")
    shape = (batch, steps, size) if layout else (steps, batch, size)
    x = g.add_input("x", TensorType(DType.I8, shape, QuantParams((0.05,), (3,))))

    def weights(name: str, cols: int) -> Value:
        w = g.add_const(name, rng.integers(-127, 128, (4, hidden, cols)).astype(np.int8))
        w.type = TensorType(DType.I8, w.shape, QuantParams((0.004, 0.006, 0.005, 0.007),
                                                           (0,) * 4, 0))
        return w

    b = g.add_const("b", rng.integers(-3000, 3000, (4, hidden)).astype(np.int32))
    node = make_node(g, "QLSTMTFLite", [x, weights("w", size), weights("r", hidden), b],
                     hidden_size=hidden, layout=layout, cell_power=-12, cell_clip=12000,
                     h_scale=0.0078, h_zero_point=-4)
    y = node.outputs[0]
    y.type = TensorType(DType.I8, y.shape, QuantParams((0.0078,), (-4,)))
    g.outputs = [y]
    verify(g)
    return g, rng.integers(-128, 128, (batch, steps, size)).astype(np.int8)


@pytest.mark.parametrize("target", ["host", "cortex-m4"])
def test_time_major_batches_and_row_tails(target: str, tmp_path: Path) -> None:
    """Layout 0 (time major) gives layout 1's outputs transposed, and the C (the portable
    kernel, or the Cortex-M4 one built for the host through tinyc_dsp.h's C forms, strict
    flags, ASan/UBSan) equals the interpreter on both."""
    ys = []
    for layout in (0, 1):
        g, x = _lstm_graph(layout, seed=3)
        feed = x if layout else x.transpose(1, 0, 2)
        want = run_graph(g, {"x": feed})[0]
        compiled = compile_graph(g, Options(target=target), f"lstm{layout}")
        compiled.code.write(tmp_path / f"l{layout}")
        exe = build_host(tmp_path / f"l{layout}", g, compiled.code.name, SANITIZE_FLAGS)
        np.testing.assert_array_equal(run_host(exe, g, [feed])[0].reshape(want.shape), want)
        ys.append(want)
    np.testing.assert_array_equal(ys[0].transpose(2, 0, 1, 3), ys[1])
