/* Portable reference casts. Each element is loaded into its compute type (float for f16 and
 * the low-precision floats), then converted by TINYC_TO_<to>_<F|I>(v, saturate), chosen by
 * whether the source is float or integer; only the float8 targets read `saturate`. */
#include "tinyc_cast.h"

#include "tinyc_f16.h"
#include "tinyc_lowp.h"

#define TINYC_CAT4(a, b, c, d) a##b##c##d
#define TINYC_XCAT4(a, b, c, d) TINYC_CAT4(a, b, c, d)

#define TINYC_KIND_f32 F
#define TINYC_KIND_f64 F
#define TINYC_KIND_f16 F
#define TINYC_KIND_i8 I
#define TINYC_KIND_u8 I
#define TINYC_KIND_i16 I
#define TINYC_KIND_u16 I
#define TINYC_KIND_i32 I
#define TINYC_KIND_u32 I
#define TINYC_KIND_i64 I
#define TINYC_KIND_u64 I
#define TINYC_KIND_bool I
#define TINYC_KIND_bf16 F
#define TINYC_KIND_f8e4m3fn F
#define TINYC_KIND_f8e4m3fnuz F
#define TINYC_KIND_f8e5m2 F
#define TINYC_KIND_f8e5m2fnuz F
#define TINYC_KIND_f8e8m0 F
#define TINYC_KIND_f4e2m1 F
#define TINYC_KIND_i4 I
#define TINYC_KIND_u4 I
#define TINYC_KIND_i2 I
#define TINYC_KIND_u2 I

#define TINYC_LOAD_f16(x) tinyc_f16_to_f32(x)
#define TINYC_LOAD_f32(x) (x)
#define TINYC_LOAD_f64(x) (x)
#define TINYC_LOAD_i8(x) (x)
#define TINYC_LOAD_u8(x) (x)
#define TINYC_LOAD_i16(x) (x)
#define TINYC_LOAD_u16(x) (x)
#define TINYC_LOAD_i32(x) (x)
#define TINYC_LOAD_u32(x) (x)
#define TINYC_LOAD_i64(x) (x)
#define TINYC_LOAD_u64(x) (x)
#define TINYC_LOAD_bool(x) (x)
#define TINYC_LOAD_bf16(x) tinyc_bf16_to_f32(x)
#define TINYC_LOAD_f8e4m3fn(x) tinyc_f8e4m3fn_to_f32(x)
#define TINYC_LOAD_f8e4m3fnuz(x) tinyc_f8e4m3fnuz_to_f32(x)
#define TINYC_LOAD_f8e5m2(x) tinyc_f8e5m2_to_f32(x)
#define TINYC_LOAD_f8e5m2fnuz(x) tinyc_f8e5m2fnuz_to_f32(x)
#define TINYC_LOAD_f8e8m0(x) tinyc_f8e8m0_to_f32(x)
#define TINYC_LOAD_f4e2m1(x) tinyc_f4e2m1_to_f32(x)
#define TINYC_LOAD_i4(x) (x)
#define TINYC_LOAD_u4(x) (x)
#define TINYC_LOAD_i2(x) (x)
#define TINYC_LOAD_u2(x) (x)

/* float -> integer: truncate, NaN gives 0, out of range saturates */
#define TINYC_FLOAT_TO_INT(T, sfx, lo, hi)                   \
  TINYC_INLINE T tinyc_f2i_##sfx(double v) {                 \
    if (v != v) return 0;                                    \
    if (v <= (double)(lo)) return (T)(lo);                   \
    if (v >= (double)(hi)) return (T)(hi);                   \
    return (T)v;                                             \
  }
TINYC_FLOAT_TO_INT(int8_t, i8, INT8_MIN, INT8_MAX)
TINYC_FLOAT_TO_INT(uint8_t, u8, 0, UINT8_MAX)
TINYC_FLOAT_TO_INT(int16_t, i16, INT16_MIN, INT16_MAX)
TINYC_FLOAT_TO_INT(uint16_t, u16, 0, UINT16_MAX)
TINYC_FLOAT_TO_INT(int32_t, i32, INT32_MIN, INT32_MAX)
TINYC_FLOAT_TO_INT(uint32_t, u32, 0, UINT32_MAX)
TINYC_FLOAT_TO_INT(int64_t, i64, INT64_MIN, INT64_MAX)
TINYC_FLOAT_TO_INT(uint64_t, u64, 0, UINT64_MAX)

/* float -> sub-byte integer: truncate, then wrap; NaN and anything outside int64 give 0
 * (what ml_dtypes computes on the usual hosts) */
TINYC_INLINE int64_t tinyc_f2i_wrap(double v) {
  return (v > -9223372036854775808.0 && v < 9223372036854775808.0) ? (int64_t)v : 0;
}

