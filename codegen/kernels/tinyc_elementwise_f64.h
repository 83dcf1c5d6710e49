/* Elementwise float64 kernels: the float32 family's kernels (tinyc_elementwise.h) with the
 * suffix f64, computed in double. */
#ifndef TINYC_ELEMENTWISE_F64_H
#define TINYC_ELEMENTWISE_F64_H

#include "tinyc_bcast.h"
#include "tinyc_rt.h"
#include "tinyc_scalar.h"

TINYC_DECLARE_FLOAT_FAMILY(double, f64)

/* Pow with a float64 base: tinyc_pow_f64_<exponent suffix>. */
#define TINYC_POW_F64_TYPES(X)                                                          \
  X(double, f64, float, f32) X(double, f64, double, f64) X(double, f64, int32_t, i32)   \
  X(double, f64, int64_t, i64)
#define TINYC_DECLARE_POW_F64(TA, sa, TB, sb) \
  void tinyc_pow_##sa##_##sb(const TA *A, const TB *B, TA *Y, const tinyc_bcast *bc);
TINYC_POW_F64_TYPES(TINYC_DECLARE_POW_F64)

#endif /* TINYC_ELEMENTWISE_F64_H */
