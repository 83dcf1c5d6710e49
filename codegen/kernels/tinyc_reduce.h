/* Reductions over any set of axes, float32. */
#ifndef TINYC_REDUCE_H
#define TINYC_REDUCE_H

#include "tinyc_rt.h"

enum { TINYC_REDUCE_SUM = 0, TINYC_REDUCE_MEAN = 1, TINYC_REDUCE_MAX = 2, TINYC_REDUCE_MIN = 3,
       TINYC_REDUCE_PROD = 4, TINYC_REDUCE_SUM_SQUARE = 5, TINYC_REDUCE_L1 = 6,
       TINYC_REDUCE_L2 = 7, TINYC_REDUCE_LOG_SUM = 8 };

/* X has dims `dims` (rank `rank`); out_strides gives, per input dimension, the output stride
 * (0 on reduced axes). `count` is the number of input elements per output element. */
typedef struct {
  int32_t rank;
  int32_t dims[TINYC_MAX_RANK];
  int32_t out_strides[TINYC_MAX_RANK];
  int32_t out_size;
  int32_t count;
  int32_t kind;
} tinyc_reduce_params;

void tinyc_reduce_f32(const float *restrict X, float *restrict Y, const tinyc_reduce_params *p);

#endif /* TINYC_REDUCE_H */
