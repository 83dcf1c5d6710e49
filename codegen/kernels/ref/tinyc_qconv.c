/* Portable reference int8 convolution (see tinyc_qconv.h for the arithmetic).
 *
 * Direct convolution: the valid kernel window of each output pixel is computed once, so the
 * inner loops carry no bounds checks and padding simply contributes nothing. */
#include "tinyc_qconv.h"

#include "tinyc_fixedpoint.h"

void tinyc_conv2d_s8(const int8_t *restrict X, const int8_t *restrict W,
                     const int32_t *restrict B, int8_t *restrict Y,
                     int32_t *restrict work, const tinyc_qconv_params *p) {
  const int32_t cg = p->c / p->group, mg = p->m / p->group;
  int32_t n, g, m, oy, ox, c, ky, kx;
  (void)work;
  for (n = 0; n < p->n; ++n) {
    for (g = 0; g < p->group; ++g) {
      for (m = g * mg; m < (g + 1) * mg; ++m) {
        const int8_t *wm = W + (size_t)m * cg * p->kh * p->kw;
        const int32_t bias = B ? B[m] : 0;
        const int32_t mult = p->multiplier[m], sh = p->shift[m];
        int8_t *ym = Y + ((size_t)n * p->m + m) * p->oh * p->ow;
        for (oy = 0; oy < p->oh; ++oy) {
          const int32_t iy0 = oy * p->stride_h - p->pad_top;
          const int32_t ky0 = tinyc_window_first(iy0, p->dil_h);
          const int32_t ky1 = tinyc_window_end(iy0, p->dil_h, p->kh, p->h);
          for (ox = 0; ox < p->ow; ++ox) {
            const int32_t ix0 = ox * p->stride_w - p->pad_left;
            const int32_t kx0 = tinyc_window_first(ix0, p->dil_w);
            const int32_t kx1 = tinyc_window_end(ix0, p->dil_w, p->kw, p->w);
            int32_t acc = bias;
            for (c = 0; c < cg; ++c) {
              const int8_t *xc = X + (((size_t)n * p->c + (size_t)g * cg + c) * p->h) * p->w;
              const int8_t *wc = wm + (size_t)c * p->kh * p->kw;
              for (ky = ky0; ky < ky1; ++ky) {
                const int8_t *xr = xc + (size_t)(iy0 + ky * p->dil_h) * p->w;
                const int8_t *wr = wc + (size_t)ky * p->kw;
                for (kx = kx0; kx < kx1; ++kx) {
                  acc += ((int32_t)xr[ix0 + kx * p->dil_w] + p->input_offset) * (int32_t)wr[kx];
                }
              }
            }
            ym[(size_t)oy * p->ow + ox] =
                tinyc_requantize_one(acc, mult, sh, p->output_offset, p->act_min, p->act_max);
          }
        }
      }
    }
  }
}

void tinyc_depthwise_conv2d_s8(const int8_t *restrict X, const int8_t *restrict W,
                               const int32_t *restrict B, int8_t *restrict Y,
                               int32_t *restrict work, const tinyc_qconv_params *p) {
  const int32_t mult_per_channel = p->m / p->c;
  int32_t n, m, oy, ox, ky, kx;
  (void)work;
  for (n = 0; n < p->n; ++n) {
    for (m = 0; m < p->m; ++m) {
      const int8_t *xc = X + ((size_t)n * p->c + m / mult_per_channel) * p->h * p->w;
      const int8_t *wm = W + (size_t)m * p->kh * p->kw;
      const int32_t bias = B ? B[m] : 0;
      const int32_t mult = p->multiplier[m], sh = p->shift[m];
      int8_t *ym = Y + ((size_t)n * p->m + m) * p->oh * p->ow;
      for (oy = 0; oy < p->oh; ++oy) {
        const int32_t iy0 = oy * p->stride_h - p->pad_top;
        const int32_t ky0 = tinyc_window_first(iy0, p->dil_h);
        const int32_t ky1 = tinyc_window_end(iy0, p->dil_h, p->kh, p->h);
        for (ox = 0; ox < p->ow; ++ox) {
          const int32_t ix0 = ox * p->stride_w - p->pad_left;
          const int32_t kx0 = tinyc_window_first(ix0, p->dil_w);
          const int32_t kx1 = tinyc_window_end(ix0, p->dil_w, p->kw, p->w);
          int32_t acc = bias;
          for (ky = ky0; ky < ky1; ++ky) {
            const int8_t *xr = xc + (size_t)(iy0 + ky * p->dil_h) * p->w;
            const int8_t *wr = wm + (size_t)ky * p->kw;
            for (kx = kx0; kx < kx1; ++kx) {
              acc += ((int32_t)xr[ix0 + kx * p->dil_w] + p->input_offset) * (int32_t)wr[kx];
            }
          }
          ym[(size_t)oy * p->ow + ox] =
              tinyc_requantize_one(acc, mult, sh, p->output_offset, p->act_min, p->act_max);
        }
      }
    }
  }
}

