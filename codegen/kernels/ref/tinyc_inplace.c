/* Portable reference overlapping kernels, float32 (see tinyc_inplace.h for the rules).
 *
 * Each one accumulates in exactly the order of its ordinary counterpart (bias first, then
 * input channels / k ascending, kernel taps row-major), so placing a tensor in place never
 * changes a result bit. Sizes and indices are non-negative int32 by contract; `zu` widens
 * them to size_t before any address arithmetic. */
#include "tinyc_inplace.h"

#include "tinyc_act.h"

static size_t zu(int32_t v) { return (size_t)v; }

/* One output value of a convolution window: bias, then channels [c0, c1), taps row-major. */
static float conv_tap_sum(const float *X, const float *restrict wm, float bias, int32_t c0,
                          int32_t c1, const tinyc_conv2d_params *p, int32_t oy, int32_t ox) {
  const int32_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
  const int32_t ky0 = tinyc_window_first(iy0, p->dil_h);
  const int32_t ky1 = tinyc_window_end(iy0, p->dil_h, p->kh, p->h);
  const int32_t kx0 = tinyc_window_first(ix0, p->dil_w);
  const int32_t kx1 = tinyc_window_end(ix0, p->dil_w, p->kw, p->w);
  const size_t taps = zu(p->kh) * zu(p->kw), plane = zu(p->h) * zu(p->w);
  float acc = bias;
  int32_t c, ky, kx;
  for (c = c0; c < c1; ++c) {
    const float *xc = X + zu(c) * plane;
    const float *wc = wm + zu(c - c0) * taps;
    for (ky = ky0; ky < ky1; ++ky) {
      const float *xr = xc + zu(iy0 + ky * p->dil_h) * zu(p->w);
      const float *wr = wc + zu(ky) * zu(p->kw);
      for (kx = kx0; kx < kx1; ++kx) acc += xr[ix0 + kx * p->dil_w] * wr[kx];
    }
  }
  return acc;
}

void tinyc_dwconv2d_stream_f32(const float *X, const float *restrict W, const float *restrict B,
                               float *Y, float *restrict scratch, float *restrict work,
                               const tinyc_conv2d_params *p) {
  const size_t out_plane = zu(p->oh) * zu(p->ow), in_plane = zu(p->h) * zu(p->w);
  const size_t taps = zu(p->kh) * zu(p->kw);
  int32_t n, k, oy, ox;
  size_t i;
  (void)work;
  TINYC_DCHECK(p->group == p->c && p->m == p->c);
  for (n = 0; n < p->n; ++n) {
    for (k = 0; k < p->c; ++k) {
      const size_t plane = zu(n) * zu(p->c) + zu(k);
      const float *xc = X + plane * in_plane;
      const float bias = B ? B[k] : 0.0f;
      for (oy = 0; oy < p->oh; ++oy) {
        for (ox = 0; ox < p->ow; ++ox) {
          const float acc = conv_tap_sum(xc, W + zu(k) * taps, bias, 0, 1, p, oy, ox);
          scratch[zu(oy) * zu(p->ow) + zu(ox)] = tinyc_act_f32(acc, &p->act);
        }
      }
      /* input channel k is no longer needed: its bytes (and those below) may be written */
      for (i = 0; i < out_plane; ++i) Y[plane * out_plane + i] = scratch[i];
    }
  }
}

/* Tiles of 4 pixels (the last one shorter) through scratch[4 * min(c, m)]: the Cortex-M4
 * variant's tile, so the planned scratch serves both. */
void tinyc_conv1x1_stream_f32(const float *X, const float *restrict W, const float *restrict B,
                              float *Y, float *restrict scratch, const tinyc_conv2d_params *p) {
  const size_t plane = zu(p->h) * zu(p->w);
  size_t px, j, np;
  int32_t c, m;
  TINYC_DCHECK(p->n == 1 && p->kh == 1 && p->kw == 1 && p->group == 1);
  for (px = 0; px < plane; px += np) {
    np = plane - px < 4 ? plane - px : 4;
    if (p->c <= p->m) {
      /* buffer the input tile, then every output channel of its pixels can be stored */
      for (c = 0; c < p->c; ++c) {
        for (j = 0; j < np; ++j) scratch[zu(c) * 4 + j] = X[zu(c) * plane + px + j];
      }
      for (m = 0; m < p->m; ++m) {
        const float *wm = W + zu(m) * zu(p->c);
        for (j = 0; j < np; ++j) {
          float acc = B ? B[m] : 0.0f;
          for (c = 0; c < p->c; ++c) acc += scratch[zu(c) * 4 + j] * wm[c];
          Y[zu(m) * plane + px + j] = tinyc_act_f32(acc, &p->act);
        }
      }
    } else {
      /* fewer outputs than inputs: buffer the output tile instead */
      for (m = 0; m < p->m; ++m) {
        const float *wm = W + zu(m) * zu(p->c);
        for (j = 0; j < np; ++j) {
          float acc = B ? B[m] : 0.0f;
          for (c = 0; c < p->c; ++c) acc += X[zu(c) * plane + px + j] * wm[c];
          scratch[zu(m) * 4 + j] = tinyc_act_f32(acc, &p->act);
        }
      }
      for (m = 0; m < p->m; ++m) {
        for (j = 0; j < np; ++j) Y[zu(m) * plane + px + j] = scratch[zu(m) * 4 + j];
      }
    }
  }
}

