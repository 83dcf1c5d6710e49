/* 2-D convolution (ONNX Conv, NCHW, grouped and depthwise), float32. */
#ifndef TINYC_CONV_H
#define TINYC_CONV_H

#include "tinyc_rt.h"

typedef struct {
  int32_t n, c, h, w;       /* input */
  int32_t m, oh, ow;        /* output channels and spatial size */
  int32_t kh, kw, group;
  int32_t stride_h, stride_w, dil_h, dil_w;
  int32_t pad_top, pad_left;
  tinyc_act act;
} tinyc_conv2d_params;

/* X [n,c,h,w], W [m, c/group, kh, kw], B [m] or NULL, Y [n,m,oh,ow]. Y must not alias X.
 * `work`: the node's planned workspace (tinyc/ops/conv.py fpu_dw_plane_bytes: the
 * Cortex-M4 depthwise kernel's padded plane), or NULL; the portable kernel ignores it. */
void tinyc_conv2d_f32(const float *restrict X, const float *restrict W, const float *restrict B,
                      float *restrict Y, float *restrict work, const tinyc_conv2d_params *p);

#endif /* TINYC_CONV_H */
