/* The chunk loop of tinyc_conv2d_f32_f16w, written once: each variant file defines
 *
 *   static void tinyc_f16w_widen(const uint16_t *src, float *dst, size_t n);
 *
 * (half bits -> float, its fastest way) and then includes this header. Each chunk of
 * output channels is widened once and run over the whole batch by tinyc_conv2d_f32 with
 * the chunk's own parameters: the channels of one group (group 1), or `k` whole groups
 * of one output channel each (group k, which keeps depthwise convs depthwise). */
#ifndef TINYC_CONV_F16W_LOOP_H
#define TINYC_CONV_F16W_LOOP_H

#include "tinyc_conv_f16w.h"

void tinyc_conv2d_f32_f16w(const float *restrict X, const uint16_t *restrict W,
                           const float *restrict B, float *restrict Y,
                           const tinyc_conv2d_params *p, int32_t chunk, float *restrict work) {
  const int32_t cg = p->c / p->group, mg = p->m / p->group;
  const size_t taps = (size_t)cg * p->kh * p->kw;
  const size_t in_plane = (size_t)p->h * p->w, out_plane = (size_t)p->oh * p->ow;
  tinyc_conv2d_params q = *p;
  int32_t m0, k, n;
  q.n = 1;
  for (m0 = 0; m0 < p->m; m0 += k) {
    const int32_t g = m0 / mg;
    size_t first_in; /* first input channel of the chunk */
    if (mg == 1) {
      k = p->m - m0 < chunk ? p->m - m0 : chunk;
      q.group = k;
      q.c = k * cg;
      first_in = (size_t)m0 * cg;
    } else {
      const int32_t left = (g + 1) * mg - m0;
      k = left < chunk ? left : chunk;
      q.group = 1;
      q.c = cg;
      first_in = (size_t)g * cg;
    }
    q.m = k;
    tinyc_f16w_widen(W + (size_t)m0 * taps, work, (size_t)k * taps);
    for (n = 0; n < p->n; ++n) {
      tinyc_conv2d_f32(X + ((size_t)n * p->c + first_in) * in_plane, work, B ? B + m0 : NULL,
                       Y + ((size_t)n * p->m + m0) * out_plane, NULL, &q);
    }
  }
}

#endif /* TINYC_CONV_F16W_LOOP_H */
