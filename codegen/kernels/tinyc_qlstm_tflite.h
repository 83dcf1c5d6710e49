/* TFLite Micro's integer LSTM (UNIDIRECTIONAL_SEQUENCE_LSTM, int8 activations and weights,
 * int16 gates and cell state) for .tflite imports. tinyc/ops/qlstm_tflite.py defines the
 * arithmetic; every variant is bit-exact with it. The workspace (int16) holds, for the batch
 * row being run, the cell state, the hidden state codes and the four gate outputs
 * (6 * hidden), then the step's widened x and h rows, each padded to a multiple of 4. The
 * time loop is codegen/runtime/tinyc_qlstm_tflite_loop.h. */
#ifndef TINYC_QLSTM_TFLITE_H
#define TINYC_QLSTM_TFLITE_H

#include "tinyc_rt.h"

typedef struct {
  int32_t seq, batch, input, hidden;
  int32_t layout;                 /* 0: [seq, batch, ...], 1: [batch, seq, ...] */
  int32_t x_zero_point, h_zero_point;
  int32_t cell_clip;              /* quantized; 0: none */
  int32_t tanh_mult, tanh_shift;  /* the cell's tanh input (reference_integer_ops::Tanh) */
  /* per gate (i, o, f, c): the input and recurrent accumulators to Q3.12, TFLite's
   * (multiplier, shift) with a positive shift to the left */
  const int32_t *x_mult, *x_shift, *r_mult, *r_shift;
  int32_t forget_mult, forget_shift;  /* f * c -> cell */
  int32_t input_mult, input_shift;    /* i * g -> cell */
  int32_t hidden_mult, hidden_shift;  /* tanh(c) * o -> hidden state */
  const uint16_t *sigmoid_table;      /* TFLite's sigmoid_table_uint16 */
} tinyc_qlstm_tflite_params;

/* X, W [4, hidden, input], R [4, hidden, hidden], B [4, hidden] (gates i, o, f, c), Y in
 * the ONNX LSTM's shape; both states start at zero. */
void tinyc_qlstm_tflite_s8(const int8_t *X, const int8_t *W, const int8_t *R, const int32_t *B,
                           int8_t *Y, int16_t *work, const tinyc_qlstm_tflite_params *p);

#endif /* TINYC_QLSTM_TFLITE_H */
