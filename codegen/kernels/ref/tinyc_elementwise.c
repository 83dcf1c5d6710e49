/* Portable reference float32 elementwise kernels, instantiated from tinyc_scalar.h. */
#include "tinyc_elementwise.h"

#include <math.h>

#include "tinyc_act.h"
#include "tinyc_bcast.h"
#include "tinyc_scalar.h"

void tinyc_activation_f32(const float *X, float *Y, size_t n, const tinyc_act *act) {
  size_t i;
  for (i = 0; i < n; ++i) Y[i] = tinyc_act_f32(X[i], act);
}

TINYC_FLOAT_SCALARS(float, f32)
TINYC_DEFINE_FLOAT_FAMILY(float, f32)

/* float exponents of the base's precision use powf; the others compute in double */
#define TINYC_POW_f32_f32(a, b) powf(a, b)
#define TINYC_POW_f32_f64(a, b) (float)pow((double)(a), b)
#define TINYC_POW_f32_i32(a, b) (float)pow((double)(a), (double)(b))
#define TINYC_POW_f32_i64(a, b) (float)pow((double)(a), (double)(b))
#define TINYC_POW_f32_u32(a, b) (float)pow((double)(a), (double)(b))
#define TINYC_POW_f32_u64(a, b) (float)pow((double)(a), (double)(b))
#define TINYC_DEFINE_POW(TA, sa, TB, sb) \
  TINYC_BCAST2_DEFINE(tinyc_pow_##sa##_##sb, TA, TB, TA, TINYC_POW_##sa##_##sb(a, b))
TINYC_POW_F32_TYPES(TINYC_DEFINE_POW)

/* float32 add/sub/mul/div with an activation applied before each store (fuse-activation) */
#define TINYC_ACT_PARAM , const tinyc_act *act
#define TINYC_DEFINE_BINARY_ACT_F32(op)                                                \
  TINYC_BCAST2_DEFINE_WITH(tinyc_##op##_act_f32, float, float, float, TINYC_ACT_PARAM, \
                           tinyc_act_f32(TINYC_SFN(op, f32)(a, b), act))
TINYC_DEFINE_BINARY_ACT_F32(add)
TINYC_DEFINE_BINARY_ACT_F32(sub)
TINYC_DEFINE_BINARY_ACT_F32(mul)
TINYC_DEFINE_BINARY_ACT_F32(div)