void tinyc_dwconv2d_stream_s8(const int8_t *X, const int8_t *restrict W,
                              const int32_t *restrict B, int8_t *Y, int8_t *restrict scratch,
                              int32_t *restrict work, const tinyc_qconv_params *p) {
  const size_t in_plane = (size_t)p->h * p->w, out_plane = (size_t)p->oh * p->ow;
  int32_t n, k, oy, ox, ky, kx;
  size_t i;
  (void)work;
  TINYC_DCHECK(p->group == p->c && p->m == p->c);
  for (n = 0; n < p->n; ++n) {
    for (k = 0; k < p->c; ++k) {
      const size_t plane = (size_t)n * p->c + k;
      const int8_t *xc = X + plane * in_plane;
      const int8_t *wk = W + (size_t)k * p->kh * p->kw;
      const int32_t bias = B ? B[k] : 0;
      int8_t *yk = Y + plane * out_plane;
      for (oy = 0; oy < p->oh; ++oy) {
        const int32_t iy0 = oy * p->stride_h - p->pad_top;
        const int32_t ky0 = tinyc_window_first(iy0, p->dil_h);
        const int32_t ky1 = tinyc_window_end(iy0, p->dil_h, p->kh, p->h);
        for (ox = 0; ox < p->ow; ++ox) {
          const int32_t ix0 = ox * p->stride_w - p->pad_left;
          const int32_t kx0 = tinyc_window_first(ix0, p->dil_w);
          const int32_t kx1 = tinyc_window_end(ix0, p->dil_w, p->kw, p->w);
          int32_t acc = bias;
          for (ky = ky0; ky < ky1; ++ky) {
            const int8_t *xr = xc + (size_t)(iy0 + ky * p->dil_h) * p->w;
            const int8_t *wr = wk + (size_t)ky * p->kw;
            for (kx = kx0; kx < kx1; ++kx) {
              acc += ((int32_t)xr[ix0 + kx * p->dil_w] + p->input_offset) * (int32_t)wr[kx];
            }
          }
          scratch[(size_t)oy * p->ow + ox] = tinyc_requantize_one(
              acc, p->multiplier[k], p->shift[k], p->output_offset, p->act_min, p->act_max);
        }
      }
      /* input channel k is no longer needed: its bytes (and those below) may be written */
      for (i = 0; i < out_plane; ++i) yk[i] = scratch[i];
    }
  }
}

static int8_t pixel_dot(const int8_t *x, size_t stride, const int8_t *restrict W,
                        const int32_t *restrict B, int32_t m, const tinyc_qconv_params *p) {
  const int8_t *wm = W + (size_t)m * p->c;
  int32_t acc = B ? B[m] : 0, c;
  for (c = 0; c < p->c; ++c) acc += ((int32_t)x[(size_t)c * stride] + p->input_offset) * wm[c];
  return tinyc_requantize_one(acc, p->multiplier[m], p->shift[m], p->output_offset, p->act_min,
                              p->act_max);
}

