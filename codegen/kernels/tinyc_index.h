/* Index-driven data movement: GatherElements, GatherND, ScatterElements, ScatterND, OneHot.
 *
 * Element types are passed as ONNX TensorProto codes where a kernel must look at values
 * (1 float, 2 uint8, 3 int8, 4 uint16, 5 int16, 6 int32, 7 int64, 9 bool, 11 double,
 * 12 uint32, 13 uint64). Indices may be negative (counting from the end); every kernel
 * returns -1 as soon as it meets one out of range, 0 otherwise. */
#ifndef TINYC_INDEX_H
#define TINYC_INDEX_H

#include "tinyc_rt.h"

/* GatherElements / ScatterElements geometry: the indices tensor's dims, the strides (in
 * elements) of the indexed tensor X, the indexed axis and its length in X. */
typedef struct {
  int32_t rank;
  int32_t dims[TINYC_MAX_RANK];
  int32_t x_strides[TINYC_MAX_RANK];
  int32_t axis;
  int32_t axis_len;
} tinyc_elements_params;

/* Y[i] = X[i with i[axis] replaced by idx[i]], Y shaped like idx. */
int tinyc_gather_elements_i64(const void *X, const int64_t *idx, void *Y, size_t elem_size,
                              const tinyc_elements_params *p);
int tinyc_gather_elements_i32(const void *X, const int32_t *idx, void *Y, size_t elem_size,
                              const tinyc_elements_params *p);

/* How a scatter combines an update with the element already there. */
enum { TINYC_SCATTER_NONE = 0, TINYC_SCATTER_ADD = 1, TINYC_SCATTER_MUL = 2,
       TINYC_SCATTER_MAX = 3, TINYC_SCATTER_MIN = 4 };

/* In place on Y (already a copy of the data input): Y[i with i[axis] = idx[i]] op= U[i].
 * Reductions other than NONE need a float32/64 or int32/64 `dtype`. */
int tinyc_scatter_elements_i64(void *Y, const int64_t *idx, const void *U, size_t elem_size,
                               const tinyc_elements_params *p, int32_t reduction, int32_t dtype);
int tinyc_scatter_elements_i32(void *Y, const int32_t *idx, const void *U, size_t elem_size,
                               const tinyc_elements_params *p, int32_t reduction, int32_t dtype);

/* GatherND: X has dims x_dims (rank x_rank); its first batch_dims axes are batch axes.
 * idx holds batch * n_idx tuples of k indices; each tuple selects a slice of `slice`
 * elements (the product of x_dims[batch_dims + k ..]) copied to Y in order. */
int tinyc_gather_nd(const void *X, const int64_t *idx, void *Y, size_t elem_size,
                    const int32_t *x_dims, int32_t batch_dims, int32_t k, int32_t batch,
                    int32_t n_idx, int32_t slice);

/* ScatterND in place on Y (dims y_dims): n_idx tuples of k indices, each combining a slice
 * of `slice` updates into Y (see tinyc_scatter_elements for the reductions). */
int tinyc_scatter_nd(void *Y, const int64_t *idx, const void *U, size_t elem_size,
                     const int32_t *y_dims, int32_t k, int32_t n_idx, int32_t slice,
                     int32_t reduction, int32_t dtype);

/* OneHot: Y[o, d, i] = values[1] if indices[o, i] (type idx_dtype, negative counts from
 * depth) equals d, else values[0]. Out-of-range indices give a row of values[0]. */
void tinyc_onehot(const void *indices, int32_t idx_dtype, void *Y, const void *values,
                  size_t elem_size, int32_t outer, int32_t depth, int32_t inner);

/* 0 if the one-element `v` (type dtype, floats truncated) equals `expect`, else -1. */
int tinyc_check_scalar(const void *v, int32_t dtype, int64_t expect);

/* TensorScatter (a key/value cache update) in place on Y, already a copy of the cache
 * [batch, rest..., max_len, inner] (rest: `rows` per batch entry): row s of each update
 * block [.., seq, inner] goes to cache position write_idx[batch] + s (NULL: 0), modulo
 * max_len when circular. Returns -1 if a position falls outside the cache. */
int tinyc_tensor_scatter(void *Y, const void *U, const int64_t *write_idx, size_t elem_size,
                         int32_t batch, int32_t rows, int32_t max_len, int32_t seq,
                         int32_t inner, int32_t circular);

#endif /* TINYC_INDEX_H */
