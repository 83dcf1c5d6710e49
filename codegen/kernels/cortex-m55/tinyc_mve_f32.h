/* Helium (MVE) float32 building blocks of the Cortex-M55 float kernels (private to them),
 * each with a plain C form of the same result, so the kernels build and are checked on
 * any host too (the vector forms run on QEMU's Cortex-M55).
 *
 * A vector holds 4 floats: the kernels put output pixels (or output columns) in the lanes
 * and multiply them by one scalar weight (VFMA.F32 Qd, Qn, Rm), so the weights keep the
 * portable layout and every loaded input vector feeds several output channels. */
#ifndef TINYC_MVE_F32_H
#define TINYC_MVE_F32_H

#include <string.h>

#include "tinyc_fpu.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2) && !defined(TINYC_NO_MVE)
#define TINYC_MVE_F32 1
#include <arm_mve.h>
typedef float32x4_t tinyc_v4;
typedef uint32x4_t tinyc_u4;
typedef mve_pred16_t tinyc_p4;
#else
#define TINYC_MVE_F32 0
typedef struct {
  float v[4];
} tinyc_v4;
typedef struct {
  uint32_t v[4];
} tinyc_u4;
typedef uint32_t tinyc_p4; /* lane i active: bit i */
#endif

/* the Helium float loops in assembly: gcc only, and optimized builds only (at -O0 gcc
 * keeps r7 as the frame pointer and has too few registers for their operands) */
#if TINYC_MVE_F32 && defined(__GNUC__) && !defined(__clang__) && defined(__OPTIMIZE__)
#define TINYC_MVE_F32_ASM 1
#else
#define TINYC_MVE_F32_ASM 0
#endif

/* all lanes s */
TINYC_INLINE tinyc_v4 tinyc_v4_dup(float s) {
#if TINYC_MVE_F32
  return vdupq_n_f32(s);
#else
  tinyc_v4 r;
  r.v[0] = r.v[1] = r.v[2] = r.v[3] = s;
  return r;
#endif
}

/* the first n (1..4) floats at x, the other lanes zero (not read) */
TINYC_INLINE tinyc_v4 tinyc_v4_load(const float *x, int32_t n) {
#if TINYC_MVE_F32
  return n >= 4 ? vld1q_f32(x) : vldrwq_z_f32(x, vctp32q((uint32_t)n));
#else
  tinyc_v4 r;
  int32_t i;
  for (i = 0; i < 4; ++i) r.v[i] = i < n ? x[i] : 0.0f;
  return r;
#endif
}

/* the lanes i with 0 <= first + i * step < w (columns inside a row) */
TINYC_INLINE tinyc_p4 tinyc_p4_inside(int32_t first, int32_t step, int32_t w) {
#if TINYC_MVE_F32
  const int32x4_t col = vaddq_n_s32(
      vmulq_n_s32(vreinterpretq_s32_u32(vidupq_n_u32(0, 1)), step), first);
  return vcmpltq_m_n_s32(col, w, vcmpgeq_n_s32(col, 0));
#else
  tinyc_p4 m = 0;
  int32_t i;
  for (i = 0; i < 4; ++i) m |= (first + i * step >= 0 && first + i * step < w) ? 1u << i : 0u;
  return m;
#endif
}

/* x[i] in the active lanes (only those are read), zero in the others */
TINYC_INLINE tinyc_v4 tinyc_v4_load_p(const float *x, tinyc_p4 pred) {
#if TINYC_MVE_F32
  return vldrwq_z_f32(x, pred);
#else
  tinyc_v4 r;
  int32_t i;
  for (i = 0; i < 4; ++i) r.v[i] = (pred >> i) & 1u ? x[i] : 0.0f;
  return r;
#endif
}

/* lane offsets 0, s, 2s, 3s (floats) for tinyc_v4_gather */
TINYC_INLINE tinyc_u4 tinyc_u4_steps(int32_t s) {
#if TINYC_MVE_F32
  return vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)s);
#else
  tinyc_u4 r;
  int32_t i;
  for (i = 0; i < 4; ++i) r.v[i] = (uint32_t)(i * s);
  return r;
#endif
}

