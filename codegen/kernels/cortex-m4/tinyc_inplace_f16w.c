/* Overlapping half-weight kernels on the Cortex-M4F/M7/M33: tinyc_inplace_f16w_loop.h
 * with VCVTB/VCVTT widening (tinyc_fpu_f16.h), two contiguous weights a word. */
#include <stddef.h>

#include "tinyc_fpu.h"
#include "tinyc_fpu_f16.h"

static void tinyc_f16w_widen(const uint16_t *src, float *dst, size_t n) {
  for (; n >= 2; n -= 2) {
    const uint32_t w = tinyc_fpu_h2_load(src);
    src += 2;
    dst[0] = tinyc_fpu_h2f_lo(w);
    dst[1] = tinyc_fpu_h2f_hi(w);
    dst += 2;
  }
  if (n) *dst = tinyc_fpu_h2f(*src);
}

static float tinyc_f16w_dot(float acc, const float *x, size_t sx, const uint16_t *w, size_t sw,
                            int32_t n) {
  if (sw == 1) {
    for (; n >= 2; n -= 2) {
      const uint32_t v = tinyc_fpu_h2_load(w);
      w += 2;
      TINYC_FPU_MAC(acc, x[0], tinyc_fpu_h2f_lo(v));
      TINYC_FPU_MAC(acc, x[sx], tinyc_fpu_h2f_hi(v));
      x += 2 * sx;
    }
  }
  for (; n > 0; --n) {
    TINYC_FPU_MAC(acc, *x, tinyc_fpu_h2f(*w));
    x += sx;
    w += sw;
  }
  return acc;
}

#include "tinyc_inplace_f16w_loop.h"
