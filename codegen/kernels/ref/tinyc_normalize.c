/* Portable normalizations. Row statistics take two passes (mean, then the mean squared
 * deviation), which stays accurate when the mean is large compared to the spread. */
#include "tinyc_normalize.h"

#include <math.h>

void tinyc_row_norm_f32(const float *X, const float *scale, const float *bias, float *Y,
                        float *mean, float *inv_std, const tinyc_rownorm_params *p) {
  int32_t r, e;
  for (r = 0; r < p->rows; ++r) {
    const float *x = X + (size_t)r * p->size;
    float *y = Y + (size_t)r * p->size;
    const int32_t s_base = (r % p->s_rows) * p->s_row_mul;
    float mu = 0.0f, var = 0.0f, inv;
    if (p->center) {
      for (e = 0; e < p->size; ++e) mu += x[e];
      mu /= (float)p->size;
    }
    for (e = 0; e < p->size; ++e) {
      const float d = x[e] - mu;
      var += d * d;
    }
    var /= (float)p->size;
    inv = 1.0f / sqrtf(var + p->epsilon);
    if (mean) mean[r] = mu;
    if (inv_std) inv_std[r] = inv;
    for (e = 0; e < p->size; ++e) {
      const int32_t s = s_base + (e / p->s_div) % p->s_mod * p->s_mul;
      float v = (x[e] - mu) * inv;
      if (scale) v *= scale[s];
      if (bias) v += bias[s];
      y[e] = v;
    }
  }
}

void tinyc_lrn_f32(const float *restrict X, float *restrict Y, int32_t n, int32_t c,
                   int32_t inner, int32_t size, float alpha, float beta, float bias) {
  const int32_t before = (size - 1) / 2, after = size / 2;
  int32_t b, k, j, i;
  for (b = 0; b < n; ++b) {
    for (k = 0; k < c; ++k) {
      const int32_t lo = k - before < 0 ? 0 : k - before;
      const int32_t hi = k + after >= c ? c - 1 : k + after;
      for (i = 0; i < inner; ++i) {
        const size_t at = ((size_t)b * c + k) * inner + i;
        float sum = 0.0f;
        for (j = lo; j <= hi; ++j) {
          const float v = X[((size_t)b * c + j) * inner + i];
          sum += v * v;
        }
        Y[at] = X[at] / powf(bias + alpha / (float)size * sum, beta);
      }
    }
  }
}

void tinyc_lp_normalize_f32(const float *X, float *Y, int32_t outer, int32_t len,
                            int32_t inner, int32_t p) {
  int32_t o, i, k;
  for (o = 0; o < outer; ++o) {
    for (i = 0; i < inner; ++i) {
      const size_t base = (size_t)o * len * inner + i;
      float norm = 0.0f;
      for (k = 0; k < len; ++k) {
        const float v = X[base + (size_t)k * inner];
        norm += p == 1 ? fabsf(v) : v * v;
      }
      if (p != 1) norm = sqrtf(norm);
      for (k = 0; k < len; ++k) {
        const size_t at = base + (size_t)k * inner;
        Y[at] = norm == 0.0f ? 0.0f : X[at] / norm;
      }
    }
  }
}

void tinyc_batchnorm_f32(const float *X, const float *scale, const float *bias,
                         const float *mean, const float *var, float *Y, int32_t outer,
                         int32_t c, int32_t inner, float epsilon) {
  int32_t o, k, i;
  for (o = 0; o < outer; ++o) {
    for (k = 0; k < c; ++k) {
      const size_t base = ((size_t)o * c + k) * inner;
      const float s = scale[k] / sqrtf(var[k] + epsilon), t = bias[k] - mean[k] * s;
      for (i = 0; i < inner; ++i) Y[base + i] = X[base + i] * s + t;
    }
  }
}
