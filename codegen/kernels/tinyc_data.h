/* Data movement, independent of the element type: strided n-d copy (Transpose, Slice,
 * Concat, Pad, Expand, Tile), fill, Gather, and the run-time forms of Slice and Pad. */
#ifndef TINYC_DATA_H
#define TINYC_DATA_H

#include "tinyc_rt.h"

/* Iterate `dims` in row-major order; element at index i is read from src + sum(i*src_strides)
 * and written to dst + sum(i*dst_strides). Strides are in elements and may be 0 (broadcast)
 * or negative (reversed slices); every address reached must lie inside its buffer. */
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

/* Shapes of a run-time Slice or Pad: the input and the output the compiler fixed. */
typedef struct {
  int32_t rank;
  int32_t in_dims[TINYC_MAX_RANK];
  int32_t out_dims[TINYC_MAX_RANK];
  int32_t mode; /* Pad only: one of TINYC_PAD_* */
} tinyc_io_shape;

/* ONNX Slice with run-time starts/ends (n entries each) and optional axes and steps (NULL:
 * the first n axes, step 1). Clamping follows ONNX. Returns -1, writing nothing, unless the
 * slice has exactly the compiled output dims. */
int tinyc_slice_i64(const void *X, void *Y, size_t elem_size, const tinyc_io_shape *p,
                    const int64_t *starts, const int64_t *ends, const int64_t *axes,
                    const int64_t *steps, int32_t n);
int tinyc_slice_i32(const void *X, void *Y, size_t elem_size, const tinyc_io_shape *p,
                    const int32_t *starts, const int32_t *ends, const int32_t *axes,
                    const int32_t *steps, int32_t n);

enum { TINYC_PAD_CONSTANT = 0, TINYC_PAD_REFLECT = 1, TINYC_PAD_EDGE = 2, TINYC_PAD_WRAP = 3 };

/* ONNX Pad in any mode: pads holds the n_axes begin counts then the n_axes end counts
 * (negative crops) of `axes` (NULL: every axis, n_axes == rank); `value` is one element,
 * used in constant mode. Returns -1, writing nothing, unless in + begin + end gives the
 * compiled output dims (and, outside constant mode, every padded axis is non-empty). */
int tinyc_pad(const void *X, void *Y, size_t elem_size, const tinyc_io_shape *p,
              const int64_t *pads, const int64_t *axes, int32_t n_axes, const void *value);

/* ReverseSequence on X viewed as [d0, d1, inner], time on axis `time_axis` (0 or 1) and batch
 * on the other: the first lens[b] steps of batch entry b are reversed, the rest copied.
 * Returns -1, writing nothing, if a length lies outside [0, steps]. Y must not alias X. */
int tinyc_reverse_sequence(const void *X, const int64_t *lens, void *Y, size_t elem_size,
                           int32_t d0, int32_t d1, int32_t inner, int32_t time_axis);

/* Trilu on `batch` matrices [n, m]: keeps X[i, j] where j - i >= k (upper) or j - i <= k
 * (lower), zeroes the rest. *k is read at run time (NULL means 0). Y may equal X. */
void tinyc_trilu(const void *X, void *Y, size_t elem_size, int32_t batch, int32_t n, int32_t m,
                 const int64_t *k, int32_t upper);

#endif /* TINYC_DATA_H */
