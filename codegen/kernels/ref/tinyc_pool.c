/* Portable reference pooling, float32.
 *
 * Windows follow ONNX: a window may hang over the padded border (and, with ceil_mode, past
 * it); only in-bounds elements are read. AveragePool divides by the number of in-bounds
 * elements, or by the window size clipped to the padded extent with count_include_pad. */
#include "tinyc_pool.h"

static int32_t lo_valid(int32_t start, int32_t dil) {
  return start >= 0 ? 0 : (-start + dil - 1) / dil;
}

static int32_t hi_valid(int32_t start, int32_t dil, int32_t k, int32_t size) {
  int32_t e;
  if (start >= size) return 0;
  e = (size - 1 - start) / dil + 1;
  return e < k ? e : k;
}

void tinyc_maxpool2d_f32(const float *restrict X, float *restrict Y, const tinyc_pool2d_params *p) {
  int32_t c, oy, ox, ky, kx;
  for (c = 0; c < p->nc; ++c) {
    const float *xc = X + (size_t)c * p->h * p->w;
    float *yc = Y + (size_t)c * p->oh * p->ow;
    for (oy = 0; oy < p->oh; ++oy) {
      const int32_t iy0 = oy * p->stride_h - p->pad_top;
      const int32_t ky0 = lo_valid(iy0, p->dil_h), ky1 = hi_valid(iy0, p->dil_h, p->kh, p->h);
      for (ox = 0; ox < p->ow; ++ox) {
        const int32_t ix0 = ox * p->stride_w - p->pad_left;
        const int32_t kx0 = lo_valid(ix0, p->dil_w), kx1 = hi_valid(ix0, p->dil_w, p->kw, p->w);
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
      const int32_t ky0 = lo_valid(iy0, p->dil_h), ky1 = hi_valid(iy0, p->dil_h, p->kh, p->h);
      for (ox = 0; ox < p->ow; ++ox) {
        const int32_t ix0 = ox * p->stride_w - p->pad_left;
        const int32_t kx0 = lo_valid(ix0, p->dil_w), kx1 = hi_valid(ix0, p->dil_w, p->kw, p->w);
        float acc = 0.0f;
        int32_t count;
        for (ky = ky0; ky < ky1; ++ky) {
          const float *xr = xc + (size_t)(iy0 + ky * p->dil_h) * p->w;
          for (kx = kx0; kx < kx1; ++kx) acc += xr[ix0 + kx * p->dil_w];
        }
        if (p->count_include_pad) {
          /* window clipped to the padded input, in units of taps */
          const int32_t ylim = p->h + p->pad_bottom, xlim = p->w + p->pad_right;
          const int32_t ny = hi_valid(iy0 + p->pad_top, p->dil_h, p->kh, ylim + p->pad_top) -
                             lo_valid(iy0 + p->pad_top, p->dil_h);
          const int32_t nx = hi_valid(ix0 + p->pad_left, p->dil_w, p->kw, xlim + p->pad_left) -
                             lo_valid(ix0 + p->pad_left, p->dil_w);
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
