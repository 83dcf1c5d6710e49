/* Portable reference int8 pooling (see tinyc_qpool.h). */
#include "tinyc_qpool.h"

#include "tinyc_fixedpoint.h"
#include "tinyc_onnxruntime.h"

static int8_t requant(int32_t v, const tinyc_qpool2d_params *p) {
  return tinyc_requantize_one(v, p->multiplier, p->shift, p->output_offset, p->act_min,
                              p->act_max);
}

static void pool(const int8_t *restrict X, int8_t *restrict Y, const tinyc_qpool2d_params *p,
                 int is_max) {
  int32_t t, oy, ox, ky, kx;
  for (t = 0; t < p->nc; ++t) {
    const int8_t *x = X + (size_t)t * p->h * p->w;
    int8_t *y = Y + (size_t)t * p->oh * p->ow;
    for (oy = 0; oy < p->oh; ++oy) {
      for (ox = 0; ox < p->ow; ++ox) {
        int32_t acc = is_max ? -128 : 0, count = 0;
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
        y[(size_t)oy * p->ow + ox] = requant(acc, p);
      }
    }
  }
}

void tinyc_maxpool2d_s8(const int8_t *restrict X, int8_t *restrict Y, int32_t *restrict work,
                        const tinyc_qpool2d_params *p) {
  (void)work;
  pool(X, Y, p, 1);
}

void tinyc_avgpool2d_s8(const int8_t *restrict X, int8_t *restrict Y, int32_t *restrict work,
                        const tinyc_qpool2d_params *p) {
  (void)work;
  if (p->y_scale_bits != 0) {
    tinyc_avgpool2d_onnxruntime(X, Y, p->nc, p->h, p->w, p->oh, p->ow, p->kh, p->kw,
                                p->stride_h, p->stride_w, p->pad_top, p->pad_left,
                                p->count_include_pad, -p->input_offset,
                                tinyc_float_of_bits(p->x_scale_bits),
                                tinyc_float_of_bits(p->y_scale_bits),
                                p->output_offset + p->code_offset, p->code_offset, p->act_min,
                                p->act_max);
    return;
  }
  pool(X, Y, p, 0);
}

void tinyc_global_avgpool_s8(const int8_t *restrict X, int8_t *restrict Y,
                             const tinyc_qpool2d_params *p) {
  const size_t size = (size_t)p->h * (size_t)p->w;
  int32_t t;
  size_t i;
  for (t = 0; t < p->nc; ++t) {
    const int8_t *x = X + (size_t)t * size;
    int32_t acc = 0;
    for (i = 0; i < size; ++i) acc += (int32_t)x[i] + p->input_offset;
    Y[t] = requant(acc, p);
  }
}
