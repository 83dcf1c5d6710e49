/* int8 2-D convolution with packed int4 weights for the Cortex-M4/M7/M33 (same contract
 * and bits as the portable kernel, tinyc_qconv_w4.h).
 *
 * Two output pixels' input windows are gathered into the workspace as raw bytes, then
 * widened in place to int16 (x + input offset, 0 outside the image) in the block order of
 * the packed rows: per 8 reduction steps the words (x0, x2), (x1, x3), (x4, x6), (x5, x7),
 * two SXTAB16 per 4 bytes. Then every output channel of the
 * group runs over both pixels: per block of 8 weights one word load, two masks and four
 * SXTB16 give 16 * (w0, w2), 16 * (w1, w3), 16 * (w4, w6), 16 * (w5, w7), and eight SMLADs
 * take 16 MACs. The sums are 16x the true ones and divide exactly. Reductions longer than
 * TINYC_QCONV_W4_COLUMN steps unpack each channel's row into the workspace and take the
 * plain loop. */
#include "tinyc_qconv_w4.h"

#include "tinyc_dsp.h"

/* longest reduction (cg * kh * kw, rounded up to 8) gathered as a column (tinyc/ops/qint4.py
 * QCONV_W4_COLUMN) */
#define TINYC_QCONV_W4_COLUMN 1024

/* Pass 1: pixel px's window of group g as raw input bytes in reduction order at the start
 * of `col`, the input zero point outside the image and past the last step (both become 0
 * once the offset is added, and meet the rows' zero padding). */
static void gather(const int8_t *xg, const tinyc_qconv_params *p, int32_t cg, int32_t px,
                   int32_t blocks, int32_t *col) {
  const int32_t oy = px / p->ow, ox = px - oy * p->ow;
  const int32_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
  const int32_t ky0 = tinyc_window_first(iy0, p->dil_h);
  const int32_t ky1 = tinyc_window_end(iy0, p->dil_h, p->kh, p->h);
  const int32_t kx0 = tinyc_window_first(ix0, p->dil_w);
  const int32_t kx1 = tinyc_window_end(ix0, p->dil_w, p->kw, p->w);
  const int8_t zx = (int8_t)-p->input_offset; /* the zero point */
  const size_t plane = (size_t)p->h * p->w;
  const int32_t dw = p->dil_w, kw = p->kw;
  int8_t *out = (int8_t *)col, *const end = out + (size_t)blocks * 8u;
  int32_t c, ky, kx;
  if (ky0 == 0 && ky1 == p->kh && kx0 == 0 && kx1 == kw) { /* nothing to clip */
    const int8_t *xc = xg + (size_t)iy0 * p->w + ix0;
    for (c = cg; c > 0; --c, xc += plane) {
      const int8_t *xr = xc;
      for (ky = p->kh; ky > 0; --ky, xr += (size_t)p->dil_h * p->w) {
        for (kx = 0; kx < kw; ++kx) *out++ = xr[kx * dw];
      }
    }
  } else {
    for (c = 0; c < cg; ++c) {
      const int8_t *xc = xg + (size_t)c * plane;
      for (ky = 0; ky < p->kh; ++ky) {
        const int inside = ky >= ky0 && ky < ky1;
        const int8_t *xr = xc + (size_t)(inside ? iy0 + ky * p->dil_h : 0) * p->w + ix0;
        for (kx = 0; kx < kw; ++kx) *out++ = inside && kx >= kx0 && kx < kx1 ? xr[kx * dw] : zx;
      }
    }
  }
  while (out < end) *out++ = zx;
}

/* Pass 2, in place from the last block back (block b's words take the bytes of raw blocks
 * 2b and 2b + 1, already read): raw bytes x0..x7 -> the int16 words (x0, x2), (x1, x3),
 * (x4, x6), (x5, x7), input offset added -- the nibble order of the packed rows. */
