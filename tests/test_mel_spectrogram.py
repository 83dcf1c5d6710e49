"""MelSpectrogram's C kernel (tinyc_mel_spectrogram_f32): STFT -> power -> MatMul graphs
(tests/melspec_models.py) compiled by tinyc, built with the strict flags under ASan/UBSan,
against onnxruntime running the unfused ONNX chain; and its arena against the chain's.

Tolerance: rtol 1e-4, atol 1e-5 (the outputs are sums of powers of white noise, all
bands of one order of magnitude)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import tinyc
from tests.melspec_models import Spectrogram
from tinyc.harness import build_host, run_host

SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]

CASES = {
    # the example's form: pairs, power-of-two FFT, zero end pad read by index, bias, batch 2
    "pairs_pad_bias": Spectrogram(2, 100, 64, 16, 5, "pairs", ("constant", 0, 30), True),
    # radix-5 (20 = 2 x 2 x 5: a 10-point complex FFT), frames further apart than long
    "sum_square_radix5": Spectrogram(1, 90, 20, 23, 4, "sum_square", seed=3),
    # radix-3, a reflect pad (not folded: a Pad in front of the fused op)
    "pow_sum_reflect": Spectrogram(1, 50, 24, 6, 3, "pow_sum", ("reflect", 2, 3), seed=5),
    # an end pad longer than the signal's last frames: whole frames of zeros
    "mul_sum_zero_frames": Spectrogram(1, 40, 16, 8, 6, "mul_sum", ("constant", 0, 40), True,
                                       seed=7),
    # centred frames (librosa's, torch.stft's center=True) padded with a value: staged
    "centred_value_pad": Spectrogram(2, 70, 32, 10, 4, "sum_square", ("constant", 16, 16),
                                     pad_value=0.25, seed=9),
}


def onnxruntime(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


@pytest.mark.parametrize("case", sorted(CASES))
def test_kernel_matches_onnxruntime(case: str, tmp_path: Path) -> None:
    spec = CASES[case]
    model = spec.model()
    onnx.save(model, str(tmp_path / "m.onnx"))
    result = tinyc.compile(tmp_path / "m.onnx", tmp_path / "out", name="mel")
    assert "MelSpectrogram" in [n.op for n in result.graph.nodes]
    exe = build_host(result.out_dir, result.graph, result.name, SANITIZE)
    x = spec.audio()
    (got,) = run_host(exe, result.graph, [x])
    np.testing.assert_allclose(got, onnxruntime(model, x).reshape(got.shape), rtol=1e-4,
                               atol=1e-5)


def test_arena_holds_one_frame_not_the_spectrum(tmp_path: Path) -> None:
    """Fused: the output, plus one frame's FFT (n + 2 floats) as the node's workspace (end
    zeros need no staging); the padded signal is never copied. Unfused (-O0 has no
    passes): the padded signal and the whole spectrum are in the arena."""
    spec = CASES["pairs_pad_bias"]
    onnx.save(spec.model(), str(tmp_path / "m.onnx"))
    fused = tinyc.compile(tmp_path / "m.onnx", tmp_path / "fused", name="mel")
    chain = tinyc.compile(tmp_path / "m.onnx", tmp_path / "chain", name="mel", opt_level=0)
    rows = spec.batch * spec.frames
    assert fused.arena_bytes <= 4 * (rows * spec.mels + spec.fft_length + 2) + 64
    assert chain.arena_bytes >= 4 * rows * spec.bins * 2


def test_export_writes_the_chain_back(tmp_path: Path) -> None:
    """`tinyc export` turns MelSpectrogram back into ONNX ops (Pad, STFT, ReduceSumSquare,
    MatMul, Add, Reshape) that onnxruntime runs to the original model's outputs."""
    from tinyc.compiler import Options, load_model, optimize
    from tinyc.frontend.onnx_export import export_onnx

    spec = CASES["centred_value_pad"]
    model = spec.model()
    onnx.save(model, str(tmp_path / "m.onnx"))
    options = Options()
    graph, _ = optimize(load_model(tmp_path / "m.onnx", options), options)
    assert "MelSpectrogram" in [n.op for n in graph.nodes]
    exported = export_onnx(graph)
    assert {"STFT", "ReduceSumSquare", "MatMul"} <= {n.op_type for n in exported.graph.node}
    x = spec.audio()
    np.testing.assert_allclose(onnxruntime(exported, x), onnxruntime(model, x), rtol=1e-4,
                               atol=1e-5)
