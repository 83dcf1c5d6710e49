/* Portable reference pooling, float32.
 *
 * Windows follow ONNX: a window may hang over the padded border (and, with ceil_mode, past
 * it); only in-bounds elements are read. AveragePool divides by the number of in-bounds
 * elements, or by the window size clipped to the padded extent with count_include_pad. */
#include "tinyc_pool.h"

void tinyc_maxpool2d_f32(const float *restrict X, float *restrict Y, const tinyc_pool2d_params *p) {
  int32_t c, oy, ox, ky, kx;
  for (c = 0; c < p->nc; ++c) {
    const float *xc = X + (size_t)c * p->h * p->w;
    float *yc = Y + (size_t)c * p->oh * p->ow;
    for (oy = 0; oy < p->oh; ++oy) {
      const int32_t iy0 = oy * p->stride_h - p->pad_top;
      const int32_t ky0 = tinyc_window_first(iy0, p->dil_h);
      const int32_t ky1 = tinyc_window_end(iy0, p->dil_h, p->kh, p->h);
      for (ox = 0; ox < p->ow; ++ox) {
        const int32_t ix0 = ox * p->stride_w - p->pad_left;
        const int32_t kx0 = tinyc_window_first(ix0, p->dil_w);
        const int32_t kx1 = tinyc_window_end(ix0, p->dil_w, p->kw, p->w);
        float best = -3.402823466e+38f;
        for (ky = ky0; ky < ky1; ++ky) {
          const float *xr = xc + (size_t)(iy0 + ky * p->dil_h) * p->w;
          for (kx = kx0; kx < kx1; ++kx) {
            const float v = xr[ix0 + kx * p->dil_w];
            if (v > best || v != v) best = v;
          }
        }
        yc[(size_t)oy * p->ow + ox] = best;
      }
    }
  }
}

void tinyc_avgpool2d_f32(const float *restrict X, float *restrict Y, const tinyc_pool2d_params *p) {
  int32_t c, oy, ox, ky, kx;
  for (c = 0; c < p->nc; ++c) {
    const float *xc = X + (size_t)c * p->h * p->w;
    float *yc = Y + (size_t)c * p->oh * p->ow;
    for (oy = 0; oy < p->oh; ++oy) {
      const int32_t iy0 = oy * p->stride_h - p->pad_top;
      const int32_t ky0 = tinyc_window_first(iy0, p->dil_h);
      const int32_t ky1 = tinyc_window_end(iy0, p->dil_h, p->kh, p->h);
      for (ox = 0; ox < p->ow; ++ox) {
        const int32_t ix0 = ox * p->stride_w - p->pad_left;
        const int32_t kx0 = tinyc_window_first(ix0, p->dil_w);
        const int32_t kx1 = tinyc_window_end(ix0, p->dil_w, p->kw, p->w);
        float acc = 0.0f;
        int32_t count;
        for (ky = ky0; ky < ky1; ++ky) {
          const float *xr = xc + (size_t)(iy0 + ky * p->dil_h) * p->w;
          for (kx = kx0; kx < kx1; ++kx) acc += xr[ix0 + kx * p->dil_w];
        }
        if (p->count_include_pad) {
          /* window clipped to the padded input, in units of taps */
          const int32_t ylim = p->h + p->pad_bottom, xlim = p->w + p->pad_right;
          const int32_t py = iy0 + p->pad_top, px = ix0 + p->pad_left;
          const int32_t ny = tinyc_window_end(py, p->dil_h, p->kh, ylim + p->pad_top) -
                             tinyc_window_first(py, p->dil_h);
          const int32_t nx = tinyc_window_end(px, p->dil_w, p->kw, xlim + p->pad_left) -
                             tinyc_window_first(px, p->dil_w);
          count = ny * nx;
        } else {
          count = (ky1 - ky0) * (kx1 - kx0);
        }
        yc[(size_t)oy * p->ow + ox] = count > 0 ? acc / (float)count : 0.0f;
      }
    }
  }
}

void tinyc_global_avgpool_f32(const float *restrict X, float *restrict Y, int32_t nc, int32_t size) {
  int32_t c, i;
  for (c = 0; c < nc; ++c) {
    float acc = 0.0f;
    for (i = 0; i < size; ++i) acc += X[(size_t)c * size + i];
    Y[c] = acc / (float)size;
  }
}

void tinyc_global_maxpool_f32(const float *restrict X, float *restrict Y, int32_t nc, int32_t size) {
  int32_t c, i;
  for (c = 0; c < nc; ++c) {
    float best = -3.402823466e+38f;
    for (i = 0; i < size; ++i) {
      const float v = X[(size_t)c * size + i];
      if (v > best || v != v) best = v;
    }
    Y[c] = best;
  }
}
