/* Portable reference comparison, selection and boolean kernels. */
#include "tinyc_logic.h"

#include "tinyc_bcast.h"
#include "tinyc_f16.h"
#include "tinyc_scalar.h"

#define TINYC_CMP_equal ==
#define TINYC_CMP_less <
#define TINYC_CMP_less_equal <=
#define TINYC_DEFINE_COMPARE(op, T, sfx)                              \
  TINYC_BCAST2_DEFINE(tinyc_##op##_##sfx, T, T, uint8_t,              \
                      (uint8_t)(TINYC_LD_##sfx(a) TINYC_CMP_##op TINYC_LD_##sfx(b)))
#define TINYC_DEFINE_COMPARE_NUM(arg, T, sfx) TINYC_COMPARE_OPS(TINYC_DEFINE_COMPARE, T, sfx)
TINYC_NUM_TYPES(TINYC_DEFINE_COMPARE_NUM, _)

#define TINYC_DEFINE_WHERE(arg, T, sfx) TINYC_BCAST3_SELECT_DEFINE(tinyc_where_##sfx, T)
TINYC_NUM_TYPES(TINYC_DEFINE_WHERE, _)

TINYC_BCAST2_DEFINE(tinyc_and_bool, uint8_t, uint8_t, uint8_t, (uint8_t)((a != 0) & (b != 0)))
TINYC_BCAST2_DEFINE(tinyc_or_bool, uint8_t, uint8_t, uint8_t, (uint8_t)((a != 0) | (b != 0)))
TINYC_BCAST2_DEFINE(tinyc_xor_bool, uint8_t, uint8_t, uint8_t, (uint8_t)((a != 0) ^ (b != 0)))

void tinyc_not_bool(const uint8_t *X, uint8_t *Y, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i) Y[i] = (uint8_t)(X[i] == 0);
}

/* NaN is the only value unequal to itself; infinity the only one whose difference with
 * itself is NaN (no <math.h> needed, and no float classification macros). */
#define TINYC_DEFINE_FLOAT_TESTS(arg, T, sfx)                                            \
  void tinyc_isnan_##sfx(const T *X, uint8_t *Y, size_t n) {                             \
    size_t i;                                                                            \
    for (i = 0; i < n; ++i) {                                                            \
      const TINYC_CT_##sfx v = TINYC_LD_##sfx(X[i]);                                     \
      Y[i] = (uint8_t)(v != v);                                                          \
    }                                                                                    \
  }                                                                                      \
  void tinyc_isinf_##sfx(const T *X, uint8_t *Y, size_t n, int32_t detect_negative,      \
                         int32_t detect_positive) {                                      \
    size_t i;                                                                            \
    for (i = 0; i < n; ++i) {                                                            \
      const TINYC_CT_##sfx v = TINYC_LD_##sfx(X[i]);                                     \
      const int inf = v == v && (v - v) != (v - v);                                      \
      Y[i] = (uint8_t)(inf && ((v > 0 && detect_positive) || (v < 0 && detect_negative))); \
    }                                                                                    \
  }
TINYC_FLOAT_TYPES(TINYC_DEFINE_FLOAT_TESTS, _)
