/* int16x8 convolution and fully connected layer (TFLite's 16x8 mode): int16 activations,
 * symmetric (zero point 0), int8 weights symmetric per output channel, int64 bias with
 * scale s_x * s_w[m] (or NULL). For each output value:
 *
 *   acc = B[m] + sum X * W                              (int64; padding contributes 0)
 *   Y   = clamp(tinyc_mbqm64(acc, multiplier[m], shift[m]), act_min, act_max)
 *
 * (tinyc_fixedpoint64.h). `acc32` is 1 when the compiler proved |acc| < 2^31 for every
 * output of the layer (sum |W[m]| * 32768 + |B[m]| < 2^31): a kernel may then accumulate
 * in int32 (the Cortex-M4 variant does: SMLAD instead of SMLALD), with the same result.
 * Target variants (codegen/kernels/<target>/tinyc_qconv16.c) keep these signatures and
 * results. `work` is the node's arena workspace (the M4 variant's reordered int16 column
 * or row, tinyc/ops/qwork.py); the portable kernels ignore it. */
#ifndef TINYC_QCONV16_H
#define TINYC_QCONV16_H

#include "tinyc_rt.h"

typedef struct {
  int32_t n, c, h, w;  /* input */
  int32_t m, oh, ow;   /* output channels and spatial size */
  int32_t kh, kw, group;
  int32_t stride_h, stride_w, dil_h, dil_w;
  int32_t pad_top, pad_left;
  int32_t act_min, act_max;
  int32_t acc32;
  const int32_t *multiplier; /* [m] */
  const int32_t *shift;      /* [m] */
} tinyc_qconv16_params;

typedef struct {
  int32_t batch, in_features, out_features;
  int32_t act_min, act_max;
  int32_t acc32;
  const int32_t *multiplier; /* [out_features] */
  const int32_t *shift;      /* [out_features] */
} tinyc_qfc16_params;

/* X [n,c,h,w], W [m, c/group, kh, kw], B [m] or NULL, Y [n,m,oh,ow]; Y must not alias X. */
void tinyc_conv2d_s16(const int16_t *restrict X, const int8_t *restrict W,
                      const int64_t *restrict B, int16_t *restrict Y,
                      int32_t *restrict work, const tinyc_qconv16_params *p);

/* The same when every group has one input channel (c == group, W [m,1,kh,kw]). */
void tinyc_depthwise_conv2d_s16(const int16_t *restrict X, const int8_t *restrict W,
                                const int64_t *restrict B, int16_t *restrict Y,
                                int32_t *restrict work, const tinyc_qconv16_params *p);

/* X [batch, in], W [out, in], B [out] or NULL, Y [batch, out]; Y must not alias X. */
void tinyc_fully_connected_s16(const int16_t *restrict X, const int8_t *restrict W,
                               const int64_t *restrict B, int16_t *restrict Y,
                               int32_t *restrict work, const tinyc_qfc16_params *p);

#endif /* TINYC_QCONV16_H */
