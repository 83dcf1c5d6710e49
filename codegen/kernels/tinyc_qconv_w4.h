/* int8 2-D convolution with int4 weights packed two per byte (`--weight-bits 4`).
 *
 * The arithmetic, the parameters and the results are tinyc_qconv.h's, with W's values in
 * [-8, 7] (the compiler writes [-7, 7]); only W's storage differs, in the "rows" layout of
 * tinyc/quant/packing.py: output channel m's cg * kh * kw weights, padded with zeros to a
 * multiple of 8, as blocks of 4 bytes whose byte j holds weight 8b + j in its low nibble
 * and weight 8b + j + 4 in its high nibble (two's complement; tinyc_w4.h reads it). Each
 * row takes TINYC_W4_ROW_BYTES(cg * kh * kw) bytes.
 *
 * `work` is the node's planned arena workspace (tinyc/ops/qint4.py sizes it): the portable
 * kernel unpacks one output channel's row into it, the Cortex-M4 kernel gathers two output
 * pixels' int16 windows there. */
#ifndef TINYC_QCONV_W4_H
#define TINYC_QCONV_W4_H

#include "tinyc_qconv.h"
#include "tinyc_w4.h"

/* X [n,c,h,w], W packed rows [m], B [m] or NULL, Y [n,m,oh,ow]; Y must not alias X. */
void tinyc_conv2d_s8_w4(const int8_t *restrict X, const uint8_t *restrict W,
                        const int32_t *restrict B, int8_t *restrict Y,
                        int32_t *restrict work, const tinyc_qconv_params *p);

/* The overlapping form of a 1x1 conv (stride 1, no padding, group 1, n == 1), with
 * tinyc_conv1x1_stream_s8's rules (tinyc_qconv.h): X and Y may share bytes as the planner
 * allows. Each input pixel is copied whole into `work` before its outputs are stored, so
 * `scratch` is not needed (it may be NULL). Results equal tinyc_conv2d_s8_w4's. */
void tinyc_conv1x1_stream_s8_w4(const int8_t *X, const uint8_t *restrict W,
                                const int32_t *restrict B, int8_t *Y, int8_t *restrict scratch,
                                int32_t *restrict work, const tinyc_qconv_params *p);

#endif /* TINYC_QCONV_W4_H */
