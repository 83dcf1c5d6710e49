/* int16x8 elementwise and pooling kernels: int16 activations (symmetric: every offset in
 * the params is 0) with the int8 kernels' parameter records and arithmetic
 * (tinyc_qelementwise.h, tinyc_qpool.h): Add rescales both inputs with left_shift 15
 * (|x| 2^15 <= 2^30 stays in int32), Mul requantizes the int32 product, requantize
 * (QConcat, QRequantize) rescales each element, the pools sum or take the max of int32
 * windows (the compiler keeps every window below 2^16 taps). Y may equal an input of the
 * same shape (elementwise ops). */
#ifndef TINYC_QELEMENTWISE16_H
#define TINYC_QELEMENTWISE16_H

#include "tinyc_qelementwise.h"
#include "tinyc_qpool.h"
#include "tinyc_rt.h"

void tinyc_add_s16(const int16_t *A, const int16_t *B, int16_t *Y,
                   const tinyc_qbinary_params *p);
void tinyc_mul_s16(const int16_t *A, const int16_t *B, int16_t *Y,
                   const tinyc_qbinary_params *p);
/* the table field must be NULL */
void tinyc_requantize_s16(const int16_t *X, int16_t *Y, const tinyc_requant_params *p);

void tinyc_maxpool2d_s16(const int16_t *restrict X, int16_t *restrict Y,
                         const tinyc_qpool2d_params *p);
/* fixed-point only (x_scale_bits == y_scale_bits == 0) */
void tinyc_avgpool2d_s16(const int16_t *restrict X, int16_t *restrict Y,
                         const tinyc_qpool2d_params *p);
void tinyc_global_avgpool_s16(const int16_t *restrict X, int16_t *restrict Y,
                              const tinyc_qpool2d_params *p);

#endif /* TINYC_QELEMENTWISE16_H */
