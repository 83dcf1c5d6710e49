/* Helium (MVE) building blocks of the Cortex-M55 int8 kernels, each with a plain C form of
 * exactly the same result, so the kernels build and are checked on any host too.
 *
 * The int8 dot products take raw int8 inputs (16 lanes per VMLADAVA.S8); the input offset
 * of tinyc_qconv.h / tinyc_qfc.h is added once per output as input_offset * sum(w), which
 * equals sum (x + input_offset) * w in int32 (padding holds the input zero point, whose
 * term is 0 either way). Requantization of four outputs of one channel runs in one vector
 * when the portable rule allows it bit for bit (see tinyc_mve_requant4), else per output. */
#ifndef TINYC_MVE_H
#define TINYC_MVE_H

#include "tinyc_fixedpoint.h"
#include "tinyc_rt.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1) && !defined(TINYC_NO_MVE)
#define TINYC_MVE 1
#include <arm_mve.h>
#else
#define TINYC_MVE 0
#endif

/* dst[0..n) = src[0..n) (newlib's memcpy goes byte by byte on small copies) */
TINYC_INLINE void tinyc_mve_copy(int8_t *dst, const int8_t *src, int32_t n) {
#if TINYC_MVE
  for (; n >= 16; n -= 16, dst += 16, src += 16) vstrbq_s8(dst, vldrbq_s8(src));
  if (n > 0) vstrbq_p_s8(dst, vldrbq_z_s8(src, vctp8q((uint32_t)n)), vctp8q((uint32_t)n));
#else
  for (; n > 0; --n) *dst++ = *src++;
#endif
}

/* sum of w[0..n) */
TINYC_INLINE int32_t tinyc_mve_sum_s8(const int8_t *w, int32_t n) {
  int32_t s = 0;
#if TINYC_MVE
  int32_t i;
  for (i = n >> 4; i > 0; --i, w += 16) s = vaddvaq_s8(s, vldrbq_s8(w));
  if (n & 15) s = vaddvaq_s8(s, vldrbq_z_s8(w, vctp8q((uint32_t)(n & 15))));
#else
  for (; n > 0; --n) s += *w++;
#endif
  return s;
}

/* acc + sum_k w[k] * x[k] */
TINYC_INLINE int32_t tinyc_mve_dot(const int8_t *w, const int8_t *x, int32_t n, int32_t acc) {
#if TINYC_MVE
  int32_t i;
  for (i = n >> 4; i > 0; --i, w += 16, x += 16) {
    acc = vmladavaq_s8(acc, vldrbq_s8(w), vldrbq_s8(x));
  }
  if (n & 15) {
    const mve_pred16_t p = vctp8q((uint32_t)(n & 15));
    acc = vmladavaq_s8(acc, vldrbq_z_s8(w, p), vldrbq_z_s8(x, p));
  }
#else
  for (; n > 0; --n) acc += *w++ * *x++;
#endif
  return acc;
}

/* gcc 12 at -O2 merges a few adjacent int32 stores into one MVE vector store through a
 * stack temporary (SLP vectorization), which grows the frame of a function whose frame
 * sits on the deepest stack chain; TINYC_MVE_NO_SLP keeps such a function's stores scalar. */
#if TINYC_MVE && defined(__GNUC__) && !defined(__clang__)
#define TINYC_MVE_NO_SLP __attribute__((optimize("no-tree-slp-vectorize")))
#else
#define TINYC_MVE_NO_SLP
#endif

#if TINYC_MVE
/* A compiler-only barrier (no instruction): loads after it stay after it. gcc 12 otherwise
 * hoists a loop body's loads ahead of their multiplies, needs more than the four Q registers
 * a call may clobber and saves Q4-Q7 (64 B) or spills vectors on the stack. */
#define TINYC_MVE_BARRIER() __asm__ volatile("" ::: "memory")

/* base + sum_k w[k] * x[j * n + k] in lane j, for the four rows j < 4 of x: per 16 steps
 * five loads and four VMLADAVA (64 MACs), the sums in registers until the end */
TINYC_INLINE int32x4_t tinyc_mve_dot1x4_v(const int8_t *w, const int8_t *x, int32_t n,
                                          int32_t base) {
  const int8_t *x0 = x, *x1 = x + n, *x2 = x + 2 * n, *x3 = x + 3 * n;
  int32_t a0 = base, a1 = base, a2 = base, a3 = base, i;
  const int32_t k = n & 15;
  for (i = n >> 4; i > 0; --i) { /* a counted loop: gcc makes it a low-overhead DLS/LE loop */
    const int8x16_t wv = vldrbq_s8(w);
    a0 = vmladavaq_s8(a0, wv, vldrbq_s8(x0));
    TINYC_MVE_BARRIER();
    a1 = vmladavaq_s8(a1, wv, vldrbq_s8(x1));
    TINYC_MVE_BARRIER();
    a2 = vmladavaq_s8(a2, wv, vldrbq_s8(x2));
    TINYC_MVE_BARRIER();
    a3 = vmladavaq_s8(a3, wv, vldrbq_s8(x3));
    TINYC_MVE_BARRIER();
    w += 16, x0 += 16, x1 += 16, x2 += 16, x3 += 16;
  }
  if (k > 0) { /* zeroed lanes are not read and add 0 */
    const mve_pred16_t p = vctp8q((uint32_t)k);
    const int8x16_t wv = vldrbq_z_s8(w, p);
    a0 = vmladavaq_s8(a0, wv, vldrbq_z_s8(x0, p));
    TINYC_MVE_BARRIER();
    a1 = vmladavaq_s8(a1, wv, vldrbq_z_s8(x1, p));
    TINYC_MVE_BARRIER();
    a2 = vmladavaq_s8(a2, wv, vldrbq_z_s8(x2, p));
    TINYC_MVE_BARRIER();
    a3 = vmladavaq_s8(a3, wv, vldrbq_z_s8(x3, p));
  }
  return vsetq_lane_s32(a3, vsetq_lane_s32(a2, vsetq_lane_s32(a1, vdupq_n_s32(a0), 1), 2), 3);
}
#endif

