/* Portable reference overlapping kernels, float32 (see tinyc_inplace.h for the rules).
 *
 * Each one accumulates in exactly the order of its ordinary counterpart (bias first, then
 * input channels / k ascending, kernel taps row-major), so placing a tensor in place never
 * changes a result bit. */
#include "tinyc_inplace.h"

#include "tinyc_act.h"

static int32_t first_valid(int32_t start, int32_t dil) {
  /* smallest k with start + k*dil >= 0 */
  return start >= 0 ? 0 : (-start + dil - 1) / dil;
}

static int32_t end_valid(int32_t start, int32_t dil, int32_t k, int32_t size) {
  /* one past the largest k < kmax with start + k*dil < size */
  int32_t e;
  if (start >= size) return 0;
  e = (size - 1 - start) / dil + 1;
  return e < k ? e : k;
}

void tinyc_dwconv2d_stream_f32(const float *X, const float *restrict W, const float *restrict B,
                               float *Y, float *restrict scratch, const tinyc_conv2d_params *p) {
  const size_t in_plane = (size_t)p->h * p->w, out_plane = (size_t)p->oh * p->ow;
  int32_t n, k, oy, ox, ky, kx;
  size_t i;
  TINYC_DCHECK(p->group == p->c && p->m == p->c);
  for (n = 0; n < p->n; ++n) {
    for (k = 0; k < p->c; ++k) {
      const size_t plane = (size_t)n * p->c + k;
      const float *xc = X + plane * in_plane;
      const float *wk = W + (size_t)k * p->kh * p->kw;
      const float bias = B ? B[k] : 0.0f;
      float *yk = Y + plane * out_plane;
      for (oy = 0; oy < p->oh; ++oy) {
        const int32_t iy0 = oy * p->stride_h - p->pad_top;
        const int32_t ky0 = first_valid(iy0, p->dil_h);
        const int32_t ky1 = end_valid(iy0, p->dil_h, p->kh, p->h);
        for (ox = 0; ox < p->ow; ++ox) {
          const int32_t ix0 = ox * p->stride_w - p->pad_left;
          const int32_t kx0 = first_valid(ix0, p->dil_w);
          const int32_t kx1 = end_valid(ix0, p->dil_w, p->kw, p->w);
          float acc = bias;
          for (ky = ky0; ky < ky1; ++ky) {
            const float *xr = xc + (size_t)(iy0 + ky * p->dil_h) * p->w;
            const float *wr = wk + (size_t)ky * p->kw;
            for (kx = kx0; kx < kx1; ++kx) acc += xr[ix0 + kx * p->dil_w] * wr[kx];
          }
          scratch[(size_t)oy * p->ow + ox] = tinyc_act_f32(acc, &p->act);
        }
      }
      /* input channel k is no longer needed: its bytes (and those below) may be written */
      for (i = 0; i < out_plane; ++i) yk[i] = scratch[i];
    }
  }
}

void tinyc_conv1x1_stream_f32(const float *X, const float *restrict W, const float *restrict B,
                              float *Y, float *restrict scratch, const tinyc_conv2d_params *p) {
  const size_t plane = (size_t)p->h * p->w;
  size_t px;
  int32_t c, m;
  TINYC_DCHECK(p->n == 1 && p->kh == 1 && p->kw == 1 && p->group == 1);
  for (px = 0; px < plane; ++px) {
    if (p->c <= p->m) {
      /* buffer the input pixel, then every output channel can be stored at once */
      for (c = 0; c < p->c; ++c) scratch[c] = X[(size_t)c * plane + px];
      for (m = 0; m < p->m; ++m) {
        const float *wm = W + (size_t)m * p->c;
        float acc = B ? B[m] : 0.0f;
        for (c = 0; c < p->c; ++c) acc += scratch[c] * wm[c];
        Y[(size_t)m * plane + px] = tinyc_act_f32(acc, &p->act);
      }
    } else {
      /* fewer outputs than inputs: buffer the output pixel instead */
      for (m = 0; m < p->m; ++m) {
        const float *wm = W + (size_t)m * p->c;
        float acc = B ? B[m] : 0.0f;
        for (c = 0; c < p->c; ++c) acc += X[(size_t)c * plane + px] * wm[c];
        scratch[m] = tinyc_act_f32(acc, &p->act);
      }
      for (m = 0; m < p->m; ++m) Y[(size_t)m * plane + px] = scratch[m];
    }
  }
}

/* One output row of a dense conv (all m channels) into out[m * ow], accumulating exactly
 * like tinyc_conv2d_f32: bias, then input channels, then taps row-major. */
