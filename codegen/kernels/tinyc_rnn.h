/* Recurrent layers (ONNX RNN, GRU, LSTM), float32: forward, reverse and bidirectional,
 * both layouts, optional bias, initial states, sequence lengths, peepholes, clip,
 * input_forget, linear_before_reset and the ONNX activation functions.
 *
 * No scratch memory: the hidden state of step t lives in Y's slot for step t (Y is always
 * passed, even when the model does not use it), and the LSTM cell state between two steps
 * in the slot of the step that comes next (not yet written). Only GRU with
 * linear_before_reset = 0 needs scratch: r * h_prev, `hidden` floats of `work` (the node's
 * planned arena workspace; NULL otherwise). */
#ifndef TINYC_RNN_H
#define TINYC_RNN_H

#include "tinyc_rt.h"

enum { TINYC_CELL_RNN = 0, TINYC_CELL_GRU = 1, TINYC_CELL_LSTM = 2 };
enum { TINYC_RNN_FORWARD = 0, TINYC_RNN_REVERSE = 1, TINYC_RNN_BIDIRECTIONAL = 2 };
enum { TINYC_RNN_SIGMOID = 0, TINYC_RNN_TANH = 1, TINYC_RNN_RELU = 2,
       TINYC_RNN_HARD_SIGMOID = 3, TINYC_RNN_LEAKY_RELU = 4, TINYC_RNN_THRESHOLDED_RELU = 5,
       TINYC_RNN_SCALED_TANH = 6, TINYC_RNN_AFFINE = 7, TINYC_RNN_ELU = 8,
       TINYC_RNN_SOFTSIGN = 9, TINYC_RNN_SOFTPLUS = 10 };


typedef struct {
  int32_t cell;                   /* TINYC_CELL_* */
  int32_t seq, batch, input, hidden;
  int32_t direction;              /* TINYC_RNN_* */
  int32_t layout;                 /* 0: [seq, batch, ...], 1: [batch, seq, ...] */
  int32_t has_clip;
  float clip;
  int32_t input_forget;           /* LSTM */
  int32_t linear_before_reset;    /* GRU */
  /* f, g (and h for LSTM) per direction: kinds and their alpha / beta */
  int32_t act[6];
  float alpha[6], beta[6];
} tinyc_rnn_params;

/* X, W [dirs, G*hidden, input], R [dirs, G*hidden, hidden] as ONNX (G = 1, 3, 4; gates
 * in ONNX order). B [dirs, 2*G*hidden], seq_lens [batch] (int32), init_h, init_c
 * [dirs, batch, hidden] (layout 1: [batch, dirs, hidden]), P [dirs, 3*hidden]: any may be
 * NULL. Y [seq, dirs, batch, hidden] (layout 1: [batch, seq, dirs, hidden]) is required;
 * Y_h and Y_c may be NULL. Steps past a sequence's length give zeros in Y. Returns -1 if a
 * sequence length lies outside [0, seq]. */
int tinyc_rnn_f32(const float *X, const float *W, const float *R, const float *B,
                  const int32_t *seq_lens, const float *init_h, const float *init_c,
                  const float *P, float *Y, float *Y_h, float *Y_c, float *work,
                  const tinyc_rnn_params *p);

/* The same with W, R and B as IEEE half bits (--quantize float16): each weight and bias is
 * widened as it is read, the arithmetic is tinyc_rnn_f32's. */
int tinyc_rnn_f32_f16w(const float *X, const uint16_t *W, const uint16_t *R, const uint16_t *B,
                       const int32_t *seq_lens, const float *init_h, const float *init_c,
                       const float *P, float *Y, float *Y_h, float *Y_c, float *work,
                       const tinyc_rnn_params *p);

#endif /* TINYC_RNN_H */
