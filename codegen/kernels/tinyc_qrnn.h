/* Integer recurrent layers (tinyc's QLSTM and QGRU, made by --quantize int8 from ONNX LSTM
 * and GRU): int8 X, W, R and hidden state, int32 biases, int16 Q3.12 gate pre-activations,
 * Q0.15 gates through one interpolated tanh table, an int16 LSTM cell state at
 * 2^-cell_frac. tinyc/ops/qrnn.py defines the arithmetic; every variant is bit-exact with it.
 *
 * The hidden state of step t lives in Y's slot for step t (Y is always passed); the kernel's
 * workspace holds the step's widened (x - zp_x) and (h - zp_h) rows (each padded to a
 * multiple of 4 int16), then the LSTM's cell state [batch, hidden], or for a GRU with
 * linear_before_reset = 0 the row r (h - zp_h) (padded), z and the h gate's input term. */
#ifndef TINYC_QRNN_H
#define TINYC_QRNN_H

#include "tinyc_rt.h"

typedef struct {
  int32_t cell;                   /* 1: GRU, 2: LSTM */
  int32_t seq, batch, input, hidden;
  int32_t direction;              /* 0 forward, 1 reverse, 2 bidirectional */
  int32_t layout;                 /* 0: [seq, batch, ...], 1: [batch, seq, ...] */
  int32_t x_zero_point, h_zero_point;
  int32_t cell_frac;              /* LSTM cell state scale 2^-cell_frac */
  /* per (direction, gate): accumulators to Q3.12 */
  const int32_t *x_mult, *x_shift, *r_mult, *r_shift;
  int32_t h_mult, h_shift;        /* Q0.30 products to the hidden state */
  const int16_t *tanh_table;      /* 257 entries: tanh at -8 + k / 16, Q0.15 */
  int32_t linear_before_reset;    /* GRU */
  /* LSTM: an int8 initial cell state to the int16 one, and the int16 one to Y_c: multiplier,
   * shift, zero point */
  int32_t c_in_mult, c_in_shift, c_in_zero_point;
  int32_t c_out_mult, c_out_shift, c_out_zero_point;
} tinyc_qrnn_params;

/* X, W [dirs*G, hidden, input], R [dirs*G, hidden, hidden] (G = 3 GRU, 4 LSTM; ONNX gate
 * order), B [dirs, G (+1 for GRU), hidden], seq_lens [batch] or NULL, init_h (int8, the
 * hidden state's parameters), init_c (int16, the cell's) or init_c8 (int8, its own)
 * [dirs, batch, hidden] (layout 1: [batch, dirs, hidden]) or NULL. Y_h and Y_c may be NULL.
 * Steps past a sequence's length give the zero point in Y. Returns -1 if a sequence length
 * lies outside [0, seq]. */
int tinyc_qrnn_s8(const int8_t *X, const int8_t *W, const int8_t *R, const int32_t *B,
                  const int32_t *seq_lens, const int8_t *init_h, const int16_t *init_c,
                  const int8_t *init_c8, int8_t *Y, int8_t *Y_h, int8_t *Y_c, int16_t *work,
                  const tinyc_qrnn_params *p);

#endif /* TINYC_QRNN_H */
