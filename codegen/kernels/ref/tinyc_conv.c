/* Portable reference 2-D convolution, float32, NCHW.
 *
 * Direct convolution: for each output pixel the valid kernel window is computed once, so the
 * inner loops carry no bounds checks. Padding is implicit zeros. */
#include "tinyc_conv.h"

#include "tinyc_act.h"

void tinyc_conv2d_f32(const float *restrict X, const float *restrict W, const float *restrict B,
                      float *restrict Y, float *restrict work, const tinyc_conv2d_params *p) {
  const int32_t cg = p->c / p->group, mg = p->m / p->group;
  int32_t n, g, m, oy, ox, c, ky, kx;
  (void)work;
  for (n = 0; n < p->n; ++n) {
    for (g = 0; g < p->group; ++g) {
      for (m = g * mg; m < (g + 1) * mg; ++m) {
        const float *wm = W + (size_t)m * cg * p->kh * p->kw;
        const float bias = B ? B[m] : 0.0f;
        float *ym = Y + ((size_t)n * p->m + m) * p->oh * p->ow;
        for (oy = 0; oy < p->oh; ++oy) {
          const int32_t iy0 = oy * p->stride_h - p->pad_top;
          const int32_t ky0 = tinyc_window_first(iy0, p->dil_h);
          const int32_t ky1 = tinyc_window_end(iy0, p->dil_h, p->kh, p->h);
          for (ox = 0; ox < p->ow; ++ox) {
            const int32_t ix0 = ox * p->stride_w - p->pad_left;
            const int32_t kx0 = tinyc_window_first(ix0, p->dil_w);
            const int32_t kx1 = tinyc_window_end(ix0, p->dil_w, p->kw, p->w);
            float acc = bias;
            for (c = 0; c < cg; ++c) {
              const float *xc = X + (((size_t)n * p->c + (size_t)g * cg + c) * p->h) * p->w;
              const float *wc = wm + (size_t)c * p->kh * p->kw;
              for (ky = ky0; ky < ky1; ++ky) {
                const float *xr = xc + (size_t)(iy0 + ky * p->dil_h) * p->w;
                const float *wr = wc + (size_t)ky * p->kw;
                for (kx = kx0; kx < kx1; ++kx) acc += xr[ix0 + kx * p->dil_w] * wr[kx];
              }
            }
            ym[(size_t)oy * p->ow + ox] = tinyc_act_f32(acc, &p->act);
          }
        }
      }
    }
  }
}
