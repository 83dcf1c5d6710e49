/* Portable contraction: two odometers, over output positions and over summed labels. */
#include "tinyc_contract.h"

#include "tinyc_f16.h"

/* Advance counter idx over dims (rank n), updating two running offsets; 0 on wrap. */
static int advance(int32_t *idx, const int32_t *dims, int32_t n, const int32_t *sa,
                   const int32_t *sb, ptrdiff_t *oa, ptrdiff_t *ob) {
  int32_t d;
  for (d = n - 1; d >= 0; --d) {
    *oa += sa[d];
    *ob += sb[d];
    if (++idx[d] < dims[d]) return 1;
    *oa -= (ptrdiff_t)sa[d] * dims[d];
    *ob -= (ptrdiff_t)sb[d] * dims[d];
    idx[d] = 0;
  }
  return 0;
}

#define TINYC_DEFINE_CONTRACT(sfx, T, A)                                                  \
  void tinyc_contract_##sfx(const T *restrict A_, const T *restrict B, T *restrict Y,     \
                            const tinyc_contract_params *p) {                             \
    int32_t oi[TINYC_MAX_RANK] = {0}, si[TINYC_MAX_RANK] = {0};                            \
    ptrdiff_t ao = 0, bo = 0;                                                             \
    size_t out = 1, sum = 1, at, k;                                                       \
    int32_t d;                                                                            \
    for (d = 0; d < p->n_out; ++d) out *= (size_t)p->out_dims[d];                         \
    for (d = 0; d < p->n_sum; ++d) sum *= (size_t)p->sum_dims[d];                         \
    for (at = 0; at < out; ++at) {                                                        \
      ptrdiff_t as = 0, bs = 0;                                                           \
      A acc = 0;                                                                          \
      for (k = 0; k < sum; ++k) {                                                         \
        const A a = (A)A_[ao + as];                                                       \
        acc += B ? a * (A)B[bo + bs] : a;                                                 \
        advance(si, p->sum_dims, p->n_sum, p->a_sum, p->b_sum, &as, &bs);                 \
      }                                                                                   \
      Y[at] = (T)acc;                                                                     \
      advance(oi, p->out_dims, p->n_out, p->a_out, p->b_out, &ao, &bo);                   \
    }                                                                                     \
  }
TINYC_CONTRACT_TYPES(TINYC_DEFINE_CONTRACT)

void tinyc_contract_f16(const uint16_t *restrict A_, const uint16_t *restrict B,
                        uint16_t *restrict Y, const tinyc_contract_params *p) {
  int32_t oi[TINYC_MAX_RANK] = {0}, si[TINYC_MAX_RANK] = {0};
  ptrdiff_t ao = 0, bo = 0;
  size_t out = 1, sum = 1, at, k;
  int32_t d;
  for (d = 0; d < p->n_out; ++d) out *= (size_t)p->out_dims[d];
  for (d = 0; d < p->n_sum; ++d) sum *= (size_t)p->sum_dims[d];
  for (at = 0; at < out; ++at) {
    ptrdiff_t as = 0, bs = 0;
    float acc = 0.0f;
    for (k = 0; k < sum; ++k) {
      const float a = tinyc_f16_to_f32(A_[ao + as]);
      acc += B ? a * tinyc_f16_to_f32(B[bo + bs]) : a;
      advance(si, p->sum_dims, p->n_sum, p->a_sum, p->b_sum, &as, &bs);
    }
    Y[at] = tinyc_f32_to_f16(acc);
    advance(oi, p->out_dims, p->n_out, p->a_out, p->b_out, &ao, &bo);
  }
}

void tinyc_det_f32(const float *restrict X, float *restrict Y, float *restrict work,
                   int32_t batch, int32_t n) {
  float *const a = work;
  int32_t b, i, j, k;
  for (b = 0; b < batch; ++b) {
    float det = 1.0f;
    for (i = 0; i < n * n; ++i) a[i] = X[(size_t)b * n * n + i];
    for (k = 0; k < n; ++k) {
      int32_t pivot = k;
      for (i = k + 1; i < n; ++i)
        if ((a[i * n + k] < 0 ? -a[i * n + k] : a[i * n + k]) >
            (a[pivot * n + k] < 0 ? -a[pivot * n + k] : a[pivot * n + k]))
          pivot = i;
      if (a[pivot * n + k] == 0.0f) {
        det = 0.0f;
        break;
      }
      if (pivot != k) {
        for (j = 0; j < n; ++j) {
          const float t = a[k * n + j];
          a[k * n + j] = a[pivot * n + j];
          a[pivot * n + j] = t;
        }
        det = -det;
      }
      det *= a[k * n + k];
      for (i = k + 1; i < n; ++i) {
        const float f = a[i * n + k] / a[k * n + k];
        for (j = k; j < n; ++j) a[i * n + j] -= f * a[k * n + j];
      }
    }
    Y[b] = det;
  }
}
