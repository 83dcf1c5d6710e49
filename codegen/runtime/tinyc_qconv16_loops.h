/* The portable int16x8 conv and fully connected loops (tinyc_qconv16.h), shared by the
 * portable kernels and the Cortex-M4 variant (which runs them where its DSP paths do not
 * apply): direct convolution over each output's valid window, int64 accumulation. */
#ifndef TINYC_QCONV16_LOOPS_H
#define TINYC_QCONV16_LOOPS_H

#include "tinyc_fixedpoint64.h"
#include "tinyc_qconv16.h"

/* Every output of a dense, grouped or depthwise layer (a depthwise group has cg = 1). */
TINYC_INLINE void tinyc_qconv16_direct(const int16_t *restrict X, const int8_t *restrict W,
                                       const int64_t *restrict B, int16_t *restrict Y,
                                       const tinyc_qconv16_params *p) {
  const int32_t cg = p->c / p->group, mg = p->m / p->group;
  int32_t n, m, oy, ox, c, ky, kx;
  for (n = 0; n < p->n; ++n) {
    for (m = 0; m < p->m; ++m) {
      const int32_t g = m / mg;
      const int8_t *wm = W + (size_t)m * cg * p->kh * p->kw;
      const int64_t bias = B ? B[m] : 0;
      int16_t *ym = Y + ((size_t)n * p->m + m) * p->oh * p->ow;
      for (oy = 0; oy < p->oh; ++oy) {
        const int32_t iy0 = oy * p->stride_h - p->pad_top;
        const int32_t ky0 = tinyc_window_first(iy0, p->dil_h);
        const int32_t ky1 = tinyc_window_end(iy0, p->dil_h, p->kh, p->h);
        for (ox = 0; ox < p->ow; ++ox) {
          const int32_t ix0 = ox * p->stride_w - p->pad_left;
          const int32_t kx0 = tinyc_window_first(ix0, p->dil_w);
          const int32_t kx1 = tinyc_window_end(ix0, p->dil_w, p->kw, p->w);
          int64_t acc = bias;
          for (c = 0; c < cg; ++c) {
            const int16_t *xc = X + (((size_t)n * p->c + (size_t)g * cg + c) * p->h) * p->w;
            const int8_t *wc = wm + (size_t)c * p->kh * p->kw;
            for (ky = ky0; ky < ky1; ++ky) {
              const int16_t *xr = xc + (size_t)(iy0 + ky * p->dil_h) * p->w;
              const int8_t *wr = wc + (size_t)ky * p->kw;
              for (kx = kx0; kx < kx1; ++kx) {
                acc += (int32_t)xr[ix0 + kx * p->dil_w] * (int32_t)wr[kx];
              }
            }
          }
          ym[(size_t)oy * p->ow + ox] = tinyc_requantize64_one_s16(
              acc, p->multiplier[m], p->shift[m], 0, p->act_min, p->act_max);
        }
      }
    }
  }
}

TINYC_INLINE void tinyc_qfc16_direct(const int16_t *restrict X, const int8_t *restrict W,
                                     const int64_t *restrict B, int16_t *restrict Y,
                                     const tinyc_qfc16_params *p) {
  int32_t b, o, i;
  for (b = 0; b < p->batch; ++b) {
    const int16_t *x = X + (size_t)b * p->in_features;
    for (o = 0; o < p->out_features; ++o) {
      const int8_t *w = W + (size_t)o * p->in_features;
      int64_t acc = B ? B[o] : 0;
      for (i = 0; i < p->in_features; ++i) acc += (int32_t)x[i] * (int32_t)w[i];
      Y[(size_t)b * p->out_features + o] = tinyc_requantize64_one_s16(
          acc, p->multiplier[o], p->shift[o], 0, p->act_min, p->act_max);
    }
  }
}

#endif /* TINYC_QCONV16_LOOPS_H */
