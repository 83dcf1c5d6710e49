/* Integer recurrent layers with the DSP extension's SIMD multiply-accumulate, for the
 * Cortex-M4/M7/M33: the portable kernel's bits (tinyc_qrnn.h). Each step's x and h rows are
 * widened once to int16 with their zero points taken off, in SXTB16's halfword order; a
 * unit's 3 or 4 gate rows then run together against it (fewer: one at a time), so per 4 inputs two row loads are
 * shared by the gates and each gate costs one weight load, two sign extensions and two
 * SMLADs. */
#include "tinyc_qrnn.h"

#include <stddef.h>

#include "tinyc_dsp.h"

/* the requantizations: SMMUL and a shift for every multiplier below 1/2 */
static int32_t qrnn_mbqm(int32_t x, int32_t q, int32_t shift) { return tinyc_dsp_mbqm(x, q, shift); }

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

/* the same order for int16 values already widened: swap the middle two of every 4 */
static void qrnn_order(int16_t *v, int32_t n) {
  int32_t k;
  for (k = 0; k + 4 <= n; k += 4) {
    const int16_t t = v[k + 1];
    v[k + 1] = v[k + 2];
    v[k + 2] = t;
  }
}

/* acc += the 4 weights at w (one word) times the widened pairs even, odd */
#define QRNN_MAC4(acc, w, even, odd)                                 \
  do {                                                               \
    int32_t wq_;                                                     \
    memcpy(&wq_, (w), sizeof wq_);                                   \
    (acc) = tinyc_smlad(tinyc_sxtb16(wq_), (even), (acc));           \
    (acc) = tinyc_smlad(tinyc_sxtb16_hi(wq_), (odd), (acc));         \
  } while (0)

/* Inlined into its callers: one frame of 136 B for a unit where the call took 96 + 80. */
TINYC_INLINE void qrnn_dots(const int8_t *w, size_t stride, const int16_t *v, int32_t n,
                            int32_t gates, int32_t *acc) {
  const int8_t *w0 = w, *w1 = w + stride, *w2 = w + 2 * stride, *w3 = w + 3 * stride;
  int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, k = 0;
  if (gates < 3) { /* one row at a time */
    int32_t g;
    for (g = 0; g < gates; ++g, w0 += stride) {
      a0 = 0;
      for (k = 0; k + 4 <= n; k += 4) {
        int32_t even, odd;
        memcpy(&even, v + k, sizeof even);
        memcpy(&odd, v + k + 2, sizeof odd);
        QRNN_MAC4(a0, w0 + k, even, odd);
      }
      for (; k < n; ++k) a0 += w0[k] * v[k];
      acc[g] = a0;
    }
    return;
  }
  if (gates == 4) {
    for (; k + 4 <= n; k += 4) {
      int32_t even, odd;
      memcpy(&even, v + k, sizeof even);
      memcpy(&odd, v + k + 2, sizeof odd);
      QRNN_MAC4(a0, w0 + k, even, odd);
      QRNN_MAC4(a1, w1 + k, even, odd);
      QRNN_MAC4(a2, w2 + k, even, odd);
      QRNN_MAC4(a3, w3 + k, even, odd);
    }
    for (; k < n; ++k) a3 += w3[k] * v[k];
    acc[3] = a3;
    k = n & ~3;
  } else {
    for (; k + 4 <= n; k += 4) {
      int32_t even, odd;
      memcpy(&even, v + k, sizeof even);
      memcpy(&odd, v + k + 2, sizeof odd);
      QRNN_MAC4(a0, w0 + k, even, odd);
      QRNN_MAC4(a1, w1 + k, even, odd);
      QRNN_MAC4(a2, w2 + k, even, odd);
    }
  }
  for (; k < n; ++k) {
    a0 += w0[k] * v[k];
    a1 += w1[k] * v[k];
    a2 += w2[k] * v[k];
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
}

#include "tinyc_qrnn_loop.h"
