"""Build kws_pipeline.onnx: raw audio in, keyword scores out, in one ONNX graph.

The MFCC front end (features.py's parameters) is written with ONNX's signal ops and joined
to examples/models/kws_dscnn.onnx with onnx.compose:

    audio [1, 16000] -> Unsqueeze -> Pad (384 zeros at the end, so the last 1024-sample
    frame exists) -> STFT (step 320, frame_length 1024, window = HannWindow(640) followed by
    384 zeros: each frame is 640 windowed samples zero-padded to the FFT length)
    -> Mul by itself (re^2, im^2) -> Reshape [49, 1026] -> MatMul mel pairs
    -> Add 1e-6 -> Log -> MatMul DCT [40, 10] -> Reshape [1, 1, 49, 10] -> the keyword model

where the mel pairs [1026, 40] are MelWeightMatrix(40, 1024, 16000, 20, 4000) with every row
twice, so that one MatMul both adds re^2 + im^2 (the power) and applies the filters.
tinyc's fuse-mel-spectrogram pass turns Pad, STFT, the squares and this MatMul (+ 1e-6)
into one op that runs frame by frame, the filters as bands of bins (it also recognises
ReduceSumSquare and the other spellings of the power spectrum).

The window and the filter bank are generator ops with constant operands, so the file holds
only the DCT table and 384 zeros besides the keyword model. Needs onnx (a tinyc dependency):

    python examples/kws_pipeline/build_pipeline.py [--out PATH] [--fft-length 640]

With --fft-length 640 (the frame's own length, no zero padding) there is no Pad and no
window tail: the spectrum has 321 bins, not 513.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import features as f
import numpy as np
import onnx
from onnx import TensorProto, compose, helper, numpy_helper

HERE = Path(__file__).resolve().parent
KWS_MODEL = HERE.parent / "models" / "kws_dscnn.onnx"
OPSET = 17


def scalar(name: str, value: float | int, dtype: type) -> TensorProto:
    return numpy_helper.from_array(np.array(value, dtype), name)


def frontend(fft_length: int = f.FFT_LENGTH) -> onnx.ModelProto:
    """The MFCC front end alone: audio [1, AUDIO_SAMPLES] -> features [1, 1, FRAMES,
    MFCC_COUNT]. An FFT longer than the frame pads the audio's end and the window with
    zeros (the frames ONNX's STFT cuts are fft_length long); 640 needs neither."""
    pad = fft_length - f.FRAME_LENGTH
    if pad < 0:
        raise ValueError(f"fft_length {fft_length} is shorter than a frame")
    bins = f.spectrum_bins(fft_length)
    inits = [
        numpy_helper.from_array(np.array([2], np.int64), "channel_axis"),
        scalar("frame_step", f.FRAME_STEP, np.int64),
        scalar("window_length", f.FRAME_LENGTH, np.int64),
        scalar("mel_bins", f.MEL_BINS, np.int64),
        scalar("fft_length", fft_length, np.int64),
        scalar("sample_rate", f.SAMPLE_RATE, np.int64),
        scalar("mel_low_hz", f.MEL_LOW_HZ, np.float32),
        scalar("mel_high_hz", f.MEL_HIGH_HZ, np.float32),
        scalar("log_offset", f.LOG_OFFSET, np.float32),
        numpy_helper.from_array(np.array([f.FRAMES, 2 * bins], np.int64), "spectrum_rows"),
        numpy_helper.from_array(np.array([1], np.int64), "pair_axis"),
        numpy_helper.from_array(np.array([2 * bins, f.MEL_BINS], np.int64), "mel_pairs_shape"),
        numpy_helper.from_array(f.dct_matrix().astype(np.float32), "dct"),
        numpy_helper.from_array(np.array([1, 1, f.FRAMES, f.MFCC_COUNT], np.int64),
                                "features_shape"),
    ]
    nodes = [
        helper.make_node("Unsqueeze", ["audio", "channel_axis"], ["signal"]),
        helper.make_node("HannWindow", ["window_length"], ["hann"]),
    ]
    signal, window = "signal", "hann"
    if pad:
        inits += [numpy_helper.from_array(np.array([0, 0, 0, 0, pad, 0], np.int64), "audio_pads"),
                  numpy_helper.from_array(np.zeros(pad, np.float32), "window_tail")]
        nodes += [helper.make_node("Pad", ["signal", "audio_pads"], ["padded"]),
                  helper.make_node("Concat", ["hann", "window_tail"], ["window"], axis=0)]
        signal, window = "padded", "window"
    nodes += [
        helper.make_node("STFT", [signal, "frame_step", window], ["stft"], onesided=1),
        helper.make_node("Mul", ["stft", "stft"], ["squares"]),
        helper.make_node("Reshape", ["squares", "spectrum_rows"], ["square_rows"]),
        helper.make_node("MelWeightMatrix", ["mel_bins", "fft_length", "sample_rate",
                                             "mel_low_hz", "mel_high_hz"], ["mel_matrix"]),
        helper.make_node("Unsqueeze", ["mel_matrix", "pair_axis"], ["mel_column"]),
        helper.make_node("Concat", ["mel_column", "mel_column"], ["mel_twice"], axis=1),
        helper.make_node("Reshape", ["mel_twice", "mel_pairs_shape"], ["mel_pairs"]),
        helper.make_node("MatMul", ["square_rows", "mel_pairs"], ["mel"]),
        helper.make_node("Add", ["mel", "log_offset"], ["mel_offset"]),
        helper.make_node("Log", ["mel_offset"], ["log_mel"]),
        helper.make_node("MatMul", ["log_mel", "dct"], ["mfcc"]),
        helper.make_node("Reshape", ["mfcc", "features_shape"], ["features"]),
    ]
    graph = helper.make_graph(
        nodes, "mfcc_frontend",
        [helper.make_tensor_value_info("audio", TensorProto.FLOAT, [1, f.AUDIO_SAMPLES])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT,
                                       [1, 1, f.FRAMES, f.MFCC_COUNT])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="tinyc examples/kws_pipeline")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def pipeline(kws: onnx.ModelProto, fft_length: int = f.FFT_LENGTH) -> onnx.ModelProto:
    """The front end joined to the keyword model; its output is renamed `scores`."""
    kws = compose.add_prefix(kws, "kws/")
    (kws_in,), (kws_out,) = kws.graph.input, kws.graph.output
    joined = compose.merge_models(frontend(fft_length), kws, io_map=[("features", kws_in.name)],
                                  producer_name="tinyc examples/kws_pipeline")
    joined.graph.name = "kws_pipeline"
    for node in joined.graph.node:
        node.output[:] = ["scores" if o == kws_out.name else o for o in node.output]
    joined.graph.output[0].name = "scores"
    onnx.checker.check_model(joined, full_check=True)
    return joined


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "kws_pipeline.onnx")
    parser.add_argument("--fft-length", type=int, default=f.FFT_LENGTH,
                        help=f"FFT points per frame, at least {f.FRAME_LENGTH} "
                             f"(default {f.FFT_LENGTH}; see README.md)")
    args = parser.parse_args()
    model = pipeline(onnx.load(str(KWS_MODEL)), args.fft_length)
    onnx.save(model, str(args.out))
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, {len(model.graph.node)} nodes)")


if __name__ == "__main__":
    main()
