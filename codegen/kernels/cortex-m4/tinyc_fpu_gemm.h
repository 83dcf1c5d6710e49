/* Matrix-product building blocks of the Cortex-M4F/M7/M33 kernel variants (private to
 * them): one output row of Gemm, shared by tinyc_gemm_f32 and its in-place form. The
 * accumulation order is the portable kernel's (k ascending from 0, then alpha, then
 * beta * C). */
#ifndef TINYC_FPU_GEMM_H
#define TINYC_FPU_GEMM_H

#include "tinyc_fpu.h"
#include "tinyc_gemm.h"

static inline float tinyc_fpu_gemm_epilogue(float acc, const float *C,
                                            const tinyc_gemm_params *p, int32_t i, int32_t j) {
  float bias;
  acc *= p->alpha;
  switch (p->bias_mode) {
    case TINYC_BIAS_SCALAR: bias = C[0]; break;
    case TINYC_BIAS_ROW: bias = C[j]; break;
    case TINYC_BIAS_COL: bias = C[i]; break;
    case TINYC_BIAS_FULL: bias = C[(size_t)i * p->n + j]; break;
    default: return tinyc_fpu_act1(acc, &p->act);
  }
  return tinyc_fpu_act1(acc + p->beta * bias, &p->act);
}

/* Row i of Y from row i of op(A), whose elements are `sa` floats apart (1, or m when A is
 * transposed), for either layout of B. */
static inline void tinyc_fpu_gemm_row(const float *a, int32_t sa, const float *restrict B,
                                      const float *restrict C, float *y,
                                      const tinyc_gemm_params *p, int32_t i) {
  const int32_t n = p->n, k = p->k;
  int32_t j = 0, t, l;
  if (sa == 1) {
    for (; j + 4 <= n; j += 4) {
      float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      if (p->trans_b) {
        tinyc_fpu_dot4(acc, a, B + (size_t)j * k, k, k);
      } else {
        tinyc_fpu_dot4_cols(acc, a, 1, B + j, n, k);
      }
      for (t = 0; t < 4; ++t) y[j + t] = tinyc_fpu_gemm_epilogue(acc[t], C, p, i, j + t);
    }
  }
  for (; j < n; ++j) {
    /* b: column j of op(B), `sb` floats apart */
    const float *b = p->trans_b ? B + (size_t)j * k : B + j;
    const int32_t sb = p->trans_b ? 1 : n;
    float acc = 0.0f;
    if (sa == 1) {
      acc = tinyc_fpu_dot(0.0f, a, b, sb, k);
    } else if (sb == 1) {
      acc = tinyc_fpu_dot(0.0f, b, a, sa, k);
    } else {
      for (l = 0; l < k; ++l) TINYC_FPU_MAC(acc, a[(size_t)l * sa], b[(size_t)l * sb]);
    }
    y[j] = tinyc_fpu_gemm_epilogue(acc, C, p, i, j);
  }
}

#endif /* TINYC_FPU_GEMM_H */
