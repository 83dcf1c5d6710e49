/* Sequences along an axis: Range, CumSum and CumProd, per element type. */
#ifndef TINYC_SEQ_H
#define TINYC_SEQ_H

#include "tinyc_rt.h"

/* Range: Y[i] = *start + i * *delta for i < n. Returns -1, writing nothing, unless the
 * run-time operands give exactly n elements (ONNX: max(ceil((limit - start) / delta), 0)).
 * Integer results wrap instead of overflowing. */
#define TINYC_SEQ_TYPES(X) \
  X(f32, float) X(f64, double) X(i16, int16_t) X(i32, int32_t) X(i64, int64_t)
#define TINYC_DECLARE_RANGE(sfx, T) \
  int tinyc_range_##sfx(const T *start, const T *limit, const T *delta, T *Y, int32_t n);
TINYC_SEQ_TYPES(TINYC_DECLARE_RANGE)
/* float16 (IEEE half bits): start + i * delta in float, rounded once. */
int tinyc_range_f16(const uint16_t *start, const uint16_t *limit, const uint16_t *delta,
                    uint16_t *Y, int32_t n);

/* CumSum / CumProd over axis `axis` (negative counts from the end, read at run time) of X
 * with dims `dims` (rank `rank`): exclusive results exclude the current element, reverse
 * ones run from the end. Returns -1 if the axis is out of range. Integer results wrap.
 * Y may equal X. */
#define TINYC_CUMULATIVE_TYPES(X, op) \
  X(op, f32, float, float) X(op, f64, double, double) X(op, i32, int32_t, uint32_t) \
  X(op, i64, int64_t, uint64_t) X(op, u32, uint32_t, uint32_t) X(op, u64, uint64_t, uint64_t)
#define TINYC_DECLARE_CUMULATIVE(op, sfx, T, A)                                              \
  int tinyc_##op##_##sfx(const T *X, T *Y, const int32_t *dims, int32_t rank, int64_t axis, \
                         int32_t exclusive, int32_t reverse);
TINYC_CUMULATIVE_TYPES(TINYC_DECLARE_CUMULATIVE, cumsum)
TINYC_CUMULATIVE_TYPES(TINYC_DECLARE_CUMULATIVE, cumprod)

#endif /* TINYC_SEQ_H */
