/* Portable reference reductions.
 *
 * The dimensions split into kept ones (the output, walked in order) and reduced ones; for
 * each output element the reduced sub-block of X is walked with an odometer over its
 * dimensions and input strides, so each output is computed in one place (two passes for
 * LOG_SUM_EXP: the maximum, then the sum of exponentials). */
#include "tinyc_reduce.h"

#include <math.h>

#include "tinyc_f16.h"
#include "tinyc_scalar.h"

typedef struct {
  int32_t nk, nr;
  int32_t kdims[TINYC_MAX_RANK], kstrides[TINYC_MAX_RANK];
  int32_t rdims[TINYC_MAX_RANK], rstrides[TINYC_MAX_RANK];
  size_t outer, count;
} geometry;

static void split(const tinyc_reduce_params *p, geometry *g) {
  int32_t d;
  size_t stride = 1;
  size_t st[TINYC_MAX_RANK];
  for (d = p->rank - 1; d >= 0; --d) {
    st[d] = stride;
    stride *= (size_t)p->dims[d];
  }
  g->nk = g->nr = 0;
  g->outer = g->count = 1;
  for (d = 0; d < p->rank; ++d) {
    if (p->mask & (1u << d)) {
      g->rdims[g->nr] = p->dims[d];
      g->rstrides[g->nr++] = (int32_t)st[d];
      g->count *= (size_t)p->dims[d];
    } else {
      g->kdims[g->nk] = p->dims[d];
      g->kstrides[g->nk++] = (int32_t)st[d];
      g->outer *= (size_t)p->dims[d];
    }
  }
}

/* advance the odometer `idx` over dims/strides; returns the new offset */
static size_t step(int32_t *idx, const int32_t *dims, const int32_t *strides, int32_t n,
                   size_t off) {
  int32_t d;
  for (d = n - 1; d >= 0; --d) {
    off += (size_t)strides[d];
    if (++idx[d] < dims[d]) return off;
    off -= (size_t)strides[d] * (size_t)dims[d];
    idx[d] = 0;
  }
  return off;
}

/* Walks every output element o (at input offset `base`) and its reduced elements (at
 * `off`), with BEGIN before, STEP for each reduced element and END after. */
#define TINYC_REDUCE_WALK(BEGIN, STEP, END)                               \
  do {                                                                    \
    int32_t kidx[TINYC_MAX_RANK] = {0};                                   \
    size_t o, base = 0;                                                   \
    for (o = 0; o < g.outer; ++o) {                                       \
      int32_t ridx[TINYC_MAX_RANK] = {0};                                 \
      size_t r, off = base;                                               \
      BEGIN;                                                              \
      for (r = 0; r < g.count; ++r) {                                     \
        STEP;                                                             \
        off = step(ridx, g.rdims, g.rstrides, g.nr, off);                 \
      }                                                                   \
      END;                                                                \
      base = step(kidx, g.kdims, g.kstrides, g.nk, base);                 \
    }                                                                     \
  } while (0)

/* float kinds, in the compute type CT (float or double) */
#define TINYC_FLOAT_REDUCE_OPS(CT, m)                                                    \
  static CT init_##m(int32_t kind) {                                                     \
    switch (kind) {                                                                      \
      case TINYC_REDUCE_MAX: case TINYC_REDUCE_LOG_SUM_EXP: return (CT)-INFINITY;        \
      case TINYC_REDUCE_MIN: return (CT)INFINITY;                                        \
      case TINYC_REDUCE_PROD: return (CT)1;                                              \
      default: return (CT)0;                                                             \
    }                                                                                    \
  }                                                                                      \
  static CT update_##m(int32_t kind, CT acc, CT v) {                                     \
    switch (kind) {                                                                      \
      case TINYC_REDUCE_MAX: case TINYC_REDUCE_LOG_SUM_EXP:                              \
        return (v > acc || v != v) ? v : acc;                                            \
      case TINYC_REDUCE_MIN: return (v < acc || v != v) ? v : acc;                       \
      case TINYC_REDUCE_PROD: return acc * v;                                            \
      case TINYC_REDUCE_SUM_SQUARE: case TINYC_REDUCE_L2: return acc + v * v;            \
      case TINYC_REDUCE_L1: return acc + (v < 0 ? -v : v);                               \
      default: return acc + v;                                                           \
    }                                                                                    \
  }                                                                                      \
  static CT finish_##m(int32_t kind, CT acc, size_t count) {                             \
    switch (kind) {                                                                      \
      case TINYC_REDUCE_MEAN: return acc / (CT)count;                                    \
      case TINYC_REDUCE_L2: return (CT)sqrt((double)acc);                                \
      case TINYC_REDUCE_LOG_SUM: return (CT)log((double)acc);                            \
      default: return acc;                                                               \
    }                                                                                    \
  }
