/* Portable integer recurrent layers: plain int32 dot products over the widened rows. */
#include "tinyc_qrnn.h"

#include <stddef.h>

#include "tinyc_fixedpoint.h"

static int32_t qrnn_mbqm(int32_t x, int32_t q, int32_t shift) { return tinyc_mbqm(x, q, shift); }

static void qrnn_widen(int16_t *dst, const int8_t *src, int32_t n, int32_t zp) {
  int32_t k;
  for (k = 0; k < n; ++k) dst[k] = (int16_t)(src[k] - zp);
}

static void qrnn_dots(const int8_t *w, size_t stride, const int16_t *v, int32_t n,
                      int32_t gates, int32_t *acc) {
  int32_t g, k;
  for (g = 0; g < gates; ++g, w += stride) {
    acc[g] = 0;
    for (k = 0; k < n; ++k) acc[g] += w[k] * v[k];
  }
}

static void qrnn_order(int16_t *v, int32_t n) {
  (void)v;
  (void)n;
}

#include "tinyc_qrnn_loop.h"
