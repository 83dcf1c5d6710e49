/* Integer recurrent layers with the DSP extension's SIMD multiply-accumulate, for the
 * Cortex-M4/M7/M33: the portable kernel's bits (tinyc_qrnn.h). Each step's x and h rows are
 * widened once to int16 with their zero points taken off, in SXTB16's halfword order; every
 * gate row then costs, per 4 weights, one weight load, two sign extensions, two row loads
 * and two SMLADs. */
#include "tinyc_qrnn.h"

#include <stddef.h>

#include "tinyc_dsp.h"

/* dst[4q..4q+3] = (src[4q], src[4q+2], src[4q+1], src[4q+3]) - zp; the last n % 4 in order */
static void qrnn_widen(int16_t *dst, const int8_t *src, int32_t n, int32_t zp) {
  int32_t k;
  for (k = 0; k + 4 <= n; k += 4) {
    dst[k] = (int16_t)(src[k] - zp);
    dst[k + 1] = (int16_t)(src[k + 2] - zp);
    dst[k + 2] = (int16_t)(src[k + 1] - zp);
    dst[k + 3] = (int16_t)(src[k + 3] - zp);
  }
  for (; k < n; ++k) dst[k] = (int16_t)(src[k] - zp);
}

static int32_t qrnn_dot(const int8_t *w, const int16_t *v, int32_t n) {
  int32_t acc = 0, k;
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

#include "tinyc_qrnn_loop.h"
