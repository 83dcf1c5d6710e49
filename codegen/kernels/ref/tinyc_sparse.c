/* Portable reference sparse kernels, float32 (storage format: tinyc_sparse.h).
 *
 * Conv walks the stored taps of one output channel and, per tap, adds a scaled window of
 * one input plane into the output plane: the index decode (one division per tap) happens
 * once per channel, not once per pixel, and the inner loop is a strided multiply-add with
 * no bounds checks (the valid output range of each tap is computed up front). Taps that
 * cover the whole plane with no offset (all taps of a stride-1 pointwise conv, the centre
 * tap of a padded 'same' conv) are applied four at a time, so the output is loaded and
 * stored once per four multiply-adds. Gemm is a row-by-row gather with the delta added to
 * a running pointer. */
#include "tinyc_sparse.h"

#include "tinyc_act.h"
#include "tinyc_fixedpoint.h"

/* y[i] += w * x[i] for i < len, four at a time */
static void axpy(float *restrict y, const float *restrict x, float w, size_t len) {
  for (; len >= 4; len -= 4, y += 4, x += 4) {
    const float x0 = x[0], x1 = x[1], x2 = x[2], x3 = x[3];
    y[0] += w * x0;
    y[1] += w * x1;
    y[2] += w * x2;
    y[3] += w * x3;
  }
  for (; len > 0; --len) *y++ += w * *x++;
}

/* k (2..4) whole-plane taps in one pass: y[i] = ((y[i] + w0 x0[i]) + w1 x1[i]) + ..., the
 * same sums in the same order as k axpy passes, with y loaded and stored once. */
static void axpy_taps(float *restrict y, const float *const *x, const float *w, int32_t k,
                      size_t len) {
  const float *restrict x0 = x[0];
  const float *restrict x1 = x[1];
  const float w0 = w[0], w1 = w[1];
  size_t i;
  if (k == 2) {
    for (i = 0; i < len; ++i) {
      float v = y[i];
      v += w0 * x0[i];
      v += w1 * x1[i];
      y[i] = v;
    }
  } else if (k == 3) {
    const float *restrict x2 = x[2];
    const float w2 = w[2];
    for (i = 0; i < len; ++i) {
      float v = y[i];
      v += w0 * x0[i];
      v += w1 * x1[i];
      v += w2 * x2[i];
      y[i] = v;
    }
  } else {
    const float *restrict x2 = x[2];
    const float *restrict x3 = x[3];
    const float w2 = w[2], w3 = w[3];
    for (i = 0; i < len; ++i) {
      float v = y[i];
      v += w0 * x0[i];
      v += w1 * x1[i];
      v += w2 * x2[i];
      v += w3 * x3[i];
      y[i] = v;
    }
  }
}

static void flush_taps(float *restrict y, const float *const *x, const float *w, int32_t k,
                       size_t len) {
  if (k == 1) {
    axpy(y, x[0], w[0], len);
  } else if (k > 1) {
    axpy_taps(y, x, w, k, len);
  }
}

