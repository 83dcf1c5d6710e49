"""Signal processing: the window generators (HannWindow, HammingWindow, BlackmanWindow),
MelWeightMatrix, DFT and STFT, float32 (kernels in tinyc_signal.h).

A window's length and a DFT's axis may be run-time operands: the output shape then comes
from the model's declared shapes and the C checks the operand. With constant operands the
generators fold (`always_fold`), so their tables are flash constants. numpy's fft is the
reference for DFT (forward, inverse, one-sided forward and one-sided inverse).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.fill import onnx_dtype
from tinyc.ops.layout import MAX_RANK, c_int_list
from tinyc.ops.registry import (
    Attr,
    OpDef,
    declared_shape,
    input_type,
    register_op,
    runtime_input,
)
from tinyc.ops.shape import check_failed

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext


class _Window(OpDef):
    """IR form: `length` (the constant, or the declared length) and `dtype`."""

    kind: ClassVar[int] = 0
    min_opset = 17
    always_fold = True
    attrs = {"output_datatype": Attr("int", 1), "periodic": Attr("int", 1),
             "length": Attr("int", -1)}

    def values(self, n: int, periodic: int) -> np.ndarray:
        raise NotImplementedError

    def normalize(self, node: Node, opset: int) -> None:
        a = node.attrs
        a["output_datatype"] = onnx_dtype(node, a["output_datatype"]).value
        if runtime_input(node, 0):
            a["length"] = declared_shape(node, 0, "the size operand")[0]
        else:
            size = node.inputs[0]
            assert size is not None and size.const is not None
            a["length"] = int(size.const.reshape(-1)[0])

    def infer(self, node: Node) -> list[TensorType]:
        if input_type(node, 0).dtype not in (DType.I32, DType.I64):
            raise ModelError(f"{node.op} node '{node.name}': size must be int32 or int64")
        return [TensorType(DType(node.attrs["output_datatype"]), (node.attrs["length"],))]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        size = inputs[0]
        n = node.attrs["length"]
        if size is not None and int(size.reshape(-1)[0]) != n:
            raise check_failed(node, "size", int(size.reshape(-1)[0]), [n])
        with np.errstate(divide="ignore", invalid="ignore"):
            y = self.values(n, node.attrs["periodic"])
        return [y.astype(DType(node.attrs["output_datatype"]).np)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        size, y = node.inputs[0], node.outputs[0]
        assert size is not None
        if y.dtype is not DType.F32:
            raise UnsupportedError(f"op {node.op} (node '{node.name}') on {y.dtype.value}")
        ctx.uses_math = True
        ctx.checked_call("signal", "tinyc_window_f32", f"(int64_t){ctx.ptr(size)}[0]",
                         ctx.ptr(y), node.attrs["length"], self.kind, node.attrs["periodic"])


def _phase(n: int, periodic: int) -> np.ndarray:
    return 2.0 * np.pi * np.arange(n) / (n if periodic else n - 1)


@register_op
class HannWindow(_Window):
    name, kind = "HannWindow", 0

    def values(self, n: int, periodic: int) -> np.ndarray:
        return 0.5 - 0.5 * np.cos(_phase(n, periodic))


@register_op
class HammingWindow(_Window):
    name, kind = "HammingWindow", 1

    def values(self, n: int, periodic: int) -> np.ndarray:
        return 25.0 / 46.0 - 21.0 / 46.0 * np.cos(_phase(n, periodic))


@register_op
class BlackmanWindow(_Window):
    name, kind = "BlackmanWindow", 2

    def values(self, n: int, periodic: int) -> np.ndarray:
        a = _phase(n, periodic)
        return 0.42 - 0.5 * np.cos(a) + 0.08 * np.cos(2.0 * a)


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """The mel scale of ONNX's MelWeightMatrix (HTK's): 2595 log10(1 + f / 700)."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (np.power(10.0, mel / 2595.0) - 1.0)


