/* DeformConv, 2-D, float32, NCHW. Tap (ki, kj) of output (i, j) samples X bilinearly at
 * (i * stride_h - pad_t + ki * dil_h + dy, j * stride_w - pad_l + kj * dil_w + dx), zero
 * outside the image, where (dy, dx) come from `offset` [n, offset_group, kh, kw, 2, oh, ow]
 * for the tap's offset group, and multiplies it by mask [n, offset_group, kh, kw, oh, ow]
 * (1 when NULL). Grouped like Conv; B (NULL: none) starts each sum. */
#ifndef TINYC_DEFORM_H
#define TINYC_DEFORM_H

#include "tinyc_rt.h"

typedef struct {
  int32_t n, c, ih, iw, oc, oh, ow;
  int32_t kh, kw, stride_h, stride_w, dil_h, dil_w, pad_t, pad_l;
  int32_t group, offset_group;
} tinyc_deform_params;

void tinyc_deform_conv2d_f32(const float *X, const float *W, const float *offset,
                             const float *B, const float *mask, float *Y,
                             const tinyc_deform_params *p);

#endif /* TINYC_DEFORM_H */
