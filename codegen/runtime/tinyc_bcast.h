/* Broadcasting loops shared by the elementwise kernel families (tinyc_elementwise.c,
 * tinyc_logic.c).
 *
 * The compiler merges contiguous dimensions and passes the output dimensions plus, per
 * input, the element stride of each dimension (0 where the input is broadcast). The output
 * is contiguous and walked in order: the innermost dimension is a plain strided loop, the
 * outer ones advance index counters, so no division happens per element. Each output
 * element is written after its inputs are read, so Y may equal an input of Y's own shape. */
#ifndef TINYC_BCAST_H
#define TINYC_BCAST_H

#include "tinyc_rt.h"

typedef struct {
  int32_t rank;
  int32_t dims[TINYC_MAX_RANK];
  int32_t a_strides[TINYC_MAX_RANK];
  int32_t b_strides[TINYC_MAX_RANK];
} tinyc_bcast;

/* Three inputs (Where): C is the condition, A and B the values. */
typedef struct {
  int32_t rank;
  int32_t dims[TINYC_MAX_RANK];
  int32_t c_strides[TINYC_MAX_RANK];
  int32_t a_strides[TINYC_MAX_RANK];
  int32_t b_strides[TINYC_MAX_RANK];
} tinyc_bcast3;

/* Defines `void name(const TA *A, const TB *B, TY *Y, const tinyc_bcast *bc)` computing
 * Y = EXPR, where EXPR reads the elements `a` and `b`. */
#define TINYC_BCAST2_DEFINE(name, TA, TB, TY, EXPR) \
  TINYC_BCAST2_DEFINE_WITH(name, TA, TB, TY, TINYC_BCAST_NO_PARAMS, EXPR)
#define TINYC_BCAST_NO_PARAMS

/* The same with extra trailing parameters: EXTRA is a macro expanding to them with a
 * leading comma (e.g. `, const tinyc_act *act`), and EXPR may use them. */
#define TINYC_BCAST2_DEFINE_WITH(name, TA, TB, TY, EXTRA, EXPR)                      \
  void name(const TA *A, const TB *B, TY *Y, const tinyc_bcast *bc EXTRA) {          \
    int32_t idx[TINYC_MAX_RANK] = {0};                                               \
    const int32_t last = bc->rank - 1, n = bc->dims[last];                           \
    const size_t sa = (size_t)bc->a_strides[last], sb = (size_t)bc->b_strides[last]; \
    size_t outer = 1, t, ia = 0, ib = 0, o = 0;                                      \
    int32_t j, d;                                                                    \
    for (d = 0; d < last; ++d) outer *= (size_t)bc->dims[d];                         \
    for (t = 0; t < outer; ++t) {                                                    \
      for (j = 0; j < n; ++j) {                                                      \
        const TA a = A[ia + (size_t)j * sa];                                         \
        const TB b = B[ib + (size_t)j * sb];                                         \
        Y[o + (size_t)j] = (EXPR);                                                   \
      }                                                                              \
      o += (size_t)n;                                                                \
      for (d = last - 1; d >= 0; --d) {                                              \
        ia += (size_t)bc->a_strides[d];                                              \
        ib += (size_t)bc->b_strides[d];                                              \
        if (++idx[d] < bc->dims[d]) break;                                           \
        ia -= (size_t)bc->a_strides[d] * (size_t)bc->dims[d];                        \
        ib -= (size_t)bc->b_strides[d] * (size_t)bc->dims[d];                        \
        idx[d] = 0;                                                                  \
      }                                                                              \
    }                                                                                \
  }

/* Defines `void name(const uint8_t *C, const T *A, const T *B, T *Y, const tinyc_bcast3 *bc)`
 * computing Y = C ? A : B. */
#define TINYC_BCAST3_SELECT_DEFINE(name, T)                                           \
  void name(const uint8_t *C, const T *A, const T *B, T *Y, const tinyc_bcast3 *bc) { \
    int32_t idx[TINYC_MAX_RANK] = {0};                                                \
    const int32_t last = bc->rank - 1, n = bc->dims[last];                            \
    const size_t sc = (size_t)bc->c_strides[last];                                    \
    const size_t sa = (size_t)bc->a_strides[last], sb = (size_t)bc->b_strides[last];  \
    size_t outer = 1, t, ic = 0, ia = 0, ib = 0, o = 0;                               \
    int32_t j, d;                                                                     \
    for (d = 0; d < last; ++d) outer *= (size_t)bc->dims[d];                          \
    for (t = 0; t < outer; ++t) {                                                     \
      for (j = 0; j < n; ++j) {                                                       \
        Y[o + (size_t)j] =                                                            \
            C[ic + (size_t)j * sc] ? A[ia + (size_t)j * sa] : B[ib + (size_t)j * sb]; \
      }                                                                               \
      o += (size_t)n;                                                                 \
      for (d = last - 1; d >= 0; --d) {                                               \
        ic += (size_t)bc->c_strides[d];                                               \
        ia += (size_t)bc->a_strides[d];                                               \
        ib += (size_t)bc->b_strides[d];                                               \
        if (++idx[d] < bc->dims[d]) break;                                            \
        ic -= (size_t)bc->c_strides[d] * (size_t)bc->dims[d];                         \
        ia -= (size_t)bc->a_strides[d] * (size_t)bc->dims[d];                         \
        ib -= (size_t)bc->b_strides[d] * (size_t)bc->dims[d];                         \
        idx[d] = 0;                                                                   \
      }                                                                               \
    }                                                                                 \
  }

#endif /* TINYC_BCAST_H */
