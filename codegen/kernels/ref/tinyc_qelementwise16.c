/* Portable int16x8 elementwise and pooling kernels (see tinyc_qelementwise16.h); the same
 * loops as the int8 ones (ref/tinyc_qelementwise.c, ref/tinyc_qpool.c) on int16 data. */
#include "tinyc_qelementwise16.h"

#include "tinyc_fixedpoint64.h"
#include "tinyc_qbinary_loop.h"

static int16_t requant16(int32_t v, int32_t q, int32_t shift, int32_t zp, int32_t lo,
                         int32_t hi) {
  return tinyc_requantize_one_s16(v, q, shift, zp, lo, hi);
}

static int16_t add_one(int32_t a, int32_t b, const tinyc_qbinary_params *p) {
  const int32_t sa = (a + p->a_offset) * ((int32_t)1 << p->left_shift);
  const int32_t sb = (b + p->b_offset) * ((int32_t)1 << p->left_shift);
  const int32_t ra = tinyc_mbqm(sa, p->a_multiplier, p->a_shift);
  const int32_t rb = tinyc_mbqm(sb, p->b_multiplier, p->b_shift);
  return requant16(ra + rb, p->output_multiplier, p->output_shift, p->output_offset,
                   p->act_min, p->act_max);
}

static int16_t mul_one(int32_t a, int32_t b, const tinyc_qbinary_params *p) {
  return requant16((a + p->a_offset) * (b + p->b_offset), p->output_multiplier,
                   p->output_shift, p->output_offset, p->act_min, p->act_max);
}

TINYC_QBINARY_ROW_DEFINE(add, int16_t)
TINYC_QBINARY_ROW_DEFINE(mul, int16_t)
TINYC_QBINARY_DEFINE(tinyc_add_s16, int16_t, add_row)
TINYC_QBINARY_DEFINE(tinyc_mul_s16, int16_t, mul_row)

void tinyc_requantize_s16(const int16_t *X, int16_t *Y, const tinyc_requant_params *p) {
  int32_t o, i;
  for (o = 0; o < p->outer; ++o) {
    const int16_t *x = X + (size_t)o * p->x_stride;
    int16_t *y = Y + (size_t)o * p->y_stride;
    for (i = 0; i < p->inner; ++i) {
      y[i] = requant16((int32_t)x[i] + p->input_offset, p->multiplier, p->shift,
                       p->output_offset, p->act_min, p->act_max);
    }
  }
}

static void pool(const int16_t *restrict X, int16_t *restrict Y, const tinyc_qpool2d_params *p,
                 int is_max) {
  int32_t t, oy, ox, ky, kx;
  for (t = 0; t < p->nc; ++t) {
    const int16_t *x = X + (size_t)t * p->h * p->w;
    int16_t *y = Y + (size_t)t * p->oh * p->ow;
    for (oy = 0; oy < p->oh; ++oy) {
      for (ox = 0; ox < p->ow; ++ox) {
        int32_t acc = is_max ? -32768 : 0, count = 0;
        for (ky = 0; ky < p->kh; ++ky) {
          const int32_t iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
          for (kx = 0; kx < p->kw; ++kx) {
            const int32_t ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;
            const int inside = iy >= 0 && iy < p->h && ix >= 0 && ix < p->w;
            if (p->count_include_pad) {
              count += iy < p->h + p->pad_bottom && ix < p->w + p->pad_right;
            } else {
              count += inside;
            }
            if (!inside) continue;
            if (is_max) {
              const int32_t v = x[(size_t)iy * p->w + ix];
              acc = v > acc ? v : acc;
            } else {
              acc += (int32_t)x[(size_t)iy * p->w + ix] + p->input_offset;
            }
          }
        }
        if (is_max) {
          acc += p->input_offset;
        } else if (p->divisor == 0) {
          acc = tinyc_div_round(acc, count > 0 ? count : 1);
        }
        y[(size_t)oy * p->ow + ox] = requant16(acc, p->multiplier, p->shift, p->output_offset,
                                               p->act_min, p->act_max);
      }
    }
  }
}

void tinyc_maxpool2d_s16(const int16_t *restrict X, int16_t *restrict Y,
                         const tinyc_qpool2d_params *p) {
  pool(X, Y, p, 1);
}

void tinyc_avgpool2d_s16(const int16_t *restrict X, int16_t *restrict Y,
                         const tinyc_qpool2d_params *p) {
  pool(X, Y, p, 0);
}

void tinyc_global_avgpool_s16(const int16_t *restrict X, int16_t *restrict Y,
                              const tinyc_qpool2d_params *p) {
  const size_t size = (size_t)p->h * (size_t)p->w;
  int32_t t;
  size_t i;
  for (t = 0; t < p->nc; ++t) {
    const int16_t *x = X + (size_t)t * size;
    int32_t acc = 0;
    for (i = 0; i < size; ++i) acc += (int32_t)x[i] + p->input_offset;
    Y[t] = requant16(acc, p->multiplier, p->shift, p->output_offset, p->act_min, p->act_max);
  }
}