#define TINYC_TO_f32_F(v, sat) ((float)(v))
#define TINYC_TO_f32_I(v, sat) ((float)(v))
#define TINYC_TO_f64_F(v, sat) ((double)(v))
#define TINYC_TO_f64_I(v, sat) ((double)(v))
#define TINYC_TO_f16_F(v, sat) tinyc_f32_to_f16((float)(v))
#define TINYC_TO_f16_I(v, sat) tinyc_f32_to_f16((float)(v))
#define TINYC_TO_i8_F(v, sat) tinyc_f2i_i8((double)(v))
#define TINYC_TO_i8_I(v, sat) ((int8_t)(v))
#define TINYC_TO_u8_F(v, sat) tinyc_f2i_u8((double)(v))
#define TINYC_TO_u8_I(v, sat) ((uint8_t)(v))
#define TINYC_TO_i16_F(v, sat) tinyc_f2i_i16((double)(v))
#define TINYC_TO_i16_I(v, sat) ((int16_t)(v))
#define TINYC_TO_u16_F(v, sat) tinyc_f2i_u16((double)(v))
#define TINYC_TO_u16_I(v, sat) ((uint16_t)(v))
#define TINYC_TO_i32_F(v, sat) tinyc_f2i_i32((double)(v))
#define TINYC_TO_i32_I(v, sat) ((int32_t)(v))
#define TINYC_TO_u32_F(v, sat) tinyc_f2i_u32((double)(v))
#define TINYC_TO_u32_I(v, sat) ((uint32_t)(v))
#define TINYC_TO_i64_F(v, sat) tinyc_f2i_i64((double)(v))
#define TINYC_TO_i64_I(v, sat) ((int64_t)(v))
#define TINYC_TO_u64_F(v, sat) tinyc_f2i_u64((double)(v))
#define TINYC_TO_u64_I(v, sat) ((uint64_t)(v))
#define TINYC_TO_bool_F(v, sat) ((uint8_t)((v) != 0))
#define TINYC_TO_bool_I(v, sat) ((uint8_t)((v) != 0))
#define TINYC_TO_bf16_F(v, sat) tinyc_f32_to_bf16((float)(v))
#define TINYC_TO_bf16_I(v, sat) tinyc_f32_to_bf16((float)(v))
#define TINYC_TO_f8e4m3fn_F(v, sat) tinyc_f32_to_f8e4m3fn((float)(v), sat)
#define TINYC_TO_f8e4m3fn_I(v, sat) tinyc_f32_to_f8e4m3fn((float)(v), sat)
#define TINYC_TO_f8e4m3fnuz_F(v, sat) tinyc_f32_to_f8e4m3fnuz((float)(v), sat)
#define TINYC_TO_f8e4m3fnuz_I(v, sat) tinyc_f32_to_f8e4m3fnuz((float)(v), sat)
#define TINYC_TO_f8e5m2_F(v, sat) tinyc_f32_to_f8e5m2((float)(v), sat)
#define TINYC_TO_f8e5m2_I(v, sat) tinyc_f32_to_f8e5m2((float)(v), sat)
#define TINYC_TO_f8e5m2fnuz_F(v, sat) tinyc_f32_to_f8e5m2fnuz((float)(v), sat)
#define TINYC_TO_f8e5m2fnuz_I(v, sat) tinyc_f32_to_f8e5m2fnuz((float)(v), sat)
#define TINYC_TO_f4e2m1_F(v, sat) tinyc_f32_to_f4e2m1((float)(v), 1)
#define TINYC_TO_f4e2m1_I(v, sat) tinyc_f32_to_f4e2m1((float)(v), 1)
#define TINYC_TO_i4_F(v, sat) tinyc_wrap_i4(tinyc_f2i_wrap((double)(v)))
#define TINYC_TO_i4_I(v, sat) tinyc_wrap_i4((int64_t)(v))
#define TINYC_TO_u4_F(v, sat) tinyc_wrap_u4(tinyc_f2i_wrap((double)(v)))
#define TINYC_TO_u4_I(v, sat) tinyc_wrap_u4((int64_t)(v))
#define TINYC_TO_i2_F(v, sat) tinyc_wrap_i2(tinyc_f2i_wrap((double)(v)))
#define TINYC_TO_i2_I(v, sat) tinyc_wrap_i2((int64_t)(v))
#define TINYC_TO_u2_F(v, sat) tinyc_wrap_u2(tinyc_f2i_wrap((double)(v)))
#define TINYC_TO_u2_I(v, sat) tinyc_wrap_u2((int64_t)(v))

#define TINYC_CONVERT(sa, sb) TINYC_XCAT4(TINYC_TO_, sb, _, TINYC_KIND_##sa)
#define TINYC_DEFINE_CAST(TA, sa, TB, sb)                                             \
  void tinyc_cast_##sa##_##sb(const TA *X, TB *Y, size_t n) {                         \
    size_t i;                                                                         \
    for (i = 0; i < n; ++i) Y[i] = TINYC_CONVERT(sa, sb)(TINYC_LOAD_##sa(X[i]), 1);   \
  }
TINYC_CAST_ALL(TINYC_DEFINE_CAST)
#define TINYC_DEFINE_CAST_NOSAT(TA, sa, TB, sb)                                       \
  void tinyc_cast_##sa##_##sb##_nosat(const TA *X, TB *Y, size_t n) {                 \
    size_t i;                                                                         \
    for (i = 0; i < n; ++i) Y[i] = TINYC_CONVERT(sa, sb)(TINYC_LOAD_##sa(X[i]), 0);   \
  }
TINYC_CAST_ALL_NOSAT(TINYC_DEFINE_CAST_NOSAT)
#define TINYC_DEFINE_CAST_E8M0(TA, sa, TB, sb)                                                 \
  void tinyc_cast_##sa##_##sb(const TA *X, TB *Y, size_t n, int saturate, int round_mode) {    \
    size_t i;                                                                                  \
    for (i = 0; i < n; ++i) {                                                                  \
      Y[i] = tinyc_f32_to_f8e8m0((float)TINYC_LOAD_##sa(X[i]), saturate, round_mode);          \
    }                                                                                          \
  }
TINYC_CAST_ALL_E8M0(TINYC_DEFINE_CAST_E8M0)
