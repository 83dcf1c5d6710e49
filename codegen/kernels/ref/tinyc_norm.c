/* Portable reference normalization kernels. */
#include "tinyc_norm.h"

void tinyc_channel_affine_f32(const float *X, const float *scale, const float *shift, float *Y,
                              int32_t outer, int32_t c, int32_t inner) {
  int32_t o, k, i;
  for (o = 0; o < outer; ++o) {
    for (k = 0; k < c; ++k) {
      const size_t base = ((size_t)o * c + k) * inner;
      const float s = scale[k], t = shift[k];
      for (i = 0; i < inner; ++i) Y[base + i] = X[base + i] * s + t;
    }
  }
}
