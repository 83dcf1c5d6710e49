/* Portable 2-D convolution with half weights: the chunk loop of tinyc_conv_f16w_loop.h
 * with tinyc_f16.h's exact bit conversion. */
#include <stddef.h>

#include "tinyc_f16.h"

static void tinyc_f16w_widen(const uint16_t *src, float *dst, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i) dst[i] = tinyc_f16w_to_f32(src[i]);
}

#include "tinyc_conv_f16w_loop.h"
