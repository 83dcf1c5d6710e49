"""MelSpectrogram: tinyc's own fused STFT -> power spectrum -> constant matrix (not an ONNX op).

`MelSpectrogram(signal, window, values, bias?)` is what `fuse-mel-spectrogram` makes of
an ONNX `STFT` whose power spectrum (re^2 + im^2 per bin) is multiplied by a constant
matrix, the mel filter bank. The ONNX chain materialises the whole [frames, bins, 2]
spectrum; the C kernel (tinyc_mel_spectrogram_f32 in tinyc_signal.h) transforms one
frame at a time into an (fft_length + 2)-float workspace and writes only the [frames,
mels] result.

IR form: `signal` [batch, length, 1] float32, `window` [fft_length] and `values` (the
matrix's columns, each cut to its band of non-zero rows: column m is rows
band_starts[m] .. + band_lengths[m], stored one column after the other), `bias` [mels]
(added last) or absent. Attributes: `step`, `fft_length` (= frame length, one-sided:
bins = fft_length / 2 + 1), `pad_begin`, `pad_end` and `pad_value` (a constant Pad of the
signal's time axis, read by index instead of materialised), `band_starts`, `band_lengths`
and `shape` (the output's dims: any leading dims holding batch x frames rows, then mels).
A frame that overlaps a non-zero pad or the front pad is staged in a second fft_length
floats of workspace; zeros past the end need no staging (the FFT reads them as zeros).
"""

from __future__ import annotations

from math import prod
from typing import TYPE_CHECKING

import numpy as np

from tinyc.backend.cliterals import c_scalar
from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.pad import pad_reference
from tinyc.ops.registry import Attr, OpDef, input_type, register_op
from tinyc.ops.signal import fft_odd_factor, fft_twiddles

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext


def mel_frames(padded_length: int, step: int, fft_length: int) -> int:
    """Frames of ONNX STFT over a signal of `padded_length` samples."""
    return 1 + (padded_length - fft_length) // step


