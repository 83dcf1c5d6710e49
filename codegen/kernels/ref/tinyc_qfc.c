/* Portable reference int8 fully connected layer (see tinyc_qfc.h). */
#include "tinyc_qfc.h"

#include "tinyc_fixedpoint.h"

static int8_t row_dot(const int8_t *x, const int8_t *restrict W, const int32_t *restrict B,
                      int32_t o, const tinyc_qfc_params *p) {
  const int8_t *w = W + (size_t)o * p->in_features;
  int32_t acc = B ? B[o] : 0, i;
  for (i = 0; i < p->in_features; ++i) acc += ((int32_t)x[i] + p->input_offset) * (int32_t)w[i];
  return tinyc_requantize_one(acc, p->multiplier[o], p->shift[o], p->output_offset, p->act_min,
                              p->act_max);
}

void tinyc_fully_connected_s8(const int8_t *restrict X, const int8_t *restrict W,
                              const int32_t *restrict B, int8_t *restrict Y,
                              const tinyc_qfc_params *p) {
  int32_t b, o;
  for (b = 0; b < p->batch; ++b) {
    const int8_t *x = X + (size_t)b * p->in_features;
    for (o = 0; o < p->out_features; ++o) Y[(size_t)b * p->out_features + o] = row_dot(x, W, B, o, p);
  }
}

void tinyc_fully_connected_rows_stream_s8(const int8_t *X, const int8_t *restrict W,
                                          const int32_t *restrict B, int8_t *Y,
                                          int8_t *restrict scratch, const tinyc_qfc_params *p) {
  int32_t b, o, i;
  for (b = 0; b < p->batch; ++b) {
    const int8_t *x = X + (size_t)b * p->in_features;
    int8_t *y = Y + (size_t)b * p->out_features;
    if (p->in_features <= p->out_features) {
      for (i = 0; i < p->in_features; ++i) scratch[i] = x[i];
      for (o = 0; o < p->out_features; ++o) y[o] = row_dot(scratch, W, B, o, p);
    } else {
      for (o = 0; o < p->out_features; ++o) scratch[o] = row_dot(x, W, B, o, p);
      for (o = 0; o < p->out_features; ++o) y[o] = scratch[o];
    }
  }
}
