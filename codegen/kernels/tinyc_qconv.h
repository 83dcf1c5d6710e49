/* int8 2-D convolution (NCHW; grouped and depthwise), fixed-point requantization.
 *
 * Conventions: X and Y int8 asymmetric per tensor, W int8 symmetric per output channel
 * (zero point 0), B int32 with scale s_x * s_w[m] (or NULL). For each output value:
 *
 *   acc = B[m] + sum (X + input_offset) * W          (int32; padding contributes 0)
 *   Y   = clamp(tinyc_mbqm(acc, multiplier[m], shift[m]) + output_offset, act_min, act_max)
 *
 * with input_offset = -zp_x, output_offset = zp_y, and (multiplier, shift) the compile-time
 * fixed-point form of s_x * s_w[m] / s_y (tinyc_fixedpoint.h). A fused Relu/Clip is the
 * [act_min, act_max] clamp. Target variants (codegen/kernels/<target>/tinyc_qconv.c) keep
 * these exact signatures and results.
 *
 * `work` is the node's planned arena workspace (8-byte aligned, NULL when empty), sized by
 * the compiler (tinyc/ops/qwork.py) for the largest variant's scratch: the Cortex-M4
 * kernels gather their int16 column or padded depthwise plane there, so they keep nothing
 * big on the stack; the portable kernels need none and ignore it. */
#ifndef TINYC_QCONV_H
#define TINYC_QCONV_H

#include "tinyc_rt.h"

typedef struct {
  int32_t n, c, h, w;  /* input */
  int32_t m, oh, ow;   /* output channels and spatial size */
  int32_t kh, kw, group;
  int32_t stride_h, stride_w, dil_h, dil_w;
  int32_t pad_top, pad_left; /* pad_top < 0: the image starts below the window (bands) */
  int32_t input_offset;  /* -zp_x */
  int32_t output_offset; /* zp_y */
  int32_t act_min, act_max;
  const int32_t *multiplier; /* [m] */
  const int32_t *shift;      /* [m] */
  /* NULL, or (Cortex-M4 kernels, a dense layer whose channels all take their short
   * requantization form, K = c * kh * kw a multiple of 4) the compile-time records of
   * tinyc/ops/qpack.py: per output channel pair K + TINYC_QCONV_PACK_EXTRA int32 words
   * (the two biases, both channels' weights as interleaved int16 pairs, the six
   * requantization constants). The other kernels ignore it. */
  const int32_t *packed;
} tinyc_qconv_params;

/* int32 words of a packed record besides its K words of weights */
#define TINYC_QCONV_PACK_EXTRA 8

/* X [n,c,h,w], W [m, c/group, kh, kw], B [m] or NULL, Y [n,m,oh,ow]; Y must not alias X. */
void tinyc_conv2d_s8(const int8_t *restrict X, const int8_t *restrict W,
                     const int32_t *restrict B, int8_t *restrict Y,
                     int32_t *restrict work, const tinyc_qconv_params *p);

/* The same operation when every group has one input channel (c == group, W [m,1,kh,kw],
 * m = c * depth_multiplier). */
void tinyc_depthwise_conv2d_s8(const int8_t *restrict X, const int8_t *restrict W,
                               const int32_t *restrict B, int8_t *restrict Y,
                               int32_t *restrict work, const tinyc_qconv_params *p);

/* Overlapping ("in place") forms, with the float ones' rules (tinyc_inplace.h): X and Y may
 * share bytes as the planner allows; `scratch` (int8) is separate arena bytes.
 * Depthwise with group == c == m: output channel k goes to scratch[oh*ow] and is stored
 * after input channel k is fully read. Results equal tinyc_depthwise_conv2d_s8's. */
void tinyc_dwconv2d_stream_s8(const int8_t *X, const int8_t *restrict W,
                              const int32_t *restrict B, int8_t *Y, int8_t *restrict scratch,
                              int32_t *restrict work, const tinyc_qconv_params *p);

/* 1x1, stride 1, no padding, group 1, n == 1, pixel by pixel through scratch[min(c, m)].
 * Results equal tinyc_conv2d_s8's. */
void tinyc_conv1x1_stream_s8(const int8_t *X, const int8_t *restrict W,
                             const int32_t *restrict B, int8_t *Y, int8_t *restrict scratch,
                             int32_t *restrict work, const tinyc_qconv_params *p);

/* Dense, group 1, n == 1, stride 1, output the size of the input ("same" padding), row by
 * row: output row r waits in scratch[(pad_top + 1) * m * ow] until no later output row needs
 * input row r, then is stored. Results equal tinyc_conv2d_s8's. */
void tinyc_conv2d_rows_stream_s8(const int8_t *X, const int8_t *restrict W,
                                 const int32_t *restrict B, int8_t *Y, int8_t *restrict scratch,
                                 int32_t *restrict work, const tinyc_qconv_params *p);

#endif /* TINYC_QCONV_H */
