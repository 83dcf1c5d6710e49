"""TFLite's integer arithmetic (the `tflite` semantics, `tinyc.quant.semantics`), in numpy.

The rules are read from TFLite Micro's reference kernels (tensorflow/lite/kernels/internal,
built without TFLITE_SINGLE_ROUNDING as the `tflite-micro` package is) and gemmlowp's
fixedpoint.h. Everything is int64 numpy computing int32 values; `codegen/runtime/
tinyc_fixedpoint.h` (`tinyc_tflite_mbqm`) and `codegen/kernels/ref/tinyc_qsoftmax.c` are the
C twins, bit for bit.

- `mbqm` is MultiplyByQuantizedMultiplier: x << max(shift, 0) (int32, wrapping as TFLite's
  int32 multiply does), SaturatingRoundingDoublingHighMul with q, then RoundingDivideByPOT
  by max(-shift, 0): two roundings, the first half up, the second half away from zero.
- Softmax int8 -> int8 (output scale 1/256, zero point -128, which TFLite Micro enforces)
  is gemmlowp's fixed-point exp on Q5.26 differences, a Q12.19 sum and a Newton-Raphson
  reciprocal. The exp depends only on d = max - x, so it is a 256-entry table
  (`softmax_exp_table`); the kernel keeps the sum, reciprocal and product.
"""

from __future__ import annotations

import math

import numpy as np

# fixedpoint imports this module too; only its functions are used here, at call time
from tinyc.quant import fixedpoint

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
#: Softmax: integer bits of the scaled differences (Q5.26) and of the sum (Q12.19)
SOFTMAX_DIFF_BITS = 5
SOFTMAX_SUM_BITS = 12


def _i64(x: np.ndarray | int) -> np.ndarray:
    return np.asarray(x, np.int64)


def wrap32(x: np.ndarray | int) -> np.ndarray:
    """int64 values reduced to int32 two's complement (C's wrapping int32 arithmetic)."""
    return ((_i64(x) + 2**31) & (2**32 - 1)) - 2**31


def srdhm(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    """gemmlowp SaturatingRoundingDoublingHighMul: round(a * b / 2^31), ties toward
    +infinity ((a*b + nudge) / 2^31 truncated, nudge 2^30 or 1 - 2^30, is exactly
    (a*b + 2^30) >> 31), saturated where a == b == INT32_MIN."""
    a64, b64 = np.broadcast_arrays(_i64(a), _i64(b))
    r = (a64 * b64 + (1 << 30)) >> 31
    return np.where((a64 == INT32_MIN) & (b64 == INT32_MIN), INT32_MAX, r)


def rdbpot(x: np.ndarray | int, exponent: np.ndarray | int) -> np.ndarray:
    """gemmlowp RoundingDivideByPOT: x / 2^exponent rounded half away from zero."""
    x64, e = np.broadcast_arrays(_i64(x), _i64(exponent))
    mask = (np.int64(1) << e) - 1
    threshold = (mask >> 1) + (x64 < 0)
    return (x64 >> e) + ((x64 & mask) > threshold)


def mbqm(x: np.ndarray | int, q: np.ndarray | int, shift: np.ndarray | int) -> np.ndarray:
    """TFLite's MultiplyByQuantizedMultiplier(int32 x, q, shift), double rounding."""
    s = _i64(shift)
    left, right = np.maximum(s, 0), np.maximum(-s, 0)
    return rdbpot(srdhm(wrap32(_i64(x) << left), q), right)


def saturating_shift_left(x: np.ndarray | int, exponent: int) -> np.ndarray:
    """gemmlowp SaturatingRoundingMultiplyByPOT with a positive exponent: x << exponent,
    saturated beyond +-(2^(31 - exponent) - 1)."""
    x64 = _i64(x)
    threshold = (1 << (31 - exponent)) - 1
    return np.where(x64 > threshold, INT32_MAX,
                    np.where(x64 < -threshold, INT32_MIN, wrap32(x64 << exponent)))


# -- gemmlowp's exp and reciprocal ----------------------------------------------------------


def _exp_quarter(a: np.ndarray) -> np.ndarray:
    """exp(a) for Q0.31 a in [-1/4, 0): the Taylor expansion around -1/8."""
    constant_term, one_third = 1895147668, 715827883
    x = wrap32(a + (1 << 28))
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = rdbpot(x4, 2)
    poly = rdbpot(wrap32(srdhm(wrap32(x4_over_4 + x3), one_third) + x2), 1)
    return wrap32(constant_term + srdhm(constant_term, wrap32(x + poly)))


#: exp(-2^k) in Q0.31 for k = -2 .. 4 (gemmlowp's barrel shifter constants)
_EXP_STEPS = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
              (2, 39332535), (3, 720401), (4, 242))


