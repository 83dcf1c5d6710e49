/* Portable reference integer elementwise kernels, instantiated from tinyc_scalar.h. */
#include "tinyc_elementwise_int.h"

#include <math.h>

#include "tinyc_bcast.h"
#include "tinyc_scalar.h"

TINYC_INT_SCALARS()

#define TINYC_DEFINE_INT_FAMILY(arg, T, sfx)                                  \
  TINYC_UNARY_NUM_OPS(TINYC_DEFINE_UNARY, T, sfx)                             \
  TINYC_BINARY_OPS(TINYC_DEFINE_BINARY, T, sfx)                               \
  void tinyc_clip_##sfx(const T *X, T *Y, size_t n, T lo, T hi) {             \
    size_t i;                                                                 \
    for (i = 0; i < n; ++i) Y[i] = X[i] < lo ? lo : (X[i] > hi ? hi : X[i]); \
  }
TINYC_INT_TYPES(TINYC_DEFINE_INT_FAMILY, _)

/* base^e exactly, wrapping like numpy; negative exponents as documented in the header */
static uint64_t ipow(uint64_t base, int64_t e, int base_is_minus_one) {
  uint64_t r = 1;
  if (e < 0) {
    if (base == 1) return 1;
    if (base_is_minus_one) return (e % 2) ? ~(uint64_t)0 : 1;
    return 0;
  }
  while (e > 0) {
    if (e & 1) r *= base;
    base *= base;
    e >>= 1;
  }
  return r;
}

TINYC_SAT_FROM_DOUBLE(int32_t, INT32_MIN, INT32_MAX)
TINYC_SAT_FROM_DOUBLE(int64_t, INT64_MIN, INT64_MAX)

#define TINYC_POW_i32_i32(a, b) (int32_t)(uint32_t)ipow((uint64_t)(int64_t)(a), b, (a) == -1)
#define TINYC_POW_i32_i64(a, b) (int32_t)(uint32_t)ipow((uint64_t)(int64_t)(a), b, (a) == -1)
#define TINYC_POW_i32_f32(a, b) tinyc_sat_int32_t(pow((double)(a), (double)(b)))
#define TINYC_POW_i32_f64(a, b) tinyc_sat_int32_t(pow((double)(a), b))
#define TINYC_POW_i64_i32(a, b) (int64_t)ipow((uint64_t)(a), b, (a) == -1)
#define TINYC_POW_i64_i64(a, b) (int64_t)ipow((uint64_t)(a), b, (a) == -1)
#define TINYC_POW_i64_f32(a, b) tinyc_sat_int64_t(pow((double)(a), (double)(b)))
#define TINYC_POW_i64_f64(a, b) tinyc_sat_int64_t(pow((double)(a), b))
#define TINYC_DEFINE_POW_INT(TA, sa, TB, sb) \
  TINYC_BCAST2_DEFINE(tinyc_pow_##sa##_##sb, TA, TB, TA, TINYC_POW_##sa##_##sb(a, b))
TINYC_POW_INT_TYPES(TINYC_DEFINE_POW_INT)
