"""Fixed-point requantization: the integer arithmetic every int8 kernel ends with.

A real multiplier `M` (for example `s_in * s_w / s_out`) is represented at compile time as
an int32 mantissa `q` in [2^30, 2^31) and an exponent `shift` with

    M ~= q * 2^(shift - 31)

and applied to an int32 accumulator `x` with ONE rounding (the mode used everywhere in
tinyc, Python and C alike):

    multiply_by_quantized_multiplier(x, q, shift)
        = saturate_int32( (x * q + 2^(30 - shift)) >> (31 - shift) )

computed in 64-bit integers, where `>>` is an arithmetic (flooring) shift. That is
`round(x * M)` with ties rounded toward +infinity ("round half up"), and it is what
`codegen/runtime/tinyc_fixedpoint.h` (`tinyc_mbqm`) computes bit for bit; the tests check
the two against each other on random and edge-case inputs.

Edge cases follow TFLite Micro's `QuantizeMultiplier` (quantization_util.cc): a mantissa
that rounds up to 2^31 is halved and `shift` incremented; a multiplier below 2^-32 (`shift`
< -31) flushes to zero (`q = 0, shift = 0`). Multipliers must be finite, non-negative and
below 2^30, which keeps the total right shift `31 - shift` in [1, 62].

int16x8 layers (int16 activations) accumulate in int64: the same rule applies to an
accumulator |x| < 2^47 (`WIDE_ACC_LIMIT`) when shift <= 15, computed exactly in int64 by
splitting x into its high and low 16 bits (`tinyc_mbqm64` in `tinyc_fixedpoint64.h`):

    floor((x q + r) / 2^t) = floor((hi q + floor((lo q + r) / 2^16)) / 2^(t - 16))

with x = hi 2^16 + lo, 0 <= lo < 2^16, r = 2^(t - 1), t = 31 - shift >= 16.

onnxruntime semantics (`tinyc.quant.semantics`) rides in the same (q, shift) tables:
`shift == FLOAT_SHIFT` (outside [-31, 30]) means q holds the bits of a float32 scale, and
the result is float32(x) * scale rounded to nearest even (saturated to int32), as
onnxruntime's `MlasRequantizeOutput` computes it (`float_multipliers`).

TFLite semantics rides there too: a shift of `TFLITE_SHIFT_BIAS + s` (s in [-31, 30]) means
the same (q, s) applied with TFLite's two roundings (`tflite_multipliers`,
`tinyc.quant.tflite_fixedpoint.mbqm`).
"""

from __future__ import annotations

import math

import numpy as np

from tinyc.errors import UnsupportedError
from tinyc.quant import tflite_fixedpoint

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
#: `shift` value meaning "q is the bits of a float32 scale" (onnxruntime semantics)
FLOAT_SHIFT = 64
#: added to a shift to mean TFLite's double rounding (`tflite_multipliers`)
TFLITE_SHIFT_BIAS = 128
#: float32 values beyond this are clamped before rounding (int8 results saturate anyway)
FLOAT_LIMIT = float(2**22)
#: largest real multiplier tinyc accepts (keeps the right shift >= 1)
MAX_MULTIPLIER = float(2**30)
#: bound on |accumulator| of the 64-bit requantization (int16x8 layers)
WIDE_ACC_LIMIT = 2**47
#: largest shift the 64-bit requantization accepts (its right shift must be >= 16)
WIDE_MAX_SHIFT = 15


class MultiplierError(UnsupportedError, ValueError):
    """A scale ratio the int32 fixed-point multiplier cannot represent: the quantization
    parameters (from calibration or from the model) are too far apart."""


def quantize_multiplier(real: float) -> tuple[int, int]:
    """(q, shift) with real ~= q * 2^(shift - 31), q in [2^30, 2^31) or (0, 0).

    Input contract: `real` finite, 0 <= real < 2^30. The mantissa is rounded half away from
    zero, like TFLite's `TfLiteRound(q * (1 << 31))`."""
    real = float(real)
    if not math.isfinite(real) or real < 0:
        raise MultiplierError(f"requantization multiplier must be finite and >= 0, got {real}")
    if real >= MAX_MULTIPLIER:
        raise MultiplierError(
            f"requantization multiplier {real} is too large (max 2^30): the quantization "
            f"scales are too far apart"
        )
    if real == 0.0:
        return 0, 0
    mantissa, shift = math.frexp(real)  # real = mantissa * 2^shift, mantissa in [0.5, 1)
    q = math.floor(mantissa * 2**31 + 0.5)  # exact: scaling by 2^31 loses no bits
    if q == 2**31:
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q, shift


