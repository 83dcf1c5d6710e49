/* Overlapping half-weight kernels on the Cortex-M4F/M7/M33: tinyc_inplace_f16w_loop.h
 * with VCVTB/VCVTT widening (tinyc_fpu_f16.h), two contiguous weights a word. A streamed
 * 1x1 conv holds one pixel, so each weight feeds one multiply-accumulate and is widened
 * where it is used: 8 output channels share each input load (as in tinyc_inplace.c). A
 * row-by-row conv widens 4 filters at a time and runs this variant's float conv row
 * (tinyc_fpu_conv.h) on them. */
#include <stddef.h>

#include "tinyc_fpu.h"
#include "tinyc_fpu_conv.h"
#include "tinyc_fpu_f16.h"

static void tinyc_f16w_widen(const uint16_t *src, float *dst, size_t n) {
  for (; n >= 2; n -= 2) {
    const tinyc_fpu_h2 w = tinyc_fpu_h2_load(src);
    src += 2;
    dst[0] = tinyc_fpu_h2f_lo(w);
    dst[1] = tinyc_fpu_h2f_hi(w);
    dst += 2;
  }
  if (n) *dst = tinyc_fpu_h2f(*src);
}

static float tinyc_f16w_dot(float acc, const float *x, size_t sx, const uint16_t *w, size_t sw,
                            int32_t n) {
  if (sw == 1) {
    for (; n >= 2; n -= 2) {
      const tinyc_fpu_h2 v = tinyc_fpu_h2_load(w);
      w += 2;
      TINYC_FPU_MAC(acc, x[0], tinyc_fpu_h2f_lo(v));
      TINYC_FPU_MAC(acc, x[sx], tinyc_fpu_h2f_hi(v));
      x += 2 * sx;
    }
  }
  for (; n > 0; --n) {
    TINYC_FPU_MAC(acc, *x, tinyc_fpu_h2f(*w));
    x += sx;
    w += sw;
  }
  return acc;
}

/* acc[j] += x . half row j of W for 8 rows `C` halves apart, x strided by `sx`, two input
 * channels a word. */
TINYC_FPU_F16_SPECIALIZE void dot8_as(float *acc, const float *x, size_t sx, const uint16_t *w,
                                      int32_t C, const int aligned) {
  const uint16_t *w0 = w, *w1 = w + C, *w2 = w + 2 * C, *w3 = w + 3 * C, *w4 = w + 4 * C,
                 *w5 = w + 5 * C, *w6 = w + 6 * C, *w7 = w + 7 * C;
  float s0 = acc[0], s1 = acc[1], s2 = acc[2], s3 = acc[3], s4 = acc[4], s5 = acc[5],
        s6 = acc[6], s7 = acc[7];
  int32_t c = C;
#define TINYC_F16W_MAC2(s, wp)                                                                 \
  do {                                                                                         \
    const tinyc_fpu_h2 h = TINYC_FPU_H2_LOAD(wp, aligned);                                     \
    wp += 2;                                                                                   \
    TINYC_FPU_MAC(s, tinyc_fpu_h2f_lo(h), v0);                                                 \
    TINYC_FPU_MAC(s, tinyc_fpu_h2f_hi(h), v1);                                                 \
  } while (0)
  for (; c >= 2; c -= 2) {
    const float v0 = x[0], v1 = x[sx];
    x += 2 * sx;
    TINYC_F16W_MAC2(s0, w0);
    TINYC_F16W_MAC2(s1, w1);
    TINYC_F16W_MAC2(s2, w2);
    TINYC_F16W_MAC2(s3, w3);
    TINYC_F16W_MAC2(s4, w4);
    TINYC_F16W_MAC2(s5, w5);
    TINYC_F16W_MAC2(s6, w6);
    TINYC_F16W_MAC2(s7, w7);
  }
#undef TINYC_F16W_MAC2
  if (c) {
    const float v = *x;
    TINYC_FPU_MAC(s0, tinyc_fpu_h2f(*w0), v);
    TINYC_FPU_MAC(s1, tinyc_fpu_h2f(*w1), v);
    TINYC_FPU_MAC(s2, tinyc_fpu_h2f(*w2), v);
    TINYC_FPU_MAC(s3, tinyc_fpu_h2f(*w3), v);
    TINYC_FPU_MAC(s4, tinyc_fpu_h2f(*w4), v);
    TINYC_FPU_MAC(s5, tinyc_fpu_h2f(*w5), v);
    TINYC_FPU_MAC(s6, tinyc_fpu_h2f(*w6), v);
    TINYC_FPU_MAC(s7, tinyc_fpu_h2f(*w7), v);
  }
  acc[0] = s0;
  acc[1] = s1;
  acc[2] = s2;
  acc[3] = s3;
  acc[4] = s4;
  acc[5] = s5;
  acc[6] = s6;
  acc[7] = s7;
}

