/* Float32 building blocks of the Cortex-M4F/M7/M33 kernel variants (private to them).
 *
 * The single-precision FPU has 32 registers: kernels keep 4..16 accumulators in registers
 * and reuse every loaded value several times. Every accumulation runs in the same order as
 * the portable kernels (bias first, then the reduction index ascending), so the ordinary
 * and the in-place ("stream") forms of a kernel give identical bits.
 *
 * TINYC_FPU_MAC uses fmaf where the FPU fuses multiply-adds (one VFMA.F32): in the ISO C
 * modes compilers otherwise keep a * b + c as two instructions. Elsewhere (a host build of
 * these kernels, for testing) it is the plain expression. */
#ifndef TINYC_FPU_H
#define TINYC_FPU_H

#include <math.h>

#include "tinyc_act.h"
#include "tinyc_rt.h"

#if defined(FP_FAST_FMAF) || defined(__ARM_FEATURE_FMA)
#define TINYC_FPU_MAC(acc, a, b) ((acc) = fmaf((a), (b), (acc)))
#else
#define TINYC_FPU_MAC(acc, a, b) ((acc) += (a) * (b))
#endif

/* a = p[0], b = p[1], c = p[2], d = p[3]: one VLDM where the FPU and the GNU inline assembly
 * syntax are there (VLDM needs consecutive registers, so the four are pinned to s8-s11,
 * which no function argument uses), four loads elsewhere. Compilers never merge loads into
 * a VLDM themselves. */
#if defined(__ARM_FP) && (defined(__GNUC__) || defined(__clang__))
#define TINYC_FPU_LOAD4(p, a, b, c, d)                                                         \
  do {                                                                                         \
    register float r0_ __asm__("s8");                                                          \
    register float r1_ __asm__("s9");                                                          \
    register float r2_ __asm__("s10");                                                         \
    register float r3_ __asm__("s11");                                                         \
    __asm__("vldmia %4, {s8-s11}"                                                              \
            : "=t"(r0_), "=t"(r1_), "=t"(r2_), "=t"(r3_)                                       \
            : "r"(p), "m"(*(const float(*)[4])(p)));                                           \
    (a) = r0_;                                                                                 \
    (b) = r1_;                                                                                 \
    (c) = r2_;                                                                                 \
    (d) = r3_;                                                                                 \
  } while (0)
#else
#define TINYC_FPU_LOAD4(p, a, b, c, d)                                                         \
  do {                                                                                         \
    (a) = (p)[0];                                                                              \
    (b) = (p)[1];                                                                              \
    (c) = (p)[2];                                                                              \
    (d) = (p)[3];                                                                              \
  } while (0)
#endif

/* On a Helium core (Cortex-M55) gcc 12 vectorizes these scalar loops at -O2 with MVE and
 * spills Q registers: the dense conv row's frame grows 392 -> 1,080 B, the streamed
 * depthwise 336 -> 456 B, the stack of NAME_run past 1.2 KiB. They are written for the
 * FPU's 32 single registers; TINYC_FPU_SCALAR keeps a function scalar. */
#if defined(__ARM_FEATURE_MVE) && defined(__GNUC__) && !defined(__clang__)
#define TINYC_FPU_SCALAR __attribute__((optimize("no-tree-vectorize")))
#else
#define TINYC_FPU_SCALAR
#endif

#if defined(__GNUC__) || defined(__clang__)
#define TINYC_FPU_NOINLINE __attribute__((noinline, unused))
#else
#define TINYC_FPU_NOINLINE
#endif

/* The activations other than the clamp, out of line: inlined into every store they would
 * multiply the code size for no speed (they are rare, and costly anyway). */
static TINYC_FPU_NOINLINE float tinyc_fpu_act_other(float v, const tinyc_act *act) {
  return tinyc_act_f32(v, act);
}

/* Stores 4 results `step` floats apart through the fused activation; the activation kind
 * is tested once per 4 results, and the common clamp (Relu, Relu6, Clip) is inline. */
TINYC_INLINE void tinyc_fpu_store4(float *y, int32_t step, float v0, float v1, float v2,
                                   float v3, const tinyc_act *act) {
  if (act->kind == TINYC_ACT_CLIP) {
    const float lo = act->a, hi = act->b;
    v0 = tinyc_clampf(v0, lo, hi);
    v1 = tinyc_clampf(v1, lo, hi);
    v2 = tinyc_clampf(v2, lo, hi);
    v3 = tinyc_clampf(v3, lo, hi);
  } else if (act->kind != TINYC_ACT_NONE) {
    v0 = tinyc_fpu_act_other(v0, act);
    v1 = tinyc_fpu_act_other(v1, act);
    v2 = tinyc_fpu_act_other(v2, act);
    v3 = tinyc_fpu_act_other(v3, act);
  }
  y[0] = v0;
  y[step] = v1;
  y[2 * step] = v2;
  y[3 * step] = v3;
}

