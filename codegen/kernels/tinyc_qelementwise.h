/* int8 elementwise kernels: Add, Sub and Mul with broadcasting, requantize (rescale, clamp,
 * strided block copy for Concat), and 256-entry lookup tables (Sigmoid, Tanh, HardSwish...).
 * Arithmetic as in tinyc_fixedpoint.h; all accumulation in int32. */
#ifndef TINYC_QELEMENTWISE_H
#define TINYC_QELEMENTWISE_H

#include "tinyc_rt.h"

/* Broadcast geometry (dimensions merged by the compiler; strides in elements of each input,
 * 0 on broadcast axes; Y contiguous) and the requantization constants.
 *
 * Add (TFLite's scheme): a' = mbqm((A + a_offset) << left_shift, a_multiplier, a_shift),
 *   b' likewise, Y = clamp(mbqm(a' + b', output_multiplier, output_shift) + output_offset).
 * Sub (TFLite semantics only): the same with a' - b'.
 * Mul: Y = clamp(mbqm((A + a_offset) * (B + b_offset), output_multiplier, output_shift)
 *   + output_offset); the a_/b_ multipliers and left_shift are unused.
 * onnxruntime semantics (tinyc/quant/semantics.py): output_shift == TINYC_FLOAT_SHIFT, the
 *   multipliers hold float32 bits, left_shift is the code offset c (128 when the model's
 *   tensors were uint8, else 0), and Add is tinyc_add_onnxruntime(A + c, B + c,
 *   a_multiplier, b_multiplier, output_multiplier) - c, Mul tinyc_mul_onnxruntime(
 *   (A + a_offset) * (B + b_offset), output_multiplier, output_offset + c) - c
 *   (tinyc_fixedpoint.h), clamped to [act_min, act_max]; A is onnxruntime's first operand
 *   (the compiler swaps A and B where onnxruntime's broadcast loop does). */
typedef struct {
  int32_t rank;
  int32_t dims[TINYC_MAX_RANK];
  int32_t a_strides[TINYC_MAX_RANK];
  int32_t b_strides[TINYC_MAX_RANK];
  int32_t a_offset, b_offset; /* -zero points */
  int32_t a_multiplier, a_shift, b_multiplier, b_shift;
  int32_t left_shift;
  int32_t output_multiplier, output_shift, output_offset;
  int32_t act_min, act_max;
} tinyc_qbinary_params;

/* Y may equal A or B when their shapes equal Y's. */
void tinyc_add_s8(const int8_t *A, const int8_t *B, int8_t *Y, const tinyc_qbinary_params *p);
void tinyc_sub_s8(const int8_t *A, const int8_t *B, int8_t *Y, const tinyc_qbinary_params *p);
void tinyc_mul_s8(const int8_t *A, const int8_t *B, int8_t *Y, const tinyc_qbinary_params *p);

/* `outer` blocks of `inner` elements, x_stride / y_stride elements apart:
 * Y = clamp(mbqm(X + input_offset, multiplier, shift) + output_offset, act_min, act_max),
 * or Y = table[X + 128] when `table` is not NULL (onnxruntime semantics: the compiler fills
 * it with quantize(dequantize(x)) as onnxruntime's QLinearConcat does; fixed point: with
 * the 256 results of the formula above, from REQUANT_TABLE_MIN elements on,
 * tinyc/ops/qinteger.py).
 * Strides 0 mean contiguous blocks (outer 1). Y may equal X when the strides agree. */
typedef struct {
  int32_t outer, inner, x_stride, y_stride;
  int32_t input_offset, output_offset, multiplier, shift, act_min, act_max;
  const int8_t *table; /* [256] or NULL */
} tinyc_requant_params;

void tinyc_requantize_s8(const int8_t *X, int8_t *Y, const tinyc_requant_params *p);

/* Y[i] = table[X[i] + 128]; Y may equal X. */
void tinyc_lut_s8(const int8_t *X, const int8_t *table, int8_t *Y, size_t n);

#endif /* TINYC_QELEMENTWISE_H */
