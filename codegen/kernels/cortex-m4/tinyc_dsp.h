/* int8 building blocks of the Cortex-M4/M7/M33 kernel variants (private to them): the
 * DSP extension's SIMD multiply-accumulate, and a requantization split so its per-channel
 * work is done once.
 *
 * On a core with the DSP extension the helpers are the ACLE intrinsics of <arm_acle.h>
 * (SMLAD: two 16x16 products added to an accumulator in one instruction; SXTB16:
 * sign-extend bytes 0 and 2 of a word into two halfwords). Elsewhere (a host build of these
 * kernels, for testing) they are plain C with the same results, so the kernels compile and
 * give the same bits everywhere.
 *
 * A word of four int8 values b0 b1 b2 b3 expands to the halfword pairs (b0, b2) and
 * (b1, b3); the kernels lay their inputs out in the same order, so no repacking is needed
 * on the weight side. */
#ifndef TINYC_DSP_H
#define TINYC_DSP_H

#include <string.h>

#include "tinyc_fixedpoint.h"
#include "tinyc_rt.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>

/* acc + lo(a)*lo(b) + hi(a)*hi(b), 16-bit halves */
TINYC_INLINE int32_t tinyc_smlad(int32_t a, int32_t b, int32_t acc) {
  return __smlad(a, b, acc);
}
/* (int16)(int8)byte0 | (int16)(int8)byte2 << 16 */
TINYC_INLINE int32_t tinyc_sxtb16(int32_t x) { return __sxtb16(x); }
/* the same, of bytes 1 and 3: SXTB16 with its built-in rotation, which <arm_acle.h> has no
 * intrinsic for (and gcc does not fold a separate rotate into) */