void tinyc_sparse_conv2d_f32(const float *restrict X, const float *restrict V,
                             const void *restrict D, const uint16_t *restrict row_nnz,
                             const float *restrict B, float *restrict Y,
                             const tinyc_sparse_conv2d_params *p) {
  const uint8_t *d8 = (const uint8_t *)D;
  const uint16_t *d16 = (const uint16_t *)D;
  const int32_t cg = p->c / p->group, mg = p->m / p->group, taps = p->kh * p->kw;
  const size_t plane = (size_t)p->oh * (size_t)p->ow,
               in_plane = (size_t)p->h * (size_t)p->w;
  /* a tap with no offset reads a whole input plane exactly onto the output plane */
  const int planes_match = p->stride_h == 1 && p->stride_w == 1 && p->h == p->oh &&
                           p->w == p->ow;
  int32_t n, m, e, oy, ox;
  size_t i;
  for (n = 0; n < p->n; ++n) {
    size_t entry = 0;
    for (m = 0; m < p->m; ++m) {
      const int32_t count = row_nnz[m];
      const float *xg = X + ((size_t)n * (size_t)p->c + (size_t)(m / mg) * (size_t)cg) * in_plane;
      float *ym = Y + ((size_t)n * (size_t)p->m + (size_t)m) * plane;
      const float bias = B ? B[m] : 0.0f;
      const float *batch_x[4];
      float batch_w[4];
      int32_t batched = 0, pos = 0;
      for (i = 0; i < plane; ++i) ym[i] = bias;
      for (e = 0; e < count; ++e, ++entry) {
        const float wv = V[entry];
        int32_t c, rem, ky, kx, offy, offx, oy0, oy1, ox0, ox1;
        const float *xc;
        pos += p->index_bits == 8 ? (int32_t)d8[entry] : (int32_t)d16[entry];
        if (wv == 0.0f) continue; /* a filler entry */
        c = pos / taps;
        rem = pos - c * taps;
        ky = rem / p->kw;
        kx = rem - ky * p->kw;
        offy = ky * p->dil_h - p->pad_top;
        offx = kx * p->dil_w - p->pad_left;
        xc = xg + (size_t)c * in_plane;
        if (planes_match && offy == 0 && offx == 0) {
          /* whole-plane taps (pointwise convs, centre taps) go four at a time */
          batch_x[batched] = xc;
          batch_w[batched] = wv;
          if (++batched == 4) {
            axpy_taps(ym, batch_x, batch_w, 4, plane);
            batched = 0;
          }
          continue;
        }
        flush_taps(ym, batch_x, batch_w, batched, plane); /* keep the summation order */
        batched = 0;
        oy0 = tinyc_window_first(offy, p->stride_h);
        oy1 = tinyc_window_end(offy, p->stride_h, p->oh, p->h);
        ox0 = tinyc_window_first(offx, p->stride_w);
        ox1 = tinyc_window_end(offx, p->stride_w, p->ow, p->w);
        if (ox1 <= ox0 || oy1 <= oy0) continue;
        if (p->stride_w == 1 && ox0 == 0 && ox1 == p->ow && offx == 0 && p->w == p->ow &&
            (p->stride_h == 1 || oy1 - oy0 == 1)) {
          /* the window rows are contiguous in X and in Y: one long multiply-add */
          axpy(ym + (size_t)oy0 * (size_t)p->ow,
               xc + (size_t)(oy0 * p->stride_h + offy) * (size_t)p->w,
               wv, (size_t)(oy1 - oy0) * (size_t)p->ow);
          continue;
        }
        for (oy = oy0; oy < oy1; ++oy) {
          /* the first input element this tap reads on this output row, always in bounds */
          const float *xr = xc + (size_t)(oy * p->stride_h + offy) * (size_t)p->w +
                            (size_t)(ox0 * p->stride_w + offx);
          float *yr = ym + (size_t)oy * (size_t)p->ow + (size_t)ox0;
          const int32_t len = ox1 - ox0;
          if (p->stride_w == 1) {
            axpy(yr, xr, wv, (size_t)len);
          } else {
            for (ox = 0; ox < len; ++ox) yr[ox] += wv * xr[(size_t)ox * (size_t)p->stride_w];
          }
        }
      }
      flush_taps(ym, batch_x, batch_w, batched, plane);
      if (p->act.kind != TINYC_ACT_NONE) {
        for (i = 0; i < plane; ++i) ym[i] = tinyc_act_f32(ym[i], &p->act);
      }
    }
  }
}

void tinyc_sparse_gemm_f32(const float *restrict A, const float *restrict V,
                           const void *restrict D, const uint16_t *restrict row_nnz,
                           const float *restrict B, float *restrict Y,
                           const tinyc_sparse_gemm_params *p) {
  int32_t i, j, e;
  for (i = 0; i < p->m; ++i) {
    const float *a = A + (size_t)i * (size_t)p->k;
    size_t entry = 0;
    for (j = 0; j < p->n; ++j) {
      const int32_t count = row_nnz[j];
      const float *v = V + entry;
      const float *ap = a;
      float acc = 0.0f;
      if (p->index_bits == 8) {
        const uint8_t *d = (const uint8_t *)D + entry;
        for (e = 0; e < count; ++e) {
          ap += d[e];
          acc += *ap * v[e];
        }
      } else {
        const uint16_t *d = (const uint16_t *)D + entry;
        for (e = 0; e < count; ++e) {
          ap += d[e];
          acc += *ap * v[e];
        }
      }
      entry += (size_t)count;
      acc *= p->alpha;
      if (B) acc += B[j];
      Y[(size_t)i * (size_t)p->n + (size_t)j] = tinyc_act_f32(acc, &p->act);
    }
  }
}

/* ---- int8 ------------------------------------------------------------------------------ */

