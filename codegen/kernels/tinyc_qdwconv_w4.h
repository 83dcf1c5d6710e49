/* int8 depthwise convolution with int4 weights packed two per byte (`--weight-bits 4`).
 *
 * tinyc_depthwise_conv2d_s8's operation (tinyc_qconv.h) with W [m, 1, kh, kw] in the
 * "stream" layout of tinyc/quant/packing.py: weight i of the flattened tensor is the low
 * nibble of byte i / 2 when i is even, the high nibble when odd (two's complement).
 *
 * Each input channel's depth_multiplier * kh * kw weights are unpacked into the start of
 * `work`, then the target's own int8 depthwise kernel runs that channel, with the rest of
 * `work` as its workspace (tinyc/ops/qint4.py sizes both), so the Cortex-M4 variant's
 * padded-plane paths serve int4 weights too. */
#ifndef TINYC_QDWCONV_W4_H
#define TINYC_QDWCONV_W4_H

#include "tinyc_qconv.h"

void tinyc_depthwise_conv2d_s8_w4(const int8_t *restrict X, const uint8_t *restrict W,
                                  const int32_t *restrict B, int8_t *restrict Y,
                                  int32_t *restrict work, const tinyc_qconv_params *p);

/* The overlapping form (group == c == m), channel by channel through
 * tinyc_dwconv2d_stream_s8 (scratch[oh * ow], its rules). */
void tinyc_dwconv2d_stream_s8_w4(const int8_t *X, const uint8_t *restrict W,
                                 const int32_t *restrict B, int8_t *Y, int8_t *restrict scratch,
                                 int32_t *restrict work, const tinyc_qconv_params *p);

#endif /* TINYC_QDWCONV_W4_H */
