/* Matrix products (Gemm, MatMul), float32, laid out for the Cortex-M4F/M7/M33 FPU.
 *
 * Same contract and accumulation order as the portable kernels (tinyc_gemm.h). Four
 * outputs are computed at a time in registers, so each loaded A element feeds four
 * multiply-accumulates: four rows of B side by side when B is transposed (the usual
 * fully connected layer), four adjacent columns of B otherwise (tinyc_fpu_gemm.h). */
#include "tinyc_gemm.h"

#include "tinyc_fpu_gemm.h"

void tinyc_gemm_f32(const float *restrict A, const float *restrict B, const float *restrict C,
                    float *restrict Y, const tinyc_gemm_params *p) {
  int32_t i;
  for (i = 0; i < p->m; ++i) {
    const float *a = p->trans_a ? A + i : A + (size_t)i * p->k;
    tinyc_fpu_gemm_row(a, p->trans_a ? p->m : 1, B, C, Y + (size_t)i * p->n, p, i);
  }
}

void tinyc_matmul_f32(const float *restrict A, const float *restrict B, float *restrict Y,
                      int32_t batch, int32_t m, int32_t k, int32_t n, int32_t a_stride,
                      int32_t b_stride, const tinyc_act *act) {
  int32_t t, i, j;
  for (t = 0; t < batch; ++t) {
    const float *b = B + (size_t)t * b_stride;
    for (i = 0; i < m; ++i) {
      const float *a = A + (size_t)t * a_stride + (size_t)i * k;
      float *y = Y + ((size_t)t * m + i) * n;
      for (j = 0; j + 4 <= n; j += 4) {
        float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        tinyc_fpu_dot4_cols(acc, a, 1, b + j, n, k);
        tinyc_fpu_store4(y + j, 1, acc[0], acc[1], acc[2], acc[3], act);
      }
      for (; j < n; ++j) y[j] = tinyc_fpu_act1(tinyc_fpu_dot(0.0f, a, b + j, n, k), act);
    }
  }
}