static void dot8(float *acc, const float *x, size_t sx, const uint16_t *w, int32_t C) {
  if (tinyc_fpu_h2_aligned(w, C)) {
    dot8_as(acc, x, sx, w, C, 1);
  } else {
    dot8_as(acc, x, sx, w, C, 0);
  }
}

static void tinyc_f16w_pixel(const float *x, size_t sx, const uint16_t *W, const float *B,
                             float *out, size_t ostride, const tinyc_conv2d_params *p) {
  const int32_t C = p->c;
  int32_t m = 0, j;
  for (; m + 8 <= p->m; m += 8) {
    float acc[8];
    for (j = 0; j < 8; ++j) acc[j] = B ? B[m + j] : 0.0f;
    dot8(acc, x, sx, W + (size_t)m * C, C);
    tinyc_fpu_store4(out + (size_t)m * ostride, (int32_t)ostride, acc[0], acc[1], acc[2],
                     acc[3], &p->act);
    tinyc_fpu_store4(out + (size_t)(m + 4) * ostride, (int32_t)ostride, acc[4], acc[5],
                     acc[6], acc[7], &p->act);
  }
  for (; m < p->m; ++m) {
    const float acc = tinyc_f16w_dot(B ? B[m] : 0.0f, x, sx, W + (size_t)m * C, 1, C);
    out[(size_t)m * ostride] = tinyc_fpu_act1(acc, &p->act);
  }
}

