/* 2-D convolution with half weights on the Cortex-M4F/M7/M33: the chunk loop of
 * tinyc_conv_f16w_loop.h, widening two weights a word with VCVTB/VCVTT
 * (tinyc_fpu_f16.h); the float conv variant (tinyc_conv.c) does the arithmetic. */
#include <stddef.h>

#include "tinyc_fpu_f16.h"

static void tinyc_f16w_widen(const uint16_t *src, float *dst, size_t n) {
  for (; n >= 2; n -= 2) {
    const tinyc_fpu_h2 w = tinyc_fpu_h2_load(src);
    src += 2;
    dst[0] = tinyc_fpu_h2f_lo(w);
    dst[1] = tinyc_fpu_h2f_hi(w);
    dst += 2;
  }
  if (n) *dst = tinyc_fpu_h2f(*src);
}

#include "tinyc_conv_f16w_loop.h"