static void conv_row(const float *X, const float *restrict W, const float *restrict B,
                     float *restrict out, const tinyc_conv2d_params *p, int32_t oy) {
  const int32_t iy0 = oy * p->stride_h - p->pad_top;
  const int32_t ky0 = first_valid(iy0, p->dil_h);
  const int32_t ky1 = end_valid(iy0, p->dil_h, p->kh, p->h);
  int32_t m, ox, c, ky, kx;
  for (m = 0; m < p->m; ++m) {
    const float *wm = W + (size_t)m * p->c * p->kh * p->kw;
    const float bias = B ? B[m] : 0.0f;
    for (ox = 0; ox < p->ow; ++ox) {
      const int32_t ix0 = ox * p->stride_w - p->pad_left;
      const int32_t kx0 = first_valid(ix0, p->dil_w);
      const int32_t kx1 = end_valid(ix0, p->dil_w, p->kw, p->w);
      float acc = bias;
      for (c = 0; c < p->c; ++c) {
        const float *xc = X + (size_t)c * p->h * p->w;
        const float *wc = wm + (size_t)c * p->kh * p->kw;
        for (ky = ky0; ky < ky1; ++ky) {
          const float *xr = xc + (size_t)(iy0 + ky * p->dil_h) * p->w;
          const float *wr = wc + (size_t)ky * p->kw;
          for (kx = kx0; kx < kx1; ++kx) acc += xr[ix0 + kx * p->dil_w] * wr[kx];
        }
      }
      out[(size_t)m * p->ow + ox] = tinyc_act_f32(acc, &p->act);
    }
  }
}

static void store_row(float *Y, const float *restrict row, const tinyc_conv2d_params *p,
                      int32_t oy) {
  const size_t plane = (size_t)p->oh * p->ow;
  int32_t m, ox;
  for (m = 0; m < p->m; ++m)
    for (ox = 0; ox < p->ow; ++ox)
      Y[(size_t)m * plane + (size_t)oy * p->ow + ox] = row[(size_t)m * p->ow + ox];
}

void tinyc_conv2d_rows_stream_f32(const float *X, const float *restrict W,
                                  const float *restrict B, float *Y, float *restrict scratch,
                                  const tinyc_conv2d_params *p) {
  /* output row oy needs input rows from oy - pad_top on: once row oy is computed, input
   * rows <= oy - pad_top are dead, and so is the place of output row oy - pad_top */
  const int32_t lag = p->pad_top, ring = p->pad_top + 1;
  const size_t row = (size_t)p->m * p->ow;
  int32_t oy;
  TINYC_DCHECK(p->n == 1 && p->group == 1 && p->stride_h == 1 && p->oh == p->h);
  TINYC_DCHECK(p->ow == p->w);
  for (oy = 0; oy < p->oh; ++oy) {
    conv_row(X, W, B, scratch + (size_t)(oy % ring) * row, p, oy);
    if (oy >= lag) store_row(Y, scratch + (size_t)((oy - lag) % ring) * row, p, oy - lag);
  }
  for (oy = p->oh - lag > 0 ? p->oh - lag : 0; oy < p->oh; ++oy)
    store_row(Y, scratch + (size_t)(oy % ring) * row, p, oy);
}

static float gemm_bias(const float *C, const tinyc_gemm_params *p, int32_t i, int32_t j) {
  switch (p->bias_mode) {
    case TINYC_BIAS_SCALAR: return C[0];
    case TINYC_BIAS_ROW: return C[j];
    case TINYC_BIAS_COL: return C[i];
    case TINYC_BIAS_FULL: return C[(size_t)i * p->n + j];
    default: return 0.0f;
  }
}

static float gemm_dot(const float *a, const float *restrict B, const float *restrict C,
                      const tinyc_gemm_params *p, int32_t i, int32_t j) {
  const int32_t sb_k = p->trans_b ? 1 : p->n, sb_n = p->trans_b ? p->k : 1;
  const float *b = B + (size_t)j * sb_n;
  float acc = 0.0f;
  int32_t l;
  for (l = 0; l < p->k; ++l) acc += a[l] * b[(size_t)l * sb_k];
  acc *= p->alpha;
  if (p->bias_mode != TINYC_BIAS_NONE) acc += p->beta * gemm_bias(C, p, i, j);
  return tinyc_act_f32(acc, &p->act);
}

void tinyc_gemm_rows_stream_f32(const float *A, const float *restrict B, const float *restrict C,
                                float *Y, float *restrict scratch, const tinyc_gemm_params *p) {
  int32_t i, j, l;
  TINYC_DCHECK(!p->trans_a);
  for (i = 0; i < p->m; ++i) {
    const float *a = A + (size_t)i * p->k;
    float *y = Y + (size_t)i * p->n;
    if (p->k <= p->n) {
      for (l = 0; l < p->k; ++l) scratch[l] = a[l];
      for (j = 0; j < p->n; ++j) y[j] = gemm_dot(scratch, B, C, p, i, j);
    } else {
      for (j = 0; j < p->n; ++j) scratch[j] = gemm_dot(a, B, C, p, i, j);
      for (j = 0; j < p->n; ++j) y[j] = scratch[j];
    }
  }
}
