/* Portable N-d pooling: an odometer over output positions and one over window taps. */
#include "tinyc_poolnd.h"

#include <math.h>

static int next_index(int32_t *idx, const int32_t *dims, int32_t rank) {
  int32_t d;
  for (d = rank - 1; d >= 0; --d) {
    if (++idx[d] < dims[d]) return 1;
    idx[d] = 0;
  }
  return 0;
}

static float lp_root(float sum, float p) {
  if (p == 1.0f) return sum;
  if (p == 2.0f) return sqrtf(sum);
  return powf(sum, 1.0f / p);
}

void tinyc_pool_nd_f32(const float *restrict X, float *restrict Y, int64_t *restrict I,
                       const tinyc_poolnd_params *p) {
  int32_t o[TINYC_MAX_RANK], t[TINYC_MAX_RANK];
  size_t in_plane = 1, out_plane = 1, taps = 1, at, tap;
  int32_t c, d;
  for (d = 0; d < p->nsp; ++d) {
    in_plane *= (size_t)p->in[d];
    out_plane *= (size_t)p->out[d];
    taps *= (size_t)p->k[d];
  }
  for (c = 0; c < p->nc; ++c) {
    const float *x = X + (size_t)c * in_plane;
    for (d = 0; d < p->nsp; ++d) o[d] = 0;
    for (at = 0; at < out_plane; ++at) {
      float acc = p->kind == TINYC_POOL_MAX ? -3.402823466e+38f : 0.0f;
      int64_t best = -1;
      int32_t inside = 0, padded = 0;
      for (d = 0; d < p->nsp; ++d) t[d] = 0;
      for (tap = 0; tap < taps; ++tap) {
        size_t off = 0, col = 0, col_stride = 1;
        int in_bounds = 1, in_padded = 1;
        for (d = 0; d < p->nsp; ++d) {
          const int32_t i = o[d] * p->stride[d] - p->pad_begin[d] + t[d] * p->dil[d];
          if (i < 0 || i >= p->in[d]) in_bounds = 0;
          if (i < -p->pad_begin[d] || i >= p->in[d] + p->pad_end[d]) in_padded = 0;
          if (in_bounds) {
            off = off * (size_t)p->in[d] + (size_t)i;
            col += (size_t)i * col_stride;
            col_stride *= (size_t)p->in[d];
          }
        }
        padded += in_padded;
        if (in_bounds) {
          const float v = x[off];
          ++inside;
          switch (p->kind) {
            case TINYC_POOL_MAX:
              if (best < 0 || v > acc || (v != v && acc == acc)) {
                acc = v;
                best = (int64_t)(p->storage_order ? col : off);
              }
              break;
            case TINYC_POOL_AVG: acc += v; break;
            default: acc += p->p == 1.0f ? fabsf(v) : powf(fabsf(v), p->p); break;
          }
        }
        next_index(t, p->k, p->nsp);
      }
      if (p->kind == TINYC_POOL_AVG) {
        const int32_t count = p->count_include_pad ? padded : inside;
        acc = count > 0 ? acc / (float)count : 0.0f;
      } else if (p->kind == TINYC_POOL_LP) {
        acc = lp_root(acc, p->p);
      }
      Y[(size_t)c * out_plane + at] = acc;
      if (I) I[(size_t)c * out_plane + at] = best < 0 ? -1 : (int64_t)((size_t)c * in_plane) + best;
      next_index(o, p->out, p->nsp);
    }
  }
}

#define TINYC_DEFINE_MAXPOOL_ND(sfx, T)                                                      \
  void tinyc_maxpool_nd_##sfx(const T *restrict X, T *restrict Y, int64_t *restrict I,       \
                              const tinyc_poolnd_params *p) {                                \
    int32_t o[TINYC_MAX_RANK], t[TINYC_MAX_RANK];                                            \
    size_t in_plane = 1, out_plane = 1, taps = 1, at, tap;                                   \
    int32_t c, d;                                                                            \
    for (d = 0; d < p->nsp; ++d) {                                                           \
      in_plane *= (size_t)p->in[d];                                                          \
      out_plane *= (size_t)p->out[d];                                                        \
      taps *= (size_t)p->k[d];                                                               \
    }                                                                                        \
    for (c = 0; c < p->nc; ++c) {                                                            \
      const T *x = X + (size_t)c * in_plane;                                                 \
      for (d = 0; d < p->nsp; ++d) o[d] = 0;                                                 \
      for (at = 0; at < out_plane; ++at) {                                                   \
        T best = 0;                                                                          \
        int64_t where = -1;                                                                  \
        for (d = 0; d < p->nsp; ++d) t[d] = 0;                                               \
        for (tap = 0; tap < taps; ++tap) {                                                   \
          size_t off = 0, col = 0, col_stride = 1;                                           \
          int in_bounds = 1;                                                                 \
          for (d = 0; d < p->nsp; ++d) {                                                     \
            const int32_t i = o[d] * p->stride[d] - p->pad_begin[d] + t[d] * p->dil[d];     \
            if (i < 0 || i >= p->in[d]) in_bounds = 0;                                       \
            if (in_bounds) {                                                                 \
              off = off * (size_t)p->in[d] + (size_t)i;                                      \
              col += (size_t)i * col_stride;                                                 \
              col_stride *= (size_t)p->in[d];                                                \
            }                                                                                \
          }                                                                                  \
          if (in_bounds && (where < 0 || x[off] > best)) {                                   \
            best = x[off];                                                                   \
            where = (int64_t)(p->storage_order ? col : off);                                 \
          }                                                                                  \
          next_index(t, p->k, p->nsp);                                                       \
        }                                                                                    \
        Y[(size_t)c * out_plane + at] = best;                                                \
        if (I) I[(size_t)c * out_plane + at] =                                               \
            where < 0 ? -1 : (int64_t)((size_t)c * in_plane) + where;                        \
        next_index(o, p->out, p->nsp);                                                       \
      }                                                                                      \
    }                                                                                        \
  }
TINYC_POOLND_INT_TYPES(TINYC_DEFINE_MAXPOOL_ND)
