/* Portable reference losses: one pass over the targets, gathering (or computing the log
 * softmax of) the target class, weighting and reducing in float. */
#include "tinyc_loss.h"

#include <math.h>

#define TINYC_DEFINE_NLL(TT, tsfx)                                                          \
  int tinyc_nll_loss_##tsfx##_f32(const float *X, const TT *T, const float *W, float *Y,    \
                                  const tinyc_nll_params *p) {                              \
    const size_t c = (size_t)p->c, d = (size_t)p->d;                                        \
    float total = 0.0f, weights = 0.0f;                                                     \
    size_t i, k, j;                                                                         \
    for (i = 0; i < (size_t)p->n; ++i) {                                                    \
      for (k = 0; k < d; ++k) {                                                             \
        const int64_t t = (int64_t)T[i * d + k];                                            \
        const float *x = X + i * c * d + k;                                                 \
        float loss = 0.0f, w = 0.0f, v;                                                     \
        if (!(p->has_ignore && t == p->ignore_index)) {                                     \
          if (t < 0 || t >= (int64_t)c) return -1;                                          \
          w = W ? W[t] : 1.0f;                                                              \
          v = x[(size_t)t * d];                                                             \
          if (p->log_softmax) {                                                             \
            float mx = x[0], s = 0.0f;                                                      \
            for (j = 1; j < c; ++j) mx = x[j * d] > mx ? x[j * d] : mx;                     \
            for (j = 0; j < c; ++j) s += expf(x[j * d] - mx);                               \
            v = v - mx - logf(s);                                                           \
          }                                                                                 \
          loss = -v * w;                                                                    \
        }                                                                                   \
        if (p->reduction == 0) Y[i * d + k] = loss;                                         \
        total += loss;                                                                      \
        weights += w;                                                                       \
      }                                                                                     \
    }                                                                                       \
    if (p->reduction == 1) Y[0] = total;                                                    \
    if (p->reduction == 2) Y[0] = total / weights;                                          \
    return 0;                                                                               \
  }
TINYC_DEFINE_NLL(int64_t, i64)
TINYC_DEFINE_NLL(int32_t, i32)
