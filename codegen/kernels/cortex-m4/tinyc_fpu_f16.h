/* IEEE half -> float32 for the Cortex-M4F/M7/M33 kernel variants (private to them).
 *
 * FPv4 and later convert a half in one instruction: VCVTB.F32.F16 reads the bottom half of
 * a single-precision register, VCVTT.F32.F16 the top one (FPSCR.AHP is 0 after reset:
 * IEEE format; subnormals convert exactly). So a word of two weights is kept in an FPU
 * register (`tinyc_fpu_h2`): a 4-byte aligned word is loaded straight into it (VLDR or
 * VLDMIA), any other through a core register (LDR + VMOV), then two conversions.
 * Soft-float builds, builds without the GNU inline assembly syntax and host builds of these
 * variants (for testing) hold the word in a uint32_t and take tinyc_f16.h's bit
 * conversion, with the same results (tinyc_f16.h decides, TINYC_F16_VCVT). */
#ifndef TINYC_FPU_F16_H
#define TINYC_FPU_F16_H

#include <string.h>

#include "tinyc_f16.h"
#include "tinyc_rt.h"

#ifdef TINYC_F16_VCVT /* tinyc_f16.h: the FPU converts halves */
typedef float tinyc_fpu_h2; /* two halves in a single-precision register */

/* Two consecutive halves, any alignment. */
TINYC_INLINE tinyc_fpu_h2 tinyc_fpu_h2_load(const uint16_t *p) {
  tinyc_fpu_h2 w;
  memcpy(&w, p, sizeof w);
  return w;
}

/* Two consecutive halves at a 4-byte aligned address. */
TINYC_INLINE tinyc_fpu_h2 tinyc_fpu_h2_load_aligned(const uint16_t *p) {
  tinyc_fpu_h2 w;
  memcpy(&w, __builtin_assume_aligned(p, 4), sizeof w);
  return w;
}

/* The half at the lower address. */
TINYC_INLINE float tinyc_fpu_h2f_lo(tinyc_fpu_h2 w) {
  float f;
  __asm__("vcvtb.f32.f16 %0, %1" : "=t"(f) : "t"(w));
  return f;
}

/* The half at the higher address. */
TINYC_INLINE float tinyc_fpu_h2f_hi(tinyc_fpu_h2 w) {
  float f;
  __asm__("vcvtt.f32.f16 %0, %1" : "=t"(f) : "t"(w));
  return f;
}

#else
typedef uint32_t tinyc_fpu_h2;

TINYC_INLINE tinyc_fpu_h2 tinyc_fpu_h2_load(const uint16_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 16;
}

TINYC_INLINE tinyc_fpu_h2 tinyc_fpu_h2_load_aligned(const uint16_t *p) {
  return tinyc_fpu_h2_load(p);
}

TINYC_INLINE float tinyc_fpu_h2f_lo(tinyc_fpu_h2 w) { return tinyc_f16_to_f32((uint16_t)w); }
TINYC_INLINE float tinyc_fpu_h2f_hi(tinyc_fpu_h2 w) {
  return tinyc_f16_to_f32((uint16_t)(w >> 16));
}
#endif

/* One half. */
TINYC_INLINE float tinyc_fpu_h2f(uint16_t h) { return tinyc_f16w_to_f32(h); }

/* For the inner loops written once for both loads: `aligned` is a constant where they are
 * called, so each call site gets its own copy, without a test in the loop. */
#if defined(__GNUC__) || defined(__clang__)
#define TINYC_FPU_F16_SPECIALIZE static inline __attribute__((always_inline))
#else
#define TINYC_FPU_F16_SPECIALIZE static inline
#endif
#define TINYC_FPU_H2_LOAD(p, aligned) \
  ((aligned) ? tinyc_fpu_h2_load_aligned(p) : tinyc_fpu_h2_load(p))

/* Whether rows of `n` halves starting at p are all 4-byte aligned. */
TINYC_INLINE int tinyc_fpu_h2_aligned(const uint16_t *p, int32_t n) {
  return ((uintptr_t)p & 3u) == 0 && (n & 1) == 0;
}

#endif /* TINYC_FPU_F16_H */
