/* Pooling over the spatial axes of an NCHW tensor, float32. */
#ifndef TINYC_POOL_H
#define TINYC_POOL_H

#include "tinyc_rt.h"

typedef struct {
  int32_t nc, h, w, oh, ow;   /* nc = batch * channels */
  int32_t kh, kw, stride_h, stride_w, dil_h, dil_w;
  int32_t pad_top, pad_left, pad_bottom, pad_right;
  int32_t count_include_pad;  /* AveragePool only */
} tinyc_pool2d_params;

void tinyc_maxpool2d_f32(const float *restrict X, float *restrict Y, const tinyc_pool2d_params *p);
void tinyc_avgpool2d_f32(const float *restrict X, float *restrict Y, const tinyc_pool2d_params *p);

/* Y[i] = mean / max of X[i*size .. (i+1)*size). */
void tinyc_global_avgpool_f32(const float *restrict X, float *restrict Y, int32_t nc, int32_t size);
void tinyc_global_maxpool_f32(const float *restrict X, float *restrict Y, int32_t nc, int32_t size);

#endif /* TINYC_POOL_H */