static void widen(int32_t *col, int32_t blocks, int32_t off) {
  const int32_t off2 = tinyc_pack16(off, off);
  const int8_t *raw = (const int8_t *)col;
  int32_t b;
  for (b = blocks - 1; b >= 0; --b) {
    const int32_t lo = tinyc_load4(raw + 8 * b), hi = tinyc_load4(raw + 8 * b + 4);
    int32_t *w = col + 4 * b;
    w[0] = tinyc_sxtab16(off2, lo);
    w[1] = tinyc_sxtab16_hi(off2, lo);
    w[2] = tinyc_sxtab16(off2, hi);
    w[3] = tinyc_sxtab16_hi(off2, hi);
  }
}

/* gather and widen: pixel px's column */
static void column(const int8_t *xg, const tinyc_qconv_params *p, int32_t cg, int32_t px,
                   int32_t blocks, int32_t *col) {
  gather(xg, p, cg, px, blocks, col);
  widen(col, blocks, p->input_offset);
}

/* 16 * the dot products of one packed row with two columns of `blocks` blocks */
TINYC_INLINE void dot1x2(const uint8_t *w, const int32_t *ca, const int32_t *cb,
                         int32_t blocks, int32_t *sa, int32_t *sb) {
  int32_t a = 0, b = 0;
  for (; blocks > 0; --blocks, w += 4, ca += 4, cb += 4) {
    const uint32_t u = (uint32_t)tinyc_load4((const int8_t *)w);
    const int32_t lo = (int32_t)((u << 4) & 0xF0F0F0F0u), hi = (int32_t)(u & 0xF0F0F0F0u);
    const int32_t w0 = tinyc_sxtb16(lo), w1 = tinyc_sxtb16_hi(lo);
    const int32_t w2 = tinyc_sxtb16(hi), w3 = tinyc_sxtb16_hi(hi);
    a = tinyc_smlad(w0, ca[0], a);
    b = tinyc_smlad(w0, cb[0], b);
    a = tinyc_smlad(w1, ca[1], a);
    b = tinyc_smlad(w1, cb[1], b);
    a = tinyc_smlad(w2, ca[2], a);
    b = tinyc_smlad(w2, cb[2], b);
    a = tinyc_smlad(w3, ca[3], a);
    b = tinyc_smlad(w3, cb[3], b);
  }
  *sa = a;
  *sb = b;
}

/* Reductions too long for a column: the portable kernel's loop on an unpacked row. */
static void plain_conv(const int8_t *restrict X, const uint8_t *restrict W,
                       const int32_t *restrict B, int8_t *restrict Y, int8_t *restrict wm,
                       const tinyc_qconv_params *p) {
  const int32_t cg = p->c / p->group, mg = p->m / p->group, K = cg * p->kh * p->kw;
  int32_t n, m, oy, ox, c, ky, kx, k;
  for (m = 0; m < p->m; ++m) {
    const uint8_t *row = W + (size_t)m * TINYC_W4_ROW_BYTES(K);
    const int32_t g = m / mg;
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
          int32_t acc = B ? B[m] : 0;
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
          ym[(size_t)oy * p->ow + ox] = tinyc_requantize_one(
              acc, p->multiplier[m], p->shift[m], p->output_offset, p->act_min, p->act_max);
        }
      }
    }
  }
}

