/* Gated linear units: SwiGLU, Y[i] = A[i] * sigmoid(alpha * A[i]) * B[i] over n elements.
 * float16 loads each half to float32, computes in float32 and rounds once. Y may be A or B
 * (each element is read before it is written). */
#ifndef TINYC_GLU_H
#define TINYC_GLU_H

#include "tinyc_rt.h"

void tinyc_swiglu_f32(const float *A, const float *B, float *Y, int32_t n, float alpha);
void tinyc_swiglu_f64(const double *A, const double *B, double *Y, int32_t n, float alpha);
void tinyc_swiglu_f16(const uint16_t *A, const uint16_t *B, uint16_t *Y, int32_t n, float alpha);

#endif /* TINYC_GLU_H */
