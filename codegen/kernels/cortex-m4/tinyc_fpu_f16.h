/* IEEE half -> float32 for the Cortex-M4F/M7/M33 kernel variants (private to them).
 *
 * FPv4 and later convert a half in one instruction: VCVTB.F32.F16 reads the bottom half of
 * a single-precision register, VCVTT.F32.F16 the top one, so a 32-bit word of two weights
 * costs one load, one move to the FPU and two conversions (FPSCR.AHP is 0 after reset:
 * IEEE format, subnormals exact). Soft-float builds, builds without the GNU inline assembly
 * syntax and host builds of these variants (for testing) take tinyc_f16.h's bit
 * conversion, with the same results. */
#ifndef TINYC_FPU_F16_H
#define TINYC_FPU_F16_H

#include <string.h>

#include "tinyc_f16.h"
#include "tinyc_rt.h"

#if (defined(__GNUC__) || defined(__clang__)) && defined(__ARM_FP) && (__ARM_FP & 4) && \
    defined(__thumb2__)
#define TINYC_FPU_F16_VCVT 1
#endif

/* Two consecutive halves as one little-endian word (any alignment: LDR, not LDRD). */
TINYC_INLINE uint32_t tinyc_fpu_h2_load(const uint16_t *p) {
  uint32_t w;
  memcpy(&w, p, sizeof w);
  return w;
}

#ifdef TINYC_FPU_F16_VCVT
/* The half in bits 0..15 of w. */
TINYC_INLINE float tinyc_fpu_h2f_lo(uint32_t w) {
  tinyc_f32_bits v;
  float f;
  v.u = w;
  __asm__("vcvtb.f32.f16 %0, %1" : "=t"(f) : "t"(v.f));
  return f;
}

/* The half in bits 16..31 of w. */
TINYC_INLINE float tinyc_fpu_h2f_hi(uint32_t w) {
  tinyc_f32_bits v;
  float f;
  v.u = w;
  __asm__("vcvtt.f32.f16 %0, %1" : "=t"(f) : "t"(v.f));
  return f;
}
#else
TINYC_INLINE float tinyc_fpu_h2f_lo(uint32_t w) { return tinyc_f16_to_f32((uint16_t)w); }
TINYC_INLINE float tinyc_fpu_h2f_hi(uint32_t w) { return tinyc_f16_to_f32((uint16_t)(w >> 16)); }
#endif

/* One half. */
TINYC_INLINE float tinyc_fpu_h2f(uint16_t h) { return tinyc_fpu_h2f_lo(h); }

#endif /* TINYC_FPU_F16_H */
