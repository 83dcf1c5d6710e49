/* Portable matrix products with half weights: tinyc_gemm.c's loops, each weight widened
 * by tinyc_f16.h as it is read. Accumulation is in float, in k order. */
#include "tinyc_gemm_f16w.h"

#include "tinyc_act.h"
#include "tinyc_f16.h"

void tinyc_gemm_f32_f16w(const float *restrict A, const uint16_t *restrict B,
                         const float *restrict C, float *restrict Y, const tinyc_gemm_params *p) {
  const int32_t sa_m = p->trans_a ? 1 : p->k, sa_k = p->trans_a ? p->m : 1;
  const int32_t sb_k = p->trans_b ? 1 : p->n, sb_n = p->trans_b ? p->k : 1;
  int32_t i, j, l;
  for (i = 0; i < p->m; ++i) {
    for (j = 0; j < p->n; ++j) {
      const float *a = A + (size_t)i * sa_m;
      const uint16_t *b = B + (size_t)j * sb_n;
      float acc = 0.0f, bias;
      for (l = 0; l < p->k; ++l) {
        acc += a[(size_t)l * sa_k] * tinyc_f16w_to_f32(b[(size_t)l * sb_k]);
      }
      acc *= p->alpha;
      switch (p->bias_mode) {
        case TINYC_BIAS_SCALAR: bias = C[0]; break;
        case TINYC_BIAS_ROW: bias = C[j]; break;
        case TINYC_BIAS_COL: bias = C[i]; break;
        case TINYC_BIAS_FULL: bias = C[(size_t)i * p->n + j]; break;
        default: bias = 0.0f; break;
      }
      if (p->bias_mode != TINYC_BIAS_NONE) acc += p->beta * bias;
      Y[(size_t)i * p->n + j] = tinyc_act_f32(acc, &p->act);
    }
  }
}

void tinyc_matmul_f32_f16w(const float *restrict A, const uint16_t *restrict B,
                           float *restrict Y, int32_t batch, int32_t m, int32_t k, int32_t n,
                           int32_t a_stride, int32_t b_stride, const tinyc_act *act) {
  int32_t t, i, j, l;
  for (t = 0; t < batch; ++t) {
    const float *a = A + (size_t)t * a_stride;
    const uint16_t *b = B + (size_t)t * b_stride;
    float *y = Y + (size_t)t * m * n;
    for (i = 0; i < m; ++i) {
      for (j = 0; j < n; ++j) {
        float acc = 0.0f;
        for (l = 0; l < k; ++l) {
          acc += a[(size_t)i * k + l] * tinyc_f16w_to_f32(b[(size_t)l * n + j]);
        }
        y[(size_t)i * n + j] = tinyc_act_f32(acc, act);
      }
    }
  }
}
