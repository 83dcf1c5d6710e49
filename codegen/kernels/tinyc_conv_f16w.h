/* 2-D convolution with IEEE half weights (--quantize float16): float32 activations, bias
 * and arithmetic; W holds the weights' binary16 bits in flash. */
#ifndef TINYC_CONV_F16W_H
#define TINYC_CONV_F16W_H

#include "tinyc_conv.h"
#include "tinyc_rt.h"

/* As tinyc_conv2d_f32 (tinyc_conv.h), W [m, c/group, kh, kw] as half bits. The weights of
 * `chunk` output channels at a time (within one group, or whole one-channel groups) are
 * widened into `work` (chunk * c/group * kh * kw floats) and run through tinyc_conv2d_f32,
 * so every target's float conv kernel does the arithmetic. */
void tinyc_conv2d_f32_f16w(const float *restrict X, const uint16_t *restrict W,
                           const float *restrict B, float *restrict Y,
                           const tinyc_conv2d_params *p, int32_t chunk, float *restrict work);

#endif /* TINYC_CONV_F16W_H */
