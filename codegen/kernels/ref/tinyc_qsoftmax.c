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