def mel_weight_matrix(mels: int, dft_length: int, rate: int, low: float, high: float,
                      where: str) -> np.ndarray:
    """ONNX's MelWeightMatrix in float64: [dft_length / 2 + 1, mels] triangles of peak 1.

    The mels + 2 triangle corners are spaced evenly in mel from `low`, by (mel(high) -
    mel(low)) / (mels + 2) (so the top corner stays below `high`), and each is floored to
    a bin, floor((dft_length + 1) f / rate). Filter i rises over bins [corner i, corner
    i+1] and falls over [corner i+1, corner i+2); a zero-width rise is a 1 at its peak."""
    bins = dft_length // 2 + 1
    if mels <= 0 or dft_length <= 0 or rate <= 0:
        raise ModelError(f"{where}: num_mel_bins {mels}, dft_length {dft_length}, "
                         f"sample_rate {rate}")
    step = (hz_to_mel(high) - hz_to_mel(low)) / (mels + 2)
    hz = mel_to_hz(hz_to_mel(low) + step * np.arange(mels + 2))
    corners = np.floor((dft_length + 1) * hz / rate).astype(np.int64)
    if corners[0] < 0 or corners[-2] >= bins or corners[-1] > bins or \
            np.any(np.diff(corners) < 0):
        raise ModelError(f"{where}: the filter bank from {low} Hz to {high} Hz falls outside "
                         f"the {bins} bins of dft_length {dft_length}")
    j = np.arange(bins)[:, None]
    left, center, right = corners[:-2], corners[1:-1], corners[2:]
    rise = (j - left) / np.maximum(center - left, 1)
    fall = (right - j) / np.maximum(right - center, 1)
    w = np.where((j >= left) & (j < center), rise, 0.0)
    w = np.where((j >= center) & (j < right), fall, w)
    return np.where(j == center, 1.0, w)


