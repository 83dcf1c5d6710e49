/* Matrix products with half weights on the Cortex-M4F/M7/M33 (tinyc_gemm_f16w.h).
 *
 * The float variant's blocking (tinyc_gemm.c): four outputs at a time in registers, each
 * loaded A element feeding four multiply-accumulates; the weights are read two halves a
 * word and widened by VCVTB/VCVTT (tinyc_fpu_f16.h). Same accumulation order as the
 * portable kernels (k ascending from 0, then alpha, then beta * C). */
#include "tinyc_gemm_f16w.h"

#include "tinyc_fpu_f16.h"
#include "tinyc_fpu_gemm.h"

/* acc[j] += a . row j of B for 4 half rows `rs` elements apart, two k steps a word. */
TINYC_FPU_F16_SPECIALIZE void dot4_rows_as(float *acc, const float *a, const uint16_t *b,
                                           size_t rs, int32_t k, const int aligned) {
  const uint16_t *b0 = b, *b1 = b + rs, *b2 = b + 2 * rs, *b3 = b + 3 * rs;
  float s0 = acc[0], s1 = acc[1], s2 = acc[2], s3 = acc[3];
  for (; k >= 2; k -= 2) {
    const float x0 = a[0], x1 = a[1];
    const tinyc_fpu_h2 w0 = TINYC_FPU_H2_LOAD(b0, aligned), w1 = TINYC_FPU_H2_LOAD(b1, aligned);
    const tinyc_fpu_h2 w2 = TINYC_FPU_H2_LOAD(b2, aligned), w3 = TINYC_FPU_H2_LOAD(b3, aligned);
    a += 2;
    b0 += 2;
    b1 += 2;
    b2 += 2;
    b3 += 2;
    TINYC_FPU_MAC(s0, tinyc_fpu_h2f_lo(w0), x0);
    TINYC_FPU_MAC(s1, tinyc_fpu_h2f_lo(w1), x0);
    TINYC_FPU_MAC(s2, tinyc_fpu_h2f_lo(w2), x0);
    TINYC_FPU_MAC(s3, tinyc_fpu_h2f_lo(w3), x0);
    TINYC_FPU_MAC(s0, tinyc_fpu_h2f_hi(w0), x1);
    TINYC_FPU_MAC(s1, tinyc_fpu_h2f_hi(w1), x1);
    TINYC_FPU_MAC(s2, tinyc_fpu_h2f_hi(w2), x1);
    TINYC_FPU_MAC(s3, tinyc_fpu_h2f_hi(w3), x1);
  }
  if (k) {
    const float x0 = *a;
    TINYC_FPU_MAC(s0, tinyc_fpu_h2f(*b0), x0);
    TINYC_FPU_MAC(s1, tinyc_fpu_h2f(*b1), x0);
    TINYC_FPU_MAC(s2, tinyc_fpu_h2f(*b2), x0);
    TINYC_FPU_MAC(s3, tinyc_fpu_h2f(*b3), x0);
  }
  acc[0] = s0;
  acc[1] = s1;
  acc[2] = s2;
  acc[3] = s3;
}

static void dot4_rows(float *acc, const float *a, const uint16_t *b, size_t rs, int32_t k) {
  if (tinyc_fpu_h2_aligned(b, (int32_t)rs)) {
    dot4_rows_as(acc, a, b, rs, k, 1);
  } else {
    dot4_rows_as(acc, a, b, rs, k, 0);
  }
}

