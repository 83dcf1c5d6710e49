/* Portable reference int8 softmax (see tinyc_qsoftmax.h). */
#include "tinyc_qsoftmax.h"

#include "tinyc_fixedpoint.h"
#include "tinyc_onnxruntime.h"

/* onnxruntime semantics: exp_table holds 256 float32 bit patterns, output_multiplier the
 * factor's; sum in float32 in index order (tinyc_qsoftmax.h). */
static void softmax_onnxruntime(const int8_t *restrict X, int8_t *restrict Y,
                                const tinyc_qsoftmax_params *p, size_t base, int32_t mx) {
  const float factor = tinyc_float_of_bits(p->output_multiplier);
  float sum = 0.0f;
  int32_t j;
  for (j = 0; j < p->length; ++j) {
    sum += tinyc_float_of_bits(p->exp_table[mx - (int32_t)X[base + (size_t)j * p->inner]]);
  }
  for (j = 0; j < p->length; ++j) {
    const size_t at = base + (size_t)j * p->inner;
    const float e = tinyc_float_of_bits(p->exp_table[mx - (int32_t)X[at]]);
    const int32_t v = tinyc_softmax_onnxruntime(e, sum, factor) + p->output_offset;
    Y[at] = (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
  }
}

#ifdef TINYC_TFLITE
/* TFLite semantics (tinyc/quant/tflite_fixedpoint.py): exp_table holds gemmlowp's Q0.31
 * exp of each difference's Q5.26 scaled value (0 where TFLite skips it). */
static int32_t tflite_wrap_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }

/* gemmlowp's SaturatingRoundingMultiplyByPOT for a positive exponent e */
static int32_t tflite_shl_sat(int32_t x, int32_t e) {
  const int32_t threshold = (int32_t)(((int64_t)1 << (31 - e)) - 1);
  if (x > threshold) return INT32_MAX;
  if (x < -threshold) return INT32_MIN;
  return (int32_t)((uint32_t)x << e);
}

/* TFLite's GetReciprocal of a positive Q12.19 sum: the Q0.31 scale (gemmlowp's
 * one_over_one_plus_x_for_x_in_0_1, Newton-Raphson in Q2.29) and its bits over unit */
static int32_t tflite_reciprocal(int32_t sum, int32_t *bits_over_unit) {
  int32_t clz = 0, half, x, k;
  int64_t s;
  while (clz < 32 && !(((uint32_t)sum << clz) & 0x80000000u)) ++clz;
  *bits_over_unit = 12 - clz;
  x = (int32_t)(((uint32_t)sum << clz) - 0x80000000u);
  s = (int64_t)x + INT32_MAX;
  half = (int32_t)((s + (s >= 0 ? 1 : -1)) / 2);
  x = tflite_wrap_add(1515870810, tinyc_srdhm(half, -1010580540));
  for (k = 0; k < 3; ++k) {
    const int32_t one_minus = tflite_wrap_add((int32_t)1 << 29, -tinyc_srdhm(half, x));
    x = tflite_wrap_add(x, tflite_shl_sat(tinyc_srdhm(x, one_minus), 2));
  }
  return tflite_shl_sat(x, 1);
}

static void softmax_tflite(const int8_t *restrict X, int8_t *restrict Y,
                           const tinyc_qsoftmax_params *p, size_t base, int32_t mx) {
  int32_t sum = 0, bits, scale, exponent, j;
  for (j = 0; j < p->length; ++j) {
    sum = tflite_wrap_add(sum, tinyc_rdbpot(p->exp_table[mx - (int32_t)X[base + (size_t)j * p->inner]], 12));
  }
  scale = tflite_reciprocal(sum, &bits);
  exponent = bits + 31 - 8;
  for (j = 0; j < p->length; ++j) {
    const size_t at = base + (size_t)j * p->inner;
    const int32_t v = tinyc_rdbpot(tinyc_srdhm(scale, p->exp_table[mx - (int32_t)X[at]]), exponent) - 128;
    Y[at] = (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
  }
}
#endif

void tinyc_softmax_s8(const int8_t *restrict X, int8_t *restrict Y, const tinyc_qsoftmax_params *p) {
  int32_t o, i, j;
  for (o = 0; o < p->outer; ++o) {
    for (i = 0; i < p->inner; ++i) {
      const size_t base = (size_t)o * p->length * p->inner + (size_t)i;
      int32_t mx = -128, sum = 0;
      for (j = 0; j < p->length; ++j) {
        const int32_t v = X[base + (size_t)j * p->inner];
        mx = v > mx ? v : mx;
      }
      if (p->output_shift == TINYC_FLOAT_SHIFT) {
        softmax_onnxruntime(X, Y, p, base, mx);
        continue;
      }
#ifdef TINYC_TFLITE
      if (p->output_shift == TINYC_TFLITE_SHIFT_BIAS) {
        softmax_tflite(X, Y, p, base, mx);
        continue;
      }
#endif
      for (j = 0; j < p->length; ++j) {
        const int32_t d = mx - (int32_t)X[base + (size_t)j * p->inner];
        sum += d < p->table_len ? p->exp_table[d] : 0;
      }
      for (j = 0; j < p->length; ++j) {
        const int32_t d = mx - (int32_t)X[base + (size_t)j * p->inner];
        const int64_t e = d < p->table_len ? p->exp_table[d] : 0;
        const int32_t prob = (int32_t)((e * ((int64_t)1 << 23) + sum / 2) / sum);
        Y[base + (size_t)j * p->inner] = tinyc_requantize_one(
            prob, p->output_multiplier, p->output_shift, p->output_offset, -128, 127);
      }
    }
  }
}
