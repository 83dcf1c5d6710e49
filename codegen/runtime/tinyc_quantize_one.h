/* QuantizeLinear of one float (ONNX semantics), shared by the quantize kernels and the
 * int8 kernels that read a float input directly, so that all of them give the same bits.
 *
 * round_half_even(x / scale) + zp, saturated to [qmin, qmax], NaN to the zero point. The
 * quotient is clamped to (qmin - zp - 1, qmax - zp + 1) first, so the conversion to int is
 * always defined; values there saturate whatever the rounding. No <math.h>: |v| is small,
 * so v - (int)v is exact. */
#ifndef TINYC_QUANTIZE_ONE_H
#define TINYC_QUANTIZE_ONE_H

#include "tinyc_rt.h"

#if defined(__ARM_FP) && (__ARM_FP & 4) && (defined(__GNUC__) || defined(__clang__))
/* A single-precision FPU (Cortex-M4F/M7/M33): VCVTR rounds with the FPSCR's mode, round to
 * nearest even unless firmware changes it (tinyc never does), turns NaN into 0 and
 * saturates out-of-range values -- the same result as the portable form below, in a
 * handful of instructions instead of thirty. */
TINYC_INLINE int32_t tinyc_quantize_one(float x, float scale, int32_t zp, int32_t qmin,
                                        int32_t qmax) {
  const int32_t lo = qmin - zp, hi = qmax - zp;
  float r;
  int32_t i;
  __asm__("vcvtr.s32.f32 %0, %1" : "=t"(r) : "t"(x / scale));
  __asm__("vmov %0, %1" : "=r"(i) : "t"(r));
  i = i < lo ? lo : (i > hi ? hi : i);
  return i + zp;
}
#else
TINYC_INLINE int32_t tinyc_quantize_one(float x, float scale, int32_t zp, int32_t qmin,
                                        int32_t qmax) {
  const float lo = (float)(qmin - zp) - 1.0f, hi = (float)(qmax - zp) + 1.0f;
  float v = x / scale, f;
  int32_t i;
  if (v != v) v = 0.0f;
  if (v < lo) v = lo;
  if (v > hi) v = hi;
  i = (int32_t)v;
  f = v - (float)i;
  if (f > 0.5f || (f == 0.5f && i % 2 != 0)) {
    ++i;
  } else if (f < -0.5f || (f == -0.5f && i % 2 != 0)) {
    --i;
  }
  i += zp;
  return i < qmin ? qmin : (i > qmax ? qmax : i);
}
#endif

#endif /* TINYC_QUANTIZE_ONE_H */
