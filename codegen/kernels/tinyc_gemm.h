/* Matrix products: ONNX Gemm and (batched) MatMul, float32. */
#ifndef TINYC_GEMM_H
#define TINYC_GEMM_H

#include "tinyc_rt.h"

/* How Gemm's C operand broadcasts over the [m, n] result. */
enum { TINYC_BIAS_NONE = 0, TINYC_BIAS_SCALAR = 1, TINYC_BIAS_ROW = 2, TINYC_BIAS_COL = 3,
       TINYC_BIAS_FULL = 4 };

typedef struct {
  int32_t m, n, k;
  int32_t trans_a, trans_b;
  float alpha, beta;
  int32_t bias_mode;
  tinyc_act act;
} tinyc_gemm_params;

/* Y[m,n] = act(alpha * op(A) op(B) + beta * C). A is [m,k] ([k,m] if trans_a), B is [k,n]
 * ([n,k] if trans_b). C may be NULL when bias_mode is NONE. Y must not alias A, B. */
void tinyc_gemm_f32(const float *restrict A, const float *restrict B, const float *restrict C,
                    float *restrict Y, const tinyc_gemm_params *p);

/* batch x ([m,k] @ [k,n]); a_stride/b_stride are the element strides between batches
 * (0 broadcasts one matrix over the batch). */
void tinyc_matmul_f32(const float *restrict A, const float *restrict B, float *restrict Y,
                      int32_t batch, int32_t m, int32_t k, int32_t n, int32_t a_stride,
                      int32_t b_stride, const tinyc_act *act);

#endif /* TINYC_GEMM_H */
