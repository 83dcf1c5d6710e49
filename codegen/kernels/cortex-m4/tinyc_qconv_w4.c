/* int8 2-D convolution with packed int4 weights for the Cortex-M4/M7/M33 (same contract
 * and bits as the portable kernel, tinyc_qconv_w4.h).
 *
 * Four output pixels at a time (two when the reduction is longer than
 * TINYC_QCONV_W4_QUAD steps): each pixel's input window is gathered as raw bytes, then
 * widened to int16 (x + input offset, 0 outside the image, two SXTAB16 per 4 bytes) into a
 * column that interleaves the pixels block by block -- per 8 reduction steps and pixel the
 * words (x0, x2), (x1, x3), (x4, x6), (x5, x7), the nibble order of the packed rows. Then
 * every output channel of the group runs over the pixels: per block of 8 weights one word
 * load, two masks and four SXTB16 give 16 * (w0, w2), 16 * (w1, w3), 16 * (w4, w6),
 * 16 * (w5, w7), which meet every pixel's words in SMLADs (32 MACs per block with four
 * pixels). The sums are 16x the true ones and divide exactly. Reductions longer than
 * TINYC_QCONV_W4_COLUMN steps unpack each channel's row and take the plain loop.
 *
 * The workspace holds the column (pixels * 2 * K8 bytes, K8 the reduction rounded up to 8)
 * and one pixel's raw bytes (K8) after it; tinyc/ops/qint4.py mirrors these sizes. */
#include "tinyc_qconv_w4.h"

#include "tinyc_dsp.h"

/* longest reduction (cg * kh * kw, rounded up to 8) gathered as a column (tinyc/ops/qint4.py
 * QCONV_W4_COLUMN), and the longest taking four pixels a pass (QCONV_W4_QUAD) */
#define TINYC_QCONV_W4_COLUMN 1024
#define TINYC_QCONV_W4_QUAD 256

/* Pixel px's window of group g as raw input bytes in reduction order, the input zero point
 * outside the image and past the last step (both become 0 once the offset is added, and
 * meet the rows' zero padding). */
