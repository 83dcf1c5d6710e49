/* Portable reference softmax: subtract the max for range safety, exponentiate, normalize. */
#include "tinyc_softmax.h"

#include <math.h>

void tinyc_softmax_f32(const float *X, float *Y, int32_t outer, int32_t len, int32_t inner) {
  int32_t o, i, k;
  for (o = 0; o < outer; ++o) {
    for (i = 0; i < inner; ++i) {
      const size_t base = (size_t)o * len * inner + i;
      float mx = X[base], sum = 0.0f, inv;
      for (k = 1; k < len; ++k) {
        const float v = X[base + (size_t)k * inner];
        if (v > mx) mx = v;
      }
      for (k = 0; k < len; ++k) {
        const float e = expf(X[base + (size_t)k * inner] - mx);
        Y[base + (size_t)k * inner] = e;
        sum += e;
      }
      inv = 1.0f / sum;
      for (k = 0; k < len; ++k) Y[base + (size_t)k * inner] *= inv;
    }
  }
}
