/* Portable reference int16x8 convolution and fully connected layer (tinyc_qconv16.h). */
#include "tinyc_qconv16.h"

#include "tinyc_qconv16_loops.h"

void tinyc_conv2d_s16(const int16_t *restrict X, const int8_t *restrict W,
                      const int64_t *restrict B, int16_t *restrict Y,
                      int32_t *restrict work, const tinyc_qconv16_params *p) {
  (void)work;
  tinyc_qconv16_direct(X, W, B, Y, p);
}

void tinyc_depthwise_conv2d_s16(const int16_t *restrict X, const int8_t *restrict W,
                                const int64_t *restrict B, int16_t *restrict Y,
                                int32_t *restrict work, const tinyc_qconv16_params *p) {
  (void)work;
  tinyc_qconv16_direct(X, W, B, Y, p);
}

void tinyc_fully_connected_s16(const int16_t *restrict X, const int8_t *restrict W,
                               const int64_t *restrict B, int16_t *restrict Y,
                               int32_t *restrict work, const tinyc_qfc16_params *p) {
  (void)work;
  tinyc_qfc16_direct(X, W, B, Y, p);
}