TINYC_FLOAT_REDUCE_OPS(float, f)
TINYC_FLOAT_REDUCE_OPS(double, d)

/* LOG_SUM_EXP: the maximum first (as MAX), then log(sum(exp(x - max))) + max */
#define TINYC_DEFINE_REDUCE_FLOAT(arg, T, sfx, m)                                              \
  void tinyc_reduce_##sfx(const T *restrict X, T *restrict Y, const tinyc_reduce_params *p) { \
    typedef TINYC_CT_##sfx CT;                                                                 \
    const int32_t kind = p->kind;                                                              \
    geometry g;                                                                                \
    CT acc = 0, mx = 0;                                                                        \
    split(p, &g);                                                                              \
    TINYC_REDUCE_WALK(acc = init_##m(kind),                                                    \
                      acc = update_##m(kind, acc, TINYC_LD_##sfx(X[off])),                     \
                      Y[o] = TINYC_ST_##sfx(finish_##m(kind, acc, g.count)));                  \
    if (kind != TINYC_REDUCE_LOG_SUM_EXP) return;                                              \
    TINYC_REDUCE_WALK((mx = TINYC_LD_##sfx(Y[o]), acc = 0),                                    \
                      acc += (CT)exp((double)(TINYC_LD_##sfx(X[off]) - mx)),                   \
                      if (mx - mx == 0) Y[o] = TINYC_ST_##sfx(mx + (CT)log((double)acc)));     \
  }
TINYC_DEFINE_REDUCE_FLOAT(_, float, f32, f)
TINYC_DEFINE_REDUCE_FLOAT(_, double, f64, d)
TINYC_DEFINE_REDUCE_FLOAT(_, uint16_t, f16, f)

/* integers: sums wrap in uint64_t (W), max/min in the element type */
TINYC_INLINE uint64_t int_update(int32_t kind, uint64_t acc, uint64_t v, int negative) {
  switch (kind) {
    case TINYC_REDUCE_PROD: return acc * v;
    case TINYC_REDUCE_SUM_SQUARE: case TINYC_REDUCE_L2: return acc + v * v;
    case TINYC_REDUCE_L1: return acc + (negative ? 0u - v : v);
    default: return acc + v;
  }
}

#define TINYC_DEFINE_REDUCE_INT(T, sfx, lo, hi, S, NEG)                                             \
  void tinyc_reduce_##sfx(const T *restrict X, T *restrict Y, const tinyc_reduce_params *p) { \
    const int32_t kind = p->kind;                                                              \
    geometry g;                                                                                \
    split(p, &g);                                                                              \
    if (kind == TINYC_REDUCE_MAX || kind == TINYC_REDUCE_MIN || kind == TINYC_REDUCE_ANY ||    \
        kind == TINYC_REDUCE_ALL) {                                                            \
      T best = 0;                                                                              \
      const T first = kind == TINYC_REDUCE_MAX ? (T)(lo) : kind == TINYC_REDUCE_MIN ? (T)(hi) \
                                                : (T)(kind == TINYC_REDUCE_ALL);               \
      TINYC_REDUCE_WALK(best = first,                                                          \
                        {                                                                      \
                          const T v = kind == TINYC_REDUCE_ANY || kind == TINYC_REDUCE_ALL     \
                                          ? (T)(X[off] != 0) : X[off];                         \
                          if (kind == TINYC_REDUCE_MAX || kind == TINYC_REDUCE_ANY) {          \
                            if (v > best) best = v;                                            \
                          } else if (v < best) {                                               \
                            best = v;                                                          \
                          }                                                                    \
                        },                                                                     \
                        Y[o] = best);                                                          \
    } else {                                                                                   \
      uint64_t acc = 0;                                                                        \
      TINYC_REDUCE_WALK(acc = (kind == TINYC_REDUCE_PROD),                                     \
                        acc = int_update(kind, acc, (uint64_t)X[off], NEG(X[off])),          \
                        Y[o] = kind == TINYC_REDUCE_MEAN                                       \
                                   ? (T)((S)acc / (S)(g.count ? g.count : 1))                  \
                                   : kind == TINYC_REDUCE_L2 ? (T)sqrt((double)acc) : (T)acc); \
    }                                                                                          \
  }
#define TINYC_IS_NEG(x) ((x) < 0)
#define TINYC_NEVER_NEG(x) 0
TINYC_DEFINE_REDUCE_INT(int8_t, i8, INT8_MIN, INT8_MAX, int64_t, TINYC_IS_NEG)
TINYC_DEFINE_REDUCE_INT(int16_t, i16, INT16_MIN, INT16_MAX, int64_t, TINYC_IS_NEG)
TINYC_DEFINE_REDUCE_INT(int32_t, i32, INT32_MIN, INT32_MAX, int64_t, TINYC_IS_NEG)
TINYC_DEFINE_REDUCE_INT(int64_t, i64, INT64_MIN, INT64_MAX, int64_t, TINYC_IS_NEG)
TINYC_DEFINE_REDUCE_INT(uint8_t, u8, 0, UINT8_MAX, uint64_t, TINYC_NEVER_NEG)
TINYC_DEFINE_REDUCE_INT(uint16_t, u16, 0, UINT16_MAX, uint64_t, TINYC_NEVER_NEG)
TINYC_DEFINE_REDUCE_INT(uint32_t, u32, 0, UINT32_MAX, uint64_t, TINYC_NEVER_NEG)
TINYC_DEFINE_REDUCE_INT(uint64_t, u64, 0, UINT64_MAX, uint64_t, TINYC_NEVER_NEG)

int tinyc_reduce_axes(const int64_t *axes, int32_t n, int32_t noop, int32_t keepdims,
                      const int32_t *out_dims, int32_t out_rank, tinyc_reduce_params *p) {
  int32_t i, d, j = 0;
  uint32_t mask = 0;
  for (i = 0; i < n; ++i) {
    int64_t a = axes[i] < 0 ? axes[i] + p->rank : axes[i];
    if (a < 0 || a >= p->rank || (mask & (1u << a))) return -1;
    mask |= 1u << a;
  }
  if (n == 0 && !noop) mask = p->rank >= 32 ? 0xffffffffu : (1u << p->rank) - 1u;
  for (d = 0; d < p->rank; ++d) {
    const int reduced = (mask >> d) & 1u;
    if (reduced && !keepdims) continue;
    if (j >= out_rank || out_dims[j] != (reduced ? 1 : p->dims[d])) return -1;
    ++j;
  }
  if (j != out_rank) return -1;
  p->mask = mask;
  return 0;
}

void tinyc_log_softmax_f32(const float *X, float *Y, int32_t outer, int32_t len, int32_t inner) {
  int32_t o, i, k;
  for (o = 0; o < outer; ++o) {
    for (i = 0; i < inner; ++i) {
      const size_t base = (size_t)o * (size_t)len * (size_t)inner + (size_t)i;
      float mx = X[base], sum = 0.0f, lse;
      for (k = 1; k < len; ++k) {
        const float v = X[base + (size_t)k * (size_t)inner];
        if (v > mx) mx = v;
      }
      for (k = 0; k < len; ++k) sum += expf(X[base + (size_t)k * (size_t)inner] - mx);
      lse = mx + logf(sum);
      for (k = 0; k < len; ++k) {
        const size_t at = base + (size_t)k * (size_t)inner;
        Y[at] = X[at] - lse;
      }
    }
  }
}
