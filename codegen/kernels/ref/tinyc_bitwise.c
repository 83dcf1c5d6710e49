/* Portable reference bitwise kernels. Shifts go through the wide unsigned type of
 * tinyc_scalar.h, so no shift is by the width or more and no signed value is shifted. */
#include "tinyc_bitwise.h"

#include "tinyc_bcast.h"
#include "tinyc_scalar.h"

#define TINYC_BITS(T) ((int64_t)(sizeof(T) * 8u))

/* shifts by a negative amount or the width or more: 0, or -1 for a negative signed value */
#define TINYC_SHIFT_OUT(b, T) ((int64_t)(b) < 0 || (int64_t)(b) >= TINYC_BITS(T))
#define TINYC_USHIFT_OUT(b, T) ((uint64_t)(b) >= (uint64_t)TINYC_BITS(T))

#define TINYC_DEFINE_SHIFTS_SIGNED(T, sfx)                                                 \
  TINYC_INLINE T tinyc_s_shift_left_##sfx(T a, T b) {                                     \
    if (TINYC_SHIFT_OUT(b, T)) return 0;                                                   \
    return (T)((TINYC_W_##sfx)a << (unsigned)b);                                           \
  }                                                                                        \
  TINYC_INLINE T tinyc_s_shift_right_##sfx(T a, T b) {                                    \
    if (TINYC_SHIFT_OUT(b, T)) return a < 0 ? (T)-1 : (T)0;                                \
    if (a < 0) return (T)~(T)((TINYC_W_##sfx)(T)~a >> (unsigned)b); /* arithmetic */       \
    return (T)((TINYC_W_##sfx)a >> (unsigned)b);                                           \
  }
#define TINYC_DEFINE_SHIFTS_UNSIGNED(T, sfx)                                               \
  TINYC_INLINE T tinyc_s_shift_left_##sfx(T a, T b) {                                     \
    if (TINYC_USHIFT_OUT(b, T)) return 0;                                                  \
    return (T)((TINYC_W_##sfx)a << (unsigned)b);                                           \
  }                                                                                        \
  TINYC_INLINE T tinyc_s_shift_right_##sfx(T a, T b) {                                    \
    if (TINYC_USHIFT_OUT(b, T)) return 0;                                                  \
    return (T)((TINYC_W_##sfx)a >> (unsigned)b);                                           \
  }
#define TINYC_DEFINE_BITWISE(T, sfx)                                                       \
  TINYC_BCAST2_DEFINE(tinyc_bitwise_and_##sfx, T, T, T, (T)(a & b))                        \
  TINYC_BCAST2_DEFINE(tinyc_bitwise_or_##sfx, T, T, T, (T)(a | b))                         \
  TINYC_BCAST2_DEFINE(tinyc_bitwise_xor_##sfx, T, T, T, (T)(a ^ b))                        \
  TINYC_BCAST2_DEFINE(tinyc_shift_left_##sfx, T, T, T, tinyc_s_shift_left_##sfx(a, b))     \
  TINYC_BCAST2_DEFINE(tinyc_shift_right_##sfx, T, T, T, tinyc_s_shift_right_##sfx(a, b))   \
  void tinyc_bitwise_not_##sfx(const T *X, T *Y, size_t n) {                               \
    size_t i;                                                                              \
    for (i = 0; i < n; ++i) Y[i] = (T)~X[i];                                               \
  }
#define TINYC_DEFINE_SIGNED(arg, T, sfx) TINYC_DEFINE_SHIFTS_SIGNED(T, sfx) TINYC_DEFINE_BITWISE(T, sfx)
#define TINYC_DEFINE_UNSIGNED(arg, T, sfx) \
  TINYC_DEFINE_SHIFTS_UNSIGNED(T, sfx) TINYC_DEFINE_BITWISE(T, sfx)
TINYC_SINT_TYPES(TINYC_DEFINE_SIGNED, _)
TINYC_UINT_TYPES(TINYC_DEFINE_UNSIGNED, _)
