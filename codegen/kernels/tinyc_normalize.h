/* Statistics-based normalizations, float32: LayerNormalization, InstanceNormalization,
 * GroupNormalization, RMSNormalization (one row kernel), LRN and LpNormalization. */
#ifndef TINYC_NORMALIZE_H
#define TINYC_NORMALIZE_H

#include "tinyc_rt.h"

/* X is `rows` independent rows of `size` elements. Each row is normalized by its own mean
 * and variance (or, with center == 0, by its root mean square), then scaled and shifted:
 *   y = (x - mean) / sqrt(var + epsilon) * scale[s] + bias[t]
 * where element e of row r reads parameter (r % rows) * row_mul + (e / div) % mod * mul
 * of its tinyc_param_index, which covers per-element (LayerNorm, with any suffix
 * broadcast), per-channel (InstanceNorm, GroupNorm) and per-group parameters. scale and
 * bias may be NULL (1 and 0). When mean / inv_std are not NULL they receive each row's
 * mean and 1 / sqrt(var + epsilon). Y may equal X. */
typedef struct {
  int32_t rows, row_mul, div, mod, mul;
} tinyc_param_index;

typedef struct {
  int32_t rows, size;
  tinyc_param_index scale_ix, bias_ix;
  int32_t center;
  float epsilon;
} tinyc_rownorm_params;

void tinyc_row_norm_f32(const float *X, const float *scale, const float *bias, float *Y,
                        float *mean, float *inv_std, const tinyc_rownorm_params *p);

/* LRN across channels of X [n, c, inner]: y = x / (bias + alpha / size * sum x^2)^beta,
 * the sum over channels c - (size - 1) / 2 .. c + size / 2 (clipped). Y must not alias X. */
void tinyc_lrn_f32(const float *restrict X, float *restrict Y, int32_t n, int32_t c,
                   int32_t inner, int32_t size, float alpha, float beta, float bias);

/* LpNormalization along the middle axis of X [outer, len, inner]: y = x / ||x||_p with
 * p 1 or 2; a zero norm gives 0. Y may equal X. */
void tinyc_lp_normalize_f32(const float *X, float *Y, int32_t outer, int32_t len,
                            int32_t inner, int32_t p);

/* Inference BatchNormalization with run-time parameters (each [c]) on X [outer, c, inner]:
 * y = (x - mean) / sqrt(var + epsilon) * scale + bias. Y may equal X. (Constant parameters
 * fold at compile time into tinyc_channel_affine_f32 of tinyc_norm.h instead.) */
void tinyc_batchnorm_f32(const float *X, const float *scale, const float *bias,
                         const float *mean, const float *var, float *Y, int32_t outer,
                         int32_t c, int32_t inner, float epsilon);

/* MeanVarianceNormalization: y = (x - mean) / (sqrt(var) + 1e-9), statistics over the
 * reduced dims; X's elements are reached as base(kept index) + offset(reduced index),
 * both strided (so any set of axes works without a transpose). Y may equal X. */
typedef struct {
  int32_t n_keep, n_red;
  int32_t keep_dims[TINYC_MAX_RANK], keep_strides[TINYC_MAX_RANK];
  int32_t red_dims[TINYC_MAX_RANK], red_strides[TINYC_MAX_RANK];
} tinyc_mvn_params;

void tinyc_mvn_f32(const float *X, float *Y, const tinyc_mvn_params *p);

/* Softmax in double over the middle axis of X [outer, len, inner] (the float32 one is
 * tinyc_softmax.h). Y may equal X. */
void tinyc_softmax_f64(const double *X, double *Y, int32_t outer, int32_t len, int32_t inner);
/* ... and on float16 bits, each step in float rounded to half as numpy computes it. */
void tinyc_softmax_f16(const uint16_t *X, uint16_t *Y, int32_t outer, int32_t len,
                       int32_t inner);

#endif /* TINYC_NORMALIZE_H */