/* acc[r][j] += sum_c x[c*sx + j] * W[r][c] for 4 half rows `C` apart and 4 pixels. */
TINYC_FPU_F16_SPECIALIZE void block4x4_as(float *acc, const float *x, size_t sx,
                                          const uint16_t *w, int32_t C, const int aligned) {
  const uint16_t *w0 = w, *w1 = w + C, *w2 = w + 2 * C, *w3 = w + 3 * C;
  float a00 = acc[0], a01 = acc[1], a02 = acc[2], a03 = acc[3];
  float a10 = acc[4], a11 = acc[5], a12 = acc[6], a13 = acc[7];
  float a20 = acc[8], a21 = acc[9], a22 = acc[10], a23 = acc[11];
  float a30 = acc[12], a31 = acc[13], a32 = acc[14], a33 = acc[15];
  int32_t c = C;
#define TINYC_F16W_ROW4(a0, a1, a2, a3, v, xp)                                                \
  do {                                                                                         \
    TINYC_FPU_MAC(a0, v, xp[0]);                                                               \
    TINYC_FPU_MAC(a1, v, xp[1]);                                                               \
    TINYC_FPU_MAC(a2, v, xp[2]);                                                               \
    TINYC_FPU_MAC(a3, v, xp[3]);                                                               \
  } while (0)
  for (; c >= 2; c -= 2) {
    const float *xa = x, *xb = x + sx;
    const tinyc_fpu_h2 h0 = TINYC_FPU_H2_LOAD(w0, aligned), h1 = TINYC_FPU_H2_LOAD(w1, aligned);
    const tinyc_fpu_h2 h2 = TINYC_FPU_H2_LOAD(w2, aligned), h3 = TINYC_FPU_H2_LOAD(w3, aligned);
    w0 += 2;
    w1 += 2;
    w2 += 2;
    w3 += 2;
    x += 2 * sx;
    TINYC_F16W_ROW4(a00, a01, a02, a03, tinyc_fpu_h2f_lo(h0), xa);
    TINYC_F16W_ROW4(a10, a11, a12, a13, tinyc_fpu_h2f_lo(h1), xa);
    TINYC_F16W_ROW4(a20, a21, a22, a23, tinyc_fpu_h2f_lo(h2), xa);
    TINYC_F16W_ROW4(a30, a31, a32, a33, tinyc_fpu_h2f_lo(h3), xa);
    TINYC_F16W_ROW4(a00, a01, a02, a03, tinyc_fpu_h2f_hi(h0), xb);
    TINYC_F16W_ROW4(a10, a11, a12, a13, tinyc_fpu_h2f_hi(h1), xb);
    TINYC_F16W_ROW4(a20, a21, a22, a23, tinyc_fpu_h2f_hi(h2), xb);
    TINYC_F16W_ROW4(a30, a31, a32, a33, tinyc_fpu_h2f_hi(h3), xb);
  }
  if (c) {
    TINYC_F16W_ROW4(a00, a01, a02, a03, tinyc_fpu_h2f(*w0), x);
    TINYC_F16W_ROW4(a10, a11, a12, a13, tinyc_fpu_h2f(*w1), x);
    TINYC_F16W_ROW4(a20, a21, a22, a23, tinyc_fpu_h2f(*w2), x);
    TINYC_F16W_ROW4(a30, a31, a32, a33, tinyc_fpu_h2f(*w3), x);
  }
#undef TINYC_F16W_ROW4
  acc[0] = a00;
  acc[1] = a01;
  acc[2] = a02;
  acc[3] = a03;
  acc[4] = a10;
  acc[5] = a11;
  acc[6] = a12;
  acc[7] = a13;
  acc[8] = a20;
  acc[9] = a21;
  acc[10] = a22;
  acc[11] = a23;
  acc[12] = a30;
  acc[13] = a31;
  acc[14] = a32;
  acc[15] = a33;
}

static void tinyc_f16w_pixels4(const float *x, size_t sx, const uint16_t *W, const float *B,
                               float *out, size_t ostride, const tinyc_conv2d_params *p) {
  const int32_t C = p->c;
  const int aligned = tinyc_fpu_h2_aligned(W, C);
  int32_t m = 0, r;
  for (; m + 4 <= p->m; m += 4) {
    float acc[16];
    for (r = 0; r < 4; ++r) {
      acc[4 * r] = acc[4 * r + 1] = acc[4 * r + 2] = acc[4 * r + 3] = B ? B[m + r] : 0.0f;
    }
    if (aligned) {
      block4x4_as(acc, x, sx, W + (size_t)m * C, C, 1);
    } else {
      block4x4_as(acc, x, sx, W + (size_t)m * C, C, 0);
    }
    for (r = 0; r < 4; ++r) {
      tinyc_fpu_store4(out + (size_t)(m + r) * ostride, 1, acc[4 * r], acc[4 * r + 1],
                       acc[4 * r + 2], acc[4 * r + 3], &p->act);
    }
  }
  for (; m < p->m; ++m) {
    for (r = 0; r < 4; ++r) {
      const float acc = tinyc_f16w_dot(B ? B[m] : 0.0f, x + r, sx, W + (size_t)m * C, 1, C);
      out[(size_t)m * ostride + (size_t)r] = tinyc_fpu_act1(acc, &p->act);
    }
  }
}

static void tinyc_f16w_row(const float *X, const float *filters, const float *B, float *out,
                           size_t ch_stride, int32_t k, int32_t oy,
                           const tinyc_conv2d_params *p) {
  tinyc_fpu_conv_row(X, filters, B, out, ch_stride, 0, k, oy, p);
}

#include "tinyc_inplace_f16w_loop.h"
