/* The overlapping half-weight kernels (tinyc_inplace_f16w.h), written once: each variant
 * file defines
 *
 *   static void tinyc_f16w_widen(const uint16_t *src, float *dst, size_t n);
 *   static float tinyc_f16w_dot(float acc, const float *x, size_t sx, const uint16_t *w,
 *                               size_t sw, int32_t n);   (acc + sum_i x[i*sx] * w[i*sw])
 *   static void tinyc_f16w_pixel(const float *x, size_t sx, const uint16_t *W,
 *                                const float *B, float *out, size_t ostride,
 *                                const tinyc_conv2d_params *p);
 *       (every output channel m of a 1x1 conv at one pixel, x[c*sx], to out[m*ostride])
 *   static void tinyc_f16w_pixels4(same arguments);
 *       (the same at 4 adjacent pixels: x[c*sx + j] to out[m*ostride + j], j < 4)
 *   static void tinyc_f16w_row(const float *X, const float *filters, const float *B,
 *                              float *out, size_t ch_stride, int32_t k, int32_t oy,
 *                              const tinyc_conv2d_params *p);
 *       (output row oy of k channels, whose float filters and biases are given, channel j
 *        to out + j * ch_stride)
 *
 * and then includes this header. Every kernel reads and writes in the order of its
 * float32 twin (tinyc_inplace.h), which is what makes the overlap safe; the depthwise one
 * is its twin, called on chunks of channels in channel order. */
#ifndef TINYC_INPLACE_F16W_LOOP_H
#define TINYC_INPLACE_F16W_LOOP_H

#include "tinyc_act.h"
#include "tinyc_inplace.h"
#include "tinyc_inplace_f16w.h"

void tinyc_dwconv2d_stream_f32_f16w(const float *X, const uint16_t *restrict W,
                                    const float *restrict B, float *Y, float *restrict scratch,
                                    const tinyc_conv2d_params *p, int32_t chunk,
                                    float *restrict work) {
  const size_t in_plane = (size_t)p->h * p->w, out_plane = (size_t)p->oh * p->ow;
  const size_t taps = (size_t)p->kh * p->kw;
  tinyc_conv2d_params q = *p;
  int32_t n, k0, k;
  q.n = 1;
  for (n = 0; n < p->n; ++n) {
    for (k0 = 0; k0 < p->c; k0 += k) {
      const size_t plane = (size_t)n * p->c + k0;
      k = p->c - k0 < chunk ? p->c - k0 : chunk;
      q.c = q.m = q.group = k;
      tinyc_f16w_widen(W + (size_t)k0 * taps, work, (size_t)k * taps);
      tinyc_dwconv2d_stream_f32(X + plane * in_plane, work, B ? B + k0 : NULL,
                                Y + plane * out_plane, scratch, NULL, &q);
    }
  }
}

void tinyc_conv1x1_stream_f32_f16w(const float *X, const uint16_t *restrict W,
                                   const float *restrict B, float *Y, float *restrict scratch,
                                   const tinyc_conv2d_params *p) {
  /* 4 pixels at a time, so each widened weight feeds 4 multiply-accumulates: all input
   * channels of the 4 pixels are read before any output at them is written (a write at
   * (m, p) lands on an input at the same pixel p, see tinyc_inplace.h) */
  const size_t plane = (size_t)p->h * p->w;
  size_t px = 0, j;
  int32_t c, m;
  TINYC_DCHECK(p->n == 1 && p->kh == 1 && p->kw == 1 && p->group == 1);
  for (; px + 4 <= plane; px += 4) {
    if (p->c <= p->m) { /* buffer the input pixels [c][4] */
      for (c = 0; c < p->c; ++c)
        for (j = 0; j < 4; ++j) scratch[(size_t)c * 4 + j] = X[(size_t)c * plane + px + j];
      tinyc_f16w_pixels4(scratch, 4, W, B, Y + px, plane, p);
    } else { /* buffer the output pixels [m][4] */
      tinyc_f16w_pixels4(X + px, plane, W, B, scratch, 4, p);
      for (m = 0; m < p->m; ++m)
        for (j = 0; j < 4; ++j) Y[(size_t)m * plane + px + j] = scratch[(size_t)m * 4 + j];
    }
  }
  for (; px < plane; ++px) {
    if (p->c <= p->m) {
      for (c = 0; c < p->c; ++c) scratch[c] = X[(size_t)c * plane + px];
      tinyc_f16w_pixel(scratch, 1, W, B, Y + px, plane, p);
    } else {
      tinyc_f16w_pixel(X + px, plane, W, B, scratch, 1, p);
      for (m = 0; m < p->m; ++m) Y[(size_t)m * plane + px] = scratch[m];
    }
  }
}