/* u[i] + s in every lane (an offset below zero wraps, for lanes a predicate leaves out) */
TINYC_INLINE tinyc_u4 tinyc_u4_add(tinyc_u4 u, int32_t s) {
#if TINYC_MVE_F32
  return vaddq_n_u32(u, (uint32_t)s);
#else
  int32_t i;
  for (i = 0; i < 4; ++i) u.v[i] += (uint32_t)s;
  return u;
#endif
}

/* lane offsets min(i, n - 1) s (floats) for tinyc_v4_gather: the lanes past the first n
 * (1..4) repeat the last one */
TINYC_INLINE tinyc_u4 tinyc_u4_steps_upto(int32_t s, int32_t n) {
#if TINYC_MVE_F32
  return vminq_u32(tinyc_u4_steps(s), vdupq_n_u32((uint32_t)((n - 1) * s)));
#else
  tinyc_u4 r;
  int32_t i;
  for (i = 0; i < 4; ++i) r.v[i] = (uint32_t)((i < n ? i : n - 1) * s);
  return r;
#endif
}

/* the 4 floats x[offs[i]] */
TINYC_INLINE tinyc_v4 tinyc_v4_gather(const float *x, tinyc_u4 offs) {
#if TINYC_MVE_F32
  return vldrwq_gather_shifted_offset_f32(x, offs);
#else
  tinyc_v4 r;
  int32_t i;
  for (i = 0; i < 4; ++i) r.v[i] = x[offs.v[i]];
  return r;
#endif
}

/* x[offs[i]] in the active lanes (only those are read), zero in the others */
TINYC_INLINE tinyc_v4 tinyc_v4_gather_p(const float *x, tinyc_u4 offs, tinyc_p4 pred) {
#if TINYC_MVE_F32
  return vldrwq_gather_shifted_offset_z_f32(x, offs, pred);
#else
  tinyc_v4 r;
  int32_t i;
  for (i = 0; i < 4; ++i) r.v[i] = (pred >> i) & 1u ? x[offs.v[i]] : 0.0f;
  return r;
#endif
}

/* acc + x * w, lane by lane (one fused multiply-add) */
TINYC_INLINE tinyc_v4 tinyc_v4_fma(tinyc_v4 acc, tinyc_v4 x, float w) {
#if TINYC_MVE_F32
  return vfmaq_n_f32(acc, x, w);
#else
  int32_t i;
  for (i = 0; i < 4; ++i) TINYC_FPU_MAC(acc.v[i], x.v[i], w);
  return acc;
#endif
}

/* y[0..4) = v, as is */
TINYC_INLINE void tinyc_v4_put(float *y, tinyc_v4 v) {
#if TINYC_MVE_F32
  vst1q_f32(y, v);
#else
  memcpy(y, v.v, sizeof v.v);
#endif
}

/* dst[0..n) = src[0..n) for buffers apart, 4 floats per vector (the library copies go
 * element by element on short rows): a tail past 4 floats is copied as the last 4, over
 * floats already copied, a shorter row under a lane predicate. */
TINYC_INLINE void tinyc_v4_copy(float *dst, const float *src, int32_t n) {
#if TINYC_MVE_F32
  const int32_t tail = n & 3;
  if (n < 4) {
    if (n > 0) vstrwq_p_f32(dst, vldrwq_z_f32(src, vctp32q((uint32_t)n)), vctp32q((uint32_t)n));
    return;
  }
  for (; n >= 4; n -= 4, dst += 4, src += 4) vst1q_f32(dst, vld1q_f32(src));
  if (tail) vst1q_f32(dst + tail - 4, vld1q_f32(src + tail - 4));
#else
  for (; n > 0; --n) *dst++ = *src++;
#endif
}

/* `rows` rows of n floats (tinyc_v4_copy), dst's rows ds floats apart, src's ss: a row of
 * 4 to 8 floats (KWS's 5-wide planes) as its first 4 and its last 4, no loop or predicate
 * (the library and the row loop cost more than the copy on such rows). */
TINYC_INLINE void tinyc_v4_copy_rows(float *dst, size_t ds, const float *src, size_t ss,
                                     int32_t n, int32_t rows) {
  if (n >= 4 && n <= 8) {
    for (; rows > 0; --rows, dst += ds, src += ss) {
      tinyc_v4_put(dst, tinyc_v4_load(src, 4));
      tinyc_v4_put(dst + n - 4, tinyc_v4_load(src + n - 4, 4));
    }
    return;
  }
  for (; rows > 0; --rows, dst += ds, src += ss) tinyc_v4_copy(dst, src, n);
}

