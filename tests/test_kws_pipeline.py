"""examples/kws_pipeline: raw audio -> MFCC -> keyword scores, one ONNX graph, one C
function. The committed model is the one its script builds; the front end's C features
match the example's numpy MFCC and onnxruntime; the whole pipeline's C scores match
onnxruntime on the host and, built for the Cortex-M4, on QEMU; the DSP runs as planned
(window and filter bank folded to flash tables; Pad, STFT, squares and mel product one
streamed MelSpectrogram, so the arena holds no spectrum).

Feature tolerance: the spectra are float32, whose error is about 1e-7 of a frame's loudest
bin, so a mel band 80-100 dB below it (a pure chirp between its sweeps) keeps only a few
digits of its log. Features are compared at an absolute 2e-5 of the clip's largest feature
(2.5e-3 on the chirp, 3e-4 on the tone): the C is within 6e-4 and 4e-6 of the float64
reference there, and onnxruntime's own float32 pipeline within 1.1e-3 and 6e-6."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import tinyc
from tinyc.compiler import Options, load_model, optimize
from tinyc.harness import build_host, run_host
from tinyc.mcu.validate import run_on_mcu

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "kws_pipeline"
PIPELINE = EXAMPLE / "kws_pipeline.onnx"
FEATURE_ATOL_OF_MAX = 2e-5


@pytest.fixture(scope="module")
def example():  # noqa: ANN201
    """The example's modules (features, build_pipeline), imported from its folder."""
    sys.path.insert(0, str(EXAMPLE))
    try:
        yield importlib.import_module("features"), importlib.import_module("build_pipeline")
    finally:
        sys.path.remove(str(EXAMPLE))
        for name in ("features", "build_pipeline"):  # generic names: leave no trace
            sys.modules.pop(name, None)


def clips() -> dict[str, np.ndarray]:
    """One second of test audio: a tone in noise, a chirp, near silence, clipped noise."""
    t = np.arange(16000) / 16000
    rng = np.random.default_rng(1)
    sounds = {
        "tone": 0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(16000),
        "chirp": 0.5 * np.sin(2 * np.pi * (100 + 3000 * t) * t),
        "quiet": 1e-3 * rng.standard_normal(16000),
        "loud": np.clip(rng.standard_normal(16000), -1, 1),
    }
    return {k: v.astype(np.float32)[None] for k, v in sounds.items()}


def onnxruntime(model: onnx.ModelProto, audio: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"audio": audio})[0]


def test_committed_model_is_what_the_script_builds(example) -> None:  # noqa: ANN001
    _, build = example
    built = build.pipeline(onnx.load(str(build.KWS_MODEL)))
    assert built.SerializeToString() == PIPELINE.read_bytes()
    assert PIPELINE.stat().st_size < 100_000  # the keyword model's weights and a DCT table


@pytest.mark.parametrize("fft_length", [1024, 640])
def test_frontend_features_match_numpy(example, fft_length: int, tmp_path: Path) -> None:  # noqa: ANN001
    """The committed 1024-point front end, and the 640-point one build_pipeline.py offers
    (the odd radix-5 stage; onnxruntime is no reference there: its own 640-point STFT
    puts the chirp's features off by 1.1)."""
    features, build = example
    model = build.frontend(fft_length)
    onnx.save(model, str(tmp_path / "mfcc.onnx"))
    result = tinyc.compile(tmp_path / "mfcc.onnx", tmp_path / "out", name="mfcc")
    assert f"tinyc_fft_twiddles_{fft_length}" in result.source.read_text()
    assert result.arena_bytes < 12 * 1024  # one frame's FFT and the mel energies
    exe = build_host(result.out_dir, result.graph, result.name)
    for name, audio in clips().items():
        (got,) = run_host(exe, result.graph, [audio])
        want = features.mfcc(audio, fft_length).reshape(got.shape)
        atol = FEATURE_ATOL_OF_MAX * float(np.abs(want).max())
        np.testing.assert_allclose(got, want, rtol=0, atol=atol, err_msg=f"C vs numpy, {name}")
        if fft_length == 1024:
            np.testing.assert_allclose(onnxruntime(model, audio), want, rtol=0, atol=atol,
                                       err_msg=f"onnxruntime vs numpy, {name}")


def test_pipeline_scores_match_onnxruntime_in_one_function(tmp_path: Path) -> None:
    result = tinyc.compile(PIPELINE, tmp_path, name="kws")
    header = result.header.read_text()
    assert "int kws_run(const float *input0, float *output0);" in header
    assert "#define KWS_INPUT0_SIZE 16000" in header
    assert "#define KWS_OUTPUT0_SIZE 12" in header
    ops = [n.op for n in result.graph.nodes]
    # window and filter bank are flash tables; STFT, squares and mel product one streamed
    # MelSpectrogram (the padded audio and the spectrum never in the arena), the DCT dense
    assert not {"HannWindow", "MelWeightMatrix", "Concat"} & set(ops)
    assert ops[:5] == ["Unsqueeze", "MelSpectrogram", "Log", "MatMul", "Reshape"]
    assert result.arena_bytes < 49 * 513 * 2 * 4
    assert "tinyc_fft_twiddles_1024" in result.source.read_text()
    exe = build_host(result.out_dir, result.graph, result.name,
                     ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"])
    model = onnx.load(str(PIPELINE))
    for name, audio in clips().items():
        (got,) = run_host(exe, result.graph, [audio])
        np.testing.assert_allclose(got, onnxruntime(model, audio), rtol=1e-4, atol=1e-5,
                                   err_msg=name)


@pytest.mark.slow
@pytest.mark.usefixtures("mcu_tools")
def test_pipeline_on_cortex_m4(tmp_path: Path) -> None:
    """The whole pipeline bare metal on QEMU's Cortex-M4: the scores onnxruntime gives (the
    host build's, closely: the FPU fuses multiply-adds), within the board's memory."""
    options = Options(target="cortex-m4")
    graph, _ = optimize(load_model(PIPELINE, options), options)
    audio = clips()["tone"]
    result, host = run_on_mcu(graph, options, "kws", [audio], tmp_path, host_check=True)
    assert host is not None
    (got,) = result.run.outputs
    want = onnxruntime(onnx.load(str(PIPELINE)), audio)
    np.testing.assert_allclose(got, want.reshape(got.shape), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got, host[0], rtol=1e-4, atol=1e-5)
    m = result.measurement
    assert 0 < m.instructions < 30_000_000
    assert m.ram >= result.compiled.plan.size and m.flash > 0
    assert m.ram < 64 * 1024  # fits a 64 KB part: the front end streams frame by frame
