/* Portable int8 fully connected layer with packed int4 weights (see tinyc_qfc_w4.h). */
#include "tinyc_qfc_w4.h"

#include "tinyc_fixedpoint.h"

void tinyc_fully_connected_s8_w4(const int8_t *restrict X, const uint8_t *restrict W,
                                 const int32_t *restrict B, int8_t *restrict Y,
                                 int32_t *restrict work, const tinyc_qfc_params *p) {
  const int32_t in = p->in_features;
  const size_t row_bytes = TINYC_W4_ROW_BYTES(in);
  int32_t b, o;
  (void)work;
  for (b = 0; b < p->batch; ++b) {
    const int8_t *x = X + (size_t)b * in;
    for (o = 0; o < p->out_features; ++o) {
      const int32_t acc = (B ? B[o] : 0) +
                          tinyc_w4_dot(W + (size_t)o * row_bytes, x, in, p->input_offset);
      Y[(size_t)b * p->out_features + o] = tinyc_requantize_one(
          acc, p->multiplier[o], p->shift[o], p->output_offset, p->act_min, p->act_max);
    }
  }
}
