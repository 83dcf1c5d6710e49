/* Statistics-based normalizations, float32: LayerNormalization, InstanceNormalization,
 * GroupNormalization, RMSNormalization (one row kernel), LRN and LpNormalization. */
#ifndef TINYC_NORMALIZE_H
#define TINYC_NORMALIZE_H

#include "tinyc_rt.h"

/* X is `rows` independent rows of `size` elements. Each row is normalized by its own mean
 * and variance (or, with center == 0, by its root mean square), then scaled and shifted:
 *   y = (x - mean) / sqrt(var + epsilon) * scale[s] + bias[s]
 * where element e of row r uses s = (r % s_rows) * s_row_mul + (e / s_div) % s_mod * s_mul,
 * which covers a per-element (LayerNorm), per-channel (InstanceNorm, GroupNorm) or
 * per-group parameter. scale and bias may be NULL (1 and 0). When mean / inv_std are not
 * NULL they receive each row's mean and 1 / sqrt(var + epsilon). Y may equal X. */
typedef struct {
  int32_t rows, size;
  int32_t s_rows, s_row_mul, s_div, s_mod, s_mul;
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

#endif /* TINYC_NORMALIZE_H */
