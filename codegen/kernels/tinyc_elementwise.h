/* Elementwise kernels: activations, unary math, broadcasting binary ops, casts. */
#ifndef TINYC_ELEMENTWISE_H
#define TINYC_ELEMENTWISE_H

#include "tinyc_rt.h"

/* Y[i] = act(X[i]) for the activations of tinyc_rt.h (Relu, Clip, LeakyRelu, HardSigmoid,
 * HardSwish, Sigmoid). Y may equal X. */
void tinyc_activation_f32(const float *X, float *Y, size_t n, const tinyc_act *act);

/* Unary float32 math, Y may equal X. */
#define TINYC_UNARY_F32_OPS(X) \
  X(tanh) X(exp) X(log) X(sqrt) X(neg) X(abs) X(reciprocal) X(floor) X(ceil) X(round) \
  X(erf) X(sin) X(cos) X(softplus) X(softsign)
#define TINYC_DECLARE_UNARY_F32(op) void tinyc_##op##_f32(const float *X, float *Y, size_t n);
TINYC_UNARY_F32_OPS(TINYC_DECLARE_UNARY_F32)

/* Broadcast geometry of a binary op, dimensions merged by the compiler. Strides are in
 * elements of each input; a broadcast dimension has stride 0. The output is contiguous. */
typedef struct {
  int32_t rank;
  int32_t dims[TINYC_MAX_RANK];
  int32_t a_strides[TINYC_MAX_RANK];
  int32_t b_strides[TINYC_MAX_RANK];
} tinyc_bcast;

/* Binary ops: name, C element type, dtype suffix. Y may equal A or B when shapes match. */
#define TINYC_BINARY_ARITH_TYPES(X, op) \
  X(op, float, f32) X(op, double, f64) X(op, int32_t, i32) X(op, int64_t, i64)
#define TINYC_DECLARE_BINARY(op, T, sfx) \
  void tinyc_##op##_##sfx(const T *A, const T *B, T *Y, const tinyc_bcast *bc);
TINYC_BINARY_ARITH_TYPES(TINYC_DECLARE_BINARY, add)
TINYC_BINARY_ARITH_TYPES(TINYC_DECLARE_BINARY, sub)
TINYC_BINARY_ARITH_TYPES(TINYC_DECLARE_BINARY, mul)
TINYC_BINARY_ARITH_TYPES(TINYC_DECLARE_BINARY, div)

/* float32 binary ops with a fused activation applied to each result before it is stored
 * (see tinyc_act.h): tinyc_add_act_f32, tinyc_sub_act_f32, tinyc_mul_act_f32, tinyc_div_act_f32. */
#define TINYC_DECLARE_BINARY_ACT_F32(op)                                   \
  void tinyc_##op##_act_f32(const float *A, const float *B, float *Y,      \
                            const tinyc_bcast *bc, const tinyc_act *act);
TINYC_DECLARE_BINARY_ACT_F32(add)
TINYC_DECLARE_BINARY_ACT_F32(sub)
TINYC_DECLARE_BINARY_ACT_F32(mul)
TINYC_DECLARE_BINARY_ACT_F32(div)

/* Casts between the element types: tinyc_cast_<from>_<to>(X, Y, n). */
#define TINYC_CAST_TYPES(X, a, b) \
  X(a, b, float, f32) X(a, b, double, f64) X(a, b, int8_t, i8) X(a, b, uint8_t, u8) \
  X(a, b, int16_t, i16) X(a, b, uint16_t, u16) X(a, b, int32_t, i32) X(a, b, uint32_t, u32) \
  X(a, b, int64_t, i64) X(a, b, uint64_t, u64) X(a, b, uint8_t, bool)
#define TINYC_CAST_FROM(X) \
  TINYC_CAST_TYPES(X, float, f32) TINYC_CAST_TYPES(X, double, f64) \
  TINYC_CAST_TYPES(X, int8_t, i8) TINYC_CAST_TYPES(X, uint8_t, u8) \
  TINYC_CAST_TYPES(X, int16_t, i16) TINYC_CAST_TYPES(X, uint16_t, u16) \
  TINYC_CAST_TYPES(X, int32_t, i32) TINYC_CAST_TYPES(X, uint32_t, u32) \
  TINYC_CAST_TYPES(X, int64_t, i64) TINYC_CAST_TYPES(X, uint64_t, u64) \
  TINYC_CAST_TYPES(X, uint8_t, bool)
#define TINYC_DECLARE_CAST(TA, sa, TB, sb) \
  void tinyc_cast_##sa##_##sb(const TA *X, TB *Y, size_t n);
TINYC_CAST_FROM(TINYC_DECLARE_CAST)

#endif /* TINYC_ELEMENTWISE_H */