void tinyc_conv1x1_stream_s8(const int8_t *X, const int8_t *restrict W,
                             const int32_t *restrict B, int8_t *Y, int8_t *restrict scratch,
                             int32_t *restrict work, const tinyc_qconv_params *p) {
  const size_t plane = (size_t)p->h * p->w;
  size_t px;
  int32_t c, m;
  (void)work;
  TINYC_DCHECK(p->n == 1 && p->kh == 1 && p->kw == 1 && p->group == 1);
  for (px = 0; px < plane; ++px) {
    if (p->c <= p->m) {
      /* buffer the input pixel, then every output channel can be stored at once */
      for (c = 0; c < p->c; ++c) scratch[c] = X[(size_t)c * plane + px];
      for (m = 0; m < p->m; ++m) Y[(size_t)m * plane + px] = pixel_dot(scratch, 1, W, B, m, p);
    } else {
      /* fewer outputs than inputs: buffer the output pixel instead */
      for (m = 0; m < p->m; ++m) scratch[m] = pixel_dot(X + px, plane, W, B, m, p);
      for (m = 0; m < p->m; ++m) Y[(size_t)m * plane + px] = scratch[m];
    }
  }
}

/* One output row of a dense conv (all m channels) into out[m * ow]. */
static void conv_row(const int8_t *X, const int8_t *restrict W, const int32_t *restrict B,
                     int8_t *restrict out, const tinyc_qconv_params *p, int32_t oy) {
  const size_t filter = (size_t)p->c * p->kh * p->kw;
  const int32_t iy0 = oy * p->stride_h - p->pad_top;
  const int32_t ky0 = tinyc_window_first(iy0, p->dil_h);
  const int32_t ky1 = tinyc_window_end(iy0, p->dil_h, p->kh, p->h);
  int32_t m, ox, c, ky, kx;
  for (m = 0; m < p->m; ++m) {
    const int8_t *wm = W + (size_t)m * filter;
    for (ox = 0; ox < p->ow; ++ox) {
      const int32_t ix0 = ox * p->stride_w - p->pad_left;
      const int32_t kx0 = tinyc_window_first(ix0, p->dil_w);
      const int32_t kx1 = tinyc_window_end(ix0, p->dil_w, p->kw, p->w);
      int32_t acc = B ? B[m] : 0;
      for (c = 0; c < p->c; ++c) {
        const int8_t *xc = X + (size_t)c * p->h * p->w;
        const int8_t *wc = wm + (size_t)c * p->kh * p->kw;
        for (ky = ky0; ky < ky1; ++ky) {
          const int8_t *xr = xc + (size_t)(iy0 + ky * p->dil_h) * p->w;
          const int8_t *wr = wc + (size_t)ky * p->kw;
          for (kx = kx0; kx < kx1; ++kx) {
            acc += ((int32_t)xr[ix0 + kx * p->dil_w] + p->input_offset) * (int32_t)wr[kx];
          }
        }
      }
      out[(size_t)m * p->ow + ox] = tinyc_requantize_one(
          acc, p->multiplier[m], p->shift[m], p->output_offset, p->act_min, p->act_max);
    }
  }
}

static void store_row(int8_t *Y, const int8_t *restrict row, const tinyc_qconv_params *p,
                      int32_t oy) {
  const size_t plane = (size_t)p->oh * p->ow, width = (size_t)p->ow;
  size_t m, ox;
  for (m = 0; m < (size_t)p->m; ++m) {
    for (ox = 0; ox < width; ++ox) Y[m * plane + (size_t)oy * width + ox] = row[m * width + ox];
  }
}

void tinyc_conv2d_rows_stream_s8(const int8_t *X, const int8_t *restrict W,
                                 const int32_t *restrict B, int8_t *Y, int8_t *restrict scratch,
                                 int32_t *restrict work, const tinyc_qconv_params *p) {
  /* output row oy needs input rows from oy - pad_top on: once row oy is computed, input
   * rows <= oy - pad_top are dead, and so is the place of output row oy - pad_top */
  const int32_t lag = p->pad_top, ring = p->pad_top + 1;
  const size_t row = (size_t)p->m * p->ow;
  int32_t oy;
  (void)work;
  TINYC_DCHECK(p->n == 1 && p->group == 1 && p->stride_h == 1 && p->oh == p->h);
  TINYC_DCHECK(p->ow == p->w);
  for (oy = 0; oy < p->oh; ++oy) {
    conv_row(X, W, B, scratch + (size_t)(oy % ring) * row, p, oy);
    if (oy >= lag) store_row(Y, scratch + (size_t)((oy - lag) % ring) * row, p, oy - lag);
  }
  for (oy = p->oh - lag > 0 ? p->oh - lag : 0; oy < p->oh; ++oy) {
    store_row(Y, scratch + (size_t)(oy % ring) * row, p, oy);
  }
}
