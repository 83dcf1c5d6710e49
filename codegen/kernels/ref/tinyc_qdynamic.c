/* Portable reference dynamic-quantization kernels (see tinyc_qdynamic.h). */
#include "tinyc_qdynamic.h"

#include "tinyc_act.h"

static float epilogue(int32_t acc, float x_scale, float w_scale, const float *B, int32_t m,
                      const tinyc_act *act) {
  const float s = x_scale * w_scale;
  float y = (float)acc * s;
  if (B) y = y + B[m];
  return tinyc_act_f32(y, act);
}

void tinyc_conv2d_u8s8_f32(const uint8_t *restrict X, const float *x_scale,
                           const uint8_t *x_zero_point, const int8_t *restrict W,
                           const float *restrict B, float *restrict Y,
                           const tinyc_dconv_params *p) {
  const int32_t cg = p->c / p->group, mg = p->m / p->group;
  const int32_t xz = (int32_t)x_zero_point[0];
  const float xs = x_scale[0];
  int32_t n, g, m, oy, ox, c, ky, kx;
  for (n = 0; n < p->n; ++n) {
    for (g = 0; g < p->group; ++g) {
      for (m = g * mg; m < (g + 1) * mg; ++m) {
        const int8_t *wm = W + (size_t)m * cg * p->kh * p->kw;
        float *ym = Y + ((size_t)n * p->m + m) * p->oh * p->ow;
        for (oy = 0; oy < p->oh; ++oy) {
          const int32_t iy0 = oy * p->stride_h - p->pad_top;
          const int32_t ky0 = tinyc_window_first(iy0, p->dil_h);
          const int32_t ky1 = tinyc_window_end(iy0, p->dil_h, p->kh, p->h);
          for (ox = 0; ox < p->ow; ++ox) {
            const int32_t ix0 = ox * p->stride_w - p->pad_left;
            const int32_t kx0 = tinyc_window_first(ix0, p->dil_w);
            const int32_t kx1 = tinyc_window_end(ix0, p->dil_w, p->kw, p->w);
            int32_t acc = 0;
            for (c = 0; c < cg; ++c) {
              const uint8_t *xc = X + (((size_t)n * p->c + (size_t)g * cg + c) * p->h) * p->w;
              const int8_t *wc = wm + (size_t)c * p->kh * p->kw;
              for (ky = ky0; ky < ky1; ++ky) {
                const uint8_t *xr = xc + (size_t)(iy0 + ky * p->dil_h) * p->w;
                const int8_t *wr = wc + (size_t)ky * p->kw;
                for (kx = kx0; kx < kx1; ++kx) {
                  acc += ((int32_t)xr[ix0 + kx * p->dil_w] - xz) * (int32_t)wr[kx];
                }
              }
            }
            ym[(size_t)oy * p->ow + ox] = epilogue(acc, xs, p->w_scale[m], B, m, &p->act);
          }
        }
      }
    }
  }
}

void tinyc_fully_connected_u8s8_f32(const uint8_t *restrict X, const float *x_scale,
                                    const uint8_t *x_zero_point, const int8_t *restrict W,
                                    const float *restrict B, float *restrict Y,
                                    const tinyc_dfc_params *p) {
  const int32_t xz = (int32_t)x_zero_point[0];
  const float xs = x_scale[0];
  int32_t b, o, i;
  for (b = 0; b < p->batch; ++b) {
    const uint8_t *x = X + (size_t)b * p->in_features;
    for (o = 0; o < p->out_features; ++o) {
      const int8_t *w = W + (size_t)o * p->in_features;
      int32_t acc = 0;
      for (i = 0; i < p->in_features; ++i) acc += ((int32_t)x[i] - xz) * (int32_t)w[i];
      Y[(size_t)b * p->out_features + o] = epilogue(acc, xs, p->w_scale[o], B, o, &p->act);
    }
  }
}
