/* Cortex-M4 int16x8 convolution and fully connected layer (tinyc_qconv16.h), bit-exact
 * with the portable kernels.
 *
 * SMLAD multiplies two int16 pairs at once, so the int16 activations need no widening;
 * the int8 weights are widened four at a time by SXTB16, which yields the pairs (w0, w2)
 * and (w1, w3). The activations are therefore copied once into the node's workspace in
 * that order (x0, x2, x1, x3 per group of four; the tail of k % 4 as is): the window of
 * one output pixel (a dense conv's column, c/group kh kw values, padding as 0), or one
 * input row of a fully connected layer. Four output channels (two with a 64-bit
 * accumulator) then read the copy together, one word load per two values: 4 MACs per
 * weight word, its two SXTB16 halves and two SMLADs (SMLALD, into a 64-bit accumulator,
 * unless the compiler proved the int32 bound: `acc32`). Depthwise
 * layers (one input channel per output: nothing to share) accumulate tap by tap, in int32
 * when proven (else the portable loop), and every int32 accumulator is requantized with
 * tinyc_dsp_mbqm (SMMUL), which equals tinyc_mbqm64 on it. */
#include "tinyc_qconv16.h"

#include "tinyc_dsp.h"
#include "tinyc_qconv16_loops.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
/* acc + lo(a)*lo(b) + hi(a)*hi(b), 64-bit accumulator */
TINYC_INLINE int64_t tinyc_smlald(int32_t a, int32_t b, int64_t acc) {
  return (int64_t)__smlald(a, b, (uint64_t)acc);
}
#else
TINYC_INLINE int64_t tinyc_smlald(int32_t a, int32_t b, int64_t acc) {
  return acc + (int64_t)tinyc_lo16(a) * tinyc_lo16(b) + (int64_t)tinyc_hi16(a) * tinyc_hi16(b);
}
#endif

