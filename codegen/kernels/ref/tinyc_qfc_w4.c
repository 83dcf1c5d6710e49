/* Portable int8 fully connected layer with packed int4 weights (see tinyc_qfc_w4.h): each
 * block of 4 bytes gives 8 weights, byte j the inputs j (low nibble) and j + 4 (high). */
#include "tinyc_qfc_w4.h"

#include "tinyc_fixedpoint.h"

TINYC_INLINE int32_t nibble(uint32_t v) {
  return (int32_t)(v & 0xFu) - (int32_t)((v & 8u) << 1);
}

void tinyc_fully_connected_s8_w4(const int8_t *restrict X, const uint8_t *restrict W,
                                 const int32_t *restrict B, int8_t *restrict Y,
                                 int32_t *restrict work, const tinyc_qfc_params *p) {
  const int32_t in = p->in_features, off = p->input_offset;
  const size_t row_bytes = (((size_t)in + 7u) / 8u) * 4u;
  int32_t b, o, i, j;
  (void)work;
  for (b = 0; b < p->batch; ++b) {
    const int8_t *x = X + (size_t)b * in;
    for (o = 0; o < p->out_features; ++o) {
      const uint8_t *w = W + (size_t)o * row_bytes;
      int32_t acc = B ? B[o] : 0;
      for (i = 0; i + 8 <= in; i += 8, w += 4) {
        for (j = 0; j < 4; ++j) {
          acc += ((int32_t)x[i + j] + off) * nibble(w[j]);
          acc += ((int32_t)x[i + j + 4] + off) * nibble((uint32_t)w[j] >> 4);
        }
      }
      for (j = 0; i + j < in; ++j) { /* the last, partial block */
        const uint32_t v = j < 4 ? w[j] : (uint32_t)w[j - 4] >> 4;
        acc += ((int32_t)x[i + j] + off) * nibble(v);
      }
      Y[(size_t)b * p->out_features + o] = tinyc_requantize_one(
          acc, p->multiplier[o], p->shift[o], p->output_offset, p->act_min, p->act_max);
    }
  }
}
