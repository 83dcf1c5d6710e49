/* Portable reference int8 elementwise kernels (see tinyc_qelementwise.h).
 *
 * Binary ops walk the output through tinyc_qbinary_loop.h (shared with the int16 and
 * Cortex-M4 variants). */
#include "tinyc_qelementwise.h"

#include "tinyc_fixedpoint.h"
#include "tinyc_onnxruntime.h"
#include "tinyc_qbinary_loop.h"

/* a value that already includes the zero point, clamped to the activation's bounds */
static int8_t clamp_act(int32_t v, const tinyc_qbinary_params *p) {
  return (int8_t)(v < p->act_min ? p->act_min : (v > p->act_max ? p->act_max : v));
}

/* Add (sign 1) or Sub (sign -1) in fixed point */
static int8_t add_fixedpoint(int32_t a, int32_t b, int32_t sign, const tinyc_qbinary_params *p) {
  /* |a + a_offset| <= 255, so the scaled value stays below 2^28: no overflow */
  const int32_t sa = (a + p->a_offset) * ((int32_t)1 << p->left_shift);
  const int32_t sb = (b + p->b_offset) * ((int32_t)1 << p->left_shift);
  const int32_t ra = tinyc_mbqm(sa, p->a_multiplier, p->a_shift);
  const int32_t rb = tinyc_mbqm(sb, p->b_multiplier, p->b_shift);
  return tinyc_requantize_one(ra + sign * rb, p->output_multiplier, p->output_shift,
                              p->output_offset, p->act_min, p->act_max);
}

static int8_t add_one(int32_t a, int32_t b, const tinyc_qbinary_params *p) {
  if (p->output_shift == TINYC_FLOAT_SHIFT) {
    const int32_t off = p->left_shift; /* 128: onnxruntime adds the uint8 codes */
    return clamp_act(tinyc_add_onnxruntime(a + off, b + off, p->a_multiplier, p->b_multiplier,
                                           p->output_multiplier) - off, p);
  }
  return add_fixedpoint(a, b, 1, p);
}

static int8_t sub_one(int32_t a, int32_t b, const tinyc_qbinary_params *p) {
  return add_fixedpoint(a, b, -1, p);
}

static int8_t mul_one(int32_t a, int32_t b, const tinyc_qbinary_params *p) {
  if (p->output_shift == TINYC_FLOAT_SHIFT) {
    const int32_t off = p->left_shift;
    return clamp_act(tinyc_mul_onnxruntime((a + p->a_offset) * (b + p->b_offset),
                                           p->output_multiplier, p->output_offset + off) - off,
                     p);
  }
  return tinyc_requantize_one((a + p->a_offset) * (b + p->b_offset), p->output_multiplier,
                              p->output_shift, p->output_offset, p->act_min, p->act_max);
}

TINYC_QBINARY_ROW_DEFINE(add, int8_t)
TINYC_QBINARY_ROW_DEFINE(sub, int8_t)
TINYC_QBINARY_ROW_DEFINE(mul, int8_t)
TINYC_QBINARY_DEFINE(tinyc_add_s8, int8_t, add_row)
TINYC_QBINARY_DEFINE(tinyc_sub_s8, int8_t, sub_row)
TINYC_QBINARY_DEFINE(tinyc_mul_s8, int8_t, mul_row)

void tinyc_requantize_s8(const int8_t *X, int8_t *Y, const tinyc_requant_params *p) {
  int32_t o, i;
  for (o = 0; o < p->outer; ++o) {
    const int8_t *x = X + (size_t)o * p->x_stride;
    int8_t *y = Y + (size_t)o * p->y_stride;
    if (p->table) {
      tinyc_lut_s8(x, p->table, y, (size_t)p->inner);
      continue;
    }
    for (i = 0; i < p->inner; ++i) {
      y[i] = tinyc_requantize_one((int32_t)x[i] + p->input_offset, p->multiplier, p->shift,
                                  p->output_offset, p->act_min, p->act_max);
    }
  }
}

void tinyc_lut_s8(const int8_t *X, const int8_t *table, int8_t *Y, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i) Y[i] = table[(int32_t)X[i] + 128];
}
