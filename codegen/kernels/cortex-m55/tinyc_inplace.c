/* Overlapping ("in place") kernels, float32, for the Cortex-M55 with Helium (MVE).
 *
 * Same overlap rules and scratch sizes as the portable kernels (tinyc_inplace.h), built
 * from the same blocks as this variant's ordinary kernels (tinyc_mve_conv.h,
 * tinyc_mve_gemm.h), so choosing the in-place form changes no bit: the streamed 1x1 conv
 * buffers 4 pixels at a time and runs the pointwise tile on them. */
#include "tinyc_inplace.h"

#include <string.h>

#include "tinyc_mve_conv.h"
#include "tinyc_mve_gemm.h"

void tinyc_dwconv2d_stream_f32(const float *X, const float *restrict W, const float *restrict B,
                               float *Y, float *restrict scratch, float *restrict work,
                               const tinyc_conv2d_params *p) {
  const size_t in_plane = (size_t)p->h * p->w, out_plane = (size_t)p->oh * p->ow;
  int32_t n, k;
  TINYC_DCHECK(p->group == p->c && p->m == p->c);
  for (n = 0; n < p->n; ++n) {
    for (k = 0; k < p->c; ++k) {
      const size_t plane = (size_t)n * p->c + k;
      const float *xk = X + plane * in_plane, *wk = W + (size_t)k * p->kh * p->kw;
      float *yk = Y + plane * out_plane;
      /* input channel k is no longer needed once read: its bytes (and those below) may be
       * written. The small plane reads it into `work` first, so it writes yk itself. */
      if (work != NULL && tinyc_fpu_dw3_small_fits(p)) {
        tinyc_mve_dw3_small_plane(xk, wk, B ? B[k] : 0.0f, yk, work, p);
        continue;
      }
      tinyc_mve_dw_other_plane(xk, wk, B ? B[k] : 0.0f, scratch, work, p);
      memcpy(yk, scratch, out_plane * sizeof *yk);
    }
  }
}

void tinyc_conv1x1_stream_f32(const float *X, const float *restrict W, const float *restrict B,
                              float *Y, float *restrict scratch, const tinyc_conv2d_params *p) {
  const size_t plane = (size_t)p->h * p->w;
  size_t px;
  int32_t c, m;
  TINYC_DCHECK(p->n == 1 && p->kh == 1 && p->kw == 1 && p->group == 1);
  for (px = 0; px < plane; px += 4) {
    const int32_t n = plane - px < 4 ? (int32_t)(plane - px) : 4;
    if (p->c <= p->m) {
      /* buffer the input tile (channel by channel, 4 pixels each), then every output
       * channel of its pixels can be stored at once */
      const float *x = X + px;
      float *t = scratch;
      for (c = p->c; c > 0; --c, x += plane, t += 4) tinyc_v4_put(t, tinyc_v4_load(x, n));
      tinyc_mve_pw_tile4(scratch, 4, W, B, Y + px, plane, p->c, p->m, n, &p->act);
    } else {
      /* fewer outputs than inputs: buffer the output tile; the input is read in place */
      const float *t = scratch;
      float *y = Y + px;
      tinyc_mve_pw_tile4(X + px, plane, W, B, scratch, 4, p->c, p->m, n, &p->act);
      for (m = p->m; m > 0; --m, y += plane, t += 4) tinyc_v4_copy(y, t, n);
    }
  }
}

#define TINYC_STREAM_CONV_ROW tinyc_mve_conv_row
#define TINYC_STREAM_GEMM_ROW tinyc_mve_gemm_row
#include "tinyc_fpu_stream_rows.h"
