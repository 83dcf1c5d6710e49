/* Portable data movement. The n-d copy advances an index counter over the outer dimensions
 * and runs a typed strided loop over the innermost one (element sizes 1, 2, 4, 8 get a typed
 * loop, anything else falls back to memcpy per element). */
#include "tinyc_data.h"

#include <string.h>

#define TINYC_COPY_ROW(T)                                                   \
  do {                                                                      \
    T *d = (T *)dst + od;                                                   \
    const T *s = (const T *)src + os;                                       \
    for (j = 0; j < n; ++j) d[(size_t)j * dsd] = s[(size_t)j * ssd];        \
  } while (0)

void tinyc_copy_nd(void *dst, const void *src, size_t elem_size, const tinyc_copy_params *p) {
  int32_t idx[TINYC_MAX_RANK] = {0};
  const int32_t last = p->rank - 1, n = p->dims[last];
  const int32_t dsd = p->dst_strides[last], ssd = p->src_strides[last];
  size_t outer = 1, t, od = 0, os = 0;
  int32_t j, d;
  for (d = 0; d < last; ++d) outer *= (size_t)p->dims[d];
  for (t = 0; t < outer; ++t) {
    switch (elem_size) {
      case 1: TINYC_COPY_ROW(uint8_t); break;
      case 2: TINYC_COPY_ROW(uint16_t); break;
      case 4: TINYC_COPY_ROW(uint32_t); break;
      case 8: TINYC_COPY_ROW(uint64_t); break;
      default:
        for (j = 0; j < n; ++j)
          memcpy((unsigned char *)dst + (od + (size_t)j * dsd) * elem_size,
                 (const unsigned char *)src + (os + (size_t)j * ssd) * elem_size, elem_size);
        break;
    }
    for (d = last - 1; d >= 0; --d) {
      od += (size_t)p->dst_strides[d];
      os += (size_t)p->src_strides[d];
      if (++idx[d] < p->dims[d]) break;
      od -= (size_t)p->dst_strides[d] * (size_t)p->dims[d];
      os -= (size_t)p->src_strides[d] * (size_t)p->dims[d];
      idx[d] = 0;
    }
  }
}

void tinyc_fill(void *dst, const void *value, size_t elem_size, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i) memcpy((unsigned char *)dst + i * elem_size, value, elem_size);
}

#define TINYC_DEFINE_GATHER(sfx, TI)                                                          \
  int tinyc_gather_##sfx(const void *X, const TI *idx, void *Y, size_t elem_size,             \
                         int32_t outer, int32_t axis_len, int32_t inner, int32_t n_idx) {     \
    const size_t row = (size_t)inner * elem_size;                                             \
    int32_t o, j;                                                                             \
    for (o = 0; o < outer; ++o) {                                                             \
      for (j = 0; j < n_idx; ++j) {                                                           \
        int64_t k = (int64_t)idx[j];                                                          \
        if (k < 0) k += axis_len;                                                             \
        if (k < 0 || k >= axis_len) return -1;                                                \
        memcpy((unsigned char *)Y + ((size_t)o * n_idx + j) * row,                            \
               (const unsigned char *)X + ((size_t)o * axis_len + (size_t)k) * row, row);     \
      }                                                                                       \
    }                                                                                         \
    return 0;                                                                                 \
  }
TINYC_DEFINE_GATHER(i64, int64_t)
TINYC_DEFINE_GATHER(i32, int32_t)