/* v clamped to [lo, hi] lane by lane, a NaN kept (the scalar rule: v < lo ? lo : v > hi ?
 * hi : v), in 4 instructions: gcc 12 moves the predicate of each VCMP out to a core
 * register and back before its VPSEL (6 more instructions a clamp, on every stored vector
 * of every kernel), so its Helium form is assembly there (the predicate an output in VPR,
 * "Up", so gcc keeps one of its own around it). */
TINYC_INLINE tinyc_v4 tinyc_v4_clamp(tinyc_v4 v, tinyc_v4 lo, tinyc_v4 hi) {
#if TINYC_MVE_F32_ASM
  tinyc_p4 vpr;
  __asm__("vcmp.f32 lt, %q[v], %q[lo]\n\t"
          "vpsel %q[v], %q[lo], %q[v]\n\t"
          "vcmp.f32 gt, %q[v], %q[hi]\n\t"
          "vpsel %q[v], %q[hi], %q[v]"
          : [v] "+w"(v), [vpr] "=Up"(vpr)
          : [lo] "w"(lo), [hi] "w"(hi));
  (void)vpr;
  return v;
#elif TINYC_MVE_F32
  v = vpselq_f32(lo, v, vcmpltq_f32(v, lo));
  return vpselq_f32(hi, v, vcmpgtq_f32(v, hi));
#else
  int32_t i;
  for (i = 0; i < 4; ++i) v.v[i] = tinyc_clampf(v.v[i], lo.v[i], hi.v[i]);
  return v;
#endif
}

/* y[offs[i]] = v[i] through the fused activation (as tinyc_v4_store) */
TINYC_INLINE void tinyc_v4_scatter(float *y, tinyc_u4 offs, tinyc_v4 v, const tinyc_act *act) {
  int32_t i;
#if TINYC_MVE_F32
  uint32_t o[4];
  if (act->kind == TINYC_ACT_CLIP) v = tinyc_v4_clamp(v, vdupq_n_f32(act->a), vdupq_n_f32(act->b));
  vstrwq_scatter_shifted_offset_f32(y, offs, v);
  if (act->kind != TINYC_ACT_NONE && act->kind != TINYC_ACT_CLIP) {
    vst1q_u32(o, offs);
    for (i = 0; i < 4; ++i) y[o[i]] = tinyc_fpu_act_other(y[o[i]], act);
  }
#else
  for (i = 0; i < 4; ++i) y[offs.v[i]] = tinyc_fpu_act1(v.v[i], act);
#endif
}

/* Stores the first n (1..4) lanes of v at y, clamped when the fused activation is a clamp
 * (Relu, Relu6, Clip; in vector form with the scalar rule's NaN behaviour), as they are
 * for any other activation: the caller applies that one afterwards (tinyc_v4_store). */
TINYC_INLINE void tinyc_v4_store_clamp(float *y, tinyc_v4 v, int32_t n, const tinyc_act *act) {
#if TINYC_MVE_F32
  if (act->kind == TINYC_ACT_CLIP) v = tinyc_v4_clamp(v, vdupq_n_f32(act->a), vdupq_n_f32(act->b));
  if (n >= 4) {
    vst1q_f32(y, v);
  } else {
    vstrwq_p_f32(y, v, vctp32q((uint32_t)n));
  }
#else
  int32_t i;
  for (i = 0; i < n && i < 4; ++i) {
    y[i] = act->kind == TINYC_ACT_CLIP ? tinyc_fpu_act1(v.v[i], act) : v.v[i];
  }
#endif
}

/* Stores the first n (1..4) lanes of v at y through the fused activation: the clamp in
 * vector form (tinyc_v4_store_clamp), any other activation lane by lane. */
TINYC_INLINE void tinyc_v4_store(float *y, tinyc_v4 v, int32_t n, const tinyc_act *act) {
  int32_t i;
  tinyc_v4_store_clamp(y, v, n, act);
  if (act->kind != TINYC_ACT_NONE && act->kind != TINYC_ACT_CLIP) {
    for (i = 0; i < n && i < 4; ++i) y[i] = tinyc_fpu_act_other(y[i], act);
  }
}

