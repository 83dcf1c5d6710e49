/* int8 pooling (NCHW) for the Cortex-M4/M7/M33: the portable kernels' arithmetic and bits
 * (tinyc_qpool.h), with the windows that lie wholly inside the input summed or maxed by a
 * plain row loop (no per-tap bounds checks or padding bookkeeping; sums four bytes per
 * USADA8); border windows take the portable path. A max pool that keeps its input's scale
 * skips the multiply. */
#include "tinyc_qpool.h"

#include "tinyc_dsp.h"
#include "tinyc_fixedpoint.h"
#include "tinyc_onnxruntime.h"

/* tinyc_requantize_one with the pool's constants; a multiplier of exactly 1 (q = 2^30,
 * shift 1: max pooling keeps its input's scale) is just the zero point and the clamp. */
static int8_t requant(int32_t v, const tinyc_qpool2d_params *p) {
  if (p->multiplier == (int32_t)1 << 30 && p->shift == 1) {
    v += p->output_offset;
    return (int8_t)(v < p->act_min ? p->act_min : (v > p->act_max ? p->act_max : v));
  }
  return tinyc_requantize_one(v, p->multiplier, p->shift, p->output_offset, p->act_min,
                              p->act_max);
}

/* The portable kernel's window, for windows that touch the padding. */
static int8_t border(const int8_t *x, const tinyc_qpool2d_params *p, int32_t oy, int32_t ox,
                     int is_max) {
  int32_t acc = is_max ? -128 : 0, count = 0, ky, kx;
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
  if (is_max) return requant(acc + p->input_offset, p);
  return requant(p->divisor > 0 ? acc : tinyc_div_round(acc, count > 0 ? count : 1), p);
}

/* The max or sum of one window wholly inside the input (dilation 1): kh rows of kw bytes,
 * rows w apart. Out of line, so the plane loop keeps its registers. */
static TINYC_DSP_NOINLINE int32_t window_max(const int8_t *x, int32_t w, int32_t kh,
                                             int32_t kw) {
  int32_t m = -128, kx;
  for (; kh > 0; --kh, x += w) {
    for (kx = 0; kx < kw; ++kx) m = x[kx] > m ? x[kx] : m;
  }
  return m;
}

static TINYC_DSP_NOINLINE int32_t window_sum(const int8_t *x, int32_t w, int32_t kh,
                                             int32_t kw) {
  int32_t acc = 0;
  for (; kh > 0; --kh, x += w) acc += tinyc_sum_s8(x, kw);
  return acc;
}

static void pool(const int8_t *restrict X, int8_t *restrict Y, const tinyc_qpool2d_params *p,
                 int is_max) {
  const int32_t taps = p->kh * p->kw;
  const int plain = p->dil_h == 1 && p->dil_w == 1;
  int32_t t, oy, ox, ky, kx;
  for (t = 0; t < p->nc; ++t) {
    const int8_t *x = X + (size_t)t * p->h * p->w;
    int8_t *y = Y + (size_t)t * p->oh * p->ow;
    for (oy = 0; oy < p->oh; ++oy) {
      const int32_t iy0 = oy * p->stride_h - p->pad_top;
      const int rows_in = iy0 >= 0 && iy0 + (p->kh - 1) * p->dil_h < p->h;
      for (ox = 0; ox < p->ow; ++ox) {
        const int32_t ix0 = ox * p->stride_w - p->pad_left;
        int32_t acc;
        if (!rows_in || ix0 < 0 || ix0 + (p->kw - 1) * p->dil_w >= p->w) {
          y[(size_t)oy * p->ow + ox] = border(x, p, oy, ox, is_max);
          continue;
        }
        if (plain) {
          const int8_t *xr = x + (size_t)iy0 * p->w + ix0;
          acc = is_max ? window_max(xr, p->w, p->kh, p->kw) : window_sum(xr, p->w, p->kh, p->kw);
        } else {
          const int8_t *xr = x + (size_t)iy0 * p->w + ix0;
          acc = is_max ? -128 : 0;
          for (ky = p->kh; ky > 0; --ky, xr += (size_t)p->dil_h * p->w) {
            const int8_t *xp = xr;
            for (kx = p->kw; kx > 0; --kx, xp += p->dil_w) {
              acc = is_max ? (*xp > acc ? *xp : acc) : acc + *xp;
            }
          }
        }
        /* inside, every tap counts (with or without count_include_pad) */
        if (is_max) {
          y[(size_t)oy * p->ow + ox] = requant(acc + p->input_offset, p);
        } else {
          acc += taps * p->input_offset;
          y[(size_t)oy * p->ow + ox] =
              requant(p->divisor > 0 ? acc : tinyc_div_round(acc, taps), p);
        }
      }
    }
  }
}

void tinyc_maxpool2d_s8(const int8_t *restrict X, int8_t *restrict Y,
                        const tinyc_qpool2d_params *p) {
  pool(X, Y, p, 1);
}

void tinyc_avgpool2d_s8(const int8_t *restrict X, int8_t *restrict Y,
                        const tinyc_qpool2d_params *p) {
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
  for (t = 0; t < p->nc; ++t) {
    const int8_t *x = X + (size_t)t * size;
    const int32_t acc = tinyc_sum_s8(x, (int32_t)size);
    Y[t] = requant(acc + (int32_t)size * p->input_offset, p);
  }
}