static void tinyc_f16w_store_row(float *Y, const float *restrict row,
                                 const tinyc_conv2d_params *p, int32_t oy) {
  const size_t plane = (size_t)p->oh * p->ow, width = (size_t)p->ow;
  size_t m, ox;
  for (m = 0; m < (size_t)p->m; ++m)
    for (ox = 0; ox < width; ++ox) Y[m * plane + (size_t)oy * width + ox] = row[m * width + ox];
}

/* Output row oy of every channel into out[m * ow], `chunk` filters widened at a time. */
static void tinyc_f16w_rows_one(const float *X, const uint16_t *restrict W,
                                const float *restrict B, float *restrict out,
                                const tinyc_conv2d_params *p, int32_t oy, int32_t chunk,
                                float *restrict work) {
  const size_t filter = (size_t)p->c * p->kh * p->kw;
  int32_t m0, k;
  for (m0 = 0; m0 < p->m; m0 += k) {
    k = p->m - m0 < chunk ? p->m - m0 : chunk;
    tinyc_f16w_widen(W + (size_t)m0 * filter, work, (size_t)k * filter);
    tinyc_f16w_row(X, work, B ? B + m0 : NULL, out + (size_t)m0 * p->ow, (size_t)p->ow, k, oy,
                   p);
  }
}

void tinyc_conv2d_rows_stream_f32_f16w(const float *X, const uint16_t *restrict W,
                                       const float *restrict B, float *Y,
                                       float *restrict scratch, const tinyc_conv2d_params *p,
                                       int32_t chunk, float *restrict work) {
  /* as tinyc_conv2d_rows_stream_f32: row oy computed, then row oy - pad_top stored */
  const int32_t lag = p->pad_top, ring = p->pad_top + 1;
  const size_t row = (size_t)p->m * p->ow;
  int32_t oy;
  TINYC_DCHECK(p->n == 1 && p->group == 1 && p->stride_h == 1 && p->oh == p->h);
  TINYC_DCHECK(p->ow == p->w);
  for (oy = 0; oy < p->oh; ++oy) {
    tinyc_f16w_rows_one(X, W, B, scratch + (size_t)(oy % ring) * row, p, oy, chunk, work);
    if (oy >= lag) {
      tinyc_f16w_store_row(Y, scratch + (size_t)((oy - lag) % ring) * row, p, oy - lag);
    }
  }
  for (oy = p->oh - lag > 0 ? p->oh - lag : 0; oy < p->oh; ++oy)
    tinyc_f16w_store_row(Y, scratch + (size_t)(oy % ring) * row, p, oy);
}

/* Y[i, j] of Gemm from row a of A (contiguous). */
static float tinyc_f16w_gemm_out(const float *a, const uint16_t *restrict B,
                                 const float *restrict C, const tinyc_gemm_params *p, int32_t i,
                                 int32_t j) {
  const uint16_t *b = p->trans_b ? B + (size_t)j * p->k : B + j;
  float acc = tinyc_f16w_dot(0.0f, a, 1, b, p->trans_b ? 1u : (size_t)p->n, p->k) * p->alpha;
  switch (p->bias_mode) {
    case TINYC_BIAS_SCALAR: acc += p->beta * C[0]; break;
    case TINYC_BIAS_ROW: acc += p->beta * C[j]; break;
    case TINYC_BIAS_COL: acc += p->beta * C[i]; break;
    case TINYC_BIAS_FULL: acc += p->beta * C[(size_t)i * p->n + j]; break;
    default: break;
  }
  return tinyc_act_f32(acc, &p->act);
}

void tinyc_gemm_rows_stream_f32_f16w(const float *A, const uint16_t *restrict B,
                                     const float *restrict C, float *Y, float *restrict scratch,
                                     const tinyc_gemm_params *p) {
  int32_t i, j, l;
  TINYC_DCHECK(!p->trans_a);
  for (i = 0; i < p->m; ++i) {
    const float *a = A + (size_t)i * p->k;
    float *y = Y + (size_t)i * p->n;
    if (p->k <= p->n) {
      for (l = 0; l < p->k; ++l) scratch[l] = a[l];
      for (j = 0; j < p->n; ++j) y[j] = tinyc_f16w_gemm_out(scratch, B, C, p, i, j);
    } else {
      for (j = 0; j < p->n; ++j) scratch[j] = tinyc_f16w_gemm_out(a, B, C, p, i, j);
      for (j = 0; j < p->n; ++j) y[j] = scratch[j];
    }
  }
}

#endif /* TINYC_INPLACE_F16W_LOOP_H */
