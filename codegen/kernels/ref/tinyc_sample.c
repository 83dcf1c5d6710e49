/* Portable GridSample, AffineGrid and Col2Im, following the ONNX reference step by step
 * (coordinates in float32 as it computes them, reflection in double). */
#include "tinyc_sample.h"

#include <math.h>

/* Clamp a float index into a range where converting it to int is defined. */
static int32_t to_index(float v) {
  if (!(v > -1e8f)) return -100000000;
  if (v > 1e8f) return 100000000;
  return (int32_t)v;
}

/* Reflect x into [lo, hi] by bouncing off the nearer border, as often as needed. */
static double reflect(double x, double lo, double hi) {
  const double range = hi - lo;
  double d, r;
  int64_t k;
  if (x < lo) {
    d = lo - x;
    k = (int64_t)(d / range);
    r = d - (double)k * range;
    return k % 2 == 0 ? lo + r : hi - r;
  }
  if (x > hi) {
    d = x - hi;
    k = (int64_t)(d / range);
    r = d - (double)k * range;
    return k % 2 == 0 ? hi - r : lo + r;
  }
  return x;
}

static void cubic_coeffs(float t, float *w) {
  const float a = -0.75f;
  float x = fabsf(t);
  w[0] = ((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a;
  w[1] = ((a + 2) * x - (a + 3)) * x * x + 1;
  w[2] = ((a + 2) * (1 - x) - (a + 3)) * (1 - x) * (1 - x) + 1;
  w[3] = ((a * (2 - x) - 5 * a) * (2 - x) + 8 * a) * (2 - x) - 4 * a;
}

/* Taps along one axis for normalized coordinate g: indices (-1: zero padding) and
 * weights; returns their number. */
static int32_t axis_taps(const tinyc_grid_sample_params *p, float g, int32_t len, int32_t *idx,
                         float *w) {
  const float lo = p->align_corners ? 0.0f : -0.5f;
  const float hi = p->align_corners ? (float)(len - 1) : (float)len - 0.5f;
  float x = p->align_corners ? (g + 1.0f) / 2.0f * (float)(len - 1)
                             : ((g + 1.0f) * (float)len - 1.0f) / 2.0f;
  int32_t n, i, base;
  if (p->mode == TINYC_SAMPLE_NEAREST) x = rintf(x);
  if (x < lo || x > hi) {
    if (p->padding == TINYC_PADDING_BORDER)
      x = x < 0.0f ? 0.0f : (x > (float)(len - 1) ? (float)(len - 1) : x);
    else if (p->padding == TINYC_PADDING_REFLECTION)
      x = (float)reflect(x, lo, hi);
  }
  if (p->mode == TINYC_SAMPLE_NEAREST) {
    n = 1;
    base = to_index(x);
    w[0] = 1.0f;
  } else {
    const float f = floorf(x);
    base = to_index(f);
    if (p->mode == TINYC_SAMPLE_LINEAR) {
      n = 2;
      w[0] = 1.0f - (x - f);
      w[1] = x - f;
    } else {
      n = 4;
      base -= 1;
      cubic_coeffs(x - f, w);
    }
  }
  for (i = 0; i < n; ++i) {
    int32_t at = base + i;
    if (at < 0 || at >= len) {
      if (p->padding == TINYC_PADDING_ZEROS)
        at = -1;
      else if (p->padding == TINYC_PADDING_BORDER)
        at = at < 0 ? 0 : len - 1;
      else
        at = (int32_t)reflect((double)at, lo, hi);
    }
    idx[i] = at;
  }
  return n;
}

void tinyc_grid_sample_f32(const float *restrict X, const float *restrict grid,
                           float *restrict Y, const tinyc_grid_sample_params *p) {
  int32_t idx[3][4], n_taps[3], t[3], b, c, d;
  float w[3][4];
  size_t in_plane = 1, out_plane = 1, at;
  for (d = 0; d < p->nsp; ++d) {
    in_plane *= (size_t)p->in[d];
    out_plane *= (size_t)p->out[d];
  }
  for (b = 0; b < p->n; ++b) {
    for (at = 0; at < out_plane; ++at) {
      const float *g = grid + ((size_t)b * out_plane + at) * (size_t)p->nsp;
      for (d = 0; d < p->nsp; ++d)
        n_taps[d] = axis_taps(p, g[p->nsp - 1 - d], p->in[d], idx[d], w[d]);
      for (c = 0; c < p->c; ++c) {
        const float *x = X + ((size_t)b * p->c + c) * in_plane;
        float acc = 0.0f;
        for (d = 0; d < p->nsp; ++d) t[d] = 0;
        for (;;) {
          float weight = 1.0f;
          size_t off = 0;
          int inside = 1;
          for (d = 0; d < p->nsp; ++d) {
            if (idx[d][t[d]] < 0) inside = 0;
            weight *= w[d][t[d]];
            off = off * (size_t)p->in[d] + (size_t)(inside ? idx[d][t[d]] : 0);
          }
          if (inside) acc += weight * x[off];
          for (d = p->nsp - 1; d >= 0; --d) {
            if (++t[d] < n_taps[d]) break;
            t[d] = 0;
          }
          if (d < 0) break;
        }
        Y[((size_t)b * p->c + c) * out_plane + at] = acc;
      }
    }
  }
}

int tinyc_affine_grid_f32(const float *restrict theta, const int64_t *size, float *restrict Y,
                          int32_t n, int32_t nsp, const int32_t *dims, int32_t align_corners) {
  int32_t pos[3] = {0, 0, 0}, b, d, r;
  size_t total = 1, at;
  if (size[0] != n || size[1] < 0) return -1;
  for (d = 0; d < nsp; ++d) {
    if (size[2 + d] != dims[d]) return -1;
    total *= (size_t)dims[d];
  }
  for (b = 0; b < n; ++b) {
    const float *th = theta + (size_t)b * nsp * (nsp + 1);
    for (d = 0; d < nsp; ++d) pos[d] = 0;
    for (at = 0; at < total; ++at) {
      double coord[4];
      /* homogeneous coordinates innermost first: (x, y[, z], 1) */
      for (d = 0; d < nsp; ++d) {
        const int32_t k = nsp - 1 - d, len = dims[k];
        double v;
        if (align_corners)
          v = len > 1 ? -1.0 + pos[k] * (2.0 / (len - 1)) : -1.0;
        else
          v = -1.0 + 1.0 / len + pos[k] * (2.0 / len);
        coord[d] = v;
      }
      coord[nsp] = 1.0;
      for (r = 0; r < nsp; ++r) {
        double acc = 0.0;
        for (d = 0; d <= nsp; ++d) acc += (double)th[r * (nsp + 1) + d] * coord[d];
        Y[((size_t)b * total + at) * (size_t)nsp + (size_t)r] = (float)acc;
      }
      for (d = nsp - 1; d >= 0; --d) {
        if (++pos[d] < dims[d]) break;
        pos[d] = 0;
      }
    }
  }
  return 0;
}

int tinyc_col2im_f32(const float *restrict X, const int64_t *image_shape,
                     const int64_t *block_shape, float *restrict Y,
                     const tinyc_col2im_params *p) {
  int32_t blocks[TINYC_MAX_RANK], o[TINYC_MAX_RANK], t[TINYC_MAX_RANK], b, c, d;
  size_t k = 1, length = 1, plane = 1, at, tap;
  for (d = 0; d < p->nsp; ++d) {
    int64_t span;
    if (image_shape[d] != p->image[d] || block_shape[d] < 1 || block_shape[d] > 65536) return -1;
    span = p->image[d] + p->pad_begin[d] + p->pad_end[d] - (int64_t)p->dil[d] * (block_shape[d] - 1) - 1;
    if (span < 0) return -1;
    blocks[d] = (int32_t)(span / p->stride[d] + 1);
    k *= (size_t)block_shape[d];
    length *= (size_t)blocks[d];
    plane *= (size_t)p->image[d];
  }
  if (length != (size_t)p->length) return -1;
  for (b = 0; b < p->n; ++b) {
    for (c = 0; c < p->c; ++c) {
      for (d = 0; d < p->nsp; ++d) o[d] = 0;
      for (at = 0; at < plane; ++at) {
        float acc = 0.0f;
        for (d = 0; d < p->nsp; ++d) t[d] = 0;
        for (tap = 0; tap < k; ++tap) {
          size_t col = 0;
          int hit = 1;
          for (d = 0; d < p->nsp && hit; ++d) {
            const int64_t q = (int64_t)o[d] + p->pad_begin[d] - (int64_t)t[d] * p->dil[d];
            if (q < 0 || q % p->stride[d] != 0 || q / p->stride[d] >= blocks[d]) hit = 0;
            else col = col * (size_t)blocks[d] + (size_t)(q / p->stride[d]);
          }
          if (hit) acc += X[(((size_t)b * p->c + c) * k + tap) * length + col];
          for (d = p->nsp - 1; d >= 0; --d) {
            if (++t[d] < block_shape[d]) break;
            t[d] = 0;
          }
        }
        Y[((size_t)b * p->c + c) * plane + at] = acc;
        for (d = p->nsp - 1; d >= 0; --d) {
          if (++o[d] < p->image[d]) break;
          o[d] = 0;
        }
      }
    }
  }
  return 0;
}

/* The bilinear corner of sample (y, x) that `corner` (0..3) names, with its weight; weight
 * 0 and index 0 outside the map, as the reference's pre-computation does. */
static float roi_corner(const float *x_plane, int32_t h, int32_t w, float y, float x,
                        int32_t corner) {
  int32_t y_low, x_low, y_high, x_high;
  float ly, lx, wy, wx;
  if (y < -1.0f || y > (float)h || x < -1.0f || x > (float)w) return 0.0f;
  if (y < 0.0f) y = 0.0f;
  if (x < 0.0f) x = 0.0f;
  y_low = (int32_t)y;
  x_low = (int32_t)x;
  if (y_low >= h - 1) {
    y_high = y_low = h - 1;
    y = (float)y_low;
  } else {
    y_high = y_low + 1;
  }
  if (x_low >= w - 1) {
    x_high = x_low = w - 1;
    x = (float)x_low;
  } else {
    x_high = x_low + 1;
  }
  ly = y - (float)y_low;
  lx = x - (float)x_low;
  wy = corner < 2 ? 1.0f - ly : ly;
  wx = corner % 2 == 0 ? 1.0f - lx : lx;
  return wy * wx * x_plane[(size_t)(corner < 2 ? y_low : y_high) * w +
                           (corner % 2 == 0 ? x_low : x_high)];
}

int tinyc_roi_align_f32(const float *restrict X, const float *restrict rois,
                        const int64_t *batch_idx, float *restrict Y,
                        const tinyc_roi_align_params *p) {
  const float offset = p->half_pixel ? 0.5f : 0.0f;
  int32_t n, c, ph, pw, iy, ix, k;
  for (n = 0; n < p->rois; ++n)
    if (batch_idx[n] < 0 || batch_idx[n] >= p->batch) return -1;
  for (n = 0; n < p->rois; ++n) {
    const float *r = rois + (size_t)n * 4;
    const float start_w = r[0] * p->spatial_scale - offset;
    const float start_h = r[1] * p->spatial_scale - offset;
    float roi_w = r[2] * p->spatial_scale - offset - start_w;
    float roi_h = r[3] * p->spatial_scale - offset - start_h;
    float bin_h, bin_w;
    int32_t grid_h, grid_w, count;
    if (!p->half_pixel) {
      if (roi_w < 1.0f) roi_w = 1.0f;
      if (roi_h < 1.0f) roi_h = 1.0f;
    }
    bin_h = roi_h / (float)p->out_h;
    bin_w = roi_w / (float)p->out_w;
    grid_h = p->sampling_ratio > 0 ? p->sampling_ratio : (int32_t)ceilf(roi_h / (float)p->out_h);
    grid_w = p->sampling_ratio > 0 ? p->sampling_ratio : (int32_t)ceilf(roi_w / (float)p->out_w);
    count = grid_h * grid_w > 1 ? grid_h * grid_w : 1;
    for (c = 0; c < p->c; ++c) {
      const float *plane = X + ((size_t)batch_idx[n] * p->c + c) * (size_t)p->h * p->w;
      for (ph = 0; ph < p->out_h; ++ph) {
        for (pw = 0; pw < p->out_w; ++pw) {
          float acc = 0.0f;
          int first = 1;
          for (iy = 0; iy < grid_h; ++iy) {
            const float y = start_h + (float)ph * bin_h + ((float)iy + 0.5f) * bin_h / (float)grid_h;
            for (ix = 0; ix < grid_w; ++ix) {
              const float x = start_w + (float)pw * bin_w + ((float)ix + 0.5f) * bin_w / (float)grid_w;
              if (p->max_mode) {
                float best = roi_corner(plane, p->h, p->w, y, x, 0);
                for (k = 1; k < 4; ++k) {
                  const float v = roi_corner(plane, p->h, p->w, y, x, k);
                  if (v > best) best = v;
                }
                if (first || best > acc) acc = best;
                first = 0;
              } else {
                for (k = 0; k < 4; ++k) acc += roi_corner(plane, p->h, p->w, y, x, k);
              }
            }
          }
          Y[(((size_t)n * p->c + c) * p->out_h + ph) * p->out_w + pw] =
              p->max_mode ? acc : acc / (float)count;
        }
      }
    }
  }
  return 0;
}
