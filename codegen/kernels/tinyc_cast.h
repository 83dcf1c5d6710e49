/* Casts between element types: tinyc_cast_<from>_<to>(X, Y, n), for the suffixes f32, f64,
 * f16 (IEEE half bits in uint16_t), i8/u8 ... i64/u64 and bool (uint8_t 0 or 1).
 *
 * Float to float rounds to nearest even (double -> half goes through float). Integer to
 * integer wraps, as numpy's astype does. Float to integer truncates toward zero and, where
 * C would be undefined, is defined here: NaN gives 0 and out-of-range values saturate.
 * Anything to bool is `x != 0` (NaN is true).
 *
 * The low-precision types of tinyc_lowp.h (bf16, f8e4m3fn, f8e4m3fnuz, f8e5m2, f8e5m2fnuz,
 * f8e8m0, f4e2m1 as bits; i4, i2, u4, u2 one value per byte) go through float32 (floats) or int64
 * (integers): to a low-precision float rounds to nearest even (from double or a wide
 * integer that is two roundings, as for f16), to a sub-byte integer truncates and wraps, as
 * ml_dtypes does (NaN and values outside int64 give 0). Casts to the float8 types saturate
 * (ONNX Cast's default, saturate=1); tinyc_cast_<from>_<f8 type>_nosat is saturate=0. */
#ifndef TINYC_CAST_H
#define TINYC_CAST_H

#include "tinyc_f16.h"
#include "tinyc_lowp.h"
#include "tinyc_rt.h"

#define TINYC_CAST_TO(X, TA, sa)                                                            \
  X(TA, sa, float, f32) X(TA, sa, double, f64) X(TA, sa, uint16_t, f16)                     \
  X(TA, sa, int8_t, i8) X(TA, sa, uint8_t, u8) X(TA, sa, int16_t, i16)                      \
  X(TA, sa, uint16_t, u16) X(TA, sa, int32_t, i32) X(TA, sa, uint32_t, u32)                 \
  X(TA, sa, int64_t, i64) X(TA, sa, uint64_t, u64) X(TA, sa, uint8_t, bool)                \
  X(TA, sa, uint16_t, bf16) TINYC_CAST_TO_F8(X, TA, sa) X(TA, sa, uint8_t, f4e2m1)          \
  X(TA, sa, int8_t, i4) X(TA, sa, uint8_t, u4) X(TA, sa, int8_t, i2) X(TA, sa, uint8_t, u2)
#define TINYC_CAST_TO_F8(X, TA, sa)                                                         \
  X(TA, sa, uint8_t, f8e4m3fn) X(TA, sa, uint8_t, f8e4m3fnuz) X(TA, sa, uint8_t, f8e5m2)    \
  X(TA, sa, uint8_t, f8e5m2fnuz)
#define TINYC_CAST_FROM(T, X)                                                               \
  T(X, float, f32) T(X, double, f64) T(X, uint16_t, f16) T(X, int8_t, i8) T(X, uint8_t, u8) \
  T(X, int16_t, i16) T(X, uint16_t, u16) T(X, int32_t, i32) T(X, uint32_t, u32)             \
  T(X, int64_t, i64) T(X, uint64_t, u64) T(X, uint8_t, bool) T(X, uint16_t, bf16)           \
  T(X, uint8_t, f8e4m3fn) T(X, uint8_t, f8e4m3fnuz) T(X, uint8_t, f8e5m2)                   \
  T(X, uint8_t, f8e5m2fnuz) T(X, uint8_t, f8e8m0) T(X, uint8_t, f4e2m1) T(X, int8_t, i4)    \
  T(X, uint8_t, u4) T(X, int8_t, i2) T(X, uint8_t, u2)
#define TINYC_CAST_ALL(X) TINYC_CAST_FROM(TINYC_CAST_TO, X)
#define TINYC_CAST_ALL_NOSAT(X) TINYC_CAST_FROM(TINYC_CAST_TO_F8, X)
#define TINYC_CAST_TO_E8M0(X, TA, sa) X(TA, sa, uint8_t, f8e8m0)
#define TINYC_CAST_ALL_E8M0(X) TINYC_CAST_FROM(TINYC_CAST_TO_E8M0, X)
#define TINYC_DECLARE_CAST(TA, sa, TB, sb) \
  void tinyc_cast_##sa##_##sb(const TA *X, TB *Y, size_t n);
TINYC_CAST_ALL(TINYC_DECLARE_CAST)
#define TINYC_DECLARE_CAST_NOSAT(TA, sa, TB, sb) \
  void tinyc_cast_##sa##_##sb##_nosat(const TA *X, TB *Y, size_t n);
TINYC_CAST_ALL_NOSAT(TINYC_DECLARE_CAST_NOSAT)
/* to float8 e8m0, with Cast's saturate (0/1) and round_mode (TINYC_E8M0_UP/DOWN/NEAREST) */
#define TINYC_DECLARE_CAST_E8M0(TA, sa, TB, sb) \
  void tinyc_cast_##sa##_##sb(const TA *X, TB *Y, size_t n, int saturate, int round_mode);
TINYC_CAST_ALL_E8M0(TINYC_DECLARE_CAST_E8M0)

#endif /* TINYC_CAST_H */