/* acc + a * b, lane by lane */
TINYC_INLINE tinyc_v4 tinyc_v4_fmav(tinyc_v4 acc, tinyc_v4 a, tinyc_v4 b) {
#if TINYC_MVE_F32
  return vfmaq_f32(acc, a, b);
#else
  int32_t i;
  for (i = 0; i < 4; ++i) TINYC_FPU_MAC(acc.v[i], a.v[i], b.v[i]);
  return acc;
#endif
}

/* a_j += sum over k pairs of input channels of x0 * u_j[0] + x1 * u_j[1], where x0 and x1
 * are the 4 floats at x and x + sx (then x advances 2 sx and each u_j two weights): four
 * accumulators fed by every loaded input vector. The Helium form is assembly (gcc): a
 * low-overhead loop of 17 instructions per 32 multiply-accumulates, each channel's two
 * weights one LDRD (compilers load them one by one, each with its own pointer step). */
TINYC_INLINE void tinyc_v4_fma4_pairs(tinyc_v4 *a0, tinyc_v4 *a1, tinyc_v4 *a2, tinyc_v4 *a3,
                                      const float *x, size_t sx, const float *u0,
                                      const float *u1, const float *u2, const float *u3,
                                      int32_t k) {
#if TINYC_MVE_F32_ASM
  tinyc_v4 t0, t1;
  const float *x1 = x + sx;
  const uint32_t step = (uint32_t)(8 * sx);
  uint32_t lo, hi;
  if (k <= 0) return;
  __asm__("dls lr, %[k]\n"
          "1:\n\t"
          "vldrw.32 %q[t0], [%[x]]\n\t"
          "vldrw.32 %q[t1], [%[x1]]\n\t"
          "add %[x], %[x], %[step]\n\t"
          "add %[x1], %[x1], %[step]\n\t"
          "ldrd %[lo], %[hi], [%[u0]], #8\n\t"
          "vfma.f32 %q[a0], %q[t0], %[lo]\n\t"
          "vfma.f32 %q[a0], %q[t1], %[hi]\n\t"
          "ldrd %[lo], %[hi], [%[u1]], #8\n\t"
          "vfma.f32 %q[a1], %q[t0], %[lo]\n\t"
          "vfma.f32 %q[a1], %q[t1], %[hi]\n\t"
          "ldrd %[lo], %[hi], [%[u2]], #8\n\t"
          "vfma.f32 %q[a2], %q[t0], %[lo]\n\t"
          "vfma.f32 %q[a2], %q[t1], %[hi]\n\t"
          "ldrd %[lo], %[hi], [%[u3]], #8\n\t"
          "vfma.f32 %q[a3], %q[t0], %[lo]\n\t"
          "vfma.f32 %q[a3], %q[t1], %[hi]\n\t"
          "le lr, 1b\n"
          : [a0] "+w"(*a0), [a1] "+w"(*a1), [a2] "+w"(*a2), [a3] "+w"(*a3), [t0] "=&w"(t0),
            [t1] "=&w"(t1), [x] "+r"(x), [x1] "+r"(x1), [u0] "+r"(u0), [u1] "+r"(u1),
            [u2] "+r"(u2), [u3] "+r"(u3), [lo] "=&r"(lo), [hi] "=&r"(hi)
          : [step] "r"(step), [k] "r"(k)
          : "lr", "memory");
#else
  for (; k > 0; --k, x += 2 * sx, u0 += 2, u1 += 2, u2 += 2, u3 += 2) {
    const tinyc_v4 x0 = tinyc_v4_load(x, 4), x1 = tinyc_v4_load(x + sx, 4);
    *a0 = tinyc_v4_fma(tinyc_v4_fma(*a0, x0, u0[0]), x1, u0[1]);
    *a1 = tinyc_v4_fma(tinyc_v4_fma(*a1, x0, u1[0]), x1, u1[1]);
    *a2 = tinyc_v4_fma(tinyc_v4_fma(*a2, x0, u2[0]), x1, u2[1]);
    *a3 = tinyc_v4_fma(tinyc_v4_fma(*a3, x0, u3[0]), x1, u3[1]);
  }
#endif
}

/* bias + (the sum of the lanes of s_j) in lane j: partial sums of 4 dot products added
 * across, through memory (VST4 transposes: t[4 i + j] = lane i of s_j) */
