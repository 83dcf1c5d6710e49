/* Data movement, independent of the element type: strided n-d copy (Transpose, Slice,
 * Concat, Pad, Expand, Tile), fill, and Gather. */
#ifndef TINYC_DATA_H
#define TINYC_DATA_H

#include "tinyc_rt.h"

/* Iterate `dims` in row-major order; element at index i is read from src + sum(i*src_strides)
 * and written to dst + sum(i*dst_strides). Strides are in elements and may be 0 (broadcast). */
typedef struct {
  int32_t rank;
  int32_t dims[TINYC_MAX_RANK];
  int32_t dst_strides[TINYC_MAX_RANK];
  int32_t src_strides[TINYC_MAX_RANK];
} tinyc_copy_params;

void tinyc_copy_nd(void *dst, const void *src, size_t elem_size, const tinyc_copy_params *p);

/* dst[i] = *value for i < n, each element elem_size bytes. */
void tinyc_fill(void *dst, const void *value, size_t elem_size, size_t n);

/* Gather along the middle axis of X viewed as [outer, axis_len, inner]: Y[o, j, i] =
 * X[o, idx[j], i], negative indices counting from the end. Returns 0, or -1 (Y untouched
 * beyond the failing slice) if an index is out of range. */
int tinyc_gather_i64(const void *X, const int64_t *idx, void *Y, size_t elem_size, int32_t outer,
                     int32_t axis_len, int32_t inner, int32_t n_idx);
int tinyc_gather_i32(const void *X, const int32_t *idx, void *Y, size_t elem_size, int32_t outer,
                     int32_t axis_len, int32_t inner, int32_t n_idx);

#endif /* TINYC_DATA_H */