def quantize_multipliers(reals: np.ndarray | list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel `quantize_multiplier`: two int32 arrays (multipliers, shifts)."""
    pairs = [quantize_multiplier(float(r)) for r in np.asarray(reals, np.float64).reshape(-1)]
    q = np.array([p[0] for p in pairs], dtype=np.int64).astype(np.int32)
    s = np.array([p[1] for p in pairs], dtype=np.int32)
    return q, s


def float_multipliers(scales: np.ndarray | list[float]) -> tuple[np.ndarray, np.ndarray]:
    """(q, shift) tables for float32 `scales` in onnxruntime semantics: q the bits of each
    scale, shift FLOAT_SHIFT."""
    bits = np.asarray(scales, np.float32).reshape(-1).view(np.int32).copy()
    return bits, np.full(bits.shape, FLOAT_SHIFT, np.int32)


def tflite_multipliers(reals: np.ndarray | list[float]) -> tuple[np.ndarray, np.ndarray]:
    """`quantize_multipliers` (TFLite's QuantizeMultiplier) with the shifts marked for
    TFLite's double rounding (+ TFLITE_SHIFT_BIAS)."""
    q, s = quantize_multipliers(reals)
    return q, (s + TFLITE_SHIFT_BIAS).astype(np.int32)


def _float_rule(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    """float32(x) * float32(bits q), clamped to +-FLOAT_LIMIT, rounded to nearest even."""
    scale = np.asarray(q, np.int64).astype(np.int32).view(np.float32)
    v = (x.astype(np.float32) * scale).astype(np.float32)
    return np.rint(np.clip(v, -FLOAT_LIMIT, FLOAT_LIMIT)).astype(np.int64)


def multiply_by_quantized_multiplier(
    x: np.ndarray | int, q: np.ndarray | int, shift: np.ndarray | int
) -> np.ndarray:
    """saturate_int32((x * q + 2^(30 - shift)) >> (31 - shift)), elementwise, broadcasting.

    Contract (the same as the C helper's): x is int32, q in [0, 2^31), shift in [-31, 30],
    FLOAT_SHIFT (then q is a float32's bits) or TFLITE_SHIFT_BIAS + [-31, 30] (TFLite's
    rounding): see the module docstring; or x int64 with |x| < 2^47 and shift <= 15
    (`tinyc_mbqm64`).
    Intermediates fit in int64: |x * q| < 2^62 and the rounding term is at most 2^61."""
    x64 = np.asarray(x, dtype=np.int64)
    q64 = np.asarray(q, dtype=np.int64)
    s64 = np.asarray(shift, dtype=np.int64)
    is_tflite = s64 >= TFLITE_SHIFT_BIAS - 31
    if np.any(is_tflite):
        x64, q64, s64, is_tflite = np.broadcast_arrays(x64, q64, s64, is_tflite)
        other = multiply_by_quantized_multiplier(
            x64, np.where(is_tflite, 0, q64), np.where(is_tflite, 0, s64))
        tfl = tflite_fixedpoint.mbqm(x64, q64, np.where(is_tflite, s64 - TFLITE_SHIFT_BIAS, 0))
        return np.where(is_tflite, tfl, other).astype(np.int32)
    is_float = s64 == FLOAT_SHIFT
    if np.any(is_float):
        x64, q64, s64, is_float = np.broadcast_arrays(x64, q64, s64, is_float)
        fixed = multiply_by_quantized_multiplier(
            x64, np.where(is_float, 0, q64), np.where(is_float, 0, s64))
        return np.where(is_float, np.clip(_float_rule(x64, q64), INT32_MIN, INT32_MAX),
                        fixed).astype(np.int32)
    if np.any((s64 < -31) | (s64 > 30)):
        raise ValueError("shift out of range [-31, 30]")
    total = 31 - s64
    rounding = np.left_shift(np.int64(1), total - 1)
    if x64.size and (x64.max() > INT32_MAX or x64.min() < INT32_MIN):
        out = _wide_product_shift(x64, q64, total, rounding)
    else:
        out = np.right_shift(x64 * q64 + rounding, total)
    return np.clip(out, INT32_MIN, INT32_MAX).astype(np.int32)


def _wide_product_shift(x: np.ndarray, q: np.ndarray, total: np.ndarray,
                        rounding: np.ndarray) -> np.ndarray:
    """floor((x q + rounding) / 2^total) exactly in int64 for |x| < 2^47, total >= 16 (see
    the module docstring; `tinyc_mbqm64`)."""
    if np.abs(x).max() >= WIDE_ACC_LIMIT:
        raise ValueError("accumulator beyond 2^47")
    if np.any(total < 31 - WIDE_MAX_SHIFT):
        raise ValueError(f"shift above {WIDE_MAX_SHIFT} with an int64 accumulator")
    hi = np.right_shift(x, 16)
    lo = x - hi * 65536
    return np.right_shift(hi * q + np.right_shift(lo * q + rounding, 16), total - 16)


def requantize(
    acc: np.ndarray,
    q: np.ndarray | int,
    shift: np.ndarray | int,
    zero_point: int,
    act_min: int = -128,
    act_max: int = 127,
    dtype: type[np.signedinteger] = np.int8,
) -> np.ndarray:
    """Accumulator -> `dtype` (int8, or int16 for int16x8): clamp(mbqm(acc) + zero_point,
    act_min, act_max).

    The C kernels clamp the scaled value to [act_min - zp, act_max - zp] before adding the
    zero point (no signed overflow); the result is the same."""
    scaled = multiply_by_quantized_multiplier(acc, q, shift).astype(np.int64)
    return np.clip(scaled + zero_point, act_min, act_max).astype(dtype)


def round_half_away(num: np.ndarray, den: np.ndarray | int) -> np.ndarray:
    """Integer num/den rounded half away from zero (den > 0), as the C pools compute it:
    num >= 0 ? (num + den/2) / den : -((-num + den/2) / den)."""
    n = np.asarray(num, np.int64)
    d = np.asarray(den, np.int64)
    half = d // 2
    pos = (n + half) // d
    neg = -((-n + half) // d)
    return np.where(n >= 0, pos, neg)
