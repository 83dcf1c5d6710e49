/* Elementwise float16 kernels: the float32 family's kernels (tinyc_elementwise.h) with the
 * suffix f16. Tensors hold IEEE half bits (uint16_t); each element is computed in float and
 * rounded back to nearest even (tinyc_f16.h), as numpy computes float16. */
#ifndef TINYC_ELEMENTWISE_F16_H
#define TINYC_ELEMENTWISE_F16_H

#include "tinyc_bcast.h"
#include "tinyc_f16.h"
#include "tinyc_rt.h"
#include "tinyc_scalar.h"

TINYC_DECLARE_FLOAT_FAMILY(uint16_t, f16)
void tinyc_pow_f16_f16(const uint16_t *A, const uint16_t *B, uint16_t *Y, const tinyc_bcast *bc);

#endif /* TINYC_ELEMENTWISE_F16_H */