static void gather(const int8_t *xg, const tinyc_qconv_params *p, int32_t cg, int32_t px,
                   int32_t blocks, int8_t *restrict raw) {
  const int32_t oy = px / p->ow, ox = px - oy * p->ow;
  const int32_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
  const int32_t ky0 = tinyc_window_first(iy0, p->dil_h);
  const int32_t ky1 = tinyc_window_end(iy0, p->dil_h, p->kh, p->h);
  const int32_t kx0 = tinyc_window_first(ix0, p->dil_w);
  const int32_t kx1 = tinyc_window_end(ix0, p->dil_w, p->kw, p->w);
  const int8_t zx = (int8_t)-p->input_offset; /* the zero point */
  const size_t plane = (size_t)p->h * p->w;
  const int32_t dw = p->dil_w, kw = p->kw;
  int8_t *out = raw, *const end = raw + (size_t)blocks * 8u;
  int32_t c, ky, kx;
  if (ky0 == 0 && ky1 == p->kh && kx0 == 0 && kx1 == kw) { /* nothing to clip */
    const int8_t *xc = xg + (size_t)iy0 * p->w + ix0;
    if (p->kh == 1 && kw == 1) { /* pointwise: one byte a channel */
      for (c = cg; c > 0; --c, xc += plane) *out++ = *xc;
      while (out < end) *out++ = zx;
      return;
    }
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

/* raw bytes x0..x7 of each block -> the int16 words (x0, x2), (x1, x3), (x4, x6), (x5, x7)
 * of one pixel in a column of `pixels` interleaved pixels, input offset added */
static void widen(const int8_t *raw, int32_t blocks, int32_t off, int32_t pixels,
                  int32_t *restrict col) {
  const int32_t off2 = tinyc_pack16(off, off), step = 4 * pixels;
  for (; blocks > 0; --blocks, raw += 8, col += step) {
    const int32_t lo = tinyc_load4(raw), hi = tinyc_load4(raw + 4);
    col[0] = tinyc_sxtab16(off2, lo);
    col[1] = tinyc_sxtab16_hi(off2, lo);
    col[2] = tinyc_sxtab16(off2, hi);
    col[3] = tinyc_sxtab16_hi(off2, hi);
  }
}

/* two adjacent column words in one LDRD */
#define TINYC_W4_PAIR(col, k, lo, hi)            \
  do {                                            \
    uint64_t v_;                                  \
    memcpy(&v_, (col) + (k), 8);                  \
    (lo) = (int32_t)(uint32_t)v_;                 \
    (hi) = (int32_t)(uint32_t)(v_ >> 32);         \
  } while (0)

/* 16 * the dot products of one packed row with four interleaved pixels */
TINYC_INLINE void dot1x4(const uint8_t *w, const int32_t *col, int32_t blocks, int32_t *s) {
  int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__thumb2__) && \
    defined(__OPTIMIZE__) && !defined(TINYC_NO_DSP_ASM)
  /* 33 instructions per 32 MACs in 12 registers: the weight word's low nibbles, then its
   * high nibbles, as two sign-extended halfword pairs that meet each pixel's two column
   * words (LDRD) */
  if (blocks > 0) {
    int32_t u, t, y, c0, c1;
    __asm__ volatile(
        "1:\n\t"
        "ldr    %[u], [%[w]], #4\n\t"
        "lsl    %[t], %[u], #4\n\t"
        "and    %[t], %[t], #0xF0F0F0F0\n\t"
        "and    %[u], %[u], #0xF0F0F0F0\n\t"
        "sxtb16 %[y], %[t], ror #8\n\t"
        "sxtb16 %[t], %[t]\n\t"
        "ldrd   %[c0], %[c1], [%[col]]\n\t"
        "smlad  %[a0], %[t], %[c0], %[a0]\n\t"
        "smlad  %[a0], %[y], %[c1], %[a0]\n\t"
        "ldrd   %[c0], %[c1], [%[col], #16]\n\t"
        "smlad  %[a1], %[t], %[c0], %[a1]\n\t"
        "smlad  %[a1], %[y], %[c1], %[a1]\n\t"
        "ldrd   %[c0], %[c1], [%[col], #32]\n\t"
        "smlad  %[a2], %[t], %[c0], %[a2]\n\t"
        "smlad  %[a2], %[y], %[c1], %[a2]\n\t"
        "ldrd   %[c0], %[c1], [%[col], #48]\n\t"
        "smlad  %[a3], %[t], %[c0], %[a3]\n\t"
        "smlad  %[a3], %[y], %[c1], %[a3]\n\t"
        "sxtb16 %[y], %[u], ror #8\n\t"
        "sxtb16 %[t], %[u]\n\t"
        "ldrd   %[c0], %[c1], [%[col], #8]\n\t"
        "smlad  %[a0], %[t], %[c0], %[a0]\n\t"
        "smlad  %[a0], %[y], %[c1], %[a0]\n\t"
        "ldrd   %[c0], %[c1], [%[col], #24]\n\t"
        "smlad  %[a1], %[t], %[c0], %[a1]\n\t"
        "smlad  %[a1], %[y], %[c1], %[a1]\n\t"
        "ldrd   %[c0], %[c1], [%[col], #40]\n\t"
        "smlad  %[a2], %[t], %[c0], %[a2]\n\t"
        "smlad  %[a2], %[y], %[c1], %[a2]\n\t"
        "ldrd   %[c0], %[c1], [%[col], #56]\n\t"
        "add    %[col], %[col], #64\n\t"
        "smlad  %[a3], %[t], %[c0], %[a3]\n\t"
        "smlad  %[a3], %[y], %[c1], %[a3]\n\t"
        "subs   %[q], %[q], #1\n\t"
        "bne    1b"
        : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [w] "+r"(w),
          [col] "+r"(col), [q] "+r"(blocks), [u] "=&r"(u), [t] "=&r"(t), [y] "=&r"(y),
          [c0] "=&r"(c0), [c1] "=&r"(c1)
        :
        : "cc", "memory");
  }
#else
  int32_t c0, c1;
  for (; blocks > 0; --blocks, w += 4, col += 16) {
    const uint32_t u = (uint32_t)tinyc_load4((const int8_t *)w);
    const int32_t lo = (int32_t)((u << 4) & 0xF0F0F0F0u), hi = (int32_t)(u & 0xF0F0F0F0u);
    int32_t x = tinyc_sxtb16(lo), y = tinyc_sxtb16_hi(lo);
    TINYC_W4_PAIR(col, 0, c0, c1);
    a0 = tinyc_smlad(y, c1, tinyc_smlad(x, c0, a0));
    TINYC_W4_PAIR(col, 4, c0, c1);
    a1 = tinyc_smlad(y, c1, tinyc_smlad(x, c0, a1));
    TINYC_W4_PAIR(col, 8, c0, c1);
    a2 = tinyc_smlad(y, c1, tinyc_smlad(x, c0, a2));
    TINYC_W4_PAIR(col, 12, c0, c1);
    a3 = tinyc_smlad(y, c1, tinyc_smlad(x, c0, a3));
    x = tinyc_sxtb16(hi);
    y = tinyc_sxtb16_hi(hi);
    TINYC_W4_PAIR(col, 2, c0, c1);
    a0 = tinyc_smlad(y, c1, tinyc_smlad(x, c0, a0));
    TINYC_W4_PAIR(col, 6, c0, c1);
    a1 = tinyc_smlad(y, c1, tinyc_smlad(x, c0, a1));
    TINYC_W4_PAIR(col, 10, c0, c1);
    a2 = tinyc_smlad(y, c1, tinyc_smlad(x, c0, a2));
    TINYC_W4_PAIR(col, 14, c0, c1);
    a3 = tinyc_smlad(y, c1, tinyc_smlad(x, c0, a3));
  }
#endif
  s[0] = a0 / 16; /* exact: every product was 16 * w * x */
  s[1] = a1 / 16;
  s[2] = a2 / 16;
  s[3] = a3 / 16;
}

/* the same with two interleaved pixels */
TINYC_INLINE void dot1x2(const uint8_t *w, const int32_t *col, int32_t blocks, int32_t *s) {
  int32_t a0 = 0, a1 = 0;
  for (; blocks > 0; --blocks, w += 4, col += 8) {
    const uint32_t u = (uint32_t)tinyc_load4((const int8_t *)w);
    const int32_t lo = (int32_t)((u << 4) & 0xF0F0F0F0u), hi = (int32_t)(u & 0xF0F0F0F0u);
    int32_t x = tinyc_sxtb16(lo), y = tinyc_sxtb16_hi(lo);
    a0 = tinyc_smlad(y, col[1], tinyc_smlad(x, col[0], a0));
    a1 = tinyc_smlad(y, col[5], tinyc_smlad(x, col[4], a1));
    x = tinyc_sxtb16(hi);
    y = tinyc_sxtb16_hi(hi);
    a0 = tinyc_smlad(y, col[3], tinyc_smlad(x, col[2], a0));
    a1 = tinyc_smlad(y, col[7], tinyc_smlad(x, col[6], a1));
  }
  s[0] = a0 / 16;
  s[1] = a1 / 16;
}

/* Every image and group through the column, `pixels` (4 or 2) output pixels a pass; each
 * pass reads its pixels' windows whole before it stores any of their outputs. */
static void column_conv(const int8_t *X, const uint8_t *restrict W, const int32_t *restrict B,
                        int8_t *Y, int32_t *restrict work, const tinyc_qconv_params *p) {
  const int32_t cg = p->c / p->group, mg = p->m / p->group, K = cg * p->kh * p->kw;
  const int32_t blocks = (K + 7) / 8, plane = p->oh * p->ow;
  const int32_t pixels = blocks * 8 <= TINYC_QCONV_W4_QUAD ? 4 : 2;
  const size_t row_bytes = (size_t)blocks * 4u;
  int8_t *raw = (int8_t *)(work + (size_t)blocks * 4u * (size_t)pixels);
  const tinyc_dsp_clamp clamp = tinyc_dsp_clamp_make(p->output_offset, p->act_min, p->act_max);
  int32_t n, g, m, px, i;
  for (n = 0; n < p->n; ++n) {
    for (g = 0; g < p->group; ++g) {
      const int8_t *xg = X + ((size_t)n * p->c + (size_t)g * cg) * p->h * p->w;
      int8_t *yg = Y + ((size_t)n * p->m + (size_t)g * mg) * (size_t)plane;
      for (px = 0; px < plane; px += pixels) {
        const int32_t count = plane - px < pixels ? plane - px : pixels;
        for (i = 0; i < pixels; ++i) { /* a short last pass repeats its last pixel */
          gather(xg, p, cg, px + (i < count ? i : count - 1), blocks, raw);
          widen(raw, blocks, p->input_offset, pixels, work + 4 * i);
        }
        for (m = 0; m < mg; ++m) {
          const int32_t mm = g * mg + m;
          const tinyc_dsp_mult mult = tinyc_dsp_mult_make(p->multiplier[mm], p->shift[mm]);
          int32_t s[4];
          if (pixels == 4) {
            dot1x4(W + (size_t)mm * row_bytes, work, blocks, s);
          } else {
            dot1x2(W + (size_t)mm * row_bytes, work, blocks, s);
          }
          tinyc_dsp_requant_row_bias(s, B ? B[mm] : 0, yg + (size_t)m * (size_t)plane + px,
                                     count, &mult, &clamp);
        }
      }
    }
  }
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
  const int32_t K = p->c / p->group * p->kh * p->kw;
  if ((K + 7) / 8 * 8 > TINYC_QCONV_W4_COLUMN) {
    plain_conv(X, W, B, Y, (int8_t *)work, p);
  } else {
    column_conv(X, W, B, Y, work, p);
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
  if ((p->c + 7) / 8 * 8 <= TINYC_QCONV_W4_COLUMN) {
    /* a pass reads its pixels whole before storing their outputs: never later than the
     * int8 kernel's pixel-by-pixel order allows */
    column_conv(X, W, B, Y, work, p);
    return;
  }
  for (px = 0; px < plane; ++px) { /* the plain loop over an int8 copy of the pixel */
    for (c = 0; c < p->c; ++c) x[c] = X[(size_t)c * plane + px];
    for (m = 0; m < p->m; ++m) {
      const int32_t acc =
          (B ? B[m] : 0) + tinyc_w4_dot(W + (size_t)m * row_bytes, x, p->c, p->input_offset);
      Y[(size_t)m * plane + px] = tinyc_requantize_one(acc, p->multiplier[m], p->shift[m],
                                                       p->output_offset, p->act_min, p->act_max);
    }
  }
}
