/* TFLite Micro's integer LSTM with the DSP extension's SIMD multiply-accumulate, for the
 * Cortex-M4/M7/M33: the portable kernel's bits (tinyc_qlstm_tflite.h). Each step's x and h
 * rows are widened once to int16, zero points taken off, in SXTB16's halfword order; every
 * 4 weights then cost one load, two sign extensions and two SMLADs (exact int32 sums, so
 * the order changes nothing). */
#include "tinyc_qlstm_tflite.h"

#include <string.h>

#include "tinyc_dsp.h"

/* dst[4q..4q+3] = (src[4q], src[4q+2], src[4q+1], src[4q+3]) - zp; the last n % 4 in order */
static void qlstm_widen(int16_t *dst, const int8_t *src, int32_t n, int32_t zp) {
  int32_t k;
  for (k = 0; k + 4 <= n; k += 4) {
    dst[k] = (int16_t)(src[k] - zp);
    dst[k + 1] = (int16_t)(src[k + 2] - zp);
    dst[k + 2] = (int16_t)(src[k + 1] - zp);
    dst[k + 3] = (int16_t)(src[k + 3] - zp);
  }
  for (; k < n; ++k) dst[k] = (int16_t)(src[k] - zp);
}

/* the same order for int16 values already widened: swap the middle two of every 4 */
static void qlstm_order(int16_t *v, int32_t n) {
  int32_t k;
  for (k = 0; k + 4 <= n; k += 4) {
    const int16_t t = v[k + 1];
    v[k + 1] = v[k + 2];
    v[k + 2] = t;
  }
}

static int32_t qlstm_dot(const int8_t *w, const int16_t *v, int32_t n) {
  int32_t k, acc = 0;
  for (k = 0; k + 4 <= n; k += 4) {
    int32_t wq, even, odd;
    memcpy(&wq, w + k, sizeof wq);
    memcpy(&even, v + k, sizeof even);
    memcpy(&odd, v + k + 2, sizeof odd);
    acc = tinyc_smlad(tinyc_sxtb16(wq), even, acc);
    acc = tinyc_smlad(tinyc_sxtb16_hi(wq), odd, acc);
  }
  for (; k < n; ++k) acc += w[k] * v[k];
  return acc;
}

#include "tinyc_qlstm_tflite_loop.h"
