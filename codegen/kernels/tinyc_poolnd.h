/* N-d pooling over the spatial axes of an NC + spatial tensor, float32: MaxPool (with its
 * optional Indices output), AveragePool, LpPool, at any spatial rank up to TINYC_MAX_RANK.
 * The 1-D and 2-D fast path without indices is tinyc_pool.h. */
#ifndef TINYC_POOLND_H
#define TINYC_POOLND_H

#include "tinyc_rt.h"

enum { TINYC_POOL_MAX = 0, TINYC_POOL_AVG = 1, TINYC_POOL_LP = 2 };

typedef struct {
  int32_t nc, nsp;                 /* batch * channels, spatial rank */
  int32_t in[TINYC_MAX_RANK];
  int32_t out[TINYC_MAX_RANK];
  int32_t k[TINYC_MAX_RANK];
  int32_t stride[TINYC_MAX_RANK];
  int32_t dil[TINYC_MAX_RANK];
  int32_t pad_begin[TINYC_MAX_RANK];
  int32_t pad_end[TINYC_MAX_RANK];
  int32_t kind;                    /* TINYC_POOL_* */
  int32_t count_include_pad;       /* AVG: divide by the taps inside the padded extent */
  int32_t storage_order;           /* MAX indices: 0 row-major, 1 column-major */
  float p;                         /* LP: the norm's order */
} tinyc_poolnd_params;

/* Y [nc, out...] from X [nc, in...]. Windows may hang over the padding (and past it with
 * ceil_mode); only in-bounds taps are read. MAX keeps the first largest tap and, when I is
 * not NULL, stores its flat index into X in I. LP is (sum |x|^p)^(1/p) over the taps. */
void tinyc_pool_nd_f32(const float *restrict X, float *restrict Y, int64_t *restrict I,
                       const tinyc_poolnd_params *p);

/* MaxPool on integer element types (same geometry, kind ignored): the first largest tap,
 * and its flat index into X in I when I is not NULL. */
#define TINYC_POOLND_INT_TYPES(X) X(i8, int8_t) X(u8, uint8_t) X(i32, int32_t) X(i64, int64_t)
#define TINYC_DECLARE_MAXPOOL_ND(sfx, T)                                             \
  void tinyc_maxpool_nd_##sfx(const T *restrict X, T *restrict Y, int64_t *restrict I, \
                              const tinyc_poolnd_params *p);
TINYC_POOLND_INT_TYPES(TINYC_DECLARE_MAXPOOL_ND)

#endif /* TINYC_POOLND_H */
