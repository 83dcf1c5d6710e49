/* Compress: X viewed as [outer, len, inner] keeps the slices X[:, j, :] whose condition
 * entry cond[j] (bool bytes, cond_len of them) is non-zero, in order, into Y[outer, count,
 * inner]. Elements move by size. */
#ifndef TINYC_COMPRESS_H
#define TINYC_COMPRESS_H

#include "tinyc_rt.h"

/* Returns -1, writing nothing, when the condition keeps other than `count` slices or
 * selects one past `len`; 0 otherwise. */
int tinyc_compress(const void *X, const uint8_t *cond, int32_t cond_len, void *Y,
                   size_t elem_size, int32_t outer, int32_t len, int32_t inner, int32_t count);

#endif /* TINYC_COMPRESS_H */
