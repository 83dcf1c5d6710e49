/* Casts between element types: tinyc_cast_<from>_<to>(X, Y, n), for the suffixes f32, f64,
 * f16 (IEEE half bits in uint16_t), i8/u8 ... i64/u64 and bool (uint8_t 0 or 1).
 *
 * Float to float rounds to nearest even (double -> half goes through float). Integer to
 * integer wraps, as numpy's astype does. Float to integer truncates toward zero and, where
 * C would be undefined, is defined here: NaN gives 0 and out-of-range values saturate.
 * Anything to bool is `x != 0` (NaN is true). */
#ifndef TINYC_CAST_H
#define TINYC_CAST_H

#include "tinyc_f16.h"
#include "tinyc_rt.h"

#define TINYC_CAST_TO(X, TA, sa)                                                            \
  X(TA, sa, float, f32) X(TA, sa, double, f64) X(TA, sa, uint16_t, f16)                     \
  X(TA, sa, int8_t, i8) X(TA, sa, uint8_t, u8) X(TA, sa, int16_t, i16)                      \
  X(TA, sa, uint16_t, u16) X(TA, sa, int32_t, i32) X(TA, sa, uint32_t, u32)                 \
  X(TA, sa, int64_t, i64) X(TA, sa, uint64_t, u64) X(TA, sa, uint8_t, bool)
#define TINYC_CAST_ALL(X)                                                                   \
  TINYC_CAST_TO(X, float, f32) TINYC_CAST_TO(X, double, f64) TINYC_CAST_TO(X, uint16_t, f16) \
  TINYC_CAST_TO(X, int8_t, i8) TINYC_CAST_TO(X, uint8_t, u8) TINYC_CAST_TO(X, int16_t, i16) \
  TINYC_CAST_TO(X, uint16_t, u16) TINYC_CAST_TO(X, int32_t, i32)                            \
  TINYC_CAST_TO(X, uint32_t, u32) TINYC_CAST_TO(X, int64_t, i64)                            \
  TINYC_CAST_TO(X, uint64_t, u64) TINYC_CAST_TO(X, uint8_t, bool)
#define TINYC_DECLARE_CAST(TA, sa, TB, sb) \
  void tinyc_cast_##sa##_##sb(const TA *X, TB *Y, size_t n);
TINYC_CAST_ALL(TINYC_DECLARE_CAST)

#endif /* TINYC_CAST_H */