/* One result through the fused activation, the common clamp inline. */
TINYC_INLINE float tinyc_fpu_act1(float v, const tinyc_act *act) {
  if (act->kind == TINYC_ACT_CLIP) return tinyc_clampf(v, act->a, act->b);
  return act->kind == TINYC_ACT_NONE ? v : tinyc_fpu_act_other(v, act);
}

/* acc + a[0]*b[0] + ... + a[n-1]*b[n-1], b strided by `sb`, in index order. */
TINYC_INLINE float tinyc_fpu_dot(float acc, const float *a, const float *b, int32_t sb,
                                  int32_t n) {
  if (sb == 1) {
    for (; n >= 4; n -= 4) {
      TINYC_FPU_MAC(acc, a[0], b[0]);
      TINYC_FPU_MAC(acc, a[1], b[1]);
      TINYC_FPU_MAC(acc, a[2], b[2]);
      TINYC_FPU_MAC(acc, a[3], b[3]);
      a += 4;
      b += 4;
    }
    for (; n > 0; --n) TINYC_FPU_MAC(acc, *a++, *b++);
  } else {
    for (; n > 0; --n) {
      TINYC_FPU_MAC(acc, *a++, *b);
      b += sb;
    }
  }
  return acc;
}

/* acc[j] += a . row j of B for 4 rows `rs` floats apart (rows contiguous): each a[l] is
 * loaded once for 4 multiply-accumulates, l unrolled by 4. */
TINYC_INLINE void tinyc_fpu_dot4(float *acc, const float *a, const float *b, int32_t rs,
                                 int32_t n) {
  const float *b0 = b, *b1 = b + rs, *b2 = b + 2 * rs, *b3 = b + 3 * rs;
  float s0 = acc[0], s1 = acc[1], s2 = acc[2], s3 = acc[3];
  for (; n >= 4; n -= 4) {
    const float x0 = a[0], x1 = a[1], x2 = a[2], x3 = a[3];
    a += 4;
    TINYC_FPU_MAC(s0, b0[0], x0);
    TINYC_FPU_MAC(s1, b1[0], x0);
    TINYC_FPU_MAC(s2, b2[0], x0);
    TINYC_FPU_MAC(s3, b3[0], x0);
    TINYC_FPU_MAC(s0, b0[1], x1);
    TINYC_FPU_MAC(s1, b1[1], x1);
    TINYC_FPU_MAC(s2, b2[1], x1);
    TINYC_FPU_MAC(s3, b3[1], x1);
    TINYC_FPU_MAC(s0, b0[2], x2);
    TINYC_FPU_MAC(s1, b1[2], x2);
    TINYC_FPU_MAC(s2, b2[2], x2);
    TINYC_FPU_MAC(s3, b3[2], x2);
    TINYC_FPU_MAC(s0, b0[3], x3);
    TINYC_FPU_MAC(s1, b1[3], x3);
    TINYC_FPU_MAC(s2, b2[3], x3);
    TINYC_FPU_MAC(s3, b3[3], x3);
    b0 += 4;
    b1 += 4;
    b2 += 4;
    b3 += 4;
  }
  for (; n > 0; --n) {
    const float x0 = *a++;
    TINYC_FPU_MAC(s0, *b0++, x0);
    TINYC_FPU_MAC(s1, *b1++, x0);
    TINYC_FPU_MAC(s2, *b2++, x0);
    TINYC_FPU_MAC(s3, *b3++, x0);
  }
  acc[0] = s0;
  acc[1] = s1;
  acc[2] = s2;
  acc[3] = s3;
}

/* acc[j] += sum_l a[l*sa] * B[l*n + j] for 4 adjacent columns j (B row-major [k, n]). */
TINYC_INLINE void tinyc_fpu_dot4_cols(float *acc, const float *a, int32_t sa, const float *b,
                                       int32_t n, int32_t k) {
  float s0 = acc[0], s1 = acc[1], s2 = acc[2], s3 = acc[3];
  for (; k > 0; --k) {
    const float x = *a;
    a += sa;
    TINYC_FPU_MAC(s0, b[0], x);
    TINYC_FPU_MAC(s1, b[1], x);
    TINYC_FPU_MAC(s2, b[2], x);
    TINYC_FPU_MAC(s3, b[3], x);
    b += n;
  }
  acc[0] = s0;
  acc[1] = s1;
  acc[2] = s2;
  acc[3] = s3;
}

#endif /* TINYC_FPU_H */
