/* Portable MaxUnpool: zero Y (all-zero bytes are 0.0 in every float format), then scatter. */
#include "tinyc_unpool.h"

#include <string.h>

int tinyc_max_unpool(const void *X, const int64_t *I, void *Y, size_t elem_size, int32_t n,
                     int32_t rank, const int32_t *base_dims, const int32_t *out_dims) {
  const unsigned char *x = (const unsigned char *)X;
  unsigned char *y = (unsigned char *)Y;
  int64_t base_total = 1;
  size_t out_total = 1;
  int32_t i, d;
  for (d = 0; d < rank; ++d) {
    base_total *= base_dims[d];
    out_total *= (size_t)out_dims[d];
  }
  memset(Y, 0, out_total * elem_size);
  for (i = 0; i < n; ++i) {
    int64_t rest = I[i];
    size_t at = 0, stride = 1;
    if (rest < 0 || rest >= base_total) return -1;
    for (d = rank - 1; d >= 0; --d) {
      at += (size_t)(rest % base_dims[d]) * stride;
      rest /= base_dims[d];
      stride *= (size_t)out_dims[d];
    }
    memcpy(y + at * elem_size, x + (size_t)i * elem_size, elem_size);
  }
  return 0;
}
