/* tinyc fixed-point helpers for the int8 kernels. Header-only C99.
 *
 * Requantization: a real multiplier M = s_in * s_w / s_out is represented, at compile time,
 * by an int32 mantissa q in [2^30, 2^31) and an exponent shift in [-31, 30] with
 * M ~= q * 2^(shift - 31). It is applied with ONE rounding, half toward +infinity:
 *
 *   tinyc_mbqm(x, q, shift) = saturate_int32((x * q + 2^(30 - shift)) >> (31 - shift))
 *
 * in 64-bit arithmetic. This is bit-for-bit what tinyc/quant/fixedpoint.py computes
 * (`multiply_by_quantized_multiplier`); tests/unit/test_quant_fixedpoint.py checks it.
 *
 * Contract: x is any int32; 0 <= q < 2^31; -31 <= shift <= 30, so the right shift is in
 * [1, 62] and |x * q| + 2^61 < 2^63 (no signed overflow). `>>` on a negative int64 must be
 * an arithmetic shift: implementation-defined in C99, true of gcc, clang and armcc; the
 * typedef below refuses to compile anywhere it is not.
 *
 * onnxruntime semantics (tinyc/quant/semantics.py) rides in the same tables: shift ==
 * TINYC_FLOAT_SHIFT means q holds the bits of a float32 scale, and tinyc_mbqm returns
 * float(x) * scale rounded to nearest even (onnxruntime's MlasRequantizeOutput), clamped to
 * +-2^22 first (where the magic-number rounding is exact; int8 results saturate anyway).
 * It needs float32 arithmetic without excess precision (FLT_EVAL_METHOD 0: SSE, the M4's
 * FPU, soft-float).
 *
 * TFLite semantics rides there too (compiled in with TINYC_TFLITE, tinyc_rt.h): shift ==
 * TINYC_TFLITE_SHIFT_BIAS + s (s in [-31, 30]) means
 * TFLite's MultiplyByQuantizedMultiplier (tinyc/quant/tflite_fixedpoint.py `mbqm`): x << max(s,
 * 0) (wrapping), a rounding doubling high multiply (gemmlowp's SaturatingRoundingDoublingHighMul,
 * which is (x*q + 2^30) >> 31 for q >= 0), then a divide by 2^max(-s, 0) rounding half away from
 * zero (RoundingDivideByPOT). */
#ifndef TINYC_FIXEDPOINT_H
#define TINYC_FIXEDPOINT_H

#include <stdint.h>

#include "tinyc_rt.h"

/* compile-time check: right shift of a negative value is arithmetic */
typedef char tinyc_check_arithmetic_shift[((int64_t)-3 >> 1) == (int64_t)-2 ? 1 : -1];

#define TINYC_FLOAT_SHIFT 64
#define TINYC_TFLITE_SHIFT_BIAS 128

/* float32 -> int32 rounded to nearest even, |v| clamped to 2^22 first (see above). */
TINYC_INLINE int32_t tinyc_rint_clamped(float v) {
  const float big = 12582912.0f;
  v = v > 4194304.0f ? 4194304.0f : (v < -4194304.0f ? -4194304.0f : v);
  return (int32_t)((v + big) - big);
}

TINYC_INLINE float tinyc_float_of_bits(int32_t q) {
  union { int32_t i; float f; } bits;
  bits.i = q;
  return bits.f;
}

/* gemmlowp's RoundingDivideByPOT: x / 2^e rounded half away from zero, 0 <= e <= 31 */
TINYC_INLINE int32_t tinyc_rdbpot(int32_t x, int32_t e) {
  const int32_t mask = (int32_t)(((int64_t)1 << e) - 1);
  const int32_t threshold = (mask >> 1) + (x < 0);
  return (x >> e) + ((x & mask) > threshold);
}

/* gemmlowp's SaturatingRoundingDoublingHighMul, any x, q but not both INT32_MIN (the one
 * saturating case, which TFLite's multipliers never reach) */
TINYC_INLINE int32_t tinyc_srdhm(int32_t x, int32_t q) {
  return (int32_t)(((int64_t)x * q + ((int64_t)1 << 30)) >> 31);
}

/* Out of line (one copy per file, not one per call site): only TFLite models take it, and
 * the Cortex-M4 kernels have short forms of their own for it. */
#if defined(__GNUC__) || defined(__clang__)
#define TINYC_OUTLINE static __attribute__((noinline, unused))
#else
#define TINYC_OUTLINE static inline
#endif

/* TFLite's MultiplyByQuantizedMultiplier, shift s in [-31, 30] (not biased) */
TINYC_OUTLINE int32_t tinyc_tflite_mbqm(int32_t x, int32_t q, int32_t s) {
  const int32_t left = s > 0 ? s : 0, right = s > 0 ? 0 : -s;
  return tinyc_rdbpot(tinyc_srdhm((int32_t)((uint32_t)x << left), q), right);
}

TINYC_INLINE int32_t tinyc_mbqm(int32_t x, int32_t q, int32_t shift) {
  int32_t total;
  int64_t rounding, r;
  if (shift == TINYC_FLOAT_SHIFT) return tinyc_rint_clamped((float)x * tinyc_float_of_bits(q));
#ifdef TINYC_TFLITE
  if (shift > 30) return tinyc_tflite_mbqm(x, q, shift - TINYC_TFLITE_SHIFT_BIAS);
#endif
  total = 31 - shift;
  rounding = (int64_t)1 << (total - 1);
  TINYC_DCHECK(q >= 0 && shift >= -31 && shift <= 30);
  r = ((int64_t)x * q + rounding) >> total;
  if (r > INT32_MAX) r = INT32_MAX;
  if (r < INT32_MIN) r = INT32_MIN;
  return (int32_t)r;
}

/* int32 accumulator -> int8 output: clamp(mbqm(acc) + zp, act_min, act_max). The scaled
 * value is clamped before the zero point is added, so nothing can overflow. */
TINYC_INLINE int8_t tinyc_requantize_one(int32_t acc, int32_t q, int32_t shift, int32_t zp,
                                         int32_t act_min, int32_t act_max) {
  int32_t v = tinyc_mbqm(acc, q, shift);
  const int32_t lo = act_min - zp, hi = act_max - zp;
  v = v < lo ? lo : (v > hi ? hi : v);
  return (int8_t)(v + zp);
}

/* num / den rounded half away from zero (den > 0): the pools' average. */
TINYC_INLINE int32_t tinyc_div_round(int32_t num, int32_t den) {
  return num >= 0 ? (num + den / 2) / den : -((-num + den / 2) / den);
}

#endif /* TINYC_FIXEDPOINT_H */
