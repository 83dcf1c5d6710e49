/* Loss functions: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss, float32.
 *
 * X is viewed as [n, c, d] (d: the product of the dimensions after the class axis), the
 * targets T as [n, d], the optional class weights W as [c] (NULL: every weight is 1). For
 * each (i, k) with t = T[i, k]: the loss is -X[i, t, k] * W[t], or with `log_softmax`,
 * -log_softmax(X[i, :, k])[t] * W[t] (computed on the fly, no scratch); a target equal to
 * `ignore_index` (when `has_ignore`) gives 0 and weight 0.
 * reduction 0 (none): Y holds the n*d losses; 1 (sum): Y[0] is their sum; 2 (mean): Y[0]
 * is their sum divided by the sum of the weights used.
 * Returns -1 (and leaves Y unspecified) when a target is outside [0, c) and not ignored. */
#ifndef TINYC_LOSS_H
#define TINYC_LOSS_H

#include "tinyc_rt.h"

typedef struct {
  int32_t n, c, d;
  int64_t ignore_index;
  int32_t has_ignore;
  int32_t reduction; /* 0 none, 1 sum, 2 mean */
  int32_t log_softmax;
} tinyc_nll_params;

int tinyc_nll_loss_i64_f32(const float *X, const int64_t *T, const float *W, float *Y,
                           const tinyc_nll_params *p);
int tinyc_nll_loss_i32_f32(const float *X, const int32_t *T, const float *W, float *Y,
                           const tinyc_nll_params *p);

#endif /* TINYC_LOSS_H */
