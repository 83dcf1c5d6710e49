"""ONNX graphs of an STFT power spectrum times a constant matrix, in each spelling that
`fuse-mel-spectrogram` recognises (and a few it must refuse), for its tests.

    x [batch, length] -> Unsqueeze -> Pad? -> STFT(step, window) -> power -> MatMul W -> Add b?

power spellings: "pairs" (Mul(S, S), Reshape [rows, 2 bins], W's rows doubled: the
example's), "sum_square" (ReduceSumSquare over the last axis), "pow_sum" (Pow(S, 2) then
ReduceSum), "mul_sum" (Mul(S, S) then ReduceSum keepdims, Reshape [rows, bins]).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SPELLINGS = ("pairs", "sum_square", "pow_sum", "mul_sum")


@dataclass(frozen=True)
class Spectrogram:
    batch: int
    length: int
    fft_length: int
    step: int
    mels: int
    spelling: str
    #: (mode, begin, end) of a Pad on the time axis, or None
    pad: tuple[str, int, int] | None = None
    #: the constant Pad's value
    pad_value: float = 0.0
    bias: bool = False
    seed: int = 0
    #: the pairs spelling's matrix weighs re^2 and im^2 differently (not a power)
    uneven_pairs: bool = False
    #: the spectrum is also a graph output (a second use)
    spectrum_out: bool = False

    @property
    def padded_length(self) -> int:
        return self.length + (self.pad[1] + self.pad[2] if self.pad else 0)

    @property
    def frames(self) -> int:
        return 1 + (self.padded_length - self.fft_length) // self.step

    @property
    def bins(self) -> int:
        return self.fft_length // 2 + 1

    def weight(self) -> np.ndarray:
        """A [bins, mels] matrix, non-negative, about half zeros, in bands (mel-like)."""
        rng = np.random.default_rng(self.seed)
        w = rng.uniform(0.0, 1.0, (self.bins, self.mels)) * (rng.random((self.bins, self.mels))
                                                              < 0.5)
        return w.astype(np.float32)

    def audio(self) -> np.ndarray:
        return np.random.default_rng(self.seed + 1).standard_normal(
            (self.batch, self.length)).astype(np.float32)

    def model(self) -> onnx.ModelProto:
        rng = np.random.default_rng(self.seed + 2)
        b, f, bins = self.batch, self.frames, self.bins
        w = self.weight()
        inits = [numpy_helper.from_array(np.array([2], np.int64), "axis2"),
                 numpy_helper.from_array(np.array(self.step, np.int64), "step"),
                 numpy_helper.from_array(np.hanning(self.fft_length).astype(np.float32),
                                         "window")]
        nodes = [helper.make_node("Unsqueeze", ["x", "axis2"], ["signal"])]
        signal = "signal"
        if self.pad:
            mode, begin, end = self.pad
            inits += [numpy_helper.from_array(np.array([0, begin, 0, 0, end, 0], np.int64),
                                              "pads"),
                      numpy_helper.from_array(np.array(self.pad_value, np.float32), "value")]
            nodes.append(helper.make_node("Pad", ["signal", "pads", "value"], ["padded"],
                                          mode=mode))
            signal = "padded"
        nodes.append(helper.make_node("STFT", [signal, "step", "window"], ["spectrum"]))
        if self.spelling == "pairs":
            w2 = np.repeat(w, 2, axis=0)
            if self.uneven_pairs:
                w2[1::2] *= 0.5
            inits += [numpy_helper.from_array(np.array([b * f, 2 * bins], np.int64), "rows"),
                      numpy_helper.from_array(w2, "w")]
            nodes += [helper.make_node("Mul", ["spectrum", "spectrum"], ["squares"]),
                      helper.make_node("Reshape", ["squares", "rows"], ["power"])]
        else:
            inits.append(numpy_helper.from_array(w, "w"))
            if self.spelling == "sum_square":
                nodes.append(helper.make_node("ReduceSumSquare", ["spectrum"], ["power"],
                                              axes=[3], keepdims=0))
            else:
                inits.append(numpy_helper.from_array(np.array([3], np.int64), "axis3"))
                square = helper.make_node("Mul", ["spectrum", "spectrum"], ["squares"])
                if self.spelling == "pow_sum":
                    inits.append(numpy_helper.from_array(np.array(2.0, np.float32), "two"))
                    square = helper.make_node("Pow", ["spectrum", "two"], ["squares"])
                keep = int(self.spelling == "mul_sum")
                nodes += [square, helper.make_node("ReduceSum", ["squares", "axis3"],
                                                   ["summed" if keep else "power"],
                                                   keepdims=keep)]
                if keep:
                    inits.append(numpy_helper.from_array(np.array([b * f, bins], np.int64),
                                                         "rows"))
                    nodes.append(helper.make_node("Reshape", ["summed", "rows"], ["power"]))
        nodes.append(helper.make_node("MatMul", ["power", "w"], ["mel" if self.bias else "y"]))
        if self.bias:
            inits.append(numpy_helper.from_array(
                rng.uniform(0.5, 1.0, self.mels).astype(np.float32), "bias"))
            nodes.append(helper.make_node("Add", ["mel", "bias"], ["y"]))
        outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
        if self.spectrum_out:
            outputs.append(helper.make_tensor_value_info("spectrum", TensorProto.FLOAT,
                                                         [b, f, bins, 2]))
        graph = helper.make_graph(
            nodes, "spectrogram",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [b, self.length])],
            outputs, inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        return model
