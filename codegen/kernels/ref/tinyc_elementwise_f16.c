/* Portable reference float16 elementwise kernels: float32 scalar semantics on loaded
 * halves (tinyc_scalar.h TINYC_LD_f16 / TINYC_ST_f16). */
#include "tinyc_elementwise_f16.h"

#include <math.h>

#include "tinyc_bcast.h"
#include "tinyc_f16.h"
#include "tinyc_scalar.h"

TINYC_FLOAT_SCALARS(float, f32)
TINYC_DEFINE_FLOAT_FAMILY(uint16_t, f16)

TINYC_BCAST2_DEFINE(tinyc_pow_f16_f16, uint16_t, uint16_t, uint16_t,
                    tinyc_f32_to_f16(powf(tinyc_f16_to_f32(a), tinyc_f16_to_f32(b))))
