/* Low-precision element types, held in C as plain integers:
 *
 *   bf16        bfloat16 bits in uint16_t (the top half of a float32)
 *   f8e4m3fn    float8 bits in uint8_t: E4M3, no infinity, NaN = S.1111.111, max 448
 *   f8e4m3fnuz  E4M3, no infinity, no -0, one NaN (0x80), max 240
 *   f8e5m2      E5M2 with IEEE infinity and NaN, max 57344
 *   f8e5m2fnuz  E5M2, no infinity, no -0, one NaN (0x80), max 57344
 *   f8e8m0      a power of two 2^(b - 127) in uint8_t, 0xff is NaN, no sign, no zero
 *   f4e2m1      float4 bits in the low nibble of a uint8_t: E2M1, no infinity or NaN, max 6
 *   i4, i2      4- and 2-bit integers, one value per byte, sign-extended in int8_t
 *   u4, u2      one value per byte in uint8_t
 *
 * Kernels compute through float32: tinyc_<t>_to_f32 is exact, tinyc_f32_to_<t> rounds to
 * nearest even. `saturate` is ONNX Cast's attribute for the float8 types: nonzero clamps
 * anything beyond the largest finite value (infinities too) to it; zero gives infinity for
 * E5M2 and NaN for the formats without one. float4 always saturates and, as ml_dtypes (the
 * ONNX reference) does, turns NaN into a zero. The sub-byte integers wrap (tinyc_wrap_<t>).
 * Header-only, C99, no <math.h>. */
#ifndef TINYC_LOWP_H
#define TINYC_LOWP_H

#include "tinyc_f16.h"
#include "tinyc_rt.h"

/* -- bfloat16 ----------------------------------------------------------------------------- */

TINYC_INLINE float tinyc_bf16_to_f32(uint16_t b) {
  tinyc_f32_bits v;
  v.u = (uint32_t)b << 16;
  return v.f;
}

TINYC_INLINE uint16_t tinyc_f32_to_bf16(float f) {
  tinyc_f32_bits v;
  v.f = f;
  if ((v.u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((v.u >> 16) | 0x40u); /* quiet NaN */
  return (uint16_t)((v.u + 0x7fffu + ((v.u >> 16) & 1u)) >> 16); /* may round up to inf */
}

/* -- float8 / float4: one generic minifloat codec, a thin wrapper per format ------------- */

/* format flavours: IEEE (E5M2: infinity and NaN at the top exponent), FN (NaN is the all-ones
 * code, no infinity), FNUZ (0x80 is the NaN, no -0, no infinity), SAT (no specials) */
enum { TINYC_MF_IEEE, TINYC_MF_FN, TINYC_MF_FNUZ, TINYC_MF_SAT };

/* 2^e as a float, for e within the normal float32 range */
TINYC_INLINE float tinyc_pow2f(int32_t e) {
  tinyc_f32_bits v;
  v.u = (uint32_t)(e + 127) << 23;
  return v.f;
}

TINYC_INLINE float tinyc_minifloat_to_f32(uint32_t b, int32_t ebits, int32_t mbits,
                                          int32_t bias, int32_t flavour) {
  const uint32_t sign_bit = 1u << (ebits + mbits), emax = (1u << ebits) - 1u;
  const uint32_t mmask = (1u << mbits) - 1u;
  const uint32_t exp = (b >> mbits) & emax, mant = b & mmask;
  tinyc_f32_bits nan;
  float mag;
  nan.u = 0x7fc00000u;
  if (flavour == TINYC_MF_FNUZ && b == sign_bit) return nan.f;
  if (flavour == TINYC_MF_FN && exp == emax && mant == mmask) {
    nan.u |= (b & sign_bit) ? 0x80000000u : 0u;
    return nan.f;
  }
  if (flavour == TINYC_MF_IEEE && exp == emax) {
    nan.u = (mant ? 0x7fc00000u : 0x7f800000u) | ((b & sign_bit) ? 0x80000000u : 0u);
    return nan.f;
  }
  if (exp == 0) {
    mag = (float)mant * tinyc_pow2f(1 - bias - mbits); /* subnormal (or zero) */
  } else {
    mag = (float)(mant | (1u << mbits)) * tinyc_pow2f((int32_t)exp - bias - mbits);
  }
  return (b & sign_bit) ? -mag : mag;
}

/* `maxcode` is the largest finite magnitude's code. */
TINYC_INLINE uint8_t tinyc_f32_to_minifloat(float f, int32_t ebits, int32_t mbits, int32_t bias,
                                            int32_t flavour, uint32_t maxcode, int saturate) {
  const uint32_t sign_bit = 1u << (ebits + mbits);
  tinyc_f32_bits v;
  uint32_t sign, absx, m, code, r, rem, half;
  int32_t e, shift;
  const int32_t emin = 1 - bias; /* exponent of the smallest normal */
  v.f = f;
  sign = (v.u >> 31) ? sign_bit : 0u;
  absx = v.u & 0x7fffffffu;
  if (absx > 0x7f800000u) { /* NaN */
    if (flavour == TINYC_MF_FNUZ) return (uint8_t)sign_bit;
    if (flavour == TINYC_MF_FN) return (uint8_t)(sign | (sign_bit - 1u));
    if (flavour == TINYC_MF_IEEE) return (uint8_t)(sign | (sign_bit - 2u));
    return (uint8_t)(sign ^ sign_bit); /* float4: as ml_dtypes, a zero of the other sign */
  }
  if (absx == 0x7f800000u) {
    code = maxcode + 1u; /* overflow, handled below */
  } else if (absx < 0x00800000u) {
    code = 0; /* float32 subnormals are far below every minifloat's half-ulp */
  } else {
    e = (int32_t)(absx >> 23) - 127;
    m = (absx & 0x7fffffu) | 0x800000u;
    shift = 23 - mbits + (e < emin ? emin - e : 0);
    if (shift > 25) {
      r = 0; /* below a quarter of the smallest step */
    } else {
      r = m >> shift;
      rem = m & ((1u << shift) - 1u);
      half = 1u << (shift - 1);
      if (rem > half || (rem == half && (r & 1u))) ++r;
    }
    /* normal codes are contiguous: a rounding carry moves into the exponent field */
    code = e < emin ? r : ((uint32_t)(e + bias - 1) << mbits) + r;
  }
  if (code > maxcode) {
    if (saturate || flavour == TINYC_MF_SAT) {
      code = maxcode;
    } else if (flavour == TINYC_MF_IEEE) {
      code = maxcode + 1u; /* infinity */
    } else if (flavour == TINYC_MF_FNUZ) {
      return (uint8_t)sign_bit;
    } else {
      return (uint8_t)(sign | (sign_bit - 1u));
    }
  }
  if (code == 0 && flavour == TINYC_MF_FNUZ) return 0; /* no -0 */
  return (uint8_t)(sign | code);
}

#define TINYC_MINIFLOAT(name, E, M, BIAS, FLAVOUR, MAXCODE)                                   \
  TINYC_INLINE float tinyc_##name##_to_f32(uint8_t b) {                                      \
    return tinyc_minifloat_to_f32(b, E, M, BIAS, FLAVOUR);                                   \
  }                                                                                          \
  TINYC_INLINE uint8_t tinyc_f32_to_##name(float f, int saturate) {                          \
    return tinyc_f32_to_minifloat(f, E, M, BIAS, FLAVOUR, MAXCODE, saturate);                \
  }
