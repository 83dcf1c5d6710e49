/* Portable N-d (transposed) convolution with half weights: chunks of output channels
 * widened by tinyc_f16.h, computed by the float32 kernels of tinyc_convnd.h. */
#include "tinyc_convnd_f16w.h"

#include <stddef.h>

#include "tinyc_f16.h"

static size_t volume(const int32_t *dims, int32_t n) {
  size_t v = 1;
  int32_t i;
  for (i = 0; i < n; ++i) v *= (size_t)dims[i];
  return v;
}

void tinyc_conv_nd_f32_f16w(const float *restrict X, const uint16_t *restrict W,
                            const float *restrict B, float *restrict Y,
                            const tinyc_convnd_params *p, int32_t chunk, float *restrict work) {
  const int32_t cg = p->c / p->group, mg = p->m / p->group;
  const size_t taps = (size_t)cg * volume(p->k, p->nsp);
  const size_t in_plane = volume(p->in, p->nsp), out_plane = volume(p->out, p->nsp);
  tinyc_convnd_params q = *p;
  int32_t m0, k, n;
  size_t i;
  q.n = 1;
  for (m0 = 0; m0 < p->m; m0 += k) {
    const int32_t g = m0 / mg;
    size_t first_in; /* first input channel of the chunk */
    if (mg == 1) { /* whole one-channel groups */
      k = p->m - m0 < chunk ? p->m - m0 : chunk;
      q.group = k;
      q.c = k * cg;
      first_in = (size_t)m0 * cg;
    } else { /* channels of one group */
      const int32_t left = (g + 1) * mg - m0;
      k = left < chunk ? left : chunk;
      q.group = 1;
      q.c = cg;
      first_in = (size_t)g * cg;
    }
    q.m = k;
    for (i = 0; i < (size_t)k * taps; ++i) {
      work[i] = tinyc_f16w_to_f32(W[(size_t)m0 * taps + i]);
    }
    for (n = 0; n < p->n; ++n) {
      tinyc_conv_nd_f32(X + ((size_t)n * p->c + first_in) * in_plane, work, B ? B + m0 : NULL,
                        Y + ((size_t)n * p->m + m0) * out_plane, &q);
    }
  }
}

void tinyc_conv_transpose_nd_f32_f16w(const float *restrict X, const uint16_t *restrict W,
                                      const float *restrict B, float *restrict Y,
                                      const tinyc_convnd_params *p, int32_t chunk,
                                      float *restrict work) {
  const int32_t cg = p->c / p->group, mg = p->m / p->group;
  const size_t taps = volume(p->k, p->nsp);
  const size_t in_plane = volume(p->in, p->nsp), out_plane = volume(p->out, p->nsp);
  tinyc_convnd_params q = *p;
  int32_t m0, k, n, ci, j;
  size_t t;
  q.n = 1;
  q.c = cg;
  q.group = 1;
  for (m0 = 0; m0 < p->m; m0 += k) {
    const int32_t g = m0 / mg, left = (g + 1) * mg - m0;
    k = left < chunk ? left : chunk;
    q.m = k;
    /* work [cg, k, taps] from W [c, mg, taps] */
    for (ci = 0; ci < cg; ++ci) {
      for (j = 0; j < k; ++j) {
        const uint16_t *src = W + (((size_t)g * cg + ci) * mg + (size_t)(m0 - g * mg + j)) * taps;
        float *dst = work + ((size_t)ci * k + j) * taps;
        for (t = 0; t < taps; ++t) dst[t] = tinyc_f16w_to_f32(src[t]);
      }
    }
    for (n = 0; n < p->n; ++n) {
      tinyc_conv_transpose_nd_f32(X + ((size_t)n * p->c + (size_t)g * cg) * in_plane, work,
                                  B ? B + m0 : NULL, Y + ((size_t)n * p->m + m0) * out_plane,
                                  &q);
    }
  }
}