/* acc[j] += sum_l a[l*sa] * B[l*n + j] for 4 adjacent half columns j (B row-major [k, n]). */
TINYC_FPU_F16_SPECIALIZE void dot4_cols_as(float *acc, const float *a, int32_t sa,
                                           const uint16_t *b, int32_t n, int32_t k,
                                           const int aligned) {
  float s0 = acc[0], s1 = acc[1], s2 = acc[2], s3 = acc[3];
  for (; k > 0; --k) {
    const float x = *a;
    const tinyc_fpu_h2 w01 = TINYC_FPU_H2_LOAD(b, aligned);
    const tinyc_fpu_h2 w23 = TINYC_FPU_H2_LOAD(b + 2, aligned);
    a += sa;
    b += n;
    TINYC_FPU_MAC(s0, tinyc_fpu_h2f_lo(w01), x);
    TINYC_FPU_MAC(s1, tinyc_fpu_h2f_hi(w01), x);
    TINYC_FPU_MAC(s2, tinyc_fpu_h2f_lo(w23), x);
    TINYC_FPU_MAC(s3, tinyc_fpu_h2f_hi(w23), x);
  }
  acc[0] = s0;
  acc[1] = s1;
  acc[2] = s2;
  acc[3] = s3;
}

static void dot4_cols(float *acc, const float *a, int32_t sa, const uint16_t *b, int32_t n,
                      int32_t k) {
  if (tinyc_fpu_h2_aligned(b, n)) {
    dot4_cols_as(acc, a, sa, b, n, k, 1);
  } else {
    dot4_cols_as(acc, a, sa, b, n, k, 0);
  }
}

/* acc + sum_l a[l*sa] * b[l*sb]: one output. */
static float dot1(const float *a, int32_t sa, const uint16_t *b, int32_t sb, int32_t k) {
  float acc = 0.0f;
  for (; k > 0; --k) {
    TINYC_FPU_MAC(acc, *a, tinyc_fpu_h2f(*b));
    a += sa;
    b += sb;
  }
  return acc;
}

void tinyc_gemm_f32_f16w(const float *restrict A, const uint16_t *restrict B,
                         const float *restrict C, float *restrict Y, const tinyc_gemm_params *p) {
  const int32_t n = p->n, k = p->k;
  const int32_t sa = p->trans_a ? p->m : 1, sb = p->trans_b ? 1 : n;
  int32_t i, j, t;
  for (i = 0; i < p->m; ++i) {
    const float *a = p->trans_a ? A + i : A + (size_t)i * k;
    float *y = Y + (size_t)i * n;
    j = 0;
    for (; j + 4 <= n; j += 4) {
      float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      if (p->trans_b && sa == 1) {
        dot4_rows(acc, a, B + (size_t)j * k, (size_t)k, k);
      } else if (p->trans_b) {
        for (t = 0; t < 4; ++t) acc[t] = dot1(a, sa, B + (size_t)(j + t) * k, 1, k);
      } else {
        dot4_cols(acc, a, sa, B + j, n, k);
      }
      for (t = 0; t < 4; ++t) y[j + t] = tinyc_fpu_gemm_epilogue(acc[t], C, p, i, j + t);
    }
    for (; j < n; ++j) {
      const uint16_t *b = p->trans_b ? B + (size_t)j * k : B + j;
      y[j] = tinyc_fpu_gemm_epilogue(dot1(a, sa, b, sb, k), C, p, i, j);
    }
  }
}

void tinyc_matmul_f32_f16w(const float *restrict A, const uint16_t *restrict B,
                           float *restrict Y, int32_t batch, int32_t m, int32_t k, int32_t n,
                           int32_t a_stride, int32_t b_stride, const tinyc_act *act) {
  int32_t t, i, j;
  for (t = 0; t < batch; ++t) {
    const uint16_t *b = B + (size_t)t * b_stride;
    for (i = 0; i < m; ++i) {
      const float *a = A + (size_t)t * a_stride + (size_t)i * k;
      float *y = Y + ((size_t)t * m + i) * n;
      for (j = 0; j + 4 <= n; j += 4) {
        float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        dot4_cols(acc, a, 1, b + j, n, k);
        tinyc_fpu_store4(y + j, 1, acc[0], acc[1], acc[2], acc[3], act);
      }
      for (; j < n; ++j) y[j] = tinyc_fpu_act1(dot1(a, 1, b + j, n, k), act);
    }
  }
}
