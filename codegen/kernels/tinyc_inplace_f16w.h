/* Overlapping ("in place") forms of the half-weight kernels (--quantize float16): the
 * float32 forms of tinyc_inplace.h, with W/B as IEEE half bits. Same overlap rules and
 * scratch sizes as their float32 twins; `work` is the node's workspace, the one its
 * ordinary form (tinyc_conv_f16w.h) widens weights into. */
#ifndef TINYC_INPLACE_F16W_H
#define TINYC_INPLACE_F16W_H

#include "tinyc_conv.h"
#include "tinyc_gemm.h"
#include "tinyc_rt.h"

/* tinyc_dwconv2d_stream_f32, the weights of `chunk` channels at a time widened into work. */
void tinyc_dwconv2d_stream_f32_f16w(const float *X, const uint16_t *restrict W,
                                    const float *restrict B, float *Y, float *restrict scratch,
                                    const tinyc_conv2d_params *p, int32_t chunk,
                                    float *restrict work);

/* tinyc_conv1x1_stream_f32, 4 pixels at a time (scratch: 4 * min(c, m) floats), each
 * weight widened as it is read. */
void tinyc_conv1x1_stream_f32_f16w(const float *X, const uint16_t *restrict W,
                                   const float *restrict B, float *Y, float *restrict scratch,
                                   const tinyc_conv2d_params *p);

/* tinyc_conv2d_rows_stream_f32, the filters of `chunk` output channels at a time widened
 * into work (for every output row: the whole row must be computed before it is stored). */
void tinyc_conv2d_rows_stream_f32_f16w(const float *X, const uint16_t *restrict W,
                                       const float *restrict B, float *Y,
                                       float *restrict scratch, const tinyc_conv2d_params *p,
                                       int32_t chunk, float *restrict work);

/* tinyc_gemm_rows_stream_f32, each weight widened as it is read. */
void tinyc_gemm_rows_stream_f32_f16w(const float *A, const uint16_t *restrict B,
                                     const float *restrict C, float *Y, float *restrict scratch,
                                     const tinyc_gemm_params *p);

#endif /* TINYC_INPLACE_F16W_H */
