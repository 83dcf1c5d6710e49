/* Matrix-product building block of the Cortex-M55 float kernels (private to them): one
 * output row of Gemm, shared by tinyc_gemm_f32 and its in-place form. Sums run in another
 * order than the portable kernel's (within float tolerance of it); alpha, beta * C and the
 * activation are applied as there (tinyc_fpu_gemm_epilogue). */
#ifndef TINYC_MVE_GEMM_H
#define TINYC_MVE_GEMM_H

#include "tinyc_fpu_gemm.h"
#include "tinyc_mve_f32.h"

/* Row i of Y from row i of op(A), whose elements are `sa` floats apart: with B transposed
 * (a fully connected layer, rows of B contiguous) 4 outputs per tinyc_v4_dot4; otherwise 8
 * adjacent columns of B in two vectors per element of A. A strided A (trans_a) takes the
 * Cortex-M4 FPU row. */
static inline void tinyc_mve_gemm_row(const float *a, int32_t sa, const float *restrict B,
                                      const float *restrict C, float *y,
                                      const tinyc_gemm_params *p, int32_t i) {
  const int32_t n = p->n, k = p->k;
  float t[8];
  int32_t j = 0, u, l;
  if (sa != 1) {
    tinyc_fpu_gemm_row(a, sa, B, C, y, p, i);
    return;
  }
  if (p->trans_b) {
    for (; j + 4 <= n; j += 4) {
      tinyc_v4_put(t, tinyc_v4_dot4(a, 1, B + (size_t)j * k, k, k, tinyc_v4_dup(0.0f)));
      for (u = 0; u < 4; ++u) y[j + u] = tinyc_fpu_gemm_epilogue(t[u], C, p, i, j + u);
    }
    for (; j < n; ++j) {
      y[j] = tinyc_fpu_gemm_epilogue(tinyc_fpu_dot(0.0f, a, B + (size_t)j * k, 1, k), C, p, i,
                                     j);
    }
    return;
  }
  for (; j < n; j += 8) {
    const int32_t nj = n - j < 8 ? n - j : 8, n0 = nj < 4 ? nj : 4, n1 = nj - n0;
    const float *b = B + j;
    tinyc_v4 s0 = tinyc_v4_dup(0.0f), s1 = s0;
    for (l = 0; l < k; ++l, b += n) {
      s0 = tinyc_v4_fma(s0, tinyc_v4_load(b, n0), a[l]);
      if (n1 > 0) s1 = tinyc_v4_fma(s1, tinyc_v4_load(b + 4, n1), a[l]);
    }
    tinyc_v4_put(t, s0);
    tinyc_v4_put(t + 4, s1);
    for (u = 0; u < nj; ++u) y[j + u] = tinyc_fpu_gemm_epilogue(t[u], C, p, i, j + u);
  }
}

#endif /* TINYC_MVE_GEMM_H */
