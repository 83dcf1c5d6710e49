/* Portable overlapping half-weight kernels: tinyc_inplace_f16w_loop.h with tinyc_f16.h's
 * exact bit conversion. */
#include <stddef.h>

#include "tinyc_f16.h"

static void tinyc_f16w_widen(const uint16_t *src, float *dst, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i) dst[i] = tinyc_f16_to_f32(src[i]);
}

static float tinyc_f16w_dot(float acc, const float *x, size_t sx, const uint16_t *w, size_t sw,
                            int32_t n) {
  int32_t i;
  for (i = 0; i < n; ++i) acc += x[(size_t)i * sx] * tinyc_f16_to_f32(w[(size_t)i * sw]);
  return acc;
}

#include "tinyc_inplace_f16w_loop.h"
