/* Portable Compress: count the kept slices first, so a wrong count writes nothing. */
#include "tinyc_compress.h"

#include <string.h>

int tinyc_compress(const void *X, const uint8_t *cond, int32_t cond_len, void *Y,
                   size_t elem_size, int32_t outer, int32_t len, int32_t inner, int32_t count) {
  const size_t slice = (size_t)inner * elem_size;
  const unsigned char *x = (const unsigned char *)X;
  unsigned char *y = (unsigned char *)Y;
  int32_t j, o, kept = 0;
  for (j = 0; j < cond_len; ++j) {
    if (!cond[j]) continue;
    if (j >= len) return -1;
    ++kept;
  }
  if (kept != count) return -1;
  for (o = 0; o < outer; ++o) {
    for (j = 0; j < len && j < cond_len; ++j) {
      if (!cond[j]) continue;
      memcpy(y, x + ((size_t)o * len + j) * slice, slice);
      y += slice;
    }
  }
  return 0;
}
