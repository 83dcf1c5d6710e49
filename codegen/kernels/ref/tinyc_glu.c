/* Portable gated linear unit kernels. a / (1 + exp(-alpha a)) is a * sigmoid(alpha a)
 * without a second division; exp overflowing to +inf gives -0 or 0, as it should. */
#include "tinyc_glu.h"

#include <math.h>

#include "tinyc_f16.h"

void tinyc_swiglu_f32(const float *A, const float *B, float *Y, int32_t n, float alpha) {
  int32_t i;
  for (i = 0; i < n; ++i) {
    const float a = A[i];
    Y[i] = a / (1.0f + expf(-alpha * a)) * B[i];
  }
}

void tinyc_swiglu_f64(const double *A, const double *B, double *Y, int32_t n, float alpha) {
  int32_t i;
  for (i = 0; i < n; ++i) {
    const double a = A[i];
    Y[i] = a / (1.0 + exp(-(double)alpha * a)) * B[i];
  }
}

void tinyc_swiglu_f16(const uint16_t *A, const uint16_t *B, uint16_t *Y, int32_t n, float alpha) {
  int32_t i;
  for (i = 0; i < n; ++i) {
    const float a = tinyc_f16_to_f32(A[i]);
    Y[i] = tinyc_f32_to_f16(a / (1.0f + expf(-alpha * a)) * tinyc_f16_to_f32(B[i]));
  }
}
