/* Portable reference casts. Each element is loaded into its compute type (float for f16),
 * then converted by TINYC_TO_<to>_<F|I>, chosen by whether the source is float or integer. */
#include "tinyc_cast.h"

#include "tinyc_f16.h"

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

#define TINYC_TO_f32_F(v) ((float)(v))
#define TINYC_TO_f32_I(v) ((float)(v))
#define TINYC_TO_f64_F(v) ((double)(v))
#define TINYC_TO_f64_I(v) ((double)(v))
#define TINYC_TO_f16_F(v) tinyc_f32_to_f16((float)(v))
#define TINYC_TO_f16_I(v) tinyc_f32_to_f16((float)(v))
#define TINYC_TO_i8_F(v) tinyc_f2i_i8((double)(v))
#define TINYC_TO_i8_I(v) ((int8_t)(v))
#define TINYC_TO_u8_F(v) tinyc_f2i_u8((double)(v))
#define TINYC_TO_u8_I(v) ((uint8_t)(v))
#define TINYC_TO_i16_F(v) tinyc_f2i_i16((double)(v))
#define TINYC_TO_i16_I(v) ((int16_t)(v))
#define TINYC_TO_u16_F(v) tinyc_f2i_u16((double)(v))
#define TINYC_TO_u16_I(v) ((uint16_t)(v))
#define TINYC_TO_i32_F(v) tinyc_f2i_i32((double)(v))
#define TINYC_TO_i32_I(v) ((int32_t)(v))
#define TINYC_TO_u32_F(v) tinyc_f2i_u32((double)(v))
#define TINYC_TO_u32_I(v) ((uint32_t)(v))
#define TINYC_TO_i64_F(v) tinyc_f2i_i64((double)(v))
#define TINYC_TO_i64_I(v) ((int64_t)(v))
#define TINYC_TO_u64_F(v) tinyc_f2i_u64((double)(v))
#define TINYC_TO_u64_I(v) ((uint64_t)(v))
#define TINYC_TO_bool_F(v) ((uint8_t)((v) != 0))
#define TINYC_TO_bool_I(v) ((uint8_t)((v) != 0))

#define TINYC_CONVERT(sa, sb) TINYC_XCAT4(TINYC_TO_, sb, _, TINYC_KIND_##sa)
#define TINYC_DEFINE_CAST(TA, sa, TB, sb)                                           \
  void tinyc_cast_##sa##_##sb(const TA *X, TB *Y, size_t n) {                       \
    size_t i;                                                                       \
    for (i = 0; i < n; ++i) Y[i] = TINYC_CONVERT(sa, sb)(TINYC_LOAD_##sa(X[i]));    \
  }
TINYC_CAST_ALL(TINYC_DEFINE_CAST)
