/* Normalization kernels, float32. */
#ifndef TINYC_NORM_H
#define TINYC_NORM_H

#include "tinyc_rt.h"

/* Y[o,c,i] = X[o,c,i] * scale[c] + shift[c] for X viewed as [outer, c, inner]: inference
 * BatchNormalization with its four parameters folded at compile time. Y may equal X. */
void tinyc_channel_affine_f32(const float *X, const float *scale, const float *shift, float *Y,
                              int32_t outer, int32_t c, int32_t inner);

#endif /* TINYC_NORM_H */
