/* Portable Unique. Pass 1 finds each slice's first equal slice (work[0, count) holds the
 * first occurrences, work[2 count, 2 count + len) the first-occurrence rank of every
 * slice); pass 2 ranks the distinct slices (work[count, 2 count)); pass 3 writes the
 * outputs in rank order. */
#include "tinyc_unique.h"

#define TINYC_U_NAN(v) ((v) != (v))

#define TINYC_DEFINE_UNIQUE(sfx, T)                                                          \
  static T at_##sfx(const T *X, int32_t len, int32_t inner, int32_t slice, int32_t e) {      \
    return X[((size_t)(e / inner) * len + slice) * inner + e % inner];                      \
  }                                                                                          \
  static int same_##sfx(const T *X, int32_t len, int32_t inner, int32_t n, int32_t a,       \
                        int32_t b) {                                                         \
    int32_t e;                                                                               \
    for (e = 0; e < n; ++e) {                                                                \
      if (!(at_##sfx(X, len, inner, a, e) == at_##sfx(X, len, inner, b, e))) return 0;      \
    }                                                                                        \
    return 1;                                                                                \
  }                                                                                          \
  /* -1, 0, 1: slice a before, tied with, after slice b (NaN after numbers, NaNs tied) */   \
  static int order_##sfx(const T *X, int32_t len, int32_t inner, int32_t n, int32_t a,      \
                         int32_t b) {                                                        \
    int32_t e;                                                                               \
    for (e = 0; e < n; ++e) {                                                                \
      const T u = at_##sfx(X, len, inner, a, e), v = at_##sfx(X, len, inner, b, e);         \
      if (TINYC_U_NAN(u) || TINYC_U_NAN(v)) {                                                \
        if (TINYC_U_NAN(u) && TINYC_U_NAN(v)) continue;                                      \
        return TINYC_U_NAN(u) ? 1 : -1;                                                      \
      }                                                                                      \
      if (u < v) return -1;                                                                  \
      if (v < u) return 1;                                                                   \
    }                                                                                        \
    return 0;                                                                                \
  }                                                                                          \
  int tinyc_unique_##sfx(const T *X, T *Y, int64_t *I, int64_t *INV, int64_t *C,            \
                         int64_t *work, int32_t outer, int32_t len, int32_t inner,          \
                         int32_t count, int32_t sorted) {                                    \
    const int32_t n = outer * inner;                                                         \
    int64_t *first = work, *rank = work + count, *slot = work + 2 * (size_t)count;         \
    int32_t s, j, k, found = 0;                                                              \
    for (s = 0; s < len; ++s) {                                                              \
      for (j = 0; j < found && !same_##sfx(X, len, inner, n, (int32_t)first[j], s); ++j) {  \
      }                                                                                      \
      if (j == found) {                                                                      \
        if (found == count) return -1;                                                       \
        first[found++] = s;                                                                  \
      }                                                                                      \
      slot[s] = j;                                                                           \
    }                                                                                        \
    if (found != count) return -1;                                                           \
    for (j = 0; j < count; ++j) {                                                            \
      rank[j] = j;                                                                           \
      if (!sorted) continue;                                                                 \
      rank[j] = 0;                                                                           \
      for (k = 0; k < count; ++k) {                                                          \
        const int c = order_##sfx(X, len, inner, n, (int32_t)first[k], (int32_t)first[j]);  \
        if (c < 0 || (c == 0 && k < j)) ++rank[j];                                           \
      }                                                                                      \
    }                                                                                        \
    for (j = 0; j < count; ++j) {                                                            \
      const int64_t r = rank[j];                                                             \
      int32_t e;                                                                             \
      if (I != NULL) I[r] = first[j];                                                        \
      if (C != NULL) C[r] = 0;                                                               \
      for (e = 0; e < n; ++e) {                                                              \
        Y[((size_t)(e / inner) * count + (size_t)r) * inner + e % inner] =                   \
            at_##sfx(X, len, inner, (int32_t)first[j], e);                                   \
      }                                                                                      \
    }                                                                                        \
    for (s = 0; s < len; ++s) {                                                              \
      const int64_t r = rank[slot[s]];                                                       \
      if (INV != NULL) INV[s] = r;                                                           \
      if (C != NULL) ++C[r];                                                                 \
    }                                                                                        \
    return 0;                                                                                \
  }

TINYC_UNIQUE_TYPES(TINYC_DEFINE_UNIQUE)