void tinyc_sparse_conv2d_s8(const int8_t *restrict X, const int8_t *restrict V,
                            const void *restrict D, const uint16_t *restrict row_nnz,
                            const int32_t *restrict B, int8_t *restrict Y,
                            int32_t *restrict work, const tinyc_sparse_qconv_params *p) {
  const uint8_t *d8 = (const uint8_t *)D;
  const uint16_t *d16 = (const uint16_t *)D;
  const int32_t cg = p->c / p->group, mg = p->m / p->group, taps = p->kh * p->kw;
  const size_t plane = (size_t)p->oh * (size_t)p->ow,
               in_plane = (size_t)p->h * (size_t)p->w;
  /* a block is `rows` whole output rows, or a `cols`-wide piece of one row */
  const int32_t cols = p->ow < TINYC_SPARSE_BLOCK ? p->ow : TINYC_SPARSE_BLOCK;
  const int32_t rows = p->ow < TINYC_SPARSE_BLOCK ? TINYC_SPARSE_BLOCK / p->ow : 1;
  int32_t *const acc = work;
  int32_t n, m, e, by, bx, oy, ox;
  size_t first = 0;
  for (n = 0; n < p->n; ++n) {
    first = 0;
    for (m = 0; m < p->m; ++m) {
      const int32_t count = row_nnz[m];
      const int8_t *xg = X + ((size_t)n * (size_t)p->c + (size_t)(m / mg) * (size_t)cg) * in_plane;
      int8_t *ym = Y + ((size_t)n * (size_t)p->m + (size_t)m) * plane;
      const int32_t bias = B ? B[m] : 0;
      for (by = 0; by < p->oh; by += rows) {
        const int32_t by1 = by + rows < p->oh ? by + rows : p->oh;
        for (bx = 0; bx < p->ow; bx += cols) {
          const int32_t bx1 = bx + cols < p->ow ? bx + cols : p->ow;
          const int32_t bw = bx1 - bx;
          int32_t pos = 0, i;
          for (i = 0; i < (by1 - by) * bw; ++i) acc[i] = bias;
          for (e = 0; e < count; ++e) {
            const size_t entry = first + (size_t)e;
            const int32_t wv = V[entry];
            int32_t c, rem, ky, kx, offy, offx, oy0, oy1, ox0, ox1;
            pos += p->index_bits == 8 ? (int32_t)d8[entry] : (int32_t)d16[entry];
            if (wv == 0) continue; /* a filler entry */
            c = pos / taps;
            rem = pos - c * taps;
            ky = rem / p->kw;
            kx = rem - ky * p->kw;
            offy = ky * p->dil_h - p->pad_top;
            offx = kx * p->dil_w - p->pad_left;
            oy0 = tinyc_window_first(offy, p->stride_h);
            oy1 = tinyc_window_end(offy, p->stride_h, p->oh, p->h);
            ox0 = tinyc_window_first(offx, p->stride_w);
            ox1 = tinyc_window_end(offx, p->stride_w, p->ow, p->w);
            if (oy0 < by) oy0 = by;
            if (oy1 > by1) oy1 = by1;
            if (ox0 < bx) ox0 = bx;
            if (ox1 > bx1) ox1 = bx1;
            for (oy = oy0; oy < oy1; ++oy) {
              const int8_t *xr = xg + (size_t)c * in_plane +
                                 (size_t)(oy * p->stride_h + offy) * (size_t)p->w;
              int32_t *ar = acc + (oy - by) * bw - bx;
              for (ox = ox0; ox < ox1; ++ox) {
                ar[ox] += ((int32_t)xr[ox * p->stride_w + offx] + p->input_offset) * wv;
              }
            }
          }
          for (oy = by; oy < by1; ++oy) {
            for (ox = bx; ox < bx1; ++ox) {
              ym[(size_t)oy * (size_t)p->ow + (size_t)ox] = tinyc_requantize_one(
                  acc[(oy - by) * bw + (ox - bx)], p->multiplier[m], p->shift[m],
                  p->output_offset, p->act_min, p->act_max);
            }
          }
        }
      }
      first += (size_t)count;
    }
  }
}

void tinyc_sparse_fully_connected_s8(const int8_t *restrict X, const int8_t *restrict V,
                                     const void *restrict D, const uint16_t *restrict row_nnz,
                                     const int32_t *restrict B, int8_t *restrict Y,
                                     const tinyc_sparse_qfc_params *p) {
  int32_t i, j, e;
  for (i = 0; i < p->rows; ++i) {
    const int8_t *x = X + (size_t)i * (size_t)p->k;
    size_t entry = 0;
    for (j = 0; j < p->n; ++j) {
      const int32_t count = row_nnz[j];
      const int8_t *v = V + entry;
      const int8_t *xp = x;
      int32_t acc = B ? B[j] : 0;
      if (p->index_bits == 8) {
        const uint8_t *d = (const uint8_t *)D + entry;
        for (e = 0; e < count; ++e) {
          xp += d[e];
          acc += ((int32_t)*xp + p->input_offset) * (int32_t)v[e];
        }
      } else {
        const uint16_t *d = (const uint16_t *)D + entry;
        for (e = 0; e < count; ++e) {
          xp += d[e];
          acc += ((int32_t)*xp + p->input_offset) * (int32_t)v[e];
        }
      }
      entry += (size_t)count;
      Y[(size_t)i * (size_t)p->n + (size_t)j] = tinyc_requantize_one(acc, p->multiplier[j], p->shift[j],
                                                     p->output_offset, p->act_min, p->act_max);
    }
  }
}
