/* Elementwise float32 kernels: activations, unary math, broadcasting binary arithmetic.
 *
 * The other element types have families of their own with the same kernels under their
 * suffix (tinyc_elementwise_f64.h, _f16.h, _int.h), so a float32 model compiles only these.
 * Semantics, op lists and the broadcast record are in tinyc_scalar.h and tinyc_bcast.h.
 * Every kernel reads element i of its inputs before it writes element i of Y, so Y may
 * equal an input of Y's own shape. */
#ifndef TINYC_ELEMENTWISE_H
#define TINYC_ELEMENTWISE_H

#include "tinyc_bcast.h"
#include "tinyc_rt.h"
#include "tinyc_scalar.h"

/* Y[i] = act(X[i]) for the activations of tinyc_rt.h (Relu, Clip, LeakyRelu, HardSigmoid,
 * HardSwish, Sigmoid). Y may equal X. */
void tinyc_activation_f32(const float *X, float *Y, size_t n, const tinyc_act *act);

/* tinyc_<op>_f32 for every op of TINYC_UNARY_FLOAT_OPS, TINYC_UNARY_NUM_OPS,
 * TINYC_UNARY_PARAM_OPS, TINYC_BINARY_OPS and prelu (Y = A < 0 ? B * A : A). */
TINYC_DECLARE_FLOAT_FAMILY(float, f32)

/* Pow with a float32 base: tinyc_pow_f32_<exponent suffix>. */
#define TINYC_POW_F32_TYPES(X)                                                              \
  X(float, f32, float, f32) X(float, f32, double, f64) X(float, f32, int32_t, i32)          \
  X(float, f32, int64_t, i64) X(float, f32, uint32_t, u32) X(float, f32, uint64_t, u64)
#define TINYC_DECLARE_POW(TA, sa, TB, sb) \
  void tinyc_pow_##sa##_##sb(const TA *A, const TB *B, TA *Y, const tinyc_bcast *bc);
TINYC_POW_F32_TYPES(TINYC_DECLARE_POW)

/* float32 add, sub, mul, div with a fused activation (tinyc_act.h) applied to each result
 * before it is stored: tinyc_add_act_f32(A, B, Y, bc, act) and so on. */
#define TINYC_DECLARE_BINARY_ACT_F32(op)                              \
  void tinyc_##op##_act_f32(const float *A, const float *B, float *Y, \
                            const tinyc_bcast *bc, const tinyc_act *act);
TINYC_DECLARE_BINARY_ACT_F32(add)
TINYC_DECLARE_BINARY_ACT_F32(sub)
TINYC_DECLARE_BINARY_ACT_F32(mul)
TINYC_DECLARE_BINARY_ACT_F32(div)

#endif /* TINYC_ELEMENTWISE_H */