/* s[j] = base + sum_k w[k] * x[j * n + k] for the four rows j < 4 of x */
TINYC_INLINE void tinyc_mve_dot1x4(const int8_t *w, const int8_t *x, int32_t n, int32_t base,
                                   int32_t s[4]) {
#if TINYC_MVE
  vstrwq_s32(s, tinyc_mve_dot1x4_v(w, x, n, base));
#else
  int32_t k, j;
  for (j = 0; j < 4; ++j, x += n) {
    int32_t a = base;
    for (k = 0; k < n; ++k) a += w[k] * x[k];
    s[j] = a;
  }
#endif
}

/* s[j] += sum_k w[j * n + k] * x[k] for two rows j < 2 of w (fully connected) */
TINYC_INLINE void tinyc_mve_dot2x1(const int8_t *w, const int8_t *x, int32_t n, int32_t s[2]) {
  const int8_t *w0 = w, *w1 = w + n;
  int32_t a0 = s[0], a1 = s[1];
#if TINYC_MVE
  const int32_t k = n & 15;
  int32_t i;
  for (i = n >> 4; i > 0; --i) {
    const int8x16_t xv = vldrbq_s8(x);
    a0 = vmladavaq_s8(a0, xv, vldrbq_s8(w0));
    a1 = vmladavaq_s8(a1, xv, vldrbq_s8(w1));
    x += 16, w0 += 16, w1 += 16;
  }
  if (k > 0) {
    const mve_pred16_t p = vctp8q((uint32_t)k);
    const int8x16_t xv = vldrbq_z_s8(x, p);
    a0 = vmladavaq_s8(a0, xv, vldrbq_z_s8(w0, p));
    a1 = vmladavaq_s8(a1, xv, vldrbq_z_s8(w1, p));
  }
#else
  int32_t k;
  for (k = 0; k < n; ++k) {
    a0 += x[k] * w0[k];
    a1 += x[k] * w1[k];
  }
#endif
  s[0] = a0, s[1] = a1;
}

/* One output channel's requantization (tinyc_requantize_one's arguments). */
typedef struct {
  int32_t q, shift, zp, act_min, act_max;
} tinyc_mve_rq;

TINYC_INLINE tinyc_mve_rq tinyc_mve_rq_make(int32_t q, int32_t shift, int32_t zp,
                                            int32_t act_min, int32_t act_max) {
  tinyc_mve_rq r;
  r.q = q, r.shift = shift, r.zp = zp, r.act_min = act_min, r.act_max = act_max;
  return r;
}

/* y[j] = tinyc_requantize_one(s[j], ...) for j < n <= 4. With shift <= -2 the rounding
 * right shift by T = 31 - shift >= 33 of the 64-bit product equals a rounding shift by
 * T - 32 of its high word (the low word only adds a fraction below the rounding step), so
 * VMULH + VRSHL give tinyc_mbqm's bits, and no saturation is needed. Other shifts (small
 * or positive ones, onnxruntime's float scale) take the portable form. */
TINYC_INLINE void tinyc_mve_requant4(const int32_t s[4], int32_t n, const tinyc_mve_rq *r,
                                     int8_t *y) {
  int32_t j;
#if TINYC_MVE
  if (r->shift <= -2 && r->shift >= -31) {
    int32x4_t v = vmulhq_s32(vldrwq_s32(s), vdupq_n_s32(r->q));
    v = vrshlq_n_s32(v, 1 + r->shift);
    v = vminq_s32(vmaxq_s32(v, vdupq_n_s32(r->act_min - r->zp)), vdupq_n_s32(r->act_max - r->zp));
    v = vaddq_n_s32(v, r->zp);
    if (n == 4) {
      vstrbq_s32(y, v);
    } else {
      vstrbq_p_s32(y, v, vctp32q((uint32_t)n));
    }
    return;
  }
#endif
  for (j = 0; j < n; ++j) {
    y[j] = tinyc_requantize_one(s[j], r->q, r->shift, r->zp, r->act_min, r->act_max);
  }
}

#endif /* TINYC_MVE_H */
