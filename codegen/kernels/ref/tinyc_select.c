/* Portable selection kernels. `before(a, ia, b, ib)` is the one ordering they share: a
 * comes before b when it is larger (NaN largest), or equal with a smaller index. */
#include "tinyc_select.h"

#define TINYC_IS_NAN(v) ((v) != (v))
/* a > b with NaN largest; for integer types the NaN tests fold away */
#define TINYC_GREATER(a, b) (TINYC_IS_NAN(a) ? !TINYC_IS_NAN(b) : (!TINYC_IS_NAN(b) && (a) > (b)))
#define TINYC_EQUAL(a, b) (TINYC_IS_NAN(a) ? TINYC_IS_NAN(b) : (a) == (b))

#define TINYC_DEFINE_SELECT(sfx, T)                                                          \
  static int before_##sfx(T a, int32_t ia, T b, int32_t ib, int32_t largest) {               \
    if (TINYC_EQUAL(a, b)) return ia < ib;                                                   \
    return largest ? TINYC_GREATER(a, b) : TINYC_GREATER(b, a);                              \
  }                                                                                          \
  static void arg_##sfx(const T *X, int64_t *Y, int32_t outer, int32_t len, int32_t inner,   \
                        int32_t select_last, int32_t largest) {                              \
    int32_t o, i, j;                                                                         \
    for (o = 0; o < outer; ++o) {                                                            \
      for (i = 0; i < inner; ++i) {                                                          \
        const T *x = X + (size_t)o * len * inner + i;                                        \
        int32_t best = 0;                                                                    \
        for (j = 1; j < len; ++j) {                                                          \
          const T v = x[(size_t)j * inner], b = x[(size_t)best * inner];                     \
          if (largest ? TINYC_GREATER(v, b) : TINYC_GREATER(b, v)) {                         \
            best = j;                                                                        \
          } else if (select_last && TINYC_EQUAL(v, b)) {                                     \
            best = j;                                                                        \
          }                                                                                  \
        }                                                                                    \
        Y[(size_t)o * inner + i] = best;                                                     \
      }                                                                                      \
    }                                                                                        \
  }                                                                                          \
  void tinyc_argmax_##sfx(const T *X, int64_t *Y, int32_t outer, int32_t len, int32_t inner, \
                          int32_t select_last) {                                             \
    arg_##sfx(X, Y, outer, len, inner, select_last, 1);                                      \
  }                                                                                          \
  void tinyc_argmin_##sfx(const T *X, int64_t *Y, int32_t outer, int32_t len, int32_t inner, \
                          int32_t select_last) {                                             \
    arg_##sfx(X, Y, outer, len, inner, select_last, 0);                                      \
  }                                                                                          \
  void tinyc_topk_##sfx(const T *X, T *V, int64_t *I, int32_t outer, int32_t len,           \
                        int32_t inner, int32_t k, int32_t largest) {                         \
    int32_t o, i, r, j;                                                                      \
    for (o = 0; o < outer; ++o) {                                                            \
      for (i = 0; i < inner; ++i) {                                                          \
        const T *x = X + (size_t)o * len * inner + i;                                        \
        const size_t out = (size_t)o * k * inner + i;                                        \
        int32_t prev = -1;                                                                   \
        for (r = 0; r < k; ++r) {                                                            \
          /* the best element that comes after the previous pick */                          \
          int32_t best = -1;                                                                 \
          for (j = 0; j < len; ++j) {                                                        \
            const T v = x[(size_t)j * inner];                                                \
            if (prev >= 0 && !before_##sfx(x[(size_t)prev * inner], prev, v, j, largest))    \
              continue;                                                                      \
            if (best < 0 || before_##sfx(v, j, x[(size_t)best * inner], best, largest))      \
              best = j;                                                                      \
          }                                                                                  \
          V[out + (size_t)r * inner] = x[(size_t)best * inner];                              \
          I[out + (size_t)r * inner] = best;                                                 \
          prev = best;                                                                       \
        }                                                                                    \
      }                                                                                      \
    }                                                                                        \
  }                                                                                          \
  void tinyc_hardmax_##sfx(const T *X, T *Y, int32_t outer, int32_t len, int32_t inner) {   \
    int32_t o, i, j;                                                                         \
    for (o = 0; o < outer; ++o) {                                                            \
      for (i = 0; i < inner; ++i) {                                                          \
        const size_t base = (size_t)o * len * inner + i;                                     \
        int32_t best = 0;                                                                    \
        for (j = 1; j < len; ++j)                                                            \
          if (TINYC_GREATER(X[base + (size_t)j * inner], X[base + (size_t)best * inner]))    \
            best = j;                                                                        \
        for (j = 0; j < len; ++j) Y[base + (size_t)j * inner] = (T)(j == best);              \
      }                                                                                      \
    }                                                                                        \
  }
TINYC_SELECT_TYPES(TINYC_DEFINE_SELECT)
