"""The TFLite frontend on the models scripts/build_tflite_op_models.py makes with TensorFlow's
converter: a MobileNet-style block (hard swish, squeeze-excite, PADV2, every MEAN form), a
keyword-style LSTM (UNIDIRECTIONAL_SEQUENCE_LSTM) and an Edge Impulse-style 1-D conv keyword
model, each float and full int8; a dynamic-range
"hybrid" model (int8 weights, float activations) and its float16-weight twin. References:
TFLite Micro's interpreter, and LiteRT for the two that TFLite Micro refuses (it has no
hybrid kernels and no float16 DEQUANTIZE)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter as LiteRT
from tflite_micro.python.tflite_micro import runtime

from tests.tflite.test_tflite_models import _compiled, _inputs, _run_c
from tinyc.compiler import Options, load_model
from tinyc.errors import UnsupportedError
from tinyc.frontend.tflite import tflite_to_onnx
from tinyc.frontend.tflite.reader import read_tflite
from tinyc.interp import run_graph
from tinyc.ir import DType

MODELS = Path(__file__).parent.parent / "models" / "tflite"
#: int8 model -> (the ops with a float result, the worst distance from TFLite Micro's outputs
#: in steps over 20 random inputs, as measured). The LSTM is TFLite Micro's integer LSTM
#: (QLSTMTFLite), bit-exact (tests/tflite/test_tflite_lstm.py)
INT8 = {"mobile_int8": (set(), 2),
        "conv1d_int8": (set(), 1),
        "lstm_int8": (set(), 0)}


def _reference(stem: str, xs: list[np.ndarray]) -> list[list[np.ndarray]]:
    """The reference's outputs for each input: TFLite Micro (its variable tensors, the
    LSTM state, reset before each run), or LiteRT for the hybrid and float16 models."""
    path = str(MODELS / f"{stem}.tflite")
    outs = []
    if stem.startswith("wide_"):
        lite = LiteRT(model_path=path)
        lite.allocate_tensors()
        for x in xs:
            lite.set_tensor(lite.get_input_details()[0]["index"], x)
            lite.invoke()
            outs.append([lite.get_tensor(d["index"]) for d in lite.get_output_details()])
        return outs
    tflm = runtime.Interpreter.from_file(path)
    for x in xs:
        tflm.reset()
        tflm.set_input(x, 0)
        tflm.invoke()
        outs.append([np.array(tflm.get_output(i))
                     for i in range(len(read_tflite(Path(path)).outputs))])
    return outs


@pytest.mark.parametrize("stem", ["mobile_float", "lstm_float", "conv1d_float", "wide_hybrid",
                                  "wide_fp16"])
def test_float_model_matches_reference(stem: str) -> None:
    """The C (strict flags, ASan/UBSan) within rtol 1e-4 / atol 1e-5 of the reference. The
    hybrid model too: its FC asks for asymmetric input quantization, and TFLite's per-channel
    hybrid conv always does it, which is the uint8 DynamicQuantizeLinear of tinyc's QDyn
    kernels (measured: 4e-7 from LiteRT at most)."""
    graph, compiled = _compiled(stem)
    xs = _inputs(graph, 8, seed=5)
    for got, want in zip(_run_c(graph, compiled, xs), _reference(stem, xs), strict=True):
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g.reshape(w.shape), w, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("stem", sorted(INT8))
def test_int8_model_c_equals_interpreter_and_near_tflite_micro(stem: str) -> None:
    graph, compiled = _compiled(stem)
    islands, steps = INT8[stem]
    assert {n.op for n in graph.nodes if n.outputs[0].dtype is DType.F32} == islands
    xs = _inputs(graph, 20, seed=6)
    worst = 0
    for x, c_out, want in zip(xs, _run_c(graph, compiled, xs), _reference(stem, xs),
                              strict=True):
        interp = run_graph(graph, {graph.inputs[0].name: x})
        for c, i, w in zip(c_out, interp, want, strict=True):
            np.testing.assert_array_equal(c, i)
            worst = max(worst, int(np.abs(i.reshape(w.shape).astype(np.int64)
                                          - w.astype(np.int64)).max()))
    assert worst <= steps


def test_hybrid_model_keeps_int8_weights() -> None:
    """Hybrid conv, depthwise conv and fully connected layers become tinyc's QDynConv /
    QDynGemm, their weights the model's int8 ones."""
    graph, _ = _compiled("wide_hybrid")
    ops = [n.op for n in graph.nodes]
    assert ops.count("QDynConv") == 2 and ops.count("QDynGemm") == 2
    assert "Conv" not in ops and "Gemm" not in ops
    sub = read_tflite(MODELS / "wide_hybrid.tflite")
    fc = next(t.data for t in sub.tensors if t.data is not None and t.shape == (32, 128))
    gemm = next(n for n in graph.nodes if n.op == "QDynGemm")
    w = gemm.inputs[3]
    assert w is not None and w.const is not None
    np.testing.assert_array_equal(w.const, fc)


def test_float16_weights_fold_to_float32() -> None:
    """Each DEQUANTIZE of a float16 constant is folded at import: no op reads float16, and
    the conv weights are the float16 values exactly."""
    graph = load_model(MODELS / "wide_fp16.tflite", Options())
    sub = read_tflite(MODELS / "wide_fp16.tflite")
    assert "DequantizeLinear" not in {n.op for n in graph.nodes}
    halves = [t.data for t in sub.tensors if t.data is not None and t.dtype == np.float16]
    weights = next(h for h in halves if h.shape == (128, 3, 3, 3))
    conv = next(n for n in graph.nodes if n.op == "Conv")
    w = conv.inputs[1]
    assert w is not None and w.const is not None and w.const.dtype == np.float32
    np.testing.assert_array_equal(w.const, weights.astype(np.float32).transpose(0, 3, 1, 2))


def _lstm_refused(change) -> str:  # noqa: ANN001
    """The error the LSTM model gives after `change(subgraph)` edits its records."""
    sub = read_tflite(MODELS / "lstm_float.tflite")
    change(sub)
    with pytest.raises(UnsupportedError) as err:
        tflite_to_onnx(sub, "lstm")
    return str(err.value)


def test_lstm_without_an_onnx_equivalent_is_refused() -> None:
    """CIFG, projection, and a cell clip that a sequence could reach are one-line
    UnsupportedErrors naming the operator (ONNX's LSTM has no such form)."""
    def cifg(sub) -> None:  # noqa: ANN001
        sub.operators[0].inputs[1] = -1

    def projection(sub) -> None:  # noqa: ANN001
        sub.operators[0].inputs[16] = sub.operators[0].inputs[5]

    def longer(sub) -> None:  # noqa: ANN001
        x = sub.operators[0].inputs[0]
        sub.tensors[x] = replace(sub.tensors[x], shape=(1, 12, 10))

    assert "operator 0 (UNIDIRECTIONAL_SEQUENCE_LSTM): CIFG" in _lstm_refused(cifg)
    assert "projection" in _lstm_refused(projection)
    assert "cell clip 10.0 below the sequence length 12" in _lstm_refused(longer)
