/* int8 layers at a quantized model's float boundary: the first layer reads the model's
 * float input, quantizing it on the fly, and/or the last layer writes the float output,
 * dequantizing in its epilogue, so no int8 copy of either tensor sits in the arena.
 *
 * Results are exactly those of QuantizeLinear (tinyc_quantize.h) -> the int8 layer
 * (tinyc_qconv.h, tinyc_qfc.h) -> DequantizeLinear:
 *
 *   quantize(x)   = saturate(round_half_even(x / x_scale) + x_zero_point)   (float32)
 *   dequantize(q) = (float)(q - y_zero_point) * y_scale
 *
 * The layer itself runs through the public int8 kernels (tinyc_conv2d_s8,
 * tinyc_depthwise_conv2d_s8, tinyc_fully_connected_s8), so a target's variants of those
 * speed these up too. `work` is arena scratch planned for the node (OpDef.workspace): its
 * first `kernel_work` bytes are the int8 kernel's own workspace (tinyc_qconv.h,
 * tinyc_qfc.h), the staging below follows them:
 *
 * - conv, float input: output rows in bands of `tile`; the band's copy of the conv
 *   parameters (TINYC_QB_CONV_PARAMS bytes) comes first, then the input rows a band needs
 *   are quantized into work (NCHW band, c * band_rows * w bytes), the band is computed, then
 *   copied (or dequantized) into place. A band covering the whole output with an int8
 *   output is written in place directly.
 * - conv, int8 input, float output: `tile` output channels (a multiple of m / group) at a
 *   time into work, then dequantized.
 * - fully connected, float input: with `stage`, each input row is quantized into work and
 *   the int8 kernel runs on it; without, the int8 kernel's float-input form
 *   (tinyc_fully_connected_f32_s8) quantizes each element on the fly and no workspace is
 *   needed (a float output then goes TINYC_QB_ROWS features at a time).
 * - fully connected, float output: `tile` output features at a time into work, then
 *   dequantized. */
#ifndef TINYC_QBOUNDARY_H
#define TINYC_QBOUNDARY_H

#include "tinyc_qconv.h"
#include "tinyc_qfc.h"
#include "tinyc_rt.h"

/* bytes of work after the int8 kernel's that hold a float-input conv band's copy of the
 * layer's tinyc_qconv_params (20 int32 and three pointers: 104 on a 64-bit host), kept in the
 * arena, not on the stack (tinyc/ops/qwork.py QCONV_PARAMS_BYTES) */
#define TINYC_QB_CONV_PARAMS 104
/* output features per chunk of the on-the-fly fully connected loop with a float output */
#define TINYC_QB_ROWS 8

typedef struct {
  tinyc_qconv_params conv; /* the whole layer, as for tinyc_conv2d_s8 */
  int32_t depthwise;       /* 1: the layer runs with tinyc_depthwise_conv2d_s8 */
  int32_t tile;            /* output rows per band, or output channels per chunk */
  float x_scale;           /* float input: its quantization */
  int32_t x_zero_point;
  float y_scale;           /* float output: the int8 result's dequantization */
  int32_t y_zero_point;
  int32_t kernel_work;     /* bytes of work the int8 kernel takes first (a multiple of 8) */
} tinyc_qbconv_params;

typedef struct {
  tinyc_qfc_params fc; /* the whole layer, as for tinyc_fully_connected_s8 */
  int32_t stage;       /* float input: 1 stages a quantized input row in work */
  int32_t tile;        /* float output: output features per chunk */
  float x_scale;
  int32_t x_zero_point;
  float y_scale;
  int32_t y_zero_point;
  int32_t kernel_work; /* bytes of work the int8 kernel takes first (a multiple of 8) */
} tinyc_qbfc_params;

/* float X -> int8 Y; work: kernel_work + TINYC_QB_CONV_PARAMS + c * rows * w (+ m * tile *
 * ow unless one band covers Y) bytes */
void tinyc_qb_conv2d_f32_s8(const float *restrict X, const int8_t *restrict W,
                            const int32_t *restrict B, int8_t *restrict Y,
                            int8_t *restrict work, const tinyc_qbconv_params *p);
/* float X -> float Y; work: kernel_work + TINYC_QB_CONV_PARAMS + c * rows * w + m * tile *
 * ow bytes */
void tinyc_qb_conv2d_f32_f32(const float *restrict X, const int8_t *restrict W,
                             const int32_t *restrict B, float *restrict Y,
                             int8_t *restrict work, const tinyc_qbconv_params *p);
/* int8 X -> float Y; work: tile * oh * ow bytes */
void tinyc_qb_conv2d_s8_f32(const int8_t *restrict X, const int8_t *restrict W,
                            const int32_t *restrict B, float *restrict Y,
                            int8_t *restrict work, const tinyc_qbconv_params *p);

/* float X -> int8 Y; work: in_features bytes with `stage`, else none (NULL) */
void tinyc_qb_fully_connected_f32_s8(const float *restrict X, const int8_t *restrict W,
                                     const int32_t *restrict B, int8_t *restrict Y,
                                     int8_t *restrict work, const tinyc_qbfc_params *p);
/* float X -> float Y; work: in_features (with `stage`) + tile bytes, or none */
void tinyc_qb_fully_connected_f32_f32(const float *restrict X, const int8_t *restrict W,
                                      const int32_t *restrict B, float *restrict Y,
                                      int8_t *restrict work, const tinyc_qbfc_params *p);
/* int8 X -> float Y; work: tile bytes */
void tinyc_qb_fully_connected_s8_f32(const int8_t *restrict X, const int8_t *restrict W,
                                     const int32_t *restrict B, float *restrict Y,
                                     int8_t *restrict work, const tinyc_qbfc_params *p);

#endif /* TINYC_QBOUNDARY_H */
