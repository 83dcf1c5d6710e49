/* The general float direct convolution's outer loop, written once for the Cortex-M4 FPU
 * and the Cortex-M55 Helium variants: they differ only in the row function. A file
 * defines TINYC_GENERAL_CONV_ROW (tinyc_fpu_conv_row's signature) before it includes
 * this header. */
#ifndef TINYC_FPU_GENERAL_CONV_H
#define TINYC_FPU_GENERAL_CONV_H

#include "tinyc_conv.h"

/* One loop over (image, group, output row), indices recovered by division once a row, the
 * parameters re-read each row (an empty asm hides that they do not change): nothing stays
 * live across the row calls, so this frame stays small above theirs (nested, with the
 * loops' invariants hoisted, it spilled to a 136 B frame on the M4). */
static TINYC_NOINLINE void general(const float *restrict X, const float *restrict W,
                                   const float *restrict B, float *restrict Y,
                                   const tinyc_conv2d_params *p) {
  int32_t i;
  for (i = 0; i < p->n * p->group * p->oh; ++i) {
#if defined(__GNUC__) || defined(__clang__)
    __asm__("" : "+r"(p));
#endif
    const int32_t oy = i % p->oh, ng = i / p->oh; /* ng = n * group + g */
    const int32_t g = ng % p->group, mg = p->m / p->group;
    const size_t plane = (size_t)p->oh * p->ow;
    TINYC_GENERAL_CONV_ROW(X + (size_t)ng * (p->c / p->group) * p->h * p->w, W, B,
                           Y + (size_t)ng * mg * plane + (size_t)oy * p->ow, plane, g * mg,
                           (g + 1) * mg, oy, p);
  }
}

#endif
