/* Portable overlapping half-weight kernels: tinyc_inplace_f16w_loop.h with tinyc_f16.h's
 * exact bit conversion. */
#include <stddef.h>

#include "tinyc_act.h"
#include "tinyc_conv.h"
#include "tinyc_f16.h"

static void tinyc_f16w_widen(const uint16_t *src, float *dst, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i) dst[i] = tinyc_f16w_to_f32(src[i]);
}

static float tinyc_f16w_dot(float acc, const float *x, size_t sx, const uint16_t *w, size_t sw,
                            int32_t n) {
  int32_t i;
  for (i = 0; i < n; ++i) acc += x[(size_t)i * sx] * tinyc_f16w_to_f32(w[(size_t)i * sw]);
  return acc;
}

static void tinyc_f16w_pixel(const float *x, size_t sx, const uint16_t *W, const float *B,
                             float *out, size_t ostride, const tinyc_conv2d_params *p) {
  int32_t m;
  for (m = 0; m < p->m; ++m) {
    const float acc = tinyc_f16w_dot(B ? B[m] : 0.0f, x, sx, W + (size_t)m * p->c, 1, p->c);
    out[(size_t)m * ostride] = tinyc_act_f32(acc, &p->act);
  }
}

static void tinyc_f16w_pixels4(const float *x, size_t sx, const uint16_t *W, const float *B,
                               float *out, size_t ostride, const tinyc_conv2d_params *p) {
  int32_t m, j;
  for (m = 0; m < p->m; ++m) {
    for (j = 0; j < 4; ++j) {
      const float acc = tinyc_f16w_dot(B ? B[m] : 0.0f, x + j, sx, W + (size_t)m * p->c, 1,
                                       p->c);
      out[(size_t)m * ostride + (size_t)j] = tinyc_act_f32(acc, &p->act);
    }
  }
}

static void tinyc_f16w_row(const float *X, const float *filters, const float *B, float *out,
                           size_t ch_stride, int32_t k, int32_t oy,
                           const tinyc_conv2d_params *p) {
  const size_t taps = (size_t)p->kh * p->kw, plane = (size_t)p->h * p->w;
  const int32_t iy0 = oy * p->stride_h - p->pad_top;
  const int32_t ky0 = tinyc_window_first(iy0, p->dil_h);
  const int32_t ky1 = tinyc_window_end(iy0, p->dil_h, p->kh, p->h);
  int32_t j, ox, c, ky, kx;
  for (j = 0; j < k; ++j) {
    const float *wm = filters + (size_t)j * p->c * taps;
    for (ox = 0; ox < p->ow; ++ox) {
      const int32_t ix0 = ox * p->stride_w - p->pad_left;
      const int32_t kx0 = tinyc_window_first(ix0, p->dil_w);
      const int32_t kx1 = tinyc_window_end(ix0, p->dil_w, p->kw, p->w);
      float acc = B ? B[j] : 0.0f;
      for (c = 0; c < p->c; ++c) {
        const float *xc = X + (size_t)c * plane;
        const float *wc = wm + (size_t)c * taps;
        for (ky = ky0; ky < ky1; ++ky) {
          const float *xr = xc + (size_t)(iy0 + ky * p->dil_h) * p->w;
          const float *wr = wc + (size_t)ky * p->kw;
          for (kx = kx0; kx < kx1; ++kx) acc += xr[ix0 + kx * p->dil_w] * wr[kx];
        }
      }
      out[(size_t)j * ch_stride + ox] = tinyc_act_f32(acc, &p->act);
    }
  }
}

#include "tinyc_inplace_f16w_loop.h"
