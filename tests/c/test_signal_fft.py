"""DFT, STFT and MelWeightMatrix through the generated C (ASan/UBSan) against onnxruntime
and numpy. DFT and STFT: the FFT (lengths 2^a, 3 x 2^a and 5 x 2^a: real and complex
signals, forward, inverse, one-sided, zero-padded and truncated inputs, windows, the
mirrored upper half) and the direct sum it leaves the other forms to (other lengths, a
transform axis with elements after it, the one-sided inverse). One model holds every
case, so the file costs one C build.

Tolerance: a float32 transform's error follows the size of the whole signal, not each
bin's value, so a bin near zero carries an absolute error of a few float32 ulps of the
largest bins. Outputs are compared at rtol 1e-4 and an atol relative to their largest
magnitude: 1e-6 of it against numpy's float64 FFT (the interpreter's reference; the C
stays within 2e-7), and 1e-4 against onnxruntime, whose own float32 transforms of lengths
other than powers of two are off by up to 3e-5 of it (its 320-point STFT gives -6e-4 for
a Nyquist bin's imaginary part, exactly 0)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from tinyc.compiler import Options, compile_graph, optimize
from tinyc.errors import VerifyError
from tinyc.frontend.onnx import import_model
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
from tinyc.interp import run_graph


@dataclass(frozen=True)
class Case:
    op: str
    shape: tuple[int, ...]
    attrs: dict = field(default_factory=dict)
    #: constant operands after the signal, None for an absent optional one
    consts: tuple[np.ndarray | None, ...] = ()
    fft: bool = True  # whether the FFT path serves it


def _i64(v: int) -> np.ndarray:
    return np.asarray(v, np.int64)


def _hann(n: int) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)


CASES = [
    Case("DFT", (2, 16, 1), {"onesided": 1}),
    Case("DFT", (3, 8, 1)),
    Case("DFT", (1, 2, 1), {"onesided": 1}),
    Case("DFT", (2, 32, 2)),
    Case("DFT", (2, 16, 2), {"inverse": 1}),
    Case("DFT", (2, 16, 1), {"inverse": 1}),
    Case("DFT", (1, 20, 1), {"onesided": 1}, (_i64(32),)),  # zero-padded to 32
    Case("DFT", (1, 12, 2), {}, (_i64(8),)),  # truncated to 8
    Case("DFT", (1, 256, 1), {"onesided": 1}),
    Case("DFT", (1, 512, 2)),
    Case("DFT", (2, 8, 3, 1), {"axis": 1}, fft=False),  # elements after the axis
    Case("DFT", (2, 9, 2), {"inverse": 1, "onesided": 1}, fft=False),  # real inverse
    Case("STFT", (1, 256, 1), {}, (_i64(16), _hann(64))),
    Case("STFT", (2, 100, 1), {"onesided": 0}, (_i64(10), None, _i64(32))),
    Case("STFT", (1, 128, 2), {"onesided": 0}, (_i64(24), _hann(16))),
    # the pipeline's form: a 40-sample window zero-padded to 64 (the frame's tail is zero)
    Case("STFT", (1, 300, 1), {}, (_i64(20), np.concatenate([_hann(40), np.zeros(24,
                                                                                 np.float32)]))),
    # 2^a times 3 or 5: the odd stage on top of the radix-2 blocks
    Case("DFT", (2, 40, 1), {"onesided": 1}),
    Case("DFT", (1, 24, 2)),
    Case("DFT", (2, 12, 2), {"inverse": 1}),
    Case("DFT", (1, 10, 1)),
    Case("DFT", (1, 5, 2)),
    Case("DFT", (1, 3, 1), {}, (_i64(3),)),
    Case("STFT", (1, 1000, 1), {}, (_i64(160), _hann(320))),
    Case("STFT", (1, 90, 1), {}, (_i64(12), _hann(24))),
    Case("STFT", (1, 90, 1), {}, (_i64(15), _hann(30)), fft=False),  # 15 x 2
    Case("DFT", (2, 14, 1), {"onesided": 1}, fft=False),  # 7 x 2
    Case("STFT", (1, 90, 1), {}, (_i64(15), _hann(9)), fft=False),  # odd: real split needs 2m
]


def _model() -> tuple[onnx.ModelProto, list[np.ndarray]]:
    rng = np.random.default_rng(0)
    nodes, inputs, outputs, inits, data = [], [], [], [], []
    for i, case in enumerate(CASES):
        names = [f"x{i}"]
        for k, const in enumerate(case.consts):
            names.append("" if const is None else f"c{i}_{k}")
            if const is not None:
                inits.append(numpy_helper.from_array(const, names[-1]))
        nodes.append(helper.make_node(case.op, names, [f"y{i}"], name=f"n{i}", **case.attrs))
        inputs.append(helper.make_tensor_value_info(names[0], TensorProto.FLOAT, case.shape))
        outputs.append(helper.make_empty_tensor_value_info(f"y{i}"))
        data.append(rng.standard_normal(case.shape).astype(np.float32))
    graph = helper.make_graph(nodes, "signal", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model, data


def _check(got: np.ndarray, want: np.ndarray, what: str, atol_of_max: float = 1e-4) -> None:
    want = np.asarray(want).reshape(got.shape)
    np.testing.assert_allclose(got, want, rtol=1e-4,
                               atol=atol_of_max * float(np.abs(want).max()), err_msg=what)


def test_dft_and_stft_match_onnxruntime_in_c(tmp_path: Path) -> None:
    model, data = _model()
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    expected = sess.run(None, {f"x{i}": x for i, x in enumerate(data)})
    graph = import_model(model, {}, name="signal")
    feeds = dict(zip([v.name for v in graph.inputs], data, strict=True))
    exact = run_graph(graph, feeds)  # numpy's float64 FFT, rounded to float32
    for i, (got, want) in enumerate(zip(exact, expected, strict=True)):
        _check(got, want, f"interpreter, case {i}: {CASES[i]}")
    options = Options()
    graph, _ = optimize(graph, options)
    compiled = compile_graph(graph, options, "spectra")
    compiled.code.write(tmp_path)
    source = (tmp_path / "spectra.c").read_text()
    for i, case in enumerate(CASES):  # the power-of-two cases got a twiddle table
        params = next(line for line in source.splitlines()
                      if f"tinyc_{case.op.lower()}_y{i} =" in line)
        assert "fft_twiddles" in params or not case.fft, params
    exe = build_host(tmp_path, graph, "spectra", SANITIZE_FLAGS)
    for i, (got, want, ref) in enumerate(zip(run_host(exe, graph, data), expected, exact,
                                             strict=True)):
        _check(got, want, f"C, case {i}: {CASES[i]}")
        _check(got, ref, f"C vs numpy, case {i}: {CASES[i]}", atol_of_max=1e-6)


def _mel_model(operands: list[np.ndarray], shape: list[int]) -> onnx.ModelProto:
    names = ["mels", "dft_length", "rate", "low", "high"]
    types = [TensorProto.INT64] * 3 + [TensorProto.FLOAT] * 2
    node = helper.make_node("MelWeightMatrix", names, ["bank"], name="mel")
    graph = helper.make_graph(
        [node], "mel", [helper.make_tensor_value_info(n, t, []) for n, t in zip(names, types)],
        [helper.make_tensor_value_info("bank", TensorProto.FLOAT, shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_mel_weight_matrix_from_run_time_operands_in_c(tmp_path: Path) -> None:
    """Run-time operands compute the bank in C for the declared shape (constant ones fold,
    tests/test_kws_pipeline.py); operands that give another shape make NAME_run fail."""
    operands = [np.asarray(v, np.int64) for v in (40, 512, 16000)] + \
        [np.asarray(v, np.float32) for v in (20.0, 4000.0)]
    model = _mel_model(operands, [257, 40])
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = dict(zip(["mels", "dft_length", "rate", "low", "high"], operands, strict=True))
    (expected,) = sess.run(None, feeds)
    graph = import_model(model, {}, name="mel")
    options = Options()
    graph, _ = optimize(graph, options)
    compiled = compile_graph(graph, options, "bank")
    compiled.code.write(tmp_path)
    exe = build_host(tmp_path, graph, "bank", SANITIZE_FLAGS)
    (got,) = run_host(exe, graph, operands)
    np.testing.assert_array_equal(got, expected)
    assert np.count_nonzero(got) > 40
    wrong = list(operands)
    wrong[1] = np.asarray(1024, np.int64)  # 513 bins, not the declared 257
    with pytest.raises(VerifyError, match="run returned 1"):
        run_host(exe, graph, wrong)
