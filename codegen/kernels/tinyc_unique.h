/* Unique over the slices X[:, j, :] of X viewed as [outer, len, inner] (inner = outer = 1
 * for X flattened). Slices are equal when every element compares equal as a value (NaN
 * equals nothing). With `sorted` they are ordered lexicographically (o-major, NaN after
 * every number, ties by first occurrence), else by first occurrence. Outputs: Y [outer,
 * count, inner], I (first occurrence of each) [count], INV (for each slice, its place in
 * Y) [len], C (occurrences) [count]; I, INV and C may be NULL. `work` holds
 * 2 * count + len int64. */
#ifndef TINYC_UNIQUE_H
#define TINYC_UNIQUE_H

#include "tinyc_rt.h"

#define TINYC_UNIQUE_TYPES(X)                                                    \
  X(f32, float) X(f64, double) X(i8, int8_t) X(u8, uint8_t) X(i16, int16_t)     \
  X(u16, uint16_t) X(i32, int32_t) X(u32, uint32_t) X(i64, int64_t) X(u64, uint64_t)

/* Returns -1 when X holds other than `count` distinct slices, 0 otherwise. O(len^2 *
 * slice) comparisons. */
#define TINYC_DECLARE_UNIQUE(sfx, T)                                                        \
  int tinyc_unique_##sfx(const T *X, T *Y, int64_t *I, int64_t *INV, int64_t *C,            \
                         int64_t *work, int32_t outer, int32_t len, int32_t inner,          \
                         int32_t count, int32_t sorted);
TINYC_UNIQUE_TYPES(TINYC_DECLARE_UNIQUE)

#endif /* TINYC_UNIQUE_H */