TINYC_MINIFLOAT(f8e4m3fn, 4, 3, 7, TINYC_MF_FN, 0x7eu)
TINYC_MINIFLOAT(f8e4m3fnuz, 4, 3, 8, TINYC_MF_FNUZ, 0x7fu)
TINYC_MINIFLOAT(f8e5m2, 5, 2, 15, TINYC_MF_IEEE, 0x7bu)
TINYC_MINIFLOAT(f8e5m2fnuz, 5, 2, 16, TINYC_MF_FNUZ, 0x7fu)
TINYC_MINIFLOAT(f4e2m1, 2, 1, 1, TINYC_MF_SAT, 0x7u)

/* -- float8 e8m0: the float32 exponent field, rounded by Cast's `round_mode` -------------- */

enum { TINYC_E8M0_UP, TINYC_E8M0_DOWN, TINYC_E8M0_NEAREST };

TINYC_INLINE float tinyc_f8e8m0_to_f32(uint8_t b) {
  tinyc_f32_bits v;
  v.u = b == 0xffu ? 0x7fc00000u : (b ? (uint32_t)b << 23 : 0x00400000u); /* 0 is 2^-127 */
  return v.f;
}

/* The sign is ignored; NaN and infinity give 0xff. UP rounds any fraction up, NEAREST rounds
 * on the first dropped bit (ties away, and always up when the exponent field is 0), DOWN
 * truncates. `saturate` keeps a rounding of 0xfe (2^127) from reaching 0xff (NaN). */
TINYC_INLINE uint8_t tinyc_f32_to_f8e8m0(float f, int saturate, int round_mode) {
  tinyc_f32_bits v;
  uint32_t e, up = 0;
  v.f = f;
  e = (v.u >> 23) & 0xffu;
  if (e == 0xffu) return 0xffu;
  if (round_mode == TINYC_E8M0_UP) {
    up = (v.u & 0x7fffffu) != 0;
  } else if (round_mode == TINYC_E8M0_NEAREST) {
    up = (v.u & 0x400000u) && ((v.u & 0x3fffffu) || e > 0);
  }
  if (up && saturate && e == 0xfeu) up = 0;
  return (uint8_t)(e + up);
}

/* -- 4- and 2-bit integers: wrap any integer into the type, as numpy's astype does ------- */

TINYC_INLINE int8_t tinyc_wrap_i4(int64_t v) {
  const int32_t low = (int32_t)((uint64_t)v & 0xfu);
  return (int8_t)(low >= 8 ? low - 16 : low);
}
TINYC_INLINE uint8_t tinyc_wrap_u4(int64_t v) { return (uint8_t)((uint64_t)v & 0xfu); }
TINYC_INLINE int8_t tinyc_wrap_i2(int64_t v) {
  const int32_t low = (int32_t)((uint64_t)v & 0x3u);
  return (int8_t)(low >= 2 ? low - 4 : low);
}
TINYC_INLINE uint8_t tinyc_wrap_u2(int64_t v) { return (uint8_t)((uint64_t)v & 0x3u); }

#endif /* TINYC_LOWP_H */
