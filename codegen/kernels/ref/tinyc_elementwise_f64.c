/* Portable reference float64 elementwise kernels, instantiated from tinyc_scalar.h. */
#include "tinyc_elementwise_f64.h"

#include <math.h>

#include "tinyc_bcast.h"
#include "tinyc_scalar.h"

TINYC_FLOAT_SCALARS(double, f64)
TINYC_DEFINE_FLOAT_FAMILY(double, f64)

#define TINYC_DEFINE_POW_F64(TA, sa, TB, sb) \
  TINYC_BCAST2_DEFINE(tinyc_pow_##sa##_##sb, TA, TB, TA, pow(a, (double)b))
TINYC_POW_F64_TYPES(TINYC_DEFINE_POW_F64)
