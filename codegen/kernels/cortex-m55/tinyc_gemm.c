/* Matrix products (Gemm, MatMul), float32, for the Cortex-M55 with Helium (MVE).
 *
 * Same contract as the portable kernels (tinyc_gemm.h); sums run in another order (within
 * float tolerance). A fully connected layer (B transposed) takes 4 outputs per input
 * vector (tinyc_v4_dot4), other products 8 adjacent output columns in two vectors per
 * element of A (tinyc_mve_gemm.h). */
#include "tinyc_gemm.h"

#include "tinyc_mve_gemm.h"

void tinyc_gemm_f32(const float *restrict A, const float *restrict B, const float *restrict C,
                    float *restrict Y, const tinyc_gemm_params *p) {
  int32_t i;
  for (i = 0; i < p->m; ++i) {
    const float *a = p->trans_a ? A + i : A + (size_t)i * p->k;
    tinyc_mve_gemm_row(a, p->trans_a ? p->m : 1, B, C, Y + (size_t)i * p->n, p, i);
  }
}

void tinyc_matmul_f32(const float *restrict A, const float *restrict B, float *restrict Y,
                      int32_t batch, int32_t m, int32_t k, int32_t n, int32_t a_stride,
                      int32_t b_stride, const tinyc_act *act) {
  int32_t t, i, j, l;
  for (t = 0; t < batch; ++t) {
    const float *bt = B + (size_t)t * b_stride;
    for (i = 0; i < m; ++i) {
      const float *a = A + (size_t)t * a_stride + (size_t)i * k;
      float *y = Y + ((size_t)t * m + i) * n;
      for (j = 0; j < n; j += 4) {
        const int32_t nj = n - j < 4 ? n - j : 4;
        const float *b = bt + j;
        tinyc_v4 s = tinyc_v4_dup(0.0f);
        for (l = 0; l < k; ++l, b += n) s = tinyc_v4_fma(s, tinyc_v4_load(b, nj), a[l]);
        tinyc_v4_store(y + j, s, nj, act);
      }
    }
  }
}
