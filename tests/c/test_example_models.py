"""Every example model compiles, its C builds warning-free under -std=c99 -pedantic -Werror
with ASan/UBSan, runs, and matches onnxruntime (rtol 1e-4, atol 1e-5). The expected values
come from onnxruntime at test time, never from tinyc."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from tinyc.compiler import Options, compile_graph, load_model, optimize
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"
# float models; quantized (QDQ/QAT) ones are checked bit-exactly in tests/quant
MODEL_FILES = sorted(p for p in MODELS.glob("*.onnx") if "qat" not in p.stem)


def onnxruntime_outputs(path: Path, inputs: list[np.ndarray]) -> list[np.ndarray]:
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {i.name: x for i, x in zip(sess.get_inputs(), inputs)})


def test_there_are_example_models() -> None:
    names = {p.stem for p in MODEL_FILES}
    assert {"kws_dscnn", "vww_mobilenet", "resnet8", "ad_autoencoder", "digits_cnn"} <= names


@pytest.mark.parametrize("path", MODEL_FILES, ids=lambda p: p.stem)
@pytest.mark.parametrize("level", [0, 1])
def test_model_matches_onnxruntime_under_sanitizers(path: Path, level: int, tmp_path: Path) -> None:
    options = Options(opt_level=level)
    graph, _ = optimize(load_model(path, options), options)
    # one C name for every model: their kernel files are then the same text, which the
    # session compiles once (tests/objcache.py)
    compiled = compile_graph(graph, options, "net")
    compiled.code.write(tmp_path)
    exe = build_host(tmp_path, graph, compiled.code.name, SANITIZE_FLAGS)
    rng = np.random.default_rng(len(path.stem) + level)
    inputs = [rng.standard_normal(v.shape).astype(np.float32) for v in graph.inputs]
    if path.stem.startswith("digits"):
        inputs = [np.load(MODELS / "digits_test_x.npy")[:1]]
    got = run_host(exe, graph, inputs)
    expected = onnxruntime_outputs(path, inputs)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)
