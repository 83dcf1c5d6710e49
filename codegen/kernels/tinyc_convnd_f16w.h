/* N-d convolution and transposed convolution with IEEE half weights (--quantize float16):
 * float32 activations, bias and arithmetic; W holds the weights' binary16 bits in flash. */
#ifndef TINYC_CONVND_F16W_H
#define TINYC_CONVND_F16W_H

#include "tinyc_convnd.h"
#include "tinyc_rt.h"

/* As tinyc_conv_nd_f32, W [m, c/group, k...] as half bits: the filters of `chunk` output
 * channels at a time (within one group, or whole one-channel groups) are widened into
 * `work` (chunk * c/group * prod(k) floats) and run through tinyc_conv_nd_f32. */
void tinyc_conv_nd_f32_f16w(const float *restrict X, const uint16_t *restrict W,
                            const float *restrict B, float *restrict Y,
                            const tinyc_convnd_params *p, int32_t chunk, float *restrict work);

/* As tinyc_conv_transpose_nd_f32, W [c, m/group, k...] as half bits: the weights of
 * `chunk` output channels of one group at a time are gathered and widened into `work`
 * (c/group * chunk * prod(k) floats) and run through tinyc_conv_transpose_nd_f32. */
void tinyc_conv_transpose_nd_f32_f16w(const float *restrict X, const uint16_t *restrict W,
                                      const float *restrict B, float *restrict Y,
                                      const tinyc_convnd_params *p, int32_t chunk,
                                      float *restrict work);

#endif /* TINYC_CONVND_F16W_H */
