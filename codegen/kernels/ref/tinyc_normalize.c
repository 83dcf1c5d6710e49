/* Portable normalizations. Row statistics take two passes (mean, then the mean squared
 * deviation), which stays accurate when the mean is large compared to the spread. */
#include "tinyc_normalize.h"

#include <math.h>

#include "tinyc_f16.h"

static int32_t param_at(const tinyc_param_index *ix, int32_t r, int32_t e) {
  return (r % ix->rows) * ix->row_mul + (e / ix->div) % ix->mod * ix->mul;
}

void tinyc_row_norm_f32(const float *X, const float *scale, const float *bias, float *Y,
                        float *mean, float *inv_std, const tinyc_rownorm_params *p) {
  int32_t r, e;
  for (r = 0; r < p->rows; ++r) {
    const float *x = X + (size_t)r * p->size;
    float *y = Y + (size_t)r * p->size;
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
      float v = (x[e] - mu) * inv;
      if (scale) v *= scale[param_at(&p->scale_ix, r, e)];
      if (bias) v += bias[param_at(&p->bias_ix, r, e)];
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

/* Offset of the next index of a strided odometer; returns 0 once it wraps. */
static int mvn_next(int32_t *idx, const int32_t *dims, const int32_t *strides, int32_t n,
                    ptrdiff_t *off) {
  int32_t d;
  for (d = n - 1; d >= 0; --d) {
    *off += strides[d];
    if (++idx[d] < dims[d]) return 1;
    *off -= (ptrdiff_t)strides[d] * dims[d];
    idx[d] = 0;
  }
  return 0;
}

void tinyc_mvn_f32(const float *X, float *Y, const tinyc_mvn_params *p) {
  int32_t ki[TINYC_MAX_RANK] = {0}, ri[TINYC_MAX_RANK] = {0};
  ptrdiff_t base = 0, off = 0;
  size_t count = 1, k;
  int32_t d;
  for (d = 0; d < p->n_red; ++d) count *= (size_t)p->red_dims[d];
  do {
    float mean = 0.0f, sq = 0.0f, std;
    for (k = 0; k < count; ++k) {
      const float v = X[base + off];
      mean += v;
      sq += v * v;
      mvn_next(ri, p->red_dims, p->red_strides, p->n_red, &off);
    }
    mean /= (float)count;
    sq /= (float)count;
    std = sqrtf(sq - mean * mean > 0.0f ? sq - mean * mean : 0.0f) + 1e-9f;
    for (k = 0; k < count; ++k) {
      Y[base + off] = (X[base + off] - mean) / std;
      mvn_next(ri, p->red_dims, p->red_strides, p->n_red, &off);
    }
  } while (mvn_next(ki, p->keep_dims, p->keep_strides, p->n_keep, &base));
}

void tinyc_softmax_f64(const double *X, double *Y, int32_t outer, int32_t len, int32_t inner) {
  int32_t o, i, k;
  for (o = 0; o < outer; ++o) {
    for (i = 0; i < inner; ++i) {
      const size_t base = (size_t)o * len * inner + i;
      double mx = X[base], sum = 0.0;
      for (k = 1; k < len; ++k)
        if (X[base + (size_t)k * inner] > mx) mx = X[base + (size_t)k * inner];
      for (k = 0; k < len; ++k) {
        const double e = exp(X[base + (size_t)k * inner] - mx);
        Y[base + (size_t)k * inner] = e;
        sum += e;
      }
      for (k = 0; k < len; ++k) Y[base + (size_t)k * inner] /= sum;
    }
  }
}

void tinyc_softmax_f16(const uint16_t *X, uint16_t *Y, int32_t outer, int32_t len,
                       int32_t inner) {
  int32_t o, i, k;
  for (o = 0; o < outer; ++o) {
    for (i = 0; i < inner; ++i) {
      const size_t base = (size_t)o * len * inner + i;
      float mx = tinyc_f16_to_f32(X[base]), sum = 0.0f;
      for (k = 1; k < len; ++k) {
        const float v = tinyc_f16_to_f32(X[base + (size_t)k * inner]);
        if (v > mx) mx = v;
      }
      for (k = 0; k < len; ++k) {
        const float d = tinyc_f16_to_f32(tinyc_f32_to_f16(
            tinyc_f16_to_f32(X[base + (size_t)k * inner]) - mx));
        const uint16_t e = tinyc_f32_to_f16(expf(d));
        Y[base + (size_t)k * inner] = e;
        sum += tinyc_f16_to_f32(e);
      }
      sum = tinyc_f16_to_f32(tinyc_f32_to_f16(sum));
      for (k = 0; k < len; ++k)
        Y[base + (size_t)k * inner] =
            tinyc_f32_to_f16(tinyc_f16_to_f32(Y[base + (size_t)k * inner]) / sum);
    }
  }
}