def fft_serves(fft_length: int) -> bool:
    """Whether the kernel's real FFT computes this length (even, 2^a times 1, 3 or 5)."""
    return fft_length % 2 == 0 and bool(fft_odd_factor(fft_length // 2))


def bands(weight: np.ndarray) -> tuple[list[int], list[int], np.ndarray]:
    """(band_starts, band_lengths, values) of a [bins, mels] matrix: each column from its
    first to its last non-zero row (an all-zero column gets an empty band)."""
    starts, lengths, parts = [], [], []
    for m in range(weight.shape[1]):
        rows = np.flatnonzero(weight[:, m])
        lo, hi = (int(rows[0]), int(rows[-1]) + 1) if rows.size else (0, 0)
        starts.append(lo)
        lengths.append(hi - lo)
        parts.append(weight[lo:hi, m])
    return starts, lengths, np.concatenate(parts).astype(weight.dtype)


@register_op
class MelSpectrogram(OpDef):
    """Y[row, m] = sum_k |FFT(window * frame_row)[k]|^2 W[k, m] (+ bias[m])."""

    name = "MelSpectrogram"
    attrs = {"step": Attr("int", min=1), "fft_length": Attr("int", min=2),
             "pad_begin": Attr("int", 0, min=0), "pad_end": Attr("int", 0, min=0),
             "pad_value": Attr("float", 0.0), "band_starts": Attr("ints"),
             "band_lengths": Attr("ints"), "shape": Attr("ints")}

    def _geometry(self, node: Node) -> tuple[int, int, int, int]:
        """(batch, length, frames, bins) of the node."""
        x = input_type(node, 0)
        a = node.attrs
        padded = x.shape[1] + a["pad_begin"] + a["pad_end"]
        frames = mel_frames(padded, a["step"], a["fft_length"])
        return x.shape[0], x.shape[1], frames, a["fft_length"] // 2 + 1

    def weight(self, node: Node, values: np.ndarray) -> np.ndarray:
        """The dense [bins, mels] matrix the bands encode (float64)."""
        bins = self._geometry(node)[3]
        a = node.attrs
        w = np.zeros((bins, len(a["band_starts"])))
        at = 0
        for m, (lo, n) in enumerate(zip(a["band_starts"], a["band_lengths"], strict=True)):
            w[lo : lo + n, m] = values[at : at + n]
            at += n
        return w

    def infer(self, node: Node) -> list[TensorType]:
        x, window, values = (input_type(node, i) for i in range(3))
        a = node.attrs
        where = f"MelSpectrogram node '{node.name}'"
        if x.rank != 3 or x.shape[2] != 1:
            raise ModelError(f"{where}: signal {list(x.shape)}, not [batch, length, 1]")
        batch, _, frames, bins = self._geometry(node)
        mels = len(a["band_starts"])
        if frames < 1 or window.shape != (a["fft_length"],):
            raise ModelError(f"{where}: {frames} frames, window {list(window.shape)}")
        if len(a["band_lengths"]) != mels or any(
            s < 0 or n < 0 or s + n > bins
            for s, n in zip(a["band_starts"], a["band_lengths"], strict=True)
        ) or values.shape != (sum(a["band_lengths"]),):
            raise ModelError(f"{where}: bands do not fit {bins} bins and {values.shape} values")
        bias = node.input(3)
        if bias is not None and bias.shape != (mels,):
            raise ModelError(f"{where}: bias {list(bias.shape)}, not [{mels}]")
        shape = tuple(a["shape"])
        if not shape or shape[-1] != mels or prod(shape[:-1]) != batch * frames:
            raise ModelError(f"{where}: output {list(shape)} for {batch * frames} rows "
                             f"of {mels}")
        return [x.with_shape(shape)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x, window, values = inputs[:3]
        assert x is not None and window is not None and values is not None
        bias = inputs[3] if len(inputs) > 3 else None
        a = node.attrs
        n, step = a["fft_length"], a["step"]
        _, _, frames, bins = self._geometry(node)
        sig = pad_reference(x[..., 0], [0, a["pad_begin"], 0, a["pad_end"]], "constant",
                            a["pad_value"])
        rows = np.stack([sig[:, f * step : f * step + n] for f in range(frames)], 1)
        spectrum = np.fft.rfft(rows.astype(np.float64) * window, n=n, axis=-1)[..., :bins]
        y = (spectrum.real**2 + spectrum.imag**2) @ self.weight(node, values)
        if bias is not None:
            y = y + bias
        return [y.astype(x.dtype).reshape(a["shape"])]

    def macs(self, node: Node) -> int:
        """Per frame: the FFT (~ 2 n log2 n real multiply-adds), the squares, the bands."""
        batch, _, frames, bins = self._geometry(node)
        n = node.attrs["fft_length"]
        fft = 2 * n * max(1, n.bit_length() - 1)
        return batch * frames * (fft + 2 * bins + sum(node.attrs["band_lengths"]))

    def staged(self, node: Node) -> bool:
        """Whether frames overlapping the pads are staged (see the module docstring)."""
        a = node.attrs
        return a["pad_begin"] > 0 or (a["pad_end"] > 0 and a["pad_value"] != 0.0)

    def workspace(self, node: Node, kernel_dirs: tuple[str, ...] | None = None) -> int:
        """One frame's FFT, fft_length / 2 + 1 complex values, and its staged samples."""
        n = node.attrs["fft_length"]
        return 4 * (n + 2 + (n if self.staged(node) else 0))

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, window, values = node.inputs[:3]
        bias, y = node.input(3), node.outputs[0]
        assert x is not None and window is not None and values is not None
        a = node.attrs
        if x.dtype is not DType.F32 or not fft_serves(a["fft_length"]):
            raise UnsupportedError(f"op MelSpectrogram (node '{node.name}') on {x.dtype.value}, "
                                   f"fft_length {a['fft_length']}")
        batch, length, frames, bins = self._geometry(node)
        n, twiddles = fft_twiddles(ctx, a["fft_length"])
        starts = ctx.table(DType.I32, a["band_starts"], f"mel_band_starts_{y.name}")
        lengths = ctx.table(DType.I32, a["band_lengths"], f"mel_band_lengths_{y.name}")
        fields = [batch, length, frames, a["step"], a["pad_begin"], int(self.staged(node)),
                  c_scalar(a["pad_value"], DType.F32), n, bins, len(a["band_starts"]),
                  twiddles, starts, lengths]
        params = ctx.params("tinyc_mel_spectrogram_params",
                            "{" + ", ".join(map(str, fields)) + "}", f"melspec_{y.name}")
        ctx.call("signal", "tinyc_mel_spectrogram_f32", ctx.ptr(x), ctx.ptr(window),
                 ctx.ptr(values), ctx.ptr(bias) if bias is not None else "NULL", ctx.ptr(y),
                 ctx.workspace(node, DType.F32), params)
