/* Portable integer recurrent layers: plain int32 dot products over the widened rows. */
#include "tinyc_qrnn.h"

#include <stddef.h>

static void qrnn_widen(int16_t *dst, const int8_t *src, int32_t n, int32_t zp) {
  int32_t k;
  for (k = 0; k < n; ++k) dst[k] = (int16_t)(src[k] - zp);
}

static int32_t qrnn_dot(const int8_t *w, const int16_t *v, int32_t n) {
  int32_t acc = 0, k;
  for (k = 0; k < n; ++k) acc += w[k] * v[k];
  return acc;
}

#include "tinyc_qrnn_loop.h"
