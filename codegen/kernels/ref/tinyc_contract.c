/* Portable contraction: two odometers, over output positions and over summed labels. */
#include "tinyc_contract.h"

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
