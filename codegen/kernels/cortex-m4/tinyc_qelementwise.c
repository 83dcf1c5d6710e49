/* int8 elementwise kernels for the Cortex-M4/M7/M33: the portable kernels' arithmetic and
 * bits (tinyc_qelementwise.h), with the fixed-point multiplies in their short forms
 * (tinyc_dsp_mbqm: one 32x32->64 multiply, no 64-bit shift, for the usual shifts) -- Add
 * does three per element, which dominates it. */
#include "tinyc_qelementwise.h"

#include "tinyc_dsp.h"

TINYC_INLINE int8_t clamp_out(int32_t v, const tinyc_qbinary_params *p) {
  const int32_t lo = p->act_min - p->output_offset, hi = p->act_max - p->output_offset;
  v = v < lo ? lo : (v > hi ? hi : v);
  return (int8_t)(v + p->output_offset);
}

TINYC_INLINE int8_t add_one(int32_t a, int32_t b, const tinyc_qbinary_params *p) {
  /* |a + a_offset| <= 255, so the scaled value stays below 2^28: no overflow */
  const int32_t sa = (a + p->a_offset) * ((int32_t)1 << p->left_shift);
  const int32_t sb = (b + p->b_offset) * ((int32_t)1 << p->left_shift);
  const int32_t ra = tinyc_dsp_mbqm(sa, p->a_multiplier, p->a_shift);
  const int32_t rb = tinyc_dsp_mbqm(sb, p->b_multiplier, p->b_shift);
  return clamp_out(tinyc_dsp_mbqm(ra + rb, p->output_multiplier, p->output_shift), p);
}

TINYC_INLINE int8_t mul_one(int32_t a, int32_t b, const tinyc_qbinary_params *p) {
  return clamp_out(tinyc_dsp_mbqm((a + p->a_offset) * (b + p->b_offset), p->output_multiplier,
                                  p->output_shift),
                   p);
}

#define TINYC_DEFINE_QBINARY(op)                                                           \
  void tinyc_##op##_s8(const int8_t *A, const int8_t *B, int8_t *Y,                        \
                       const tinyc_qbinary_params *p) {                                    \
    int32_t idx[TINYC_MAX_RANK] = {0};                                                     \
    const int32_t last = p->rank - 1, n = p->dims[last];                                   \
    const int32_t sa = p->a_strides[last], sb = p->b_strides[last];                        \
    size_t outer = 1, t, ia = 0, ib = 0, o = 0;                                            \
    int32_t j, d;                                                                          \
    for (d = 0; d < last; ++d) outer *= (size_t)p->dims[d];                                \
    for (t = 0; t < outer; ++t) {                                                          \
      const int8_t *a = A + ia, *b = B + ib;                                               \
      int8_t *y = Y + o;                                                                   \
      if (sa == 1 && sb == 1) {                                                            \
        for (j = 0; j < n; ++j) y[j] = op##_one(a[j], b[j], p);                            \
      } else {                                                                             \
        for (j = 0; j < n; ++j) y[j] = op##_one(a[(size_t)j * sa], b[(size_t)j * sb], p);  \
      }                                                                                    \
      o += (size_t)n;                                                                      \
      for (d = last - 1; d >= 0; --d) {                                                    \
        ++idx[d];                                                                          \
        ia += (size_t)p->a_strides[d];                                                     \
        ib += (size_t)p->b_strides[d];                                                     \
        if (idx[d] < p->dims[d]) break;                                                    \
        ia -= (size_t)p->a_strides[d] * (size_t)p->dims[d];                                \
        ib -= (size_t)p->b_strides[d] * (size_t)p->dims[d];                                \
        idx[d] = 0;                                                                        \
      }                                                                                    \
    }                                                                                      \
  }
TINYC_DEFINE_QBINARY(add)
TINYC_DEFINE_QBINARY(mul)

void tinyc_requantize_s8(const int8_t *X, int8_t *Y, const tinyc_requant_params *p) {
  const tinyc_dsp_clamp cl = tinyc_dsp_clamp_make(p->output_offset, p->act_min, p->act_max);
  const tinyc_dsp_mult m = tinyc_dsp_mult_make(p->multiplier, p->shift);
  int32_t o, i;
  for (o = 0; o < p->outer; ++o) {
    const int8_t *x = X + (size_t)o * p->x_stride;
    int8_t *y = Y + (size_t)o * p->y_stride;
    for (i = 0; i < p->inner; ++i) {
      y[i] = tinyc_dsp_requant((int32_t)x[i] + p->input_offset, &m, &cl);
    }
  }
}

void tinyc_lut_s8(const int8_t *X, const int8_t *table, int8_t *Y, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i) Y[i] = table[(int32_t)X[i] + 128];
}
