/* Portable TFLite Micro integer LSTM (see tinyc_qlstm_tflite.h): plain int32 dot products
 * over the widened rows. */
#include "tinyc_qlstm_tflite.h"

static void qlstm_widen(int16_t *dst, const int8_t *src, int32_t n, int32_t zp) {
  int32_t k;
  for (k = 0; k < n; ++k) dst[k] = (int16_t)(src[k] - zp);
}

static void qlstm_order(int16_t *v, int32_t n) {
  (void)v;
  (void)n;
}

static int32_t qlstm_dot(const int8_t *w, const int16_t *v, int32_t n) {
  int32_t k, acc = 0;
  for (k = 0; k < n; ++k) acc += w[k] * v[k];
  return acc;
}

#include "tinyc_qlstm_tflite_loop.h"
