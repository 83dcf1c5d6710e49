/* Portable reference int8 fully connected layer (see tinyc_qfc.h). */
#include "tinyc_qfc.h"

#include "tinyc_fixedpoint.h"
#include "tinyc_quantize_one.h"

/* output features per pass of the float-input loop: one quantization serves them all */
#define TINYC_QFC_ROWS 8

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
                              int32_t *restrict work, const tinyc_qfc_params *p) {
  int32_t b, o;
  (void)work;
  for (b = 0; b < p->batch; ++b) {
    const int8_t *x = X + (size_t)b * p->in_features;
    for (o = 0; o < p->out_features; ++o) Y[(size_t)b * p->out_features + o] = row_dot(x, W, B, o, p);
  }
}

void tinyc_fully_connected_rows_stream_s8(const int8_t *X, const int8_t *restrict W,
                                          const int32_t *restrict B, int8_t *Y,
                                          int8_t *restrict scratch, int32_t *restrict work,
                                          const tinyc_qfc_params *p) {
  int32_t b, o, i;
  (void)work;
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

void tinyc_fully_connected_f32_s8(const float *restrict X, float x_scale,
                                  const int8_t *restrict W, const int32_t *restrict B,
                                  int8_t *restrict Y, int32_t *restrict work,
                                  const tinyc_qfc_params *p) {
  const size_t in = (size_t)p->in_features;
  const int32_t zp = -p->input_offset;
  int32_t b, o0, r, count;
  size_t i;
  (void)work;
  for (b = 0; b < p->batch; ++b) {
    const float *x = X + (size_t)b * in;
    int8_t *y = Y + (size_t)b * p->out_features;
    for (o0 = 0; o0 < p->out_features; o0 += TINYC_QFC_ROWS) {
      const int8_t *w = W + (size_t)o0 * in;
      int32_t acc[TINYC_QFC_ROWS];
      count = p->out_features - o0 < TINYC_QFC_ROWS ? p->out_features - o0 : TINYC_QFC_ROWS;
      for (r = 0; r < count; ++r) acc[r] = B ? B[o0 + r] : 0;
      for (i = 0; i < in; ++i) {
        const int32_t v = tinyc_quantize_one(x[i], x_scale, zp, -128, 127) - zp;
        for (r = 0; r < count; ++r) acc[r] += v * (int32_t)w[(size_t)r * in + i];
      }
      for (r = 0; r < count; ++r) {
        y[o0 + r] = tinyc_requantize_one(acc[r], p->multiplier[o0 + r], p->shift[o0 + r],
                                         p->output_offset, p->act_min, p->act_max);
      }
    }
  }
}
