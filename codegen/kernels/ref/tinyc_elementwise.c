/* Portable reference elementwise kernels.
 *
 * Binary ops walk the output in order; the innermost (merged) dimension is a plain strided
 * loop and the outer dimensions advance an index counter, so no division happens per element. */
#include "tinyc_elementwise.h"

#include <math.h>

#include "tinyc_act.h"

void tinyc_activation_f32(const float *X, float *Y, size_t n, const tinyc_act *act) {
  size_t i;
  for (i = 0; i < n; ++i) Y[i] = tinyc_act_f32(X[i], act);
}

static float softplusf(float x) { return x > 20.0f ? x : log1pf(expf(x)); }

#define TINYC_UNARY_BODY_tanh(x) tanhf(x)
#define TINYC_UNARY_BODY_exp(x) expf(x)
#define TINYC_UNARY_BODY_log(x) logf(x)
#define TINYC_UNARY_BODY_sqrt(x) sqrtf(x)
#define TINYC_UNARY_BODY_neg(x) (-(x))
#define TINYC_UNARY_BODY_abs(x) fabsf(x)
#define TINYC_UNARY_BODY_reciprocal(x) (1.0f / (x))
#define TINYC_UNARY_BODY_floor(x) floorf(x)
#define TINYC_UNARY_BODY_ceil(x) ceilf(x)
#define TINYC_UNARY_BODY_round(x) rintf(x) /* ONNX Round: half to even, the default mode */
#define TINYC_UNARY_BODY_erf(x) erff(x)
#define TINYC_UNARY_BODY_sin(x) sinf(x)
#define TINYC_UNARY_BODY_cos(x) cosf(x)
#define TINYC_UNARY_BODY_softplus(x) softplusf(x)
#define TINYC_UNARY_BODY_softsign(x) ((x) / (1.0f + fabsf(x)))

#define TINYC_DEFINE_UNARY_F32(op)                              \
  void tinyc_##op##_f32(const float *X, float *Y, size_t n) {   \
    size_t i;                                                   \
    for (i = 0; i < n; ++i) Y[i] = TINYC_UNARY_BODY_##op(X[i]); \
  }
TINYC_UNARY_F32_OPS(TINYC_DEFINE_UNARY_F32)

#define TINYC_BINARY_BODY_add(a, b) ((a) + (b))
#define TINYC_BINARY_BODY_sub(a, b) ((a) - (b))
#define TINYC_BINARY_BODY_mul(a, b) ((a) * (b))
#define TINYC_BINARY_BODY_div(a, b) ((a) / (b))

/* The broadcasting loop, shared by the plain and the activation-fused kernels: STORE is
 * applied to each result before it is written. */
#define TINYC_BINARY_LOOP(T, op, STORE)                                              \
  int32_t idx[TINYC_MAX_RANK] = {0};                                                 \
  const int32_t last = bc->rank - 1, n = bc->dims[last];                             \
  const int32_t sa = bc->a_strides[last], sb = bc->b_strides[last];                  \
  size_t outer = 1, t, ia = 0, ib = 0, o = 0;                                        \
  int32_t j, d;                                                                      \
  for (d = 0; d < last; ++d) outer *= (size_t)bc->dims[d];                           \
  for (t = 0; t < outer; ++t) {                                                      \
    for (j = 0; j < n; ++j) {                                                        \
      const T a = A[ia + (size_t)j * sa], b = B[ib + (size_t)j * sb];                \
      Y[o + (size_t)j] = STORE((T)TINYC_BINARY_BODY_##op(a, b));                     \
    }                                                                                \
    o += (size_t)n;                                                                  \
    for (d = last - 1; d >= 0; --d) {                                                \
      ia += (size_t)bc->a_strides[d];                                                \
      ib += (size_t)bc->b_strides[d];                                                \
      if (++idx[d] < bc->dims[d]) break;                                             \
      ia -= (size_t)bc->a_strides[d] * (size_t)bc->dims[d];                          \
      ib -= (size_t)bc->b_strides[d] * (size_t)bc->dims[d];                          \
      idx[d] = 0;                                                                    \
    }                                                                                \
  }
#define TINYC_STORE_PLAIN(v) (v)
#define TINYC_STORE_ACT(v) tinyc_act_f32((v), act)

#define TINYC_DEFINE_BINARY(op, T, sfx)                                          \
  void tinyc_##op##_##sfx(const T *A, const T *B, T *Y, const tinyc_bcast *bc) { \
    TINYC_BINARY_LOOP(T, op, TINYC_STORE_PLAIN)                                  \
  }
#define TINYC_DEFINE_BINARY_ACT_F32(op)                                              \
  void tinyc_##op##_act_f32(const float *A, const float *B, float *Y,                \
                            const tinyc_bcast *bc, const tinyc_act *act) {           \
    TINYC_BINARY_LOOP(float, op, TINYC_STORE_ACT)                                    \
  }
TINYC_BINARY_ARITH_TYPES(TINYC_DEFINE_BINARY, add)
TINYC_BINARY_ARITH_TYPES(TINYC_DEFINE_BINARY, sub)
TINYC_BINARY_ARITH_TYPES(TINYC_DEFINE_BINARY, mul)
TINYC_BINARY_ARITH_TYPES(TINYC_DEFINE_BINARY, div)
TINYC_DEFINE_BINARY_ACT_F32(add)
TINYC_DEFINE_BINARY_ACT_F32(sub)
TINYC_DEFINE_BINARY_ACT_F32(mul)
TINYC_DEFINE_BINARY_ACT_F32(div)

#define TINYC_DEFINE_CAST(TA, sa, TB, sb)                          \
  void tinyc_cast_##sa##_##sb(const TA *X, TB *Y, size_t n) {      \
    size_t i;                                                      \
    for (i = 0; i < n; ++i) Y[i] = tinyc_cast_elem_##sb(X[i]);     \
  }
#define tinyc_cast_elem_f32(x) ((float)(x))
#define tinyc_cast_elem_f64(x) ((double)(x))
#define tinyc_cast_elem_i8(x) ((int8_t)(x))
#define tinyc_cast_elem_u8(x) ((uint8_t)(x))
#define tinyc_cast_elem_i16(x) ((int16_t)(x))
#define tinyc_cast_elem_u16(x) ((uint16_t)(x))
#define tinyc_cast_elem_i32(x) ((int32_t)(x))
#define tinyc_cast_elem_u32(x) ((uint32_t)(x))
#define tinyc_cast_elem_i64(x) ((int64_t)(x))
#define tinyc_cast_elem_u64(x) ((uint64_t)(x))
#define tinyc_cast_elem_bool(x) ((uint8_t)((x) != 0))
TINYC_CAST_FROM(TINYC_DEFINE_CAST)
