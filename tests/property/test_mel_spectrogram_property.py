"""fuse-mel-spectrogram on random STFT -> power -> MatMul graphs (tests/melspec_models.py):
every spelling of the power spectrum, FFT lengths 2^a times 1, 3 and 5, steps shorter and
longer than a frame, constant pads of any value at either end (folded), reflect and edge
pads (kept), batches, biases.

1. the pass fires: one MelSpectrogram is all that is left of the chain (a reflect or edge
   Pad stays in front of it);
2. the reference interpreter gives the chain's outputs within rtol 1e-5 plus atol 1e-5 of
   the largest output (float32 rounding: the chain rounds the spectrum and its squares);
3. idempotent, verified, and the text IR prints and parses back the same.
And it refuses what is not the pattern, saying why.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, note, settings
from hypothesis import strategies as st

from tests.melspec_models import SPELLINGS, Spectrogram
from tinyc.frontend.onnx import import_model
from tinyc.interp import run_graph
from tinyc.ir.text import external_constants, parse_graph, print_graph
from tinyc.ir.verify import verify
from tinyc.passes import PassContext, parse_pipeline
from tinyc.passes.fuse_mel_spectrogram import FuseMelSpectrogram

#: folds the constant operands first, as -O1 does
PIPELINE = "fold-constants,fuse-mel-spectrogram"
FFT_LENGTHS = (8, 12, 16, 20, 24, 32, 40, 64)


@st.composite
def spectrograms(draw: st.DrawFn) -> Spectrogram:
    n = draw(st.sampled_from(FFT_LENGTHS))
    pad = draw(st.one_of(st.none(),
                         st.tuples(st.sampled_from(["constant", "reflect", "edge"]),
                                   st.integers(0, 3), st.integers(0, n))))
    length = draw(st.integers(n, 3 * n))
    return Spectrogram(batch=draw(st.integers(1, 2)), length=length, fft_length=n,
                       step=draw(st.integers(1, n + 3)), mels=draw(st.integers(1, 6)),
                       spelling=draw(st.sampled_from(SPELLINGS)), pad=pad,
                       pad_value=draw(st.sampled_from([0.0, 0.5])),
                       bias=draw(st.booleans()), seed=draw(st.integers(0, 1000)))


def run(graph, spec: Spectrogram) -> np.ndarray:  # noqa: ANN001
    return run_graph(graph, {"x": spec.audio()})[0]


@settings(max_examples=40, deadline=None)
@given(spectrograms())
def test_fusion_keeps_the_chains_outputs(spec: Spectrogram) -> None:
    note(repr(spec))
    graph = import_model(spec.model(), {})
    before = run(graph, spec)
    for p in parse_pipeline(PIPELINE):
        graph = p(graph, PassContext(verify_each=True)).graph
    verify(graph)
    ops = [n.op for n in graph.nodes]
    kept_pad = ["Pad"] if spec.pad is not None and spec.pad[0] != "constant" else []
    # no STFT, square, sum, Reshape, MatMul or Add left: the bias is the op's
    assert ops == ["Unsqueeze", *kept_pad, "MelSpectrogram"]
    after = run(graph, spec)
    scale = float(np.abs(before).max())
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-5 * scale)
    text = print_graph(graph)
    (fuse,) = parse_pipeline("fuse-mel-spectrogram")
    assert not fuse(graph, PassContext()).modified
    assert print_graph(parse_graph(text, external_constants(graph))) == text


def refusal(spec: Spectrogram, activation: str = "") -> str:
    """Why FuseMelSpectrogram does not fire on spec's MatMul (after constant folding), with
    `activation` fused into the MatMul."""
    graph = import_model(spec.model(), {})
    graph = parse_pipeline("fold-constants")[0](graph, PassContext()).graph
    (mm,) = [n for n in graph.nodes if n.op == "MatMul"]
    mm.attrs["activation"] = activation
    result = FuseMelSpectrogram().explain(graph, mm)
    assert not result
    return result.reason


def test_refuses_what_is_not_a_power_spectrum_product() -> None:
    base = dict(batch=1, length=40, fft_length=16, step=8, mels=3)
    assert "re^2 and im^2 differently" in refusal(
        Spectrogram(**base, spelling="pairs", uneven_pairs=True))
    assert "graph output" in refusal(Spectrogram(**base, spelling="sum_square",
                                                 spectrum_out=True))
    assert "other uses" in refusal(Spectrogram(**base, spelling="pairs", spectrum_out=True))
    assert "does not serve length 14" in refusal(
        Spectrogram(**dict(base, fft_length=14), spelling="pow_sum"))
    assert "already has activation Relu" in refusal(Spectrogram(**base, spelling="pairs"),
                                                    "Relu")