void tinyc_conv2d_s8_w4(const int8_t *restrict X, const uint8_t *restrict W,
                        const int32_t *restrict B, int8_t *restrict Y,
                        int32_t *restrict work, const tinyc_qconv_params *p) {
  const int32_t cg = p->c / p->group, mg = p->m / p->group, K = cg * p->kh * p->kw;
  const int32_t blocks = (K + 7) / 8, pixels = p->oh * p->ow;
  const size_t row_bytes = (size_t)blocks * 4u, out_plane = (size_t)pixels;
  int32_t *ca = work, *cb = work + (size_t)blocks * 4u;
  const tinyc_dsp_clamp clamp = tinyc_dsp_clamp_make(p->output_offset, p->act_min, p->act_max);
  int32_t n, g, m, px;
  if (blocks * 8 > TINYC_QCONV_W4_COLUMN) {
    plain_conv(X, W, B, Y, (int8_t *)work, p);
    return;
  }
  for (n = 0; n < p->n; ++n) {
    for (g = 0; g < p->group; ++g) {
      const int8_t *xg = X + ((size_t)n * p->c + (size_t)g * cg) * p->h * p->w;
      int8_t *yg = Y + ((size_t)n * p->m + (size_t)g * mg) * out_plane;
      for (px = 0; px < pixels; px += 2) {
        const int pair = px + 1 < pixels;
        column(xg, p, cg, px, blocks, ca);
        if (pair) column(xg, p, cg, px + 1, blocks, cb);
        for (m = 0; m < mg; ++m) {
          const int32_t mm = g * mg + m, bias = B ? B[mm] : 0;
          int32_t sa, sb;
          int8_t *ym = yg + (size_t)m * out_plane + px;
          dot1x2(W + (size_t)mm * row_bytes, ca, pair ? cb : ca, blocks, &sa, &sb);
          ym[0] = tinyc_dsp_requant1(bias + sa / 16, p->multiplier[mm], p->shift[mm], &clamp);
          if (pair) {
            ym[1] = tinyc_dsp_requant1(bias + sb / 16, p->multiplier[mm], p->shift[mm], &clamp);
          }
        }
      }
    }
  }
}

void tinyc_conv1x1_stream_s8_w4(const int8_t *X, const uint8_t *restrict W,
                                const int32_t *restrict B, int8_t *Y, int8_t *restrict scratch,
                                int32_t *restrict work, const tinyc_qconv_params *p) {
  const size_t plane = (size_t)p->h * p->w;
  const int32_t blocks = (p->c + 7) / 8;
  const size_t row_bytes = (size_t)blocks * 4u;
  int32_t *ca = work, *cb = work + (size_t)blocks * 4u;
  const tinyc_dsp_clamp clamp = tinyc_dsp_clamp_make(p->output_offset, p->act_min, p->act_max);
  size_t px;
  int32_t m;
  (void)scratch;
  TINYC_DCHECK(p->n == 1 && p->kh == 1 && p->kw == 1 && p->group == 1);
  if (blocks * 8 > TINYC_QCONV_W4_COLUMN) { /* the plain loop over an int8 copy of the pixel */
    int8_t *x = (int8_t *)work;
    int32_t c;
    for (px = 0; px < plane; ++px) {
      for (c = 0; c < p->c; ++c) x[c] = X[(size_t)c * plane + px];
      for (m = 0; m < p->m; ++m) {
        const uint8_t *row = W + (size_t)m * row_bytes;
        int32_t acc = B ? B[m] : 0;
        for (c = 0; c < p->c; ++c) acc += ((int32_t)x[c] + p->input_offset) * tinyc_w4_row_at(row, c);
        Y[(size_t)m * plane + px] = tinyc_requantize_one(
            acc, p->multiplier[m], p->shift[m], p->output_offset, p->act_min, p->act_max);
      }
    }
    return;
  }
  /* two pixels at a time: both are read whole before any of their outputs is stored,
   * which is never later than the int8 kernel's order (pixel by pixel) allows */
  for (px = 0; px < plane; px += 2) {
    const int pair = px + 1 < plane;
    column(X, p, p->c, (int32_t)px, blocks, ca);
    if (pair) column(X, p, p->c, (int32_t)px + 1, blocks, cb);
    for (m = 0; m < p->m; ++m) {
      const int32_t bias = B ? B[m] : 0;
      int32_t sa, sb;
      int8_t *ym = Y + (size_t)m * plane + px;
      dot1x2(W + (size_t)m * row_bytes, ca, pair ? cb : ca, blocks, &sa, &sb);
      ym[0] = tinyc_dsp_requant1(bias + sa / 16, p->multiplier[m], p->shift[m], &clamp);
      if (pair) ym[1] = tinyc_dsp_requant1(bias + sb / 16, p->multiplier[m], p->shift[m], &clamp);
    }
  }
}
