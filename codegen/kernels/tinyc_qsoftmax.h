/* int8 Softmax, integer only. The tensor is viewed as [outer, length, inner] and normalized
 * along `length`. With d = max - X (0..255) and the compile-time table
 * exp_table[d] = round(2^B exp(-d s_x)) (0 beyond table_len):
 *
 *   e = exp_table[d], p = (e * 2^23 + sum(e) / 2) / sum(e)          (int64)
 *   Y = clamp(tinyc_mbqm(p, output_multiplier, output_shift) + output_offset, -128, 127)
 *
 * B is chosen so sum(e) < 2^30 (tinyc/ops/qinteger.py `softmax_exp_table`).
 *
 * onnxruntime semantics (tinyc/quant/semantics.py): output_shift == TINYC_FLOAT_SHIFT,
 * exp_table is 256 float32 bit patterns (QLinearSoftmax's table), output_multiplier the
 * bits of floor(1/s_y), and Y = clamp(tinyc_softmax_onnxruntime(e, sum, factor) + zp) with
 * the row's float32 sum in index order (tinyc_onnxruntime.h).
 *
 * TFLite semantics (tinyc/quant/tflite_fixedpoint.py): output_shift == TINYC_TFLITE_SHIFT_BIAS,
 * exp_table is 256 Q0.31 values of gemmlowp's exp (the Q5.26 scaled difference -d), the sum
 * of exp_table[d] / 2^12 (rounded) is a Q12.19 number whose reciprocal (TFLite's
 * GetReciprocal) scales each exp_table[d] to Y = clamp(out - 128), scale 1/256. */
#ifndef TINYC_QSOFTMAX_H
#define TINYC_QSOFTMAX_H

#include "tinyc_rt.h"

typedef struct {
  int32_t outer, length, inner;
  int32_t table_len;
  const int32_t *exp_table;
  int32_t output_multiplier, output_shift, output_offset;
} tinyc_qsoftmax_params;

void tinyc_softmax_s8(const int8_t *restrict X, int8_t *restrict Y, const tinyc_qsoftmax_params *p);

#endif /* TINYC_QSOFTMAX_H */
