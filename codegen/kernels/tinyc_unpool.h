/* MaxUnpool: Y (dims out_dims, rank `rank`) is zero except where X's n values land.
 * Index I[i] is a flat position in a tensor of dims base_dims (the unpooled shape, no
 * larger than out_dims on any axis); it is placed at the same coordinates in Y. */
#ifndef TINYC_UNPOOL_H
#define TINYC_UNPOOL_H

#include "tinyc_rt.h"

/* Returns -1 on an index outside base_dims (Y then partly written), 0 otherwise. A
 * repeated index keeps the last value. */
int tinyc_max_unpool(const void *X, const int64_t *I, void *Y, size_t elem_size, int32_t n,
                     int32_t rank, const int32_t *base_dims, const int32_t *out_dims);

#endif /* TINYC_UNPOOL_H */