/* One output row of a dense conv (all m channels) into out[m * ow]. */
static void conv_row(const float *X, const float *restrict W, const float *restrict B,
                     float *restrict out, const tinyc_conv2d_params *p, int32_t oy) {
  const size_t filter = zu(p->c) * zu(p->kh) * zu(p->kw);
  int32_t m, ox;
  for (m = 0; m < p->m; ++m) {
    const float bias = B ? B[m] : 0.0f;
    for (ox = 0; ox < p->ow; ++ox) {
      const float acc = conv_tap_sum(X, W + zu(m) * filter, bias, 0, p->c, p, oy, ox);
      out[zu(m) * zu(p->ow) + zu(ox)] = tinyc_act_f32(acc, &p->act);
    }
  }
}

static void store_row(float *Y, const float *restrict row, const tinyc_conv2d_params *p,
                      int32_t oy) {
  const size_t plane = zu(p->oh) * zu(p->ow), width = zu(p->ow);
  size_t m, ox;
  for (m = 0; m < zu(p->m); ++m)
    for (ox = 0; ox < width; ++ox) Y[m * plane + zu(oy) * width + ox] = row[m * width + ox];
}

void tinyc_conv2d_rows_stream_f32(const float *X, const float *restrict W,
                                  const float *restrict B, float *Y, float *restrict scratch,
                                  const tinyc_conv2d_params *p) {
  /* output row oy needs input rows from oy - pad_top on: once row oy is computed, input
   * rows <= oy - pad_top are dead, and so is the place of output row oy - pad_top */
  const int32_t lag = p->pad_top, ring = p->pad_top + 1;
  const size_t row = zu(p->m) * zu(p->ow);
  int32_t oy;
  TINYC_DCHECK(p->n == 1 && p->group == 1 && p->stride_h == 1 && p->oh == p->h);
  TINYC_DCHECK(p->ow == p->w);
  for (oy = 0; oy < p->oh; ++oy) {
    conv_row(X, W, B, scratch + zu(oy % ring) * row, p, oy);
    if (oy >= lag) store_row(Y, scratch + zu((oy - lag) % ring) * row, p, oy - lag);
  }
  for (oy = p->oh - lag > 0 ? p->oh - lag : 0; oy < p->oh; ++oy)
    store_row(Y, scratch + zu(oy % ring) * row, p, oy);
}

static float gemm_bias(const float *C, const tinyc_gemm_params *p, int32_t i, int32_t j) {
  switch (p->bias_mode) {
    case TINYC_BIAS_SCALAR: return C[0];
    case TINYC_BIAS_ROW: return C[j];
    case TINYC_BIAS_COL: return C[i];
    case TINYC_BIAS_FULL: return C[zu(i) * zu(p->n) + zu(j)];
    default: return 0.0f;
  }
}

static float gemm_dot(const float *a, const float *restrict B, const float *restrict C,
                      const tinyc_gemm_params *p, int32_t i, int32_t j) {
  const size_t sb_k = p->trans_b ? 1u : zu(p->n), sb_n = p->trans_b ? zu(p->k) : 1u;
  const float *b = B + zu(j) * sb_n;
  float acc = 0.0f;
  int32_t l;
  for (l = 0; l < p->k; ++l) acc += a[l] * b[zu(l) * sb_k];
  acc *= p->alpha;
  if (p->bias_mode != TINYC_BIAS_NONE) acc += p->beta * gemm_bias(C, p, i, j);
  return tinyc_act_f32(acc, &p->act);
}

void tinyc_gemm_rows_stream_f32(const float *A, const float *restrict B, const float *restrict C,
                                float *Y, float *restrict scratch, const tinyc_gemm_params *p) {
  int32_t i, j, l;
  TINYC_DCHECK(!p->trans_a);
  for (i = 0; i < p->m; ++i) {
    const float *a = A + zu(i) * zu(p->k);
    float *y = Y + zu(i) * zu(p->n);
    if (p->k <= p->n) {
      for (l = 0; l < p->k; ++l) scratch[l] = a[l];
      for (j = 0; j < p->n; ++j) y[j] = gemm_dot(scratch, B, C, p, i, j);
    } else {
      for (j = 0; j < p->n; ++j) scratch[j] = gemm_dot(a, B, C, p, i, j);
      for (j = 0; j < p->n; ++j) y[j] = scratch[j];
    }
  }
}
