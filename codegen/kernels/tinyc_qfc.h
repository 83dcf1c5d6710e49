/* int8 fully connected layer (ONNX Gemm with transB = 1, MatMul by a constant matrix).
 *
 *   acc[b, o] = B[o] + sum_i (X[b, i] + input_offset) * W[o, i]      (int32)
 *   Y[b, o]   = clamp(tinyc_mbqm(acc, multiplier[o], shift[o]) + output_offset,
 *                     act_min, act_max)
 *
 * Same conventions as tinyc_qconv.h: W symmetric per output feature, B int32 or NULL.
 *
 * `work` is the node's planned arena workspace (8-byte aligned), sized by the compiler
 * (tinyc/ops/qwork.py) for the largest variant's scratch: the Cortex-M4 kernels widen each
 * input row into it (2 * in_features bytes for int8 rows up to 512 inputs and float rows up
 * to 1024, else none: NULL);
 * the portable kernels need none and ignore it. */
#ifndef TINYC_QFC_H
#define TINYC_QFC_H

#include "tinyc_rt.h"

typedef struct {
  int32_t batch, in_features, out_features;
  int32_t input_offset;  /* -zp_x */
  int32_t output_offset; /* zp_y */
  int32_t act_min, act_max;
  const int32_t *multiplier; /* [out_features] */
  const int32_t *shift;      /* [out_features] */
} tinyc_qfc_params;

/* X [batch, in], W [out, in], B [out] or NULL, Y [batch, out]; Y must not alias X. */
void tinyc_fully_connected_s8(const int8_t *restrict X, const int8_t *restrict W,
                              const int32_t *restrict B, int8_t *restrict Y,
                              int32_t *restrict work, const tinyc_qfc_params *p);

/* Overlapping form (the rules of tinyc_inplace.h): X and Y may share bytes as the planner
 * allows; row b of X is fully read (into scratch[min(in, out)] int8) before row b of Y is
 * written. Results equal tinyc_fully_connected_s8's. */
void tinyc_fully_connected_rows_stream_s8(const int8_t *X, const int8_t *restrict W,
                                          const int32_t *restrict B, int8_t *Y,
                                          int8_t *restrict scratch, int32_t *restrict work,
                                          const tinyc_qfc_params *p);

/* The same with a float X [batch, in], each element quantized on the fly with x_scale and
 * zero point -input_offset (tinyc_quantize_one.h: QuantizeLinear's bits), so no int8 copy
 * of X is kept in the arena. */
void tinyc_fully_connected_f32_s8(const float *restrict X, float x_scale,
                                  const int8_t *restrict W, const int32_t *restrict B,
                                  int8_t *restrict Y, int32_t *restrict work,
                                  const tinyc_qfc_params *p);

#endif /* TINYC_QFC_H */
