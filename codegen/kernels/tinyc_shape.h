/* Run-time checks of shape-like operands.
 *
 * tinyc compiles every kernel for static shapes. When a model feeds a shape-like tensor
 * (Reshape's shape, Expand's shape, Squeeze's axes, TopK's k, ...) as a run-time input, the
 * compiler takes the shapes the model declares and `NAME_run` checks the operand with one of
 * these functions: each returns 0 when the operand yields the compiled shape, -1 otherwise. */
#ifndef TINYC_SHAPE_H
#define TINYC_SHAPE_H

#include "tinyc_rt.h"

/* Reshape: `shape` (n entries, 0 copies the input dimension unless allowzero, one -1 is
 * inferred) must give out_dims (rank n) for an input of in_dims (rank in_rank). */
int tinyc_check_reshape(const int64_t *shape, int32_t n, const int32_t *in_dims, int32_t in_rank,
                        const int32_t *out_dims, int32_t allowzero);

/* Expand: broadcasting in_dims (rank in_rank) with `shape` (n entries) must give out_dims
 * (rank out_rank). */
int tinyc_check_expand(const int64_t *shape, int32_t n, const int32_t *in_dims, int32_t in_rank,
                       const int32_t *out_dims, int32_t out_rank);

/* Squeeze / Unsqueeze: removing the n `axes` (negative counts from the end) from long_dims
 * (rank long_rank) must leave short_dims, and every removed dimension must be 1. Squeeze
 * passes (input, output), Unsqueeze (output, input). */
int tinyc_check_axes(const int64_t *axes, int32_t n, const int32_t *long_dims, int32_t long_rank,
                     const int32_t *short_dims);

/* v[i] == expect[i] for i < n; an expected value below 0 accepts anything. */
int tinyc_check_values_i64(const int64_t *v, const int64_t *expect, int32_t n);
int tinyc_check_values_i32(const int32_t *v, const int64_t *expect, int32_t n);

#endif /* TINYC_SHAPE_H */
