/* Selection along one axis of X viewed as [outer, len, inner]: ArgMax, ArgMin, TopK,
 * Hardmax, per element type. NaN counts as larger than every number (numpy's order), and
 * equal values keep their index order. */
#ifndef TINYC_SELECT_H
#define TINYC_SELECT_H

#include "tinyc_rt.h"

#define TINYC_SELECT_TYPES(X)                                                    \
  X(f32, float) X(f64, double) X(i8, int8_t) X(u8, uint8_t) X(i16, int16_t)     \
  X(u16, uint16_t) X(i32, int32_t) X(u32, uint32_t) X(i64, int64_t) X(u64, uint64_t)

/* Y[o, i] = index of the largest (argmax) / smallest (argmin) X[o, :, i]; the first one,
 * or the last with select_last. */
#define TINYC_DECLARE_ARG(sfx, T)                                                         \
  void tinyc_argmax_##sfx(const T *X, int64_t *Y, int32_t outer, int32_t len, int32_t inner, \
                          int32_t select_last);                                           \
  void tinyc_argmin_##sfx(const T *X, int64_t *Y, int32_t outer, int32_t len, int32_t inner, \
                          int32_t select_last);
TINYC_SELECT_TYPES(TINYC_DECLARE_ARG)

/* The k largest (or smallest) of each X[o, :, i], best first, into values V and indices
 * I, both [outer, k, inner]. O(k * len) per lane and no scratch memory. */
#define TINYC_DECLARE_TOPK(sfx, T)                                                          \
  void tinyc_topk_##sfx(const T *X, T *V, int64_t *I, int32_t outer, int32_t len,          \
                        int32_t inner, int32_t k, int32_t largest);
TINYC_SELECT_TYPES(TINYC_DECLARE_TOPK)

/* Y[o, j, i] = 1 where j is the first argmax of X[o, :, i], else 0. */
#define TINYC_DECLARE_HARDMAX(sfx, T) \
  void tinyc_hardmax_##sfx(const T *X, T *Y, int32_t outer, int32_t len, int32_t inner);
TINYC_SELECT_TYPES(TINYC_DECLARE_HARDMAX)

#endif /* TINYC_SELECT_H */
