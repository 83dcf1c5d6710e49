/* Softmax, float32. */
#ifndef TINYC_SOFTMAX_H
#define TINYC_SOFTMAX_H

#include "tinyc_rt.h"

/* Softmax over the middle axis of X viewed as [outer, len, inner]. */
void tinyc_softmax_f32(const float *X, float *Y, int32_t outer, int32_t len, int32_t inner);

#endif /* TINYC_SOFTMAX_H */
