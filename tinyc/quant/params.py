"""Quantization parameters: from observed ranges to (scale, zero point), weight and bias
quantization, and the float32 QuantizeLinear/DequantizeLinear arithmetic shared by the
reference interpreter and the C boundary kernels.

Conventions (the same as TFLite Micro's `reference_integer_ops`):

- activations: int8, asymmetric, per tensor: real = scale * (q - zero_point), q in
  [-128, 127]; the range always contains 0.0 so that zero padding is exact;
- weights: int8, symmetric (zero point 0), per output channel, q in [-127, 127] (int4
  weights, `--weight-bits 4`: q in [-7, 7], still held as int8 values);
- bias: int32, zero point 0, scale = s_in * s_w[channel];
- scales are float32 values (ONNX stores them so), kept as Python floats in the IR.

`--quantize int16x8` (TFLite's 16x8 mode) keeps the weights and changes the activations:
int16, symmetric (zero point 0), q in [-32768, 32767] (`symmetric_params`), and the bias
int64 (`quantize_bias(..., wide=True)`), since s_x is about 256 times smaller.
"""

from __future__ import annotations

import numpy as np

from tinyc.ir import DType, QuantParams

QMIN, QMAX = -128, 127
#: the range of the 8-bit and 16-bit integer types a QuantizeLinear may produce
INT_RANGE = {
    DType.I8: (-128, 127),
    DType.U8: (0, 255),
    DType.I16: (-32768, 32767),
    DType.U16: (0, 65535),
    DType.I32: (-(2**31), 2**31 - 1),
}


#: the activation dtypes of the integer ops, with their value ranges
ACT_DTYPES = (DType.I8, DType.I16)
#: bound on |int64 bias| of an int16x8 layer: keeps |accumulator| < 2^47, which the 64-bit
#: requantization (`fixedpoint.multiply_by_quantized_multiplier`) needs
WIDE_BIAS_LIMIT = 2**46


def act_limits(dtype: DType) -> tuple[int, int]:
    """[min, max] of an integer activation dtype (int8 or int16)."""
    return INT_RANGE[dtype]


def f32(x: float) -> float:
    """`x` rounded to float32, as a Python float (scales live as float32 in ONNX and C)."""
    return float(np.float32(x))


def params_from_range(lo: float, hi: float, qmin: int = QMIN, qmax: int = QMAX) -> QuantParams:
    """Asymmetric per-tensor parameters covering [lo, hi] (widened to contain 0).

    A degenerate range (all zeros) gets scale 1, which quantizes every value to the zero
    point exactly."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"cannot quantize a range with infinities: [{lo}, {hi}]")
    scale = f32((hi - lo) / (qmax - qmin))
    if scale <= 0.0 or not np.isfinite(scale):
        return QuantParams((1.0,), (0,))
    zp = int(np.clip(np.rint(qmin - lo / scale), qmin, qmax))
    return QuantParams((scale,), (zp,))


def symmetric_params(lo: float, hi: float, qmax: int = 32767) -> QuantParams:
    """Symmetric parameters (zero point 0) covering [lo, hi]: scale = max|x| / qmax, as
    TFLite's 16x8 activations. An all-zero range gets scale 1."""
    amax = max(abs(float(lo)), abs(float(hi)))
    if not np.isfinite(amax):
        raise ValueError(f"cannot quantize a range with infinities: [{lo}, {hi}]")
    scale = f32(amax / qmax)
    if scale <= 0.0 or not np.isfinite(scale):
        return QuantParams((1.0,), (0,))
    return QuantParams((scale,), (0,))


def quantize_array(
    x: np.ndarray,
    scale: np.ndarray | float,
    zero_point: np.ndarray | int,
    qmin: int,
    qmax: int,
) -> np.ndarray:
    """ONNX QuantizeLinear arithmetic in float32: saturate(rint(x / scale) + zero_point).

    `rint` rounds half to even, as the C kernel does; NaN maps to the zero point. Returns
    int64 (the caller casts to the storage type)."""
    zp = np.asarray(zero_point, np.int64)
    with np.errstate(over="ignore", invalid="ignore"):  # inf and NaN are handled below
        v = np.asarray(x, np.float32) / np.asarray(scale, np.float32)
    v = np.where(np.isnan(v), np.float32(0), v)
    # saturate before converting, so the float -> int conversion is always defined: a value
    # at or beyond (limit - zero_point) +- 1 saturates whatever the rounding
    lo = (qmin - zp).astype(np.float32) - np.float32(1)
    hi = (qmax - zp).astype(np.float32) + np.float32(1)
    v = np.minimum(np.maximum(v, lo), hi)
    r = np.rint(v).astype(np.int64) + zp
    return np.clip(r, qmin, qmax)


