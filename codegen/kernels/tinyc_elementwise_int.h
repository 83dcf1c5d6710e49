/* Elementwise integer kernels for i8/u8 ... i64/u64: neg, abs, sign, clip, the broadcasting
 * binary ops of TINYC_BINARY_OPS and pow. Integer semantics (wrapping, division by zero)
 * are documented in tinyc_scalar.h. */
#ifndef TINYC_ELEMENTWISE_INT_H
#define TINYC_ELEMENTWISE_INT_H

#include "tinyc_bcast.h"
#include "tinyc_rt.h"
#include "tinyc_scalar.h"

#define TINYC_DECLARE_INT_FAMILY(arg, T, sfx)          \
  TINYC_UNARY_NUM_OPS(TINYC_DECLARE_UNARY, T, sfx)     \
  TINYC_BINARY_OPS(TINYC_DECLARE_BINARY, T, sfx)       \
  void tinyc_clip_##sfx(const T *X, T *Y, size_t n, T lo, T hi);
TINYC_INT_TYPES(TINYC_DECLARE_INT_FAMILY, _)

/* Pow with an integer base: an integer exponent multiplies exactly (wrapping; a negative
 * exponent gives 0 unless the base is 1 or -1), a float exponent computes in double and
 * converts back saturating (NaN gives 0). */
#define TINYC_POW_INT_TYPES(X)                                                               \
  X(int32_t, i32, int32_t, i32) X(int32_t, i32, int64_t, i64) X(int32_t, i32, float, f32)   \
  X(int32_t, i32, double, f64) X(int64_t, i64, int32_t, i32) X(int64_t, i64, int64_t, i64)  \
  X(int64_t, i64, float, f32) X(int64_t, i64, double, f64)
#define TINYC_DECLARE_POW_INT(TA, sa, TB, sb) \
  void tinyc_pow_##sa##_##sb(const TA *A, const TB *B, TA *Y, const tinyc_bcast *bc);
TINYC_POW_INT_TYPES(TINYC_DECLARE_POW_INT)

#endif /* TINYC_ELEMENTWISE_INT_H */
