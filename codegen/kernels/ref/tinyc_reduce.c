/* Portable reference reduction: one pass over the input accumulating into the output, then
 * a finishing pass per output element (mean, square root, log). */
#include "tinyc_reduce.h"

#include <math.h>

static float init_value(int32_t kind) {
  switch (kind) {
    case TINYC_REDUCE_MAX: return -INFINITY;
    case TINYC_REDUCE_MIN: return INFINITY;
    case TINYC_REDUCE_PROD: return 1.0f;
    default: return 0.0f;
  }
}

static void walk(const float *restrict X, float *restrict Y, const tinyc_reduce_params *p) {
  int32_t idx[TINYC_MAX_RANK] = {0};
  const int32_t last = p->rank - 1, n = p->dims[last], so = p->out_strides[last];
  size_t outer = 1, t, ix = 0, o = 0;
  int32_t j, d;
  for (d = 0; d < last; ++d) outer *= (size_t)p->dims[d];
  for (t = 0; t < outer; ++t) {
    for (j = 0; j < n; ++j) {
      const float v = X[ix + (size_t)j];
      float *y = &Y[o + (size_t)j * so];
      switch (p->kind) {
        case TINYC_REDUCE_MAX: if (v > *y || v != v) *y = v; break;
        case TINYC_REDUCE_MIN: if (v < *y || v != v) *y = v; break;
        case TINYC_REDUCE_PROD: *y *= v; break;
        case TINYC_REDUCE_SUM_SQUARE: case TINYC_REDUCE_L2: *y += v * v; break;
        case TINYC_REDUCE_L1: *y += fabsf(v); break;
        default: *y += v; break;
      }
    }
    ix += (size_t)n;
    for (d = last - 1; d >= 0; --d) {
      o += (size_t)p->out_strides[d];
      if (++idx[d] < p->dims[d]) break;
      o -= (size_t)p->out_strides[d] * (size_t)p->dims[d];
      idx[d] = 0;
    }
  }
}

void tinyc_reduce_f32(const float *restrict X, float *restrict Y, const tinyc_reduce_params *p) {
  int32_t i;
  for (i = 0; i < p->out_size; ++i) Y[i] = init_value(p->kind);
  walk(X, Y, p);
  for (i = 0; i < p->out_size; ++i) {
    switch (p->kind) {
      case TINYC_REDUCE_MEAN: Y[i] /= (float)p->count; break;
      case TINYC_REDUCE_L2: Y[i] = sqrtf(Y[i]); break;
      case TINYC_REDUCE_LOG_SUM: Y[i] = logf(Y[i]); break;
      default: break;
    }
  }
}
