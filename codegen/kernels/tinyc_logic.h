/* Comparison, selection and boolean kernels. Bool tensors are uint8_t holding 0 or 1.
 *
 *   tinyc_<cmp>_<sfx>(A, B, Y, bc): Y = A cmp B (bool) for cmp in equal, less, less_equal
 *     and every numeric suffix (tinyc_scalar.h); the compiler swaps the operands for
 *     greater and greater_equal; bool inputs use the u8 kernels. NaN compares false.
 *   tinyc_where_<sfx>(C, A, B, Y, bc): Y = C ? A : B, three-way broadcast.
 *   tinyc_and/or/xor_bool(A, B, Y, bc), tinyc_not_bool(X, Y, n): logic on 0/1 values.
 *   tinyc_isnan_<f>(X, Y, n), tinyc_isinf_<f>(X, Y, n, neg, pos) for the float types.
 * Y may equal an input of Y's own shape and element size. */
#ifndef TINYC_LOGIC_H
#define TINYC_LOGIC_H

#include "tinyc_bcast.h"
#include "tinyc_rt.h"
#include "tinyc_scalar.h"

#define TINYC_DECLARE_COMPARE(op, T, sfx) \
  void tinyc_##op##_##sfx(const T *A, const T *B, uint8_t *Y, const tinyc_bcast *bc);
#define TINYC_DECLARE_COMPARE_NUM(arg, T, sfx) TINYC_COMPARE_OPS(TINYC_DECLARE_COMPARE, T, sfx)
TINYC_NUM_TYPES(TINYC_DECLARE_COMPARE_NUM, _)

#define TINYC_DECLARE_WHERE(arg, T, sfx)                                              \
  void tinyc_where_##sfx(const uint8_t *C, const T *A, const T *B, T *Y,              \
                         const tinyc_bcast3 *bc);
TINYC_NUM_TYPES(TINYC_DECLARE_WHERE, _)

void tinyc_and_bool(const uint8_t *A, const uint8_t *B, uint8_t *Y, const tinyc_bcast *bc);
void tinyc_or_bool(const uint8_t *A, const uint8_t *B, uint8_t *Y, const tinyc_bcast *bc);
void tinyc_xor_bool(const uint8_t *A, const uint8_t *B, uint8_t *Y, const tinyc_bcast *bc);
void tinyc_not_bool(const uint8_t *X, uint8_t *Y, size_t n);

#define TINYC_DECLARE_FLOAT_TESTS(arg, T, sfx)                  \
  void tinyc_isnan_##sfx(const T *X, uint8_t *Y, size_t n);     \
  void tinyc_isinf_##sfx(const T *X, uint8_t *Y, size_t n, int32_t detect_negative, \
                         int32_t detect_positive);
TINYC_FLOAT_TYPES(TINYC_DECLARE_FLOAT_TESTS, _)

#endif /* TINYC_LOGIC_H */
