/* IEEE 754 half precision (ONNX float16) stored as uint16_t bits.
 *
 * tinyc keeps float16 tensors as their raw bits and computes in float: a kernel loads with
 * tinyc_f16_to_f32, computes, and stores with tinyc_f32_to_f16 (round to nearest even,
 * overflow to infinity, NaN stays NaN), which is what numpy does for float16 arithmetic.
 * Header-only, C99, no <math.h>: a union reinterprets the float bits (defined in C99). */
#ifndef TINYC_F16_H
#define TINYC_F16_H

#include "tinyc_rt.h"

typedef union {
  float f;
  uint32_t u;
} tinyc_f32_bits;

TINYC_INLINE float tinyc_f16_to_f32(uint16_t h) {
  tinyc_f32_bits v;
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  const uint32_t exp = (uint32_t)(h >> 10) & 0x1fu;
  uint32_t mant = (uint32_t)h & 0x3ffu;
  if (exp == 0x1fu) {
    v.u = sign | 0x7f800000u | (mant << 13); /* infinity or NaN */
  } else if (exp != 0) {
    v.u = sign | ((exp + 112u) << 23) | (mant << 13);
  } else if (mant == 0) {
    v.u = sign; /* signed zero */
  } else {
    uint32_t e = 113u; /* subnormal: normalize the mantissa */
    while (!(mant & 0x400u)) {
      mant <<= 1;
      --e;
    }
    v.u = sign | (e << 23) | ((mant & 0x3ffu) << 13);
  }
  return v.f;
}

TINYC_INLINE uint16_t tinyc_f32_to_f16(float f) {
  tinyc_f32_bits v;
  uint32_t sign, absx, mant, h, rem, shift, half;
  v.f = f;
  sign = (v.u >> 16) & 0x8000u;
  absx = v.u & 0x7fffffffu;
  if (absx >= 0x7f800000u) { /* infinity or NaN (kept quiet) */
    return (uint16_t)(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0u));
  }
  if (absx >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds past 65504 */
  if (absx < 0x38800000u) { /* below 2^-14: subnormal half or zero */
    if (absx <= 0x33000000u) return (uint16_t)sign; /* <= 2^-25 rounds to zero */
    mant = (absx & 0x7fffffu) | 0x800000u;
    shift = 126u - (absx >> 23); /* 14 .. 24 */
    h = mant >> shift;
    rem = mant & ((1u << shift) - 1u);
    half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (h & 1u))) ++h;
    return (uint16_t)(sign | h);
  }
  h = (((absx >> 23) - 112u) << 10) | ((absx >> 13) & 0x3ffu);
  rem = absx & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h; /* may carry into the exponent */
  return (uint16_t)(sign | h);
}

/* A weight of --quantize float16 (the *_f16w kernels): tinyc_f16_to_f32, in one
 * VCVTB.F32.F16 where the FPU has it (ARM FPv4 and later: Cortex-M4F/M7/M33; FPSCR.AHP is 0
 * after reset, IEEE format). Same values; only a signaling NaN's bits differ (quieted). */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__ARM_FP) && (__ARM_FP & 4) && \
    defined(__thumb2__)
#define TINYC_F16_VCVT 1
TINYC_INLINE float tinyc_f16w_to_f32(uint16_t h) {
  tinyc_f32_bits v;
  float f;
  v.u = h;
  __asm__("vcvtb.f32.f16 %0, %1" : "=t"(f) : "t"(v.f));
  return f;
}
#else
TINYC_INLINE float tinyc_f16w_to_f32(uint16_t h) { return tinyc_f16_to_f32(h); }
#endif

#endif /* TINYC_F16_H */