@register_op
class MelWeightMatrix(OpDef):
    """Generates a mel filter bank (`mel_weight_matrix`). Constant operands fold it into a
    flash table; run-time ones compute it in C for the declared shape (the kernel checks
    the operands give it). IR form: `output_datatype`, `shape` ([] when the operands are
    constants)."""

    name = "MelWeightMatrix"
    min_opset = 17
    always_fold = True
    attrs = {"output_datatype": Attr("int", 1), "shape": Attr("ints", [])}

    def normalize(self, node: Node, opset: int) -> None:
        node.attrs["output_datatype"] = onnx_dtype(node, node.attrs["output_datatype"]).value
        if any(runtime_input(node, i) for i in range(5)):
            node.attrs["shape"] = list(declared_shape(node, 0, "an operand"))

    def _operands(self, inputs: list[np.ndarray | None]) -> tuple[int, int, int, float, float]:
        mels, dft, rate, low, high = (np.asarray(v).reshape(-1)[0] for v in inputs)
        return int(mels), int(dft), int(rate), float(low), float(high)

    def infer(self, node: Node) -> list[TensorType]:
        if len(node.inputs) != 5 or any(v is None or v.type.numel != 1 for v in node.inputs):
            raise ModelError(f"MelWeightMatrix node '{node.name}': five scalar operands")
        dtype = DType(node.attrs["output_datatype"])
        if node.attrs["shape"]:
            return [TensorType(dtype, tuple(node.attrs["shape"]))]
        mels, dft, _, _, _ = self._operands([v.const for v in node.inputs])  # type: ignore[union-attr]
        return [TensorType(dtype, (dft // 2 + 1, mels))]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        where = f"MelWeightMatrix node '{node.name}'"
        w = mel_weight_matrix(*self._operands(inputs), where)
        if node.attrs["shape"] and list(w.shape) != node.attrs["shape"]:
            raise check_failed(node, "num_mel_bins/dft_length", list(w.shape),
                               node.attrs["shape"])
        return [w.astype(DType(node.attrs["output_datatype"]).np)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        y = node.outputs[0]
        edges = [v.dtype for v in node.inputs[3:] if v is not None]
        if y.dtype is not DType.F32 or any(d not in (DType.F32, DType.F64) for d in edges):
            raise UnsupportedError(f"op MelWeightMatrix (node '{node.name}') on "
                                   f"{y.dtype.value} from {[d.value for d in edges]}")
        ptrs = [ctx.ptr(v) for v in node.inputs if v is not None]
        ctx.uses_math = True
        ctx.checked_call("signal", "tinyc_mel_weight_matrix_f32",
                         *[f"(int64_t){p}[0]" for p in ptrs[:3]],
                         *[f"(double){p}[0]" for p in ptrs[3:]], ctx.ptr(y), *y.shape)


def fft_odd_factor(n: int) -> int:
    """p of a length n = 2^a p the C FFT serves (1, 3 or 5), else 0 (tinyc_fft_odd_factor)."""
    if n < 2:
        return 0
    p = n // (n & -n)
    return p if p in (1, 3, 5) else 0


def fft_twiddles(ctx: EmitContext, n: int) -> tuple[int, str]:
    """(fft_length, twiddles) of a kernel's parameters: the constant table exp(-2 pi i k / n),
    k < n / 2, as (re, im) float32 pairs, when the C FFT serves n; else (0, NULL)."""
    if not fft_odd_factor(n):
        return 0, "NULL"
    angle = -2.0 * np.pi * np.arange((n + 1) // 2) / n
    table = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    table[np.abs(table) < 1e-12] = 0.0  # cos(pi / 2) is 0, not 6e-17
    return n, ctx.table(DType.F32, table, f"fft_twiddles_{n}")


@register_op
class DFT(OpDef):
    """IR form: `axis` (non-negative; input 2 instead when it is a run-time value),
    `length` (the DFT length; 0 with a run-time axis and no dft_length: the default for
    that axis), `inverse`, `onesided` and `shape` (output dims)."""

    name = "DFT"
    min_opset = 17
    attrs = {"axis": Attr("int", 1), "inverse": Attr("int", 0), "onesided": Attr("int", 0),
             "length": Attr("int", 0), "shape": Attr("ints", [])}

    def normalize(self, node: Node, opset: int) -> None:
        x = input_type(node, 0)
        a = node.attrs
        r = x.rank
        if opset >= 20:
            a["axis"] = -2
            axis_in = node.input(2)
            if axis_in is not None and axis_in.const is not None:
                a["axis"] = int(axis_in.const.reshape(-1)[0])
                axis_in = None
        else:
            axis_in = None
        length_in = node.input(1)
        if length_in is not None and length_in.const is None:
            raise UnsupportedError(f"DFT node '{node.name}': run-time dft_length")
        a["axis"] = a["axis"] % r
        if axis_in is None and a["axis"] == r - 1:
            raise ModelError(f"DFT node '{node.name}': axis is the complex axis")
        if length_in is not None:
            assert length_in.const is not None
            a["length"] = int(length_in.const.reshape(-1)[0])
        node.set_inputs([node.inputs[0], None, axis_in] if axis_in is not None
                        else [node.inputs[0]])
        if axis_in is not None:
            a["shape"] = list(declared_shape(node, 0, "the axis operand"))
            return  # length 0: the default for the run-time axis, derived by the kernel
        if not a["length"]:
            a["length"] = self._default_length(x.shape, a["axis"], a)
        a["shape"] = self._out_shape(x.shape, a["axis"], a)

    def _default_length(self, shape: tuple[int, ...], axis: int, a: dict) -> int:
        n_in = shape[axis]
        return 2 * (n_in - 1) if a["inverse"] and a["onesided"] else n_in

    def _out_shape(self, shape: tuple[int, ...], axis: int, a: dict) -> list[int]:
        out = list(shape)
        n = a["length"]
        out[axis] = n // 2 + 1 if a["onesided"] and not a["inverse"] else n
        out[-1] = 1 if a["inverse"] and a["onesided"] else 2
        return out

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        if x.rank < 2 or x.shape[-1] not in (1, 2) or x.rank > MAX_RANK:
            raise ModelError(f"DFT node '{node.name}': input {list(x.shape)}")
        return [x.with_shape(tuple(node.attrs["shape"]))]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        a = node.attrs
        axis = a["axis"]
        if len(inputs) > 2 and inputs[2] is not None:
            axis = int(inputs[2].reshape(-1)[0]) % x.ndim
            n = a["length"] or self._default_length(x.shape, axis, a)
            if axis == x.ndim - 1 or self._out_shape(x.shape, axis, dict(a, length=n)) != \
                    a["shape"]:
                raise check_failed(node, "axis", axis, a["shape"])
        n = a["length"] or self._default_length(x.shape, axis, a)
        sig = x[..., 0] + (1j * x[..., 1] if x.shape[-1] == 2 else 0)
        if a["inverse"] and a["onesided"]:
            return [np.fft.irfft(sig, n=n, axis=axis)[..., None].astype(x.dtype)]
        y = np.fft.ifft(sig, n=n, axis=axis) if a["inverse"] else np.fft.fft(sig, n=n, axis=axis)
        if a["onesided"] and not a["inverse"]:
            y = np.take(y, np.arange(n // 2 + 1), axis=axis)
        return [np.stack([y.real, y.imag], axis=-1).astype(x.dtype)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        if x.dtype is not DType.F32:
            raise UnsupportedError(f"op DFT (node '{node.name}') on {x.dtype.value}")
        a = node.attrs
        fft_length, twiddles = fft_twiddles(ctx, a["length"])
        init = (f"{{{x.type.rank}, {c_int_list(x.shape)}, {c_int_list(y.shape)}, {a['length']}, "
                f"{a['inverse']}, {a['onesided']}, {fft_length}, {twiddles}}}")
        params = ctx.params("tinyc_dft_params", init, f"dft_{y.name}")
        axis_in = node.input(2)
        axis = f"(int64_t){ctx.ptr(axis_in)}[0]" if axis_in is not None else f"{a['axis']}"
        ctx.uses_math = True
        ctx.checked_call("signal", "tinyc_dft_f32", ctx.ptr(x), ctx.ptr(y), axis, params)


@register_op
class STFT(OpDef):
    """Short-time Fourier transform: windowed frames every frame_step samples, each
    transformed by a DFT of frame_length (one-sided by default). frame_step and
    frame_length may be run-time values; the C checks they give the declared frames and
    bins. IR form: `frames` and `bins` of the output."""

    name = "STFT"
    min_opset = 17
    attrs = {"onesided": Attr("int", 1), "frames": Attr("int", 0), "bins": Attr("int", 0)}

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        if x.rank != 3 or x.shape[2] not in (1, 2):
            raise ModelError(f"STFT node '{node.name}': signal {list(x.shape)}")
        return [x.with_shape((x.shape[0], node.attrs["frames"], node.attrs["bins"], 2))]

    def normalize(self, node: Node, opset: int) -> None:
        x = input_type(node, 0)
        if any(runtime_input(node, i) for i in (1, 3)):
            out = declared_shape(node, 0, "frame_step/frame_length")
            node.attrs["frames"], node.attrs["bins"] = out[1], out[2]
        else:
            step, length = self._step_length(node, [None if v is None else v.const
                                                    for v in node.inputs])
            node.attrs["frames"] = 1 + (x.shape[1] - length) // step
            node.attrs["bins"] = length // 2 + 1 if node.attrs["onesided"] else length

    def _step_length(self, node: Node, inputs: list[np.ndarray | None]) -> tuple[int, int]:
        padded = list(inputs) + [None] * (4 - len(inputs))
        x_len = input_type(node, 0).shape[1]
        step = int(np.asarray(padded[1]).reshape(-1)[0])
        window = padded[2] if node.input(2) is not None else None
        if padded[3] is not None:
            length = int(np.asarray(padded[3]).reshape(-1)[0])
        else:
            length = window.shape[0] if window is not None else x_len
        if step <= 0 or not 0 < length <= x_len:
            raise ModelError(f"STFT node '{node.name}': step {step}, frame length {length}")
        return step, length

    def _compiled_length(self, node: Node) -> int:
        """The frame length known at compile time (0 when frame_length is a run-time value)."""
        window, length = node.input(2), node.input(3)
        if length is not None:
            return 0 if length.const is None else int(length.const.reshape(-1)[0])
        return window.shape[0] if window is not None else input_type(node, 0).shape[1]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        step, n = self._step_length(node, inputs)
        frames, bins = node.attrs["frames"], node.attrs["bins"]
        if 1 + (x.shape[1] - n) // step != frames or (
            n // 2 + 1 if node.attrs["onesided"] else n
        ) != bins:
            raise check_failed(node, "frame_step/frame_length", [step, n], [frames, bins])
        window = inputs[2] if len(inputs) > 2 and inputs[2] is not None else np.ones(n)
        sig = x[..., 0] + (1j * x[..., 1] if x.shape[2] == 2 else 0)
        out = np.zeros((x.shape[0], frames, bins), complex)
        for f in range(frames):
            seg = np.zeros((x.shape[0], n), complex)
            part = sig[:, f * step : f * step + n]
            seg[:, : part.shape[1]] = part
            out[:, f] = np.fft.fft(seg * window, n=n, axis=1)[:, :bins]
        return [np.stack([out.real, out.imag], axis=-1).astype(x.dtype)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        if x.dtype is not DType.F32:
            raise UnsupportedError(f"op STFT (node '{node.name}') on {x.dtype.value}")
        step, window, length = node.inputs[1], node.input(2), node.input(3)
        assert step is not None
        fields = [x.shape[0], x.shape[1], x.shape[2], node.attrs["frames"], node.attrs["bins"],
                  window.shape[0] if window is not None else 0, node.attrs["onesided"],
                  *fft_twiddles(ctx, self._compiled_length(node))]
        params = ctx.params("tinyc_stft_params", "{" + ", ".join(map(str, fields)) + "}",
                            f"stft_{y.name}")
        ctx.uses_math = True
        ctx.checked_call("signal", "tinyc_stft_f32", ctx.ptr(x), f"(int64_t){ctx.ptr(step)}[0]",
                         ctx.ptr(window) if window is not None else "NULL",
                         f"(int64_t){ctx.ptr(length)}[0]" if length is not None else "0",
                         ctx.ptr(y), params)
