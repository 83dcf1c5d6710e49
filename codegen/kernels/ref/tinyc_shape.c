/* Portable run-time shape checks: a few integer comparisons per call, no data touched. */
#include "tinyc_shape.h"

int tinyc_check_reshape(const int64_t *shape, int32_t n, const int32_t *in_dims, int32_t in_rank,
                        const int32_t *out_dims, int32_t allowzero) {
  int32_t i, inferred = 0;
  for (i = 0; i < n; ++i) {
    int64_t d = shape[i];
    if (d == 0 && !allowzero) {
      if (i >= in_rank) return -1;
      d = in_dims[i];
    }
    if (d == -1) {
      /* the element counts agree (checked at compile time), so -1 resolves to out_dims[i]
       * when every other dimension matches */
      if (inferred++) return -1;
      continue;
    }
    if (d != out_dims[i]) return -1;
  }
  return 0;
}

int tinyc_check_expand(const int64_t *shape, int32_t n, const int32_t *in_dims, int32_t in_rank,
                       const int32_t *out_dims, int32_t out_rank) {
  int32_t i;
  if (out_rank != (n > in_rank ? n : in_rank)) return -1;
  for (i = 0; i < out_rank; ++i) {
    const int32_t si = i - (out_rank - n), xi = i - (out_rank - in_rank);
    const int64_t s = si >= 0 ? shape[si] : 1;
    const int64_t x = xi >= 0 ? in_dims[xi] : 1;
    int64_t o;
    if (s != x && s != 1 && x != 1) return -1;
    o = s == 1 ? x : s;
    if (o != out_dims[i]) return -1;
  }
  return 0;
}

int tinyc_check_axes(const int64_t *axes, int32_t n, const int32_t *long_dims, int32_t long_rank,
                     const int32_t *short_dims) {
  uint8_t removed[TINYC_MAX_RANK * 4] = {0};
  int32_t i, j = 0;
  if (long_rank > TINYC_MAX_RANK * 4) return -1;
  for (i = 0; i < n; ++i) {
    int64_t a = axes[i];
    if (a < 0) a += long_rank;
    if (a < 0 || a >= long_rank || removed[a] || long_dims[a] != 1) return -1;
    removed[a] = 1;
  }
  for (i = 0; i < long_rank; ++i) {
    if (removed[i]) continue;
    if (long_dims[i] != short_dims[j++]) return -1;
  }
  return j == long_rank - n ? 0 : -1;
}

int tinyc_check_values_i64(const int64_t *v, const int64_t *expect, int32_t n) {
  int32_t i;
  for (i = 0; i < n; ++i)
    if (expect[i] >= 0 && v[i] != expect[i]) return -1;
  return 0;
}

int tinyc_check_values_i32(const int32_t *v, const int64_t *expect, int32_t n) {
  int32_t i;
  for (i = 0; i < n; ++i)
    if (expect[i] >= 0 && (int64_t)v[i] != expect[i]) return -1;
  return 0;
}
