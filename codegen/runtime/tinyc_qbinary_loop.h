/* The broadcasting walk of the integer binary kernels (tinyc_qelementwise.h int8,
 * tinyc_qelementwise16.h int16; portable and Cortex-M4), written once.
 *
 * The output is contiguous and walked in order: each innermost merged run of n elements is
 * handed to a row function, the outer dimensions advance index counters (no division per
 * element). A row function has the form
 *   void op_row(const T *a, int32_t sa, const T *b, int32_t sb, T *y, int32_t n,
 *               const tinyc_qbinary_params *p)
 * with sa/sb the operands' innermost strides (0 where broadcast). */
#ifndef TINYC_QBINARY_LOOP_H
#define TINYC_QBINARY_LOOP_H

#include "tinyc_rt.h"

/* `static void op##_row(...)` applying `op##_one(a, b, p)` along a run. */
#define TINYC_QBINARY_ROW_DEFINE(op, T)                                                    \
  static void op##_row(const T *a, int32_t sa, const T *b, int32_t sb, T *y, int32_t n,    \
                       const tinyc_qbinary_params *p) {                                    \
    int32_t j;                                                                             \
    for (j = 0; j < n; ++j) y[j] = op##_one(a[(size_t)j * sa], b[(size_t)j * sb], p);      \
  }

/* `void name(const T *A, const T *B, T *Y, const tinyc_qbinary_params *p)` over every run,
 * through the row function `row`. */
#define TINYC_QBINARY_DEFINE(name, T, row)                                                 \
  void name(const T *A, const T *B, T *Y, const tinyc_qbinary_params *p) {                 \
    int32_t idx[TINYC_MAX_RANK] = {0};                                                     \
    const int32_t last = p->rank - 1, n = p->dims[last];                                   \
    const int32_t sa = p->a_strides[last], sb = p->b_strides[last];                        \
    size_t outer = 1, t, ia = 0, ib = 0, o = 0;                                            \
    int32_t d;                                                                             \
    for (d = 0; d < last; ++d) outer *= (size_t)p->dims[d];                                \
    for (t = 0; t < outer; ++t) {                                                          \
      row(A + ia, sa, B + ib, sb, Y + o, n, p);                                            \
      o += (size_t)n;                                                                      \
      for (d = last - 1; d >= 0; --d) {                                                    \
        ++idx[d];                                                                          \
        ia += (size_t)p->a_strides[d];                                                     \
        ib += (size_t)p->b_strides[d];                                                     \
        if (idx[d] < p->dims[d]) break;                                                    \
        ia -= (size_t)p->a_strides[d] * (size_t)p->dims[d];                                \
        ib -= (size_t)p->b_strides[d] * (size_t)p->dims[d];                                \
        idx[d] = 0;                                                                        \
      }                                                                                    \
    }                                                                                      \
  }

#endif /* TINYC_QBINARY_LOOP_H */
