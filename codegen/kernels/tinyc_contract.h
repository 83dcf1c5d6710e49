/* Tensor contraction: Einsum with one or two operands (and MatMul on types other than
 * float32), per element type. */
#ifndef TINYC_CONTRACT_H
#define TINYC_CONTRACT_H

#include "tinyc_rt.h"

/* Y[o] = sum over s of A[a_out.o + a_sum.s] * B[b_out.o + b_sum.s] with o running over
 * out_dims (row-major, Y contiguous) and s over sum_dims; strides are in elements and 0
 * where a label is absent or broadcast; a label repeated within an operand (a diagonal)
 * has the sum of its strides. B NULL means a single operand (the product is just A).
 * Integer sums wrap. Y must not alias A or B. */
typedef struct {
  int32_t n_out, n_sum;
  int32_t out_dims[TINYC_MAX_RANK];
  int32_t sum_dims[TINYC_MAX_RANK];
  int32_t a_out[TINYC_MAX_RANK], b_out[TINYC_MAX_RANK];
  int32_t a_sum[TINYC_MAX_RANK], b_sum[TINYC_MAX_RANK];
} tinyc_contract_params;

#define TINYC_CONTRACT_TYPES(X) \
  X(f32, float, float) X(f64, double, double) X(i32, int32_t, uint32_t) \
  X(i64, int64_t, uint64_t) X(u32, uint32_t, uint32_t) X(u64, uint64_t, uint64_t)
#define TINYC_DECLARE_CONTRACT(sfx, T, A)                                        \
  void tinyc_contract_##sfx(const T *restrict A_, const T *restrict B, T *restrict Y, \
                            const tinyc_contract_params *p);
TINYC_CONTRACT_TYPES(TINYC_DECLARE_CONTRACT)
/* float16 (IEEE half bits): products summed in float, rounded once, as numpy does. */
void tinyc_contract_f16(const uint16_t *restrict A_, const uint16_t *restrict B,
                        uint16_t *restrict Y, const tinyc_contract_params *p);

/* Det: Y[b] = determinant of the b-th [n, n] matrix of X, by Gaussian elimination with
 * partial pivoting on a copy in `work` (n * n floats of the node's planned workspace). */
void tinyc_det_f32(const float *restrict X, float *restrict Y, float *restrict work,
                   int32_t batch, int32_t n);

#endif /* TINYC_CONTRACT_H */