/* two int16 values from an int16 array (one LDR) */
TINYC_INLINE int32_t load_pair(const int16_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* reorder k4 (a multiple of 4) int16 values in place into the SXTB16 order: each group of
 * four x0 x1 x2 x3 becomes x0 x2 x1 x3 (two word loads, PKHBT/PKHTB, two word stores) */
static void sxtb16_order(int16_t *v, int32_t k4) {
  int32_t i;
  for (i = 0; i < k4; i += 4) {
    const uint32_t a = (uint32_t)load_pair(v + i), b = (uint32_t)load_pair(v + i + 2);
    const uint32_t x02 = (a & 0xFFFFu) | (b << 16), x13 = (a >> 16) | (b & 0xFFFF0000u);
    memcpy(v + i, &x02, 4);
    memcpy(v + i + 2, &x13, 4);
  }
}

/* sums of col . w0 and col . w1 over k values (col in SXTB16 order), added to *a0, *a1 */
static void dot2_32(const int16_t *col, const int8_t *w0, const int8_t *w1, int32_t k,
                    int32_t *a0, int32_t *a1) {
  int32_t s0 = *a0, s1 = *a1, i;
  for (i = 0; i + 4 <= k; i += 4) {
    const int32_t x02 = load_pair(col + i), x13 = load_pair(col + i + 2);
    const int32_t u = tinyc_load4(w0 + i), v = tinyc_load4(w1 + i);
    s0 = tinyc_smlad(x02, tinyc_sxtb16(u), s0);
    s0 = tinyc_smlad(x13, tinyc_sxtb16_hi(u), s0);
    s1 = tinyc_smlad(x02, tinyc_sxtb16(v), s1);
    s1 = tinyc_smlad(x13, tinyc_sxtb16_hi(v), s1);
  }
  for (; i < k; ++i) {
    s0 += (int32_t)col[i] * w0[i];
    s1 += (int32_t)col[i] * w1[i];
  }
  *a0 = s0;
  *a1 = s1;
}

static void dot2_64(const int16_t *col, const int8_t *w0, const int8_t *w1, int32_t k,
                    int64_t *a0, int64_t *a1) {
  int64_t s0 = *a0, s1 = *a1;
  int32_t i;
  for (i = 0; i + 4 <= k; i += 4) {
    const int32_t x02 = load_pair(col + i), x13 = load_pair(col + i + 2);
    const int32_t u = tinyc_load4(w0 + i), v = tinyc_load4(w1 + i);
    s0 = tinyc_smlald(x02, tinyc_sxtb16(u), s0);
    s0 = tinyc_smlald(x13, tinyc_sxtb16_hi(u), s0);
    s1 = tinyc_smlald(x02, tinyc_sxtb16(v), s1);
    s1 = tinyc_smlald(x13, tinyc_sxtb16_hi(v), s1);
  }
  for (; i < k; ++i) {
    s0 += (int32_t)col[i] * w0[i];
    s1 += (int32_t)col[i] * w1[i];
  }
  *a0 = s0;
  *a1 = s1;
}

/* v clamped to the activation's bounds (zero point 0) */
TINYC_INLINE int16_t clamp16(int32_t v, int32_t lo, int32_t hi) {
  return (int16_t)(v < lo ? lo : (v > hi ? hi : v));
}

/* outputs o .. o + 3 (int32 accumulation proven) of a k-long dot product with `col`: each
 * pair of activation words serves four weight words */
static void outputs4(const int16_t *col, const int8_t *W, const int64_t *B, int32_t k,
                     int32_t o, const int32_t *mult, const int32_t *shift, int32_t lo,
                     int32_t hi, int16_t *y, size_t stride) {
  const int8_t *w0 = W + (size_t)o * k, *w1 = w0 + k, *w2 = w1 + k, *w3 = w2 + k;
  int32_t s0 = B ? (int32_t)B[o] : 0, s1 = B ? (int32_t)B[o + 1] : 0;
  int32_t s2 = B ? (int32_t)B[o + 2] : 0, s3 = B ? (int32_t)B[o + 3] : 0, i;
  for (i = 0; i + 4 <= k; i += 4) {
    const int32_t x02 = load_pair(col + i), x13 = load_pair(col + i + 2);
    int32_t u = tinyc_load4(w0 + i);
    s0 = tinyc_smlad(x13, tinyc_sxtb16_hi(u), tinyc_smlad(x02, tinyc_sxtb16(u), s0));
    u = tinyc_load4(w1 + i);
    s1 = tinyc_smlad(x13, tinyc_sxtb16_hi(u), tinyc_smlad(x02, tinyc_sxtb16(u), s1));
    u = tinyc_load4(w2 + i);
    s2 = tinyc_smlad(x13, tinyc_sxtb16_hi(u), tinyc_smlad(x02, tinyc_sxtb16(u), s2));
    u = tinyc_load4(w3 + i);
    s3 = tinyc_smlad(x13, tinyc_sxtb16_hi(u), tinyc_smlad(x02, tinyc_sxtb16(u), s3));
  }
  for (; i < k; ++i) {
    const int32_t x = col[i];
    s0 += x * w0[i];
    s1 += x * w1[i];
    s2 += x * w2[i];
    s3 += x * w3[i];
  }
  y[(size_t)o * stride] = clamp16(tinyc_dsp_mbqm(s0, mult[o], shift[o]), lo, hi);
  y[(size_t)(o + 1) * stride] = clamp16(tinyc_dsp_mbqm(s1, mult[o + 1], shift[o + 1]), lo, hi);
  y[(size_t)(o + 2) * stride] = clamp16(tinyc_dsp_mbqm(s2, mult[o + 2], shift[o + 2]), lo, hi);
  y[(size_t)(o + 3) * stride] = clamp16(tinyc_dsp_mbqm(s3, mult[o + 3], shift[o + 3]), lo, hi);
}

/* outputs o0 and o1 (o1 == o0 for an odd last one) of a k-long dot product with `col`,
 * requantized into y[o0 * stride], y[o1 * stride] */
static void outputs2(const int16_t *col, const int8_t *W, const int64_t *B, int32_t k,
                     int32_t o0, int32_t o1, int32_t acc32, const int32_t *mult,
                     const int32_t *shift, int32_t lo, int32_t hi, int16_t *y, size_t stride) {
  const int8_t *w0 = W + (size_t)o0 * k, *w1 = W + (size_t)o1 * k;
  if (acc32) {
    int32_t a0 = B ? (int32_t)B[o0] : 0, a1 = B ? (int32_t)B[o1] : 0;
    dot2_32(col, w0, w1, k, &a0, &a1);
    y[(size_t)o0 * stride] = clamp16(tinyc_dsp_mbqm(a0, mult[o0], shift[o0]), lo, hi);
    y[(size_t)o1 * stride] = clamp16(tinyc_dsp_mbqm(a1, mult[o1], shift[o1]), lo, hi);
  } else {
    int64_t a0 = B ? B[o0] : 0, a1 = B ? B[o1] : 0;
    dot2_64(col, w0, w1, k, &a0, &a1);
    y[(size_t)o0 * stride] = tinyc_requantize64_one_s16(a0, mult[o0], shift[o0], 0, lo, hi);
    y[(size_t)o1 * stride] = tinyc_requantize64_one_s16(a1, mult[o1], shift[o1], 0, lo, hi);
  }
}

void tinyc_conv2d_s16(const int16_t *restrict X, const int8_t *restrict W,
                      const int64_t *restrict B, int16_t *restrict Y,
                      int32_t *restrict work, const tinyc_qconv16_params *p) {
  const int32_t cg = p->c / p->group, mg = p->m / p->group;
  const int32_t k = cg * p->kh * p->kw, k4 = k & ~3;
  const size_t plane = (size_t)p->oh * p->ow;
  int16_t *col = (int16_t *)work;
  int32_t n, g, oy, ox, c, ky, kx, m;
  for (n = 0; n < p->n; ++n) {
    for (g = 0; g < p->group; ++g) {
      for (oy = 0; oy < p->oh; ++oy) {
        const int32_t iy0 = oy * p->stride_h - p->pad_top;
        for (ox = 0; ox < p->ow; ++ox) {
          const int32_t ix0 = ox * p->stride_w - p->pad_left;
          int cg_done = 0;
          const int32_t first = tinyc_window_first(ix0, p->dil_w);
          const int32_t kx0 = first < p->kw ? first : p->kw;
          const int32_t kx1 = tinyc_window_end(ix0, p->dil_w, p->kw, p->w);
          int16_t *dst = col;
          if (p->kh == 1 && p->kw == 1) { /* pointwise: one value per channel */
            const size_t hw = (size_t)p->h * p->w;
            const int inside = iy0 >= 0 && iy0 < p->h && ix0 >= 0 && ix0 < p->w;
            const int16_t *xp = X + ((size_t)n * p->c + (size_t)g * cg) * hw +
                                (inside ? (size_t)iy0 * p->w + ix0 : 0);
            for (c = 0; c < cg; ++c) col[c] = inside ? xp[(size_t)c * hw] : 0;
            cg_done = 1;
          }
          for (c = 0; c < cg && !cg_done; ++c) {
            const int16_t *xc = X + (((size_t)n * p->c + (size_t)g * cg + c) * p->h) * p->w;
            for (ky = 0; ky < p->kh; ++ky, dst += p->kw) {
              const int32_t iy = iy0 + ky * p->dil_h;
              const int16_t *xr = xc + (size_t)iy * p->w + ix0;
              if (iy < 0 || iy >= p->h) {
                for (kx = 0; kx < p->kw; ++kx) dst[kx] = 0;
                continue;
              }
              for (kx = 0; kx < kx0; ++kx) dst[kx] = 0;
              for (kx = kx0; kx < kx1; ++kx) dst[kx] = xr[kx * p->dil_w];
              for (kx = kx1 > kx0 ? kx1 : kx0; kx < p->kw; ++kx) dst[kx] = 0;
            }
          }
          sxtb16_order(col, k4);
          int16_t *yp = Y + (size_t)n * p->m * plane + (size_t)oy * p->ow + ox;
          const int32_t m_end = (g + 1) * mg;
          for (m = g * mg; m < m_end;) {
            if (p->acc32 && m_end - m >= 4) {
              outputs4(col, W, B, k, m, p->multiplier, p->shift, p->act_min, p->act_max, yp,
                       plane);
              m += 4;
            } else {
              outputs2(col, W, B, k, m, m + 1 < m_end ? m + 1 : m, p->acc32, p->multiplier,
                       p->shift, p->act_min, p->act_max, yp, plane);
              m += 2;
            }
          }
        }
      }
    }
  }
}

void tinyc_depthwise_conv2d_s16(const int16_t *restrict X, const int8_t *restrict W,
                                const int64_t *restrict B, int16_t *restrict Y,
                                int32_t *restrict work, const tinyc_qconv16_params *p) {
  const int32_t per_channel = p->m / p->c;
  int32_t n, m, oy, ox, ky, kx;
  (void)work;
  if (!p->acc32) {
    tinyc_qconv16_direct(X, W, B, Y, p);
    return;
  }
  /* int32 accumulation proven: one multiply-accumulate per tap, the SMMUL requantization */
  for (n = 0; n < p->n; ++n) {
    for (m = 0; m < p->m; ++m) {
      const int16_t *xc = X + ((size_t)n * p->c + m / per_channel) * p->h * p->w;
      const int8_t *wm = W + (size_t)m * p->kh * p->kw;
      const int32_t bias = B ? (int32_t)B[m] : 0, q = p->multiplier[m], sh = p->shift[m];
      int16_t *ym = Y + ((size_t)n * p->m + m) * p->oh * p->ow;
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
            const int16_t *xr = xc + (size_t)(iy0 + ky * p->dil_h) * p->w + ix0;
            const int8_t *wr = wm + (size_t)ky * p->kw;
            for (kx = kx0; kx < kx1; ++kx) acc += (int32_t)xr[kx * p->dil_w] * wr[kx];
          }
          ym[(size_t)oy * p->ow + ox] = clamp16(tinyc_dsp_mbqm(acc, q, sh), p->act_min,
                                                p->act_max);
        }
      }
    }
  }
}

void tinyc_fully_connected_s16(const int16_t *restrict X, const int8_t *restrict W,
                               const int64_t *restrict B, int16_t *restrict Y,
                               int32_t *restrict work, const tinyc_qfc16_params *p) {
  const int32_t k = p->in_features, k4 = k & ~3, out = p->out_features;
  int16_t *row = (int16_t *)work;
  int32_t b, o;
  for (b = 0; b < p->batch; ++b) {
    const int16_t *x = X + (size_t)b * k;
    memcpy(row, x, (size_t)k * sizeof row[0]);
    sxtb16_order(row, k4);
    for (o = 0; o < out;) {
      if (p->acc32 && out - o >= 4) {
        outputs4(row, W, B, k, o, p->multiplier, p->shift, p->act_min, p->act_max,
                 Y + (size_t)b * out, 1);
        o += 4;
      } else {
        outputs2(row, W, B, k, o, o + 1 < out ? o + 1 : o, p->acc32, p->multiplier, p->shift,
                 p->act_min, p->act_max, Y + (size_t)b * out, 1);
        o += 2;
      }
    }
  }
}
