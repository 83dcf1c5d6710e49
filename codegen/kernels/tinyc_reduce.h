/* Reductions over any set of axes, and LogSoftmax.
 *
 * tinyc_reduce_<sfx>(X, Y, p) reduces X (dims p->dims, rank p->rank) over the dimensions
 * whose bit is set in p->mask; Y holds the kept dimensions in order (keepdims only changes
 * the shape, not the bytes). Element types: f32, f64, f16 (computed in float) and the
 * integer suffixes of tinyc_scalar.h; bool tensors use u8 with ANY / ALL.
 *
 * An empty reduction gives the identity of its kind: 0 for the sums, 1 for PROD, -inf (the
 * type's minimum) for MAX, +inf (maximum) for MIN, -inf for LOG_SUM and LOG_SUM_EXP.
 * Floats accumulate in their compute type; LOG_SUM_EXP subtracts the maximum first.
 * Integers wrap (sums in uint64_t); their MEAN truncates toward zero and L2 truncates the
 * square root; LOG_SUM and LOG_SUM_EXP are float-only. */
#ifndef TINYC_REDUCE_H
#define TINYC_REDUCE_H

#include "tinyc_f16.h"
#include "tinyc_rt.h"
#include "tinyc_scalar.h"

enum {
  TINYC_REDUCE_SUM = 0,
  TINYC_REDUCE_MEAN = 1,
  TINYC_REDUCE_MAX = 2,
  TINYC_REDUCE_MIN = 3,
  TINYC_REDUCE_PROD = 4,
  TINYC_REDUCE_SUM_SQUARE = 5,
  TINYC_REDUCE_L1 = 6,
  TINYC_REDUCE_L2 = 7,
  TINYC_REDUCE_LOG_SUM = 8,
  TINYC_REDUCE_LOG_SUM_EXP = 9,
  TINYC_REDUCE_ANY = 10, /* bool max */
  TINYC_REDUCE_ALL = 11  /* bool min */
};

typedef struct {
  int32_t rank;
  int32_t dims[TINYC_MAX_RANK];
  uint32_t mask; /* bit d set: dimension d is reduced */
  int32_t kind;
} tinyc_reduce_params;

#define TINYC_DECLARE_REDUCE(arg, T, sfx) \
  void tinyc_reduce_##sfx(const T *restrict X, T *restrict Y, const tinyc_reduce_params *p);
TINYC_NUM_TYPES(TINYC_DECLARE_REDUCE, _)

/* Run-time axes: sets p->mask from the n `axes` (negative ones count from the end; none
 * means every axis, or no axis when `noop`). Returns 0 when they are in range, distinct,
 * and reduce p->dims to out_dims (out_rank dims; reduced ones stay as 1 when keepdims),
 * -1 otherwise. */
int tinyc_reduce_axes(const int64_t *axes, int32_t n, int32_t noop, int32_t keepdims,
                      const int32_t *out_dims, int32_t out_rank, tinyc_reduce_params *p);

/* LogSoftmax over the middle axis of X viewed as [outer, len, inner]. */
void tinyc_log_softmax_f32(const float *X, float *Y, int32_t outer, int32_t len, int32_t inner);

#endif /* TINYC_REDUCE_H */