def dequantize_array(
    q: np.ndarray, scale: np.ndarray | float, zero_point: np.ndarray | int
) -> np.ndarray:
    """ONNX DequantizeLinear arithmetic in float32: (float)(q - zero_point) * scale."""
    diff = np.asarray(q, np.int64) - np.asarray(zero_point, np.int64)
    return diff.astype(np.float32) * np.asarray(scale, np.float32)


def axis_shape(rank: int, axis: int, n: int) -> tuple[int, ...]:
    """Shape that broadcasts a per-axis parameter vector of length n along `axis`."""
    shape = [1] * rank
    if rank:
        shape[axis] = n
    return tuple(shape)


#: how per-channel weight scales are chosen: from max |w|, or the clip minimising the MSE
WEIGHT_CLIPS = ("max", "mse")
#: the clip ratios (of max |w|) the MSE search tries, coarse to fine enough for int4
_MSE_RATIOS = np.linspace(0.5, 1.0, 51)


def weight_qmax(bits: int) -> int:
    """The symmetric weight range [-qmax, qmax] of `bits`-bit weights: 127 for int8, 7 for
    int4 (narrow: both signs get the same levels, and -qmax negates exactly)."""
    if bits not in (4, 8):
        raise ValueError(f"{bits}-bit weights: use 4 or 8")
    return 2 ** (bits - 1) - 1


def default_weight_clip(bits: int) -> str:
    """int4 weights take the MSE-optimal clip (on the keyword spotter it keeps 0.5-1 dB
    more SNR per layer than max |w|, README); int8 keeps max |w|, where the two hardly
    differ."""
    return "mse" if bits == 4 else "max"


def _mse_clip(row: np.ndarray, amax: float, qmax: int) -> float:
    """The clip (a fraction of max |w|) whose symmetric rounding of `row` has the least
    squared error."""
    r = row.astype(np.float64)
    scales = _MSE_RATIOS * amax / qmax
    q = np.clip(np.rint(r[None, :] / scales[:, None]), -qmax, qmax)
    err = ((q * scales[:, None] - r[None, :]) ** 2).sum(axis=1)
    return float(_MSE_RATIOS[int(np.argmin(err))] * amax)


def quantize_weights(w: np.ndarray, axis: int = 0, bits: int = 8,
                     clip: str = "max") -> tuple[np.ndarray, QuantParams]:
    """Symmetric per-channel weights along `axis`: q in [-qmax, qmax] (`weight_qmax`),
    zero point 0, held as int8. The scale is max|w| / qmax, or with clip="mse" the clip
    that minimises the channel's squared rounding error over qmax.

    A channel of zeros gets scale 1 (any scale represents it exactly)."""
    qmax = weight_qmax(bits)
    if clip not in WEIGHT_CLIPS:
        raise ValueError(f"weight clip {clip!r}: use {', '.join(WEIGHT_CLIPS)}")
    w = np.asarray(w, np.float32)
    moved = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
    amax = np.abs(moved).max(axis=1) if moved.size else np.zeros(w.shape[axis], np.float32)
    if clip == "mse":
        amax = np.array([_mse_clip(row, float(a), qmax) if a > 0 else 0.0
                         for row, a in zip(moved, amax, strict=True)])
    scales = np.array([f32(a / qmax) if a > 0 else 1.0 for a in amax], np.float32)
    q = quantize_array(w, scales.reshape(axis_shape(w.ndim, axis, len(scales))), 0, -qmax, qmax)
    params = QuantParams(tuple(float(s) for s in scales), (0,) * len(scales), axis)
    return q.astype(np.int8), params


def quantize_bias(b: np.ndarray, scales: np.ndarray, wide: bool = False) -> np.ndarray:
    """int32 bias with scale s_in * s_w[c] (per channel), rounded half to even, saturated
    to +-2^30 so the kernel's int32 accumulator keeps headroom; `wide` (int16 activations):
    int64, saturated to +-WIDE_BIAS_LIMIT."""
    b = np.asarray(b, np.float64).reshape(-1)
    s = np.asarray(scales, np.float64).reshape(-1)
    q = np.rint(b / s)
    if wide:
        return np.clip(q, -WIDE_BIAS_LIMIT, WIDE_BIAS_LIMIT).astype(np.int64)
    return np.clip(q, -(2**30), 2**30).astype(np.int32)


def channel_scales(params: QuantParams, n: int) -> np.ndarray:
    """The per-channel scales of `params` as a float64 vector of length n (a per-tensor
    scale is repeated)."""
    s = np.asarray(params.scale, np.float64)
    if s.size == 1:
        return np.full(n, s[0])
    if s.size != n:
        raise ValueError(f"{s.size} scales for {n} channels")
    return s


def same_params(a: QuantParams | None, b: QuantParams | None) -> bool:
    """Equal scale(s) and zero point(s) (axis ignored for single-element parameters)."""
    if a is None or b is None:
        return False
    return a.scale == b.scale and a.zero_point == b.zero_point