TINYC_INLINE int32_t tinyc_sxtb16_hi(int32_t x) {
  int32_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
  return r;
}
/* a + (sign-extended bytes 0 and 2 of x), per 16-bit half */
TINYC_INLINE int32_t tinyc_sxtab16(int32_t a, int32_t x) { return __sxtab16(a, x); }
/* the same with bytes 1 and 3 */
TINYC_INLINE int32_t tinyc_sxtab16_hi(int32_t a, int32_t x) {
  int32_t r;
  __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
  return r;
}
/* acc + lo(a)*lo(b), and acc + hi(a)*lo(b) */
TINYC_INLINE int32_t tinyc_smlabb(int32_t a, int32_t b, int32_t acc) {
  return __smlabb(a, b, acc);
}
TINYC_INLINE int32_t tinyc_smlatb(int32_t a, int32_t b, int32_t acc) {
  return __smlatb(a, b, acc);
}
/* acc + lo(a)*hi(b), acc + hi(a)*hi(b), and lo(a)*lo(b) + hi(a)*hi(b) */
TINYC_INLINE int32_t tinyc_smlabt(int32_t a, int32_t b, int32_t acc) {
  return __smlabt(a, b, acc);
}
TINYC_INLINE int32_t tinyc_smlatt(int32_t a, int32_t b, int32_t acc) {
  return __smlatt(a, b, acc);
}
TINYC_INLINE int32_t tinyc_smuad(int32_t a, int32_t b) { return __smuad(a, b); }
/* v clamped to [-128, 127] in one instruction */
TINYC_INLINE int32_t tinyc_ssat8(int32_t v) { return __ssat(v, 8); }
/* the top word of a * b, rounded (SMMULR: (a * b + 2^31) >> 32) and truncated (SMMUL) */
TINYC_INLINE int32_t tinyc_smmulr(int32_t a, int32_t b) {
  int32_t r;
  __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
  return r;
}
TINYC_INLINE int32_t tinyc_smmul(int32_t a, int32_t b) {
  int32_t r;
  __asm__("smmul %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
  return r;
}
/* acc + the four unsigned bytes of x (USADA8 against 0) */
TINYC_INLINE int32_t tinyc_usada8(int32_t x, int32_t acc) {
  return (int32_t)__usada8((uint32_t)x, 0u, (uint32_t)acc);
}
/* the larger (and the smaller) of each of the four signed bytes of a and b: SSUB8 sets a
 * GE flag per byte where a >= b, SEL takes those bytes from a and the rest from b */
TINYC_INLINE int32_t tinyc_max_s8x4(int32_t a, int32_t b) {
  int32_t r;
  __asm__("ssub8 %0, %1, %2\n\tsel %0, %1, %2" : "=&r"(r) : "r"(a), "r"(b) : "cc");
  return r;
}
TINYC_INLINE int32_t tinyc_min_s8x4(int32_t a, int32_t b) {
  int32_t r;
  __asm__("ssub8 %0, %1, %2\n\tsel %0, %2, %1" : "=&r"(r) : "r"(a), "r"(b) : "cc");
  return r;
}
/* acc + the top word of a * b (SMMLA) */
TINYC_INLINE int32_t tinyc_smmla(int32_t a, int32_t b, int32_t acc) {
  int32_t r;
  __asm__("smmla %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
  return r;
}
/* acc + the top word of a * b, rounded (SMMLAR: acc + ((a * b + 2^31) >> 32)) */
TINYC_INLINE int32_t tinyc_smmlar(int32_t a, int32_t b, int32_t acc) {
  int32_t r;
  __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
  return r;
}
#else
TINYC_INLINE int32_t tinyc_smmulr(int32_t a, int32_t b) {
  return (int32_t)(((int64_t)a * b + ((int64_t)1 << 31)) >> 32);
}
TINYC_INLINE int32_t tinyc_smmul(int32_t a, int32_t b) {
  return (int32_t)(((int64_t)a * b) >> 32);
}
TINYC_INLINE int32_t tinyc_smmla(int32_t a, int32_t b, int32_t acc) {
  return (int32_t)((uint32_t)acc + (uint32_t)tinyc_smmul(a, b));
}
TINYC_INLINE int32_t tinyc_smmlar(int32_t a, int32_t b, int32_t acc) {
  return (int32_t)((uint32_t)acc + (uint32_t)tinyc_smmulr(a, b));
}
TINYC_INLINE int32_t tinyc_usada8(int32_t x, int32_t acc) {
  const uint32_t u = (uint32_t)x;
  return (int32_t)((uint32_t)acc + (u & 0xFFu) + ((u >> 8) & 0xFFu) + ((u >> 16) & 0xFFu) +
                   (u >> 24));
}
TINYC_INLINE int32_t tinyc_ssat8(int32_t v) { return v < -128 ? -128 : (v > 127 ? 127 : v); }
TINYC_INLINE int32_t tinyc_s8x4_pick(int32_t a, int32_t b, int larger) {
  uint32_t r = 0;
  int k;
  for (k = 0; k < 32; k += 8) {
    const int32_t x = (int8_t)(uint8_t)((uint32_t)a >> k), y = (int8_t)(uint8_t)((uint32_t)b >> k);
    r |= (uint32_t)(uint8_t)((x >= y) == larger ? x : y) << k;
  }
  return (int32_t)r;
}
TINYC_INLINE int32_t tinyc_max_s8x4(int32_t a, int32_t b) { return tinyc_s8x4_pick(a, b, 1); }
TINYC_INLINE int32_t tinyc_min_s8x4(int32_t a, int32_t b) { return tinyc_s8x4_pick(a, b, 0); }

TINYC_INLINE int32_t tinyc_lo16(int32_t x) {
  return (int32_t)(int16_t)(uint16_t)((uint32_t)x & 0xFFFFu);
}
TINYC_INLINE int32_t tinyc_hi16(int32_t x) {
  return (int32_t)(int16_t)(uint16_t)((uint32_t)x >> 16);
}

TINYC_INLINE int32_t tinyc_smlad(int32_t a, int32_t b, int32_t acc) {
  return (int32_t)((uint32_t)acc + (uint32_t)(tinyc_lo16(a) * tinyc_lo16(b)) +
                   (uint32_t)(tinyc_hi16(a) * tinyc_hi16(b)));
}
TINYC_INLINE int32_t tinyc_sxtb16(int32_t x) {
  const uint32_t u = (uint32_t)x;
  const uint32_t b0 = (uint32_t)(int32_t)(int8_t)(uint8_t)(u & 0xFFu);
  const uint32_t b2 = (uint32_t)(int32_t)(int8_t)(uint8_t)((u >> 16) & 0xFFu);
  return (int32_t)((b0 & 0xFFFFu) | (b2 << 16));
}
TINYC_INLINE int32_t tinyc_sxtb16_hi(int32_t x) {
  return tinyc_sxtb16((int32_t)((uint32_t)x >> 8));
}
TINYC_INLINE int32_t tinyc_smlabb(int32_t a, int32_t b, int32_t acc) {
  return (int32_t)((uint32_t)acc + (uint32_t)(tinyc_lo16(a) * tinyc_lo16(b)));
}
TINYC_INLINE int32_t tinyc_smlatb(int32_t a, int32_t b, int32_t acc) {
  return (int32_t)((uint32_t)acc + (uint32_t)(tinyc_hi16(a) * tinyc_lo16(b)));
}
TINYC_INLINE int32_t tinyc_smlabt(int32_t a, int32_t b, int32_t acc) {
  return (int32_t)((uint32_t)acc + (uint32_t)(tinyc_lo16(a) * tinyc_hi16(b)));
}
TINYC_INLINE int32_t tinyc_smlatt(int32_t a, int32_t b, int32_t acc) {
  return (int32_t)((uint32_t)acc + (uint32_t)(tinyc_hi16(a) * tinyc_hi16(b)));
}
TINYC_INLINE int32_t tinyc_smuad(int32_t a, int32_t b) { return tinyc_smlad(a, b, 0); }
TINYC_INLINE int32_t tinyc_sxtab16(int32_t a, int32_t x) {
  const int32_t e = tinyc_sxtb16(x);
  const uint32_t lo = ((uint32_t)a + (uint32_t)e) & 0xFFFFu;
  const uint32_t hi = (((uint32_t)a >> 16) + ((uint32_t)e >> 16)) & 0xFFFFu;
  return (int32_t)(lo | (hi << 16));
}
TINYC_INLINE int32_t tinyc_sxtab16_hi(int32_t a, int32_t x) {
  return tinyc_sxtab16(a, (int32_t)((uint32_t)x >> 8));
}
#endif

#if defined(__GNUC__) || defined(__clang__)
#define TINYC_DSP_NOINLINE __attribute__((noinline))
#else
#define TINYC_DSP_NOINLINE
#endif

/* TFLite's double rounding (tinyc_fixedpoint.h tinyc_tflite_mbqm) for a shift s = -r <= -2,
 * in one 64-bit multiply-accumulate: with P = x*q, H = (P + 2^30) >> 31 the doubling high
 * multiply and round = 2^(r-2) (+ zp << (r-1)), the rounding divide of H by 2^r (half away
 * from zero; x < 0 stands for H < 0, the same whenever it matters) is
 *   (P + 2^30 - (x < 0) 2^31 + round 2^32) >> 32, then >> (r - 1),
 * the top word of SMLAL on the accumulator {round + (x >> 31) : 2^30 | sign(x) << 31}. The
 * top word stays below 2^30 + round in magnitude. */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
TINYC_INLINE int32_t tinyc_tflite_top(int32_t x, int32_t q, int32_t round) {
  uint32_t lo = 0x40000000u | ((uint32_t)x & 0x80000000u);
  int32_t hi = round + (x >> 31);
  __asm__("smlal %0, %1, %2, %3" : "+r"(lo), "+r"(hi) : "r"(x), "r"(q));
  return hi;
}
#else
TINYC_INLINE int32_t tinyc_tflite_top(int32_t x, int32_t q, int32_t round) {
  const int64_t k = (int64_t)round * 4294967296 + 0x40000000 - (x < 0 ? (int64_t)2147483648 : 0);
  return (int32_t)((k + (int64_t)x * q) >> 32);
}
#endif

/* rs = r - 1 of a TFLite shift (biased by TINYC_TFLITE_SHIFT_BIAS) with r >= 2, else 0: the
 * kernels test it only where the fixed-point forms do not apply, so those pay nothing. */
TINYC_INLINE int32_t tinyc_tflite_rs(int32_t shift) {
  const int32_t rs = TINYC_TFLITE_SHIFT_BIAS - 1 - shift;
  return rs >= 1 && rs <= 30 ? rs : 0;
}

/* Two int16 values as one halfword pair (lo in bits 0..15). */
TINYC_INLINE int32_t tinyc_pack16(int32_t lo, int32_t hi) {
  return (int32_t)(((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16));
}

/* Two bytes from any address, zero-extended (a single LDRH). */
TINYC_INLINE uint32_t tinyc_load2(const int8_t *p) {
  uint16_t v;
  memcpy(&v, p, 2);
  return v;
}

/* Four bytes from any address (a single LDR where the core allows unaligned loads). */
TINYC_INLINE int32_t tinyc_load4(const int8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* Four bytes to any address (a single STR where the core allows unaligned stores). */
TINYC_INLINE void tinyc_store4(int8_t *p, int32_t v) { memcpy(p, &v, 4); }

/* A byte in all four lanes of a word. */
TINYC_INLINE int32_t tinyc_splat_s8x4(int32_t v) {
  return (int32_t)((uint32_t)(uint8_t)v * 0x01010101u);
}

/* The sum of n int8 values: four at a time, their sign bits flipped to make them unsigned
 * (x + 128), summed by USADA8 and the 128s taken back. */
TINYC_INLINE int32_t tinyc_sum_s8(const int8_t *x, int32_t n) {
  int32_t acc = -128 * n;
  for (; n >= 4; n -= 4, x += 4) {
    acc = tinyc_usada8((int32_t)((uint32_t)tinyc_load4(x) ^ 0x80808080u), acc);
  }
  for (; n > 0; --n) acc += (int32_t)*x++ + 128;
  return acc;
}

/* The clamp of a requantization, the same for every output channel of a kernel call. */
typedef struct {
  int32_t lo, hi;           /* bounds before the zero point is added */
  int32_t zp;               /* the output zero point */
  int32_t act_min, act_max; /* bounds after it */
} tinyc_dsp_clamp;

TINYC_INLINE tinyc_dsp_clamp tinyc_dsp_clamp_make(int32_t zp, int32_t act_min, int32_t act_max) {
  tinyc_dsp_clamp c;
  c.lo = act_min - zp;
  c.hi = act_max - zp;
  c.zp = zp;
  c.act_min = act_min;
  c.act_max = act_max;
  return c;
}

/* One output channel's multiplier, with the shift and rounding of the fast form worked out
 * once for all the channel's outputs. */
typedef struct {
  int32_t q, shift;
  int32_t rs, round; /* fast form (shift <= -2): rs = -1 - shift >= 1, round = 2^(rs-1) */
} tinyc_dsp_mult;

TINYC_INLINE tinyc_dsp_mult tinyc_dsp_mult_make(int32_t q, int32_t shift) {
  tinyc_dsp_mult m;
  m.q = q;
  m.shift = shift;
  m.rs = shift <= -2 ? -1 - shift : 1;
  m.round = (int32_t)(1u << (m.rs - 1));
  return m;
}

/* tinyc_requantize_one(acc, q, shift, zp, act_min, act_max) of tinyc_fixedpoint.h, bit for
 * bit. When 31 - shift >= 33 (shift <= -2: every multiplier below 1/4), the rounding term
 * 2^(30 - shift) is a multiple of 2^32, so (acc*q + round) >> (31 - shift) equals
 * (hi + 2^(rs-1)) >> rs with hi the top word of acc*q and rs = -1 - shift: one 32x32->64
 * multiply, an add and a shift instead of 64-bit arithmetic. That value is below 2^30 in
 * magnitude, so the zero point can be added before the clamp, and clamping to int8 first
 * (SSAT) leaves only the activation's bounds to check. */
TINYC_INLINE int8_t tinyc_dsp_requant(int32_t acc, const tinyc_dsp_mult *m,
                                      const tinyc_dsp_clamp *c) {
  int32_t v;
  if (m->shift <= -1) {
    /* shift == -1: (acc*q + 2^31) >> 32 is SMMULR, and below 2^30 in magnitude too */
    const int32_t top = m->shift == -1 ? tinyc_smmulr(acc, m->q)
                                       : (tinyc_smmul(acc, m->q) + m->round) >> m->rs;
    v = tinyc_ssat8(top + c->zp);
    v = v < c->act_min ? c->act_min : (v > c->act_max ? c->act_max : v);
    return (int8_t)v;
  }
#ifdef TINYC_TFLITE
  if (m->shift > 30) {
    const int32_t rs = tinyc_tflite_rs(m->shift);
    if (rs) { /* TFLite's rounding (tinyc_tflite_top), its top word as small */
      v = tinyc_ssat8((tinyc_tflite_top(acc, m->q, (int32_t)(1u << (rs - 1))) >> rs) + c->zp);
      v = v < c->act_min ? c->act_min : (v > c->act_max ? c->act_max : v);
      return (int8_t)v;
    }
  }
#endif
  v = tinyc_mbqm(acc, m->q, m->shift);
  v = v < c->lo ? c->lo : (v > c->hi ? c->hi : v);
  return (int8_t)(v + c->zp);
}

/* tinyc_mbqm(x, q, shift) of tinyc_fixedpoint.h, bit for bit, without 64-bit shifts where
 * the rounding term allows: shift <= -2 as in tinyc_dsp_requant, shift == -1 as the top word
 * of x*q + 2^31 (neither can saturate). */
TINYC_INLINE int32_t tinyc_dsp_mbqm(int32_t x, int32_t q, int32_t shift) {
  if (shift <= -2) {
    const int32_t rs = -1 - shift;
    return (tinyc_smmul(x, q) + (int32_t)(1u << (rs - 1))) >> rs;
  }
  if (shift == -1) return tinyc_smmulr(x, q);
#ifdef TINYC_TFLITE
  if (shift > 30) {
    const int32_t rs = tinyc_tflite_rs(shift);
    if (rs) return tinyc_tflite_top(x, q, (int32_t)(1u << (rs - 1))) >> rs;
  }
#endif
  return tinyc_mbqm(x, q, shift);
}

/* out[i] = tinyc_dsp_requant(acc[i] + bias) for n outputs of one channel, the path chosen
 * once. In the short forms the zero point rides in the rounding term (adding zp << rs
 * before an arithmetic shift by rs adds zp after it; with rs <= 20 that term and the top
 * word stay far from overflow), and the activation clamp is skipped when it is int8's own
 * (SSAT does it). */
TINYC_INLINE void tinyc_dsp_requant_row_bias(const int32_t *acc, int32_t bias, int8_t *out,
                                             int32_t n, const tinyc_dsp_mult *m,
                                             const tinyc_dsp_clamp *c) {
  const int32_t q = m->q, zp = c->zp, lo = c->act_min, hi = c->act_max;
  const int clamp = lo > -128 || hi < 127;
  int8_t *const end = out + n;
  if (m->shift <= -2 && m->rs <= 20) {
    const int32_t rs = m->rs;
    const int32_t round = (int32_t)((uint32_t)m->round + ((uint32_t)zp << rs));
    if (!clamp && bias == 0) { /* the hot form: 7 instructions an output */
      while (out < end) *out++ = (int8_t)tinyc_ssat8(tinyc_smmla(*acc++, q, round) >> rs);
      return;
    }
    if (!clamp) {
      while (out < end) {
        *out++ = (int8_t)tinyc_ssat8(tinyc_smmla(*acc++ + bias, q, round) >> rs);
      }
      return;
    }
    while (out < end) {
      int32_t v = tinyc_ssat8((tinyc_smmul(*acc++ + bias, q) + round) >> rs);
      v = v < lo ? lo : v;
      *out++ = (int8_t)(v > hi ? hi : v);
    }
  } else if (m->shift == -1) {
    if (!clamp) {
      while (out < end) *out++ = (int8_t)tinyc_ssat8(tinyc_smmulr(*acc++ + bias, q) + zp);
      return;
    }
    while (out < end) {
      int32_t v = tinyc_ssat8(tinyc_smmulr(*acc++ + bias, q) + zp);
      v = v < lo ? lo : v;
      *out++ = (int8_t)(v > hi ? hi : v);
    }
#ifdef TINYC_TFLITE
  } else if (tinyc_tflite_rs(m->shift) && tinyc_tflite_rs(m->shift) <= 20) {
    /* TFLite's rounding, zero point in the round term as above */
    const int32_t rs = tinyc_tflite_rs(m->shift);
    const int32_t round = (int32_t)((1u << (rs - 1)) + ((uint32_t)zp << rs));
    while (out < end) {
      int32_t v = tinyc_ssat8(tinyc_tflite_top(*acc++ + bias, q, round) >> rs);
      if (clamp) {
        v = v < lo ? lo : v;
        v = v > hi ? hi : v;
      }
      *out++ = (int8_t)v;
    }
#endif
  } else if (m->shift == TINYC_FLOAT_SHIFT) {
    /* onnxruntime semantics: VCVT, VMUL, round to nearest even (tinyc_fixedpoint.h) */
    const float scale = tinyc_float_of_bits(q);
    while (out < end) {
      int32_t v = tinyc_rint_clamped((float)(*acc++ + bias) * scale) + zp;
      v = v < lo ? lo : v;
      *out++ = (int8_t)(v > hi ? hi : v);
    }
  } else {
    while (out < end) *out++ = tinyc_dsp_requant(*acc++ + bias, m, c);
  }
}

TINYC_INLINE void tinyc_dsp_requant_row(const int32_t *acc, int8_t *out, int32_t n,
                                        const tinyc_dsp_mult *m, const tinyc_dsp_clamp *c) {
  tinyc_dsp_requant_row_bias(acc, 0, out, n, m, c);
}

/* The same for a one-off output. */
TINYC_INLINE int8_t tinyc_dsp_requant1(int32_t acc, int32_t q, int32_t shift,
                                       const tinyc_dsp_clamp *c) {
  const tinyc_dsp_mult m = tinyc_dsp_mult_make(q, shift);
  return tinyc_dsp_requant(acc, &m, c);
}

#endif /* TINYC_DSP_H */