TINYC_INLINE tinyc_v4 tinyc_v4_hsum4(tinyc_v4 s0, tinyc_v4 s1, tinyc_v4 s2, tinyc_v4 s3,
                                     tinyc_v4 bias) {
#if TINYC_MVE_F32
  float32x4x4_t t4;
  float t[16];
  t4.val[0] = s0;
  t4.val[1] = s1;
  t4.val[2] = s2;
  t4.val[3] = s3;
  vst4q_f32(t, t4);
  return vaddq_f32(bias, vaddq_f32(vaddq_f32(vld1q_f32(t), vld1q_f32(t + 4)),
                                   vaddq_f32(vld1q_f32(t + 8), vld1q_f32(t + 12))));
#else
  const tinyc_v4 *s[4];
  int32_t j;
  s[0] = &s0;
  s[1] = &s1;
  s[2] = &s2;
  s[3] = &s3;
  for (j = 0; j < 4; ++j) {
    bias.v[j] += (s[j]->v[0] + s[j]->v[1]) + (s[j]->v[2] + s[j]->v[3]);
  }
  return bias;
#endif
}

/* The 4 dot products bias[j] + w_j . x (n terms) of rows w_j = w + j * rs, x contiguous
 * (sx == 1) or `sx` floats apart: the rows' terms go into 4 lanes of partial sums (index
 * mod 4) and the lanes are added at the end, row j's sum in lane j. For a single input
 * vector against several weight rows (a streamed 1x1 convolution's pixel, a fully
 * connected layer): each loaded input vector feeds 4 rows. */
TINYC_INLINE tinyc_v4 tinyc_v4_dot4(const float *x, int32_t sx, const float *w, int32_t rs,
                                    int32_t n, tinyc_v4 bias) {
  const float *w0 = w, *w1 = w + rs, *w2 = w + 2 * rs, *w3 = w + 3 * rs;
#if TINYC_MVE_F32
  const uint32x4_t offs = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)sx);
  const int32_t step = 4 * sx;
  float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0, s2 = s0, s3 = s0, xv;
  int32_t l;
  if (sx == 1) {
    for (l = n >> 2; l > 0; --l, x += 4, w0 += 4, w1 += 4, w2 += 4, w3 += 4) {
      xv = vld1q_f32(x);
      s0 = vfmaq_f32(s0, vld1q_f32(w0), xv);
      s1 = vfmaq_f32(s1, vld1q_f32(w1), xv);
      s2 = vfmaq_f32(s2, vld1q_f32(w2), xv);
      s3 = vfmaq_f32(s3, vld1q_f32(w3), xv);
    }
  } else {
    for (l = n >> 2; l > 0; --l, x += step, w0 += 4, w1 += 4, w2 += 4, w3 += 4) {
      xv = vldrwq_gather_shifted_offset_f32(x, offs);
      s0 = vfmaq_f32(s0, vld1q_f32(w0), xv);
      s1 = vfmaq_f32(s1, vld1q_f32(w1), xv);
      s2 = vfmaq_f32(s2, vld1q_f32(w2), xv);
      s3 = vfmaq_f32(s3, vld1q_f32(w3), xv);
    }
  }
  if (n & 3) { /* the tail: the lanes past n load zeros, and add 0 * 0 */
    const mve_pred16_t pr = vctp32q((uint32_t)(n & 3));
    xv = sx == 1 ? vldrwq_z_f32(x, pr) : vldrwq_gather_shifted_offset_z_f32(x, offs, pr);
    s0 = vfmaq_f32(s0, vldrwq_z_f32(w0, pr), xv);
    s1 = vfmaq_f32(s1, vldrwq_z_f32(w1, pr), xv);
    s2 = vfmaq_f32(s2, vldrwq_z_f32(w2, pr), xv);
    s3 = vfmaq_f32(s3, vldrwq_z_f32(w3, pr), xv);
  }
  return tinyc_v4_hsum4(s0, s1, s2, s3, bias);
#else
  const float *rows[4];
  tinyc_v4 part[4];
  int32_t j, l;
  rows[0] = w0;
  rows[1] = w1;
  rows[2] = w2;
  rows[3] = w3;
  for (j = 0; j < 4; ++j) {
    part[j] = tinyc_v4_dup(0.0f);
    for (l = 0; l < n; ++l) TINYC_FPU_MAC(part[j].v[l & 3], rows[j][l], x[(size_t)l * sx]);
  }
  return tinyc_v4_hsum4(part[0], part[1], part[2], part[3], bias);
#endif
}

#endif /* TINYC_MVE_F32_H */
