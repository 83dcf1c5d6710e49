/* Portable int8 convolution with packed int4 weights (see tinyc_qconv_w4.h).
 *
 * Each output channel's row is unpacked once into `work` (cg * kh * kw bytes), then the
 * direct convolution of the portable int8 kernel runs over it: unpacking costs one step per
 * weight, the convolution oh * ow steps per weight. */
#include "tinyc_qconv_w4.h"

#include "tinyc_fixedpoint.h"

void tinyc_conv2d_s8_w4(const int8_t *restrict X, const uint8_t *restrict W,
                        const int32_t *restrict B, int8_t *restrict Y,
                        int32_t *restrict work, const tinyc_qconv_params *p) {
  const int32_t cg = p->c / p->group, mg = p->m / p->group, K = cg * p->kh * p->kw;
  int8_t *wm = (int8_t *)work;
  int32_t n, g, m, oy, ox, c, ky, kx, k;
  for (m = 0; m < p->m; ++m) {
    const uint8_t *row = W + (size_t)m * TINYC_W4_ROW_BYTES(K);
    const int32_t bias = B ? B[m] : 0;
    const int32_t mult = p->multiplier[m], sh = p->shift[m];
    g = m / mg;
    for (k = 0; k < K; ++k) wm[k] = (int8_t)tinyc_w4_row_at(row, k);
    for (n = 0; n < p->n; ++n) {
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

void tinyc_conv1x1_stream_s8_w4(const int8_t *X, const uint8_t *restrict W,
                                const int32_t *restrict B, int8_t *Y, int8_t *restrict scratch,
                                int32_t *restrict work, const tinyc_qconv_params *p) {
  const size_t plane = (size_t)p->h * p->w, row_bytes = TINYC_W4_ROW_BYTES(p->c);
  int8_t *x = (int8_t *)work;
  size_t px;
  int32_t c, m;
  (void)scratch;
  TINYC_DCHECK(p->n == 1 && p->kh == 1 && p->kw == 1 && p->group == 1);
  for (px = 0; px < plane; ++px) {
    for (c = 0; c < p->c; ++c) x[c] = X[(size_t)c * plane + px]; /* the whole pixel first */
    for (m = 0; m < p->m; ++m) {
      const int32_t acc =
          (B ? B[m] : 0) + tinyc_w4_dot(W + (size_t)m * row_bytes, x, p->c, p->input_offset);
      Y[(size_t)m * plane + px] = tinyc_requantize_one(acc, p->multiplier[m], p->shift[m],
                                                       p->output_offset, p->act_min, p->act_max);
    }
  }
}
