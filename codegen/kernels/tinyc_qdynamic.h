/* Dynamic quantization: int8 weights, activations quantized at run time.
 *
 * X is uint8 with a run-time scale and zero point (from tinyc_dynamic_quantize_f32_u8),
 * W int8 symmetric per output channel (scales w_scale), B float32 or NULL. The products
 * accumulate exactly in int32; the epilogue is float32, one statement per operation so no
 * compiler contracts it into a fused multiply-add:
 *
 *   s = x_scale * w_scale[m];  y = (float)acc * s;  y = y + B[m];  Y = act(y)
 *
 * act is a clamp (Relu/Clip) or nothing. */
#ifndef TINYC_QDYNAMIC_H
#define TINYC_QDYNAMIC_H

#include "tinyc_rt.h"

typedef struct {
  int32_t n, c, h, w;
  int32_t m, oh, ow;
  int32_t kh, kw, group;
  int32_t stride_h, stride_w, dil_h, dil_w;
  int32_t pad_top, pad_left;
  const float *w_scale; /* [m] */
  tinyc_act act;
} tinyc_dconv_params;

void tinyc_conv2d_u8s8_f32(const uint8_t *restrict X, const float *x_scale,
                           const uint8_t *x_zero_point, const int8_t *restrict W,
                           const float *restrict B, float *restrict Y,
                           const tinyc_dconv_params *p);

typedef struct {
  int32_t batch, in_features, out_features;
  const float *w_scale; /* [out_features] */
  tinyc_act act;
} tinyc_dfc_params;

void tinyc_fully_connected_u8s8_f32(const uint8_t *restrict X, const float *x_scale,
                                    const uint8_t *x_zero_point, const int8_t *restrict W,
                                    const float *restrict B, float *restrict Y,
                                    const tinyc_dfc_params *p);

#endif /* TINYC_QDYNAMIC_H */
