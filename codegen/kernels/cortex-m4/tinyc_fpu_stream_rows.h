/* The row-streamed in-place float kernels (tinyc_inplace.h: the dense conv and the Gemm
 * whose output overwrites its input row by row), written once for the Cortex-M4 FPU and
 * the Cortex-M55 Helium variants: they differ only in the row function. A file defines
 * TINYC_STREAM_CONV_ROW (tinyc_fpu_conv_row's signature) and TINYC_STREAM_GEMM_ROW
 * (tinyc_fpu_gemm_row's) before it includes this header. */
#ifndef TINYC_FPU_STREAM_ROWS_H
#define TINYC_FPU_STREAM_ROWS_H

#include <string.h>

#include "tinyc_inplace.h"

/* Output row oy, stored from its scratch row (channel planes of Y). Out of line: inlined
 * twice into the row loop, its loops' registers spilled to an 88 B frame under the row's
 * (64 B without, on the M4). */
static TINYC_NOINLINE void tinyc_stream_store_row(float *Y, const float *restrict row,
                                                  const tinyc_conv2d_params *p, int32_t oy) {
  const size_t plane = (size_t)p->oh * p->ow;
  int32_t m;
  for (m = 0; m < p->m; ++m) {
    memcpy(Y + (size_t)m * plane + (size_t)oy * p->ow, row + (size_t)m * p->ow,
           (size_t)p->ow * sizeof *Y);
  }
}

void tinyc_conv2d_rows_stream_f32(const float *X, const float *restrict W,
                                  const float *restrict B, float *Y, float *restrict scratch,
                                  const tinyc_conv2d_params *p) {
  /* output row oy needs input rows from oy - pad_top on: once row oy is computed, input
   * rows <= oy - pad_top are dead, and so is the place of output row oy - pad_top */
  const int32_t lag = p->pad_top, ring = p->pad_top + 1;
  const size_t row = (size_t)p->m * p->ow;
  int32_t oy;
  TINYC_DCHECK(p->n == 1 && p->group == 1 && p->stride_h == 1 && p->oh == p->h);
  TINYC_DCHECK(p->ow == p->w);
  for (oy = 0; oy < p->oh; ++oy) {
    TINYC_STREAM_CONV_ROW(X, W, B, scratch + (size_t)(oy % ring) * row, (size_t)p->ow, 0, p->m,
                          oy, p);
    if (oy >= lag) {
      tinyc_stream_store_row(Y, scratch + (size_t)((oy - lag) % ring) * row, p, oy - lag);
    }
  }
  for (oy = p->oh - lag > 0 ? p->oh - lag : 0; oy < p->oh; ++oy) {
    tinyc_stream_store_row(Y, scratch + (size_t)(oy % ring) * row, p, oy);
  }
}

void tinyc_gemm_rows_stream_f32(const float *A, const float *restrict B, const float *restrict C,
                                float *Y, float *restrict scratch, const tinyc_gemm_params *p) {
  int32_t i, l, j;
  TINYC_DCHECK(!p->trans_a);
  for (i = 0; i < p->m; ++i) {
    const float *a = A + (size_t)i * p->k;
    float *y = Y + (size_t)i * p->n;
    if (p->k <= p->n) {
      for (l = 0; l < p->k; ++l) scratch[l] = a[l];
      TINYC_STREAM_GEMM_ROW(scratch, 1, B, C, y, p, i);
    } else {
      TINYC_STREAM_GEMM_ROW(a, 1, B, C, scratch, p, i);
      for (j = 0; j < p->n; ++j) y[j] = scratch[j];
    }
  }
}

#endif /* TINYC_FPU_STREAM_ROWS_H */