def exp_on_negative_values(a: np.ndarray | int, integer_bits: int) -> np.ndarray:
    """gemmlowp exp_on_negative_values for raw Qn.(31-n) values a <= 0 (n = integer_bits
    <= 5): Q0.31 exp(a)."""
    a64 = _i64(a)
    frac = 31 - integer_bits
    quarter = 1 << (frac - 2)
    a_mod = wrap32((a64 & (quarter - 1)) - quarter)
    result = _exp_quarter(saturating_shift_left(a_mod, integer_bits) if integer_bits else a_mod)
    remainder = wrap32(a_mod - a64)
    for k, multiplier in _EXP_STEPS:
        if integer_bits > k:
            bit = (remainder & (1 << (frac + k))) != 0
            result = np.where(bit, srdhm(result, multiplier), result)
    return np.where(a64 == 0, INT32_MAX, result)


def _rounding_half_sum(a: np.ndarray, b: int) -> np.ndarray:
    s = _i64(a) + b
    return np.where(s >= 0, (s + 1) // 2, -((-s + 1) // 2))


def _newton_reciprocal(a: np.ndarray) -> np.ndarray:
    """Q2.29 1 / ((1 + a) / 2) for Q0.31 a in [0, 1): gemmlowp's Newton-Raphson division."""
    half_denominator = _rounding_half_sum(a, INT32_MAX)
    x = wrap32(1515870810 + srdhm(half_denominator, -1010580540))
    for _ in range(3):
        one_minus = wrap32((1 << 29) - srdhm(half_denominator, x))
        x = wrap32(x + saturating_shift_left(srdhm(x, one_minus), 2))
    return x


def one_over_one_plus_x(a: np.ndarray) -> np.ndarray:
    """gemmlowp one_over_one_plus_x_for_x_in_0_1 on Q0.31 a."""
    return saturating_shift_left(_newton_reciprocal(a), 1)


def one_minus_x_over_one_plus_x(a: np.ndarray) -> np.ndarray:
    """gemmlowp one_minus_x_over_one_plus_x_for_x_in_0_1 on Q0.31 a."""
    return saturating_shift_left(wrap32(_newton_reciprocal(a) - (1 << 29)), 2)


def logistic(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """gemmlowp logistic of raw Qn values: Q0.31 (1 / 2 at 0, One - f(|a|) below)."""
    a64 = _i64(a)
    positive = a64 > 0
    f = one_over_one_plus_x(exp_on_negative_values(-np.abs(a64), integer_bits))
    return np.where(a64 == 0, 1 << 30, np.where(positive, f, wrap32(INT32_MAX - f)))


def tanh(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """gemmlowp tanh of raw Qn values (exp of 2a, so on Q(n+1) raw values): Q0.31."""
    a64 = _i64(a)
    t = one_minus_x_over_one_plus_x(exp_on_negative_values(-np.abs(a64), integer_bits + 1))
    return np.where(a64 == 0, 0, np.where(a64 < 0, -t, t))


# -- elementwise int8 functions as 256-entry tables (QLut) ----------------------------------

#: LOGISTIC and TANH read their input as Q4.27
_ACTIVATION_INPUT_BITS = 4


def _activation_input(codes: np.ndarray, scale: float, zero_point: int
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TFLite Micro's LOGISTIC/TANH int8 prepare (frexp of s_x 2^27, the mantissa rounded
    half away, CalculateInputRadius) on `codes`: (x - zp, the Q4.27 input, in range)."""
    mantissa, left_shift = math.frexp(float(scale) * float(1 << (31 - _ACTIVATION_INPUT_BITS)))
    q = math.floor(mantissa * 2**31 + 0.5)
    radius = math.floor(((1 << _ACTIVATION_INPUT_BITS) - 1)
                        * float(1 << (31 - _ACTIVATION_INPUT_BITS)) / 2.0**left_shift)
    x = _i64(codes) - zero_point
    return x, mbqm(x, q, left_shift), radius


def logistic_table(scale: float, zero_point: int) -> np.ndarray:
    """int8[256] for codes -128..127: TFLite's int8 LOGISTIC (output scale 1/256, zero
    point -128)."""
    x, q4, radius = _activation_input(np.arange(-128, 128), scale, zero_point)
    y = np.clip(rdbpot(logistic(q4, _ACTIVATION_INPUT_BITS), 23) - 128, -128, 127)
    return np.where(x <= -radius, -128, np.where(x >= radius, 127, y)).astype(np.int8)


def tanh_table(scale: float, zero_point: int) -> np.ndarray:
    """int8[256] for codes -128..127: TFLite's int8 TANH (output scale 1/128, zero point
    0)."""
    x, q4, radius = _activation_input(np.arange(-128, 128), scale, zero_point)
    y = np.clip(rdbpot(tanh(q4, _ACTIVATION_INPUT_BITS), 24), -128, 127)
    return np.where(x <= -radius, -128, np.where(x >= radius, 127, y)).astype(np.int8)


def leaky_relu_table(alpha: float, sx: float, zx: int, sy: float, zy: int) -> np.ndarray:
    """int8[256] for codes -128..127: TFLite's int8 LEAKY_RELU, two multipliers computed in
    float32 (s_x * alpha / s_y and s_x / s_y) applied by MultiplyByQuantizedMultiplier."""
    f32 = np.float32
    qa, sa = fixedpoint.quantize_multiplier(abs(float(f32(f32(f32(sx) * f32(alpha)) / f32(sy)))))
    qi, si = fixedpoint.quantize_multiplier(float(f32(f32(sx) / f32(sy))))
    x = np.arange(-128, 128, dtype=np.int64) - zx
    negative = mbqm(x, qa, sa) * (-1 if alpha < 0 else 1)
    y = zy + np.where(x >= 0, mbqm(x, qi, si), negative)
    return np.clip(y, -128, 127).astype(np.int8)


def reciprocal(x: np.ndarray, integer_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """TFLite GetReciprocal of positive Q(integer_bits) x: (Q0.31 scale, bits over unit)."""
    x64 = _i64(x)
    bit_length = np.frexp(x64.astype(np.float64))[1].astype(np.int64)
    headroom_plus_one = np.where(x64 > 0, 32 - bit_length, 0)  # CountLeadingZeros(uint32)
    shifted = wrap32(((x64 << headroom_plus_one) & (2**32 - 1)) - 2**31)
    return one_over_one_plus_x(shifted), integer_bits - headroom_plus_one


# -- softmax --------------------------------------------------------------------------------


def softmax_scaling(input_scale: float, beta: float = 1.0) -> tuple[int, int, int]:
    """PreprocessSoftmaxScaling and CalculateInputRadius for Q5.26 differences:
    (multiplier, left shift, diff_min)."""
    real = min(float(beta) * float(input_scale) * float(1 << (31 - SOFTMAX_DIFF_BITS)),
               float(2**31) - 1.0)
    q, left_shift = fixedpoint.quantize_multiplier(real)
    radius = math.floor(((1 << SOFTMAX_DIFF_BITS) - 1) * float(1 << (31 - SOFTMAX_DIFF_BITS))
                        / float(1 << left_shift))
    return q, left_shift, -radius


def softmax_exp_table(input_scale: float, beta: float = 1.0) -> np.ndarray:
    """int32[256]: E[d] = exp_on_negative_values of the Q5.26 scaled difference -d (Q0.31),
    0 where -d < diff_min (TFLite skips those: they add nothing and output -128)."""
    q, left_shift, diff_min = softmax_scaling(input_scale, beta)
    diff = -np.arange(256, dtype=np.int64)
    scaled = srdhm(wrap32(diff << left_shift), q)
    e = exp_on_negative_values(scaled, SOFTMAX_DIFF_BITS)
    return np.where(diff >= diff_min, e, 0).astype(np.int32)


def softmax_rows(d: np.ndarray, table: np.ndarray) -> np.ndarray:
    """TFLite's int8 softmax of differences d = max - x along axis 1 ([outer, n, inner]),
    int64 output codes (zero point -128 included, clamped)."""
    e = _i64(table)[_i64(d)]
    total = wrap32(rdbpot(e, SOFTMAX_SUM_BITS).sum(axis=1, keepdims=True))
    scale, bits_over_unit = reciprocal(total, SOFTMAX_SUM_BITS)
    exponent = bits_over_unit + 31 - 8
    out = rdbpot(srdhm(scale, e), exponent) - 128
    return np.clip(out, -128, 127)


# -- mean -----------------------------------------------------------------------------------


def mean_multiplier(q: int, shift: int, count: int) -> tuple[int, int]:
    """TFLite's MEAN folds 1/count into QuantizeMultiplier(s_x / s_y) = (q, shift):
    q' = (q << k) / count (truncated), shift' = shift - k, k = min(floor(log2 count), 32,
    31 + shift)."""
    k = min(count.bit_length() - 1, 32, 31 + shift)
    return (q << k) // count, shift - k


def _int16_multiplier(real: float) -> tuple[int, int]:
    """QuantizeMultiplier, then DownScaleInt32ToInt16Multiplier: (q16, exponent)."""
    q, exponent = fixedpoint.quantize_multiplier(real)
    return (32767 if q >= INT32_MAX - (1 << 15) else (q + (1 << 15)) >> 16), exponent


def _srdhm16(a: np.ndarray, b: int) -> np.ndarray:
    """gemmlowp's int16 SaturatingRoundingDoublingHighMul (round(a b / 2^15), ties up)."""
    a64 = _i64(a)
    return np.where((a64 == -32768) & (b == -32768), 32767, (a64 * b + (1 << 14)) >> 15)


def _shl16_sat(x: np.ndarray, amount: int) -> np.ndarray:
    return np.clip(_i64(x) * (1 << amount), -32768, 32767)


def hard_swish_table(sx: float, zx: int, sy: float, zy: int) -> np.ndarray:
    """int8[256] for codes -128..127: TFLite's int8 HARD_SWISH (reference_ops::HardSwish:
    int16 fixed point, the input at s_x / 128, the ReLU6-ish factor at 3 / 32768, both
    multipliers cut to int16)."""
    f32 = np.float32
    hires = f32(f32(1.0 / 128.0) * f32(sx))
    out_q, out_exp = _int16_multiplier(float(f32(hires / f32(sy))))
    relu_q, relu_exp = _int16_multiplier(float(f32(hires / f32(3.0 / 32768.0))))
    x = (np.arange(-128, 128, dtype=np.int64) - zx) * 128
    pre_out = _srdhm16(x, out_q)
    reluish = _shl16_sat(x, relu_exp - 1) if relu_exp > 0 else x
    reluish = _srdhm16(reluish, relu_q)
    if relu_exp > 0:
        reluish = _shl16_sat(reluish, 1)
    if relu_exp < 0:
        reluish = rdbpot(reluish, -relu_exp)
    reluish = (reluish + (1 << 15)) >> 1
    product = reluish * pre_out  # SaturatingDoublingHighMul: truncated, no rounding
    pre = np.where(product >= 0, product >> 15, -((-product) >> 15))
    y = rdbpot(pre, -out_exp) + zy
    return np.clip(y, -128, 127).astype(np.int8)


def lut_table(op: str, attrs: dict[str, object], sx: float, zx: int, sy: float,
              zy: int) -> np.ndarray | None:
    """The QLut table TFLite's integer kernel of ONNX op `op` computes (LOGISTIC, TANH,
    LEAKY_RELU, HARD_SWISH), or None where tinyc has no TFLite rule (the table is then computed in
    float). LOGISTIC and TANH ignore the output parameters, as TFLite Micro's kernels do."""
    if op == "Sigmoid":
        return logistic_table(sx, zx)
    if op == "Tanh":
        return tanh_table(sx, zx)
    if op == "LeakyRelu":
        alpha = attrs.get("alpha", 0.01)
        assert isinstance(alpha, float)
        return leaky_relu_table(alpha, sx, zx, sy, zy)
    if op == "HardSwish":
        return hard_swish_table(sx, zx, sy, zy)
    return None


# -- int16 logistic and tanh (the integer LSTM's gates) --------------------------------------

#: TFLite's `sigmoid_table_uint16`: sigmoid(k / 24) in unsigned Q0.16 for k = 0..255 (the
#: values TFLite ships, which no closed formula reproduces to the last unit)
SIGMOID_TABLE_U16 = np.array([
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149,
    40794, 41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369,
    47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169,
    53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
    57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370,
    60565, 60753, 60935, 61110, 61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302,
    62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186, 63279, 63368, 63454, 63536,
    63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
    64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786,
    64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079,
    65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234, 65246, 65258,
    65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
    65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
    65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474,
    65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498,
    65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
    65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522,
    65523, 65523, 65524, 65524, 65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528,
    65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530, 65530, 65530, 65531, 65531,
    65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
    65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534,
    65534, 65534, 65534, 65535,
], np.int64)


def logistic_int16(x: np.ndarray | int) -> np.ndarray:
    """reference_integer_ops::Logistic on int16 Q3.12 with multiplier 0 and shift 0 (the
    power-of-two case: the input times 3), interpolating the table on |3x| in steps of
    2^9: int16 Q0.15 codes."""
    t = _i64(x) * 3
    a = np.abs(t)
    hi = a >> 9
    i = np.minimum(hi, 254)
    lo = SIGMOID_TABLE_U16[i]
    r = np.where(hi >= 255, 0x7FFF << 10,
                 (lo << 9) + (a & 0x1FF) * (SIGMOID_TABLE_U16[i + 1] - lo))
    return np.where(t >= 0, r + (1 << 9), (1 << 25) - r + (1 << 9) - 1) >> 10


def tanh_int16(x: np.ndarray | int, multiplier: int, left_shift: int) -> np.ndarray:
    """reference_integer_ops::Tanh on int16 with (input_multiplier, input_left_shift): a
    zero multiplier is the power-of-two case, 3 << shift; the input is rounded down by the
    shift, then the table is interpolated on |input| in steps of 2^8. int16 Q0.15 codes."""
    if multiplier == 0:
        multiplier, left_shift = 3 << left_shift, 0
    rounding = 1 << (left_shift - 1) if left_shift > 0 else 0
    t = (_i64(x) * multiplier + rounding) >> left_shift
    a = np.abs(t)
    hi = a >> 8
    i = np.minimum(hi, 254)
    lo = SIGMOID_TABLE_U16[i]
    r = np.where(hi >= 255, 0xFFFF << 8, (lo << 8) + (a & 0xFF) * (SIGMOID_TABLE_U16[i + 1] - lo))
    return np.where(t >= 0, r - (1 << 23) + (1 << 7), -r + (1 << 23) + (1 << 7) - 1) >> 8


def lstm_tanh_args(scale_power: int) -> tuple[int, int]:
    """TFLite Micro's LSTM tanh of an int16 at 2^scale_power: (input_multiplier,
    input_left_shift) for `tanh_int16` (a negative shift becomes multiplier 3, right shift)."""
    shift = 15 + scale_power - 3
    return (3, -shift) if shift < 0 else (0, shift)
