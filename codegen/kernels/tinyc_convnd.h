/* N-d convolution and transposed convolution (ONNX Conv, ConvTranspose), NC + spatial
 * layout, float32, grouped, with a fused activation. The 1-D and 2-D Conv fast path is
 * tinyc_conv.h; this family covers any spatial rank up to TINYC_MAX_RANK. */
#ifndef TINYC_CONVND_H
#define TINYC_CONVND_H

#include "tinyc_rt.h"

typedef struct {
  int32_t n, c, m, group, nsp;     /* batch, in/out channels, groups, spatial rank */
  int32_t in[TINYC_MAX_RANK];      /* input spatial dims */
  int32_t out[TINYC_MAX_RANK];     /* output spatial dims */
  int32_t k[TINYC_MAX_RANK];       /* kernel spatial dims */
  int32_t stride[TINYC_MAX_RANK];
  int32_t dil[TINYC_MAX_RANK];
  int32_t pad[TINYC_MAX_RANK];     /* leading pads (trailing ones follow from the sizes) */
  tinyc_act act;
} tinyc_convnd_params;

/* Conv: X [n, c, in...], W [m, c/group, k...], B [m] or NULL, Y [n, m, out...].
 * Y must not alias X. */
void tinyc_conv_nd_f32(const float *restrict X, const float *restrict W,
                       const float *restrict B, float *restrict Y,
                       const tinyc_convnd_params *p);

/* The same on float16 (IEEE half bits): products summed in float, rounded once. */
void tinyc_conv_nd_f16(const uint16_t *X, const uint16_t *W, const uint16_t *B, uint16_t *Y,
                       const tinyc_convnd_params *p);

/* ConvTranspose: X [n, c, in...], W [c, m/group, k...], B [m] or NULL, Y [n, m, out...]:
 * Y[o] sums X[i] * W[k] over all i, k with o + pad = i * stride + k * dil (computed per
 * output, so no zero-fill pass and no scatter). Y must not alias X. */
void tinyc_conv_transpose_nd_f32(const float *restrict X, const float *restrict W,
                                 const float *restrict B, float *restrict Y,
                                 const tinyc_convnd_params *p);

/* CausalConvWithState: depthwise causal 1-D convolution of X [batch, c, len] with
 * W [c, 1, k] over the input left-padded by past [batch, c, k - 1] (NULL: zeros); optional
 * bias B [c] and SiLU (x * sigmoid(x)) on the result Y [batch, c, len]. present
 * [batch, c, k - 1] (may be NULL) receives the last k - 1 positions of the padded input.
 * Y and present must not alias X or past. */
void tinyc_causal_conv_state_f32(const float *restrict X, const float *restrict W,
                                 const float *restrict B, const float *restrict past,
                                 float *restrict Y, float *restrict present, int32_t batch,
                                 int32_t c, int32_t len, int32_t k, int32_t silu);

void tinyc_causal_conv_state_f16(const uint16_t *X, const uint16_t *W, const uint16_t *B,
                                 const uint16_t *past, uint16_t *Y, uint16_t *present,
                                 int32_t batch, int32_t c, int32_t len, int32_t k,
                                 int32_t silu);

#endif /* TINYC_CONVND_H */
