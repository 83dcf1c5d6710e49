/* Overlapping ("in place") kernels, float32, for the Cortex-M55 with Helium (MVE).
 *
 * Same overlap rules and scratch sizes as the portable kernels (tinyc_inplace.h), built
 * from the same blocks as this variant's ordinary kernels (tinyc_mve_conv.h,
 * tinyc_mve_gemm.h), so choosing the in-place form changes no bit -- except the streamed
 * 1x1 conv: it holds one pixel, so its lanes run along the input channels (4 output
 * channels per input vector, tinyc_v4_dot4) where the ordinary pointwise kernel puts
 * pixels in lanes; the two agree within float rounding. */
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
      float *yk = Y + plane * out_plane;
      tinyc_mve_dw_plane(X + plane * in_plane, W + (size_t)k * p->kh * p->kw, B ? B[k] : 0.0f,
                         scratch, work, p);
      /* input channel k is no longer needed: its bytes (and those below) may be written */
      memcpy(yk, scratch, out_plane * sizeof *yk);
    }
  }
}

/* The output channels of one pixel: x is the input pixel, `sx` floats between channels;
 * output m goes to out[m * ostride]. Four channels per tinyc_v4_dot4 (inlined per call,
 * so the contiguous and the strided forms each get their own loop). */
TINYC_INLINE void pixel_outputs(const float *x, size_t sx, const float *restrict W,
                                const float *restrict B, float *out, size_t ostride,
                                const tinyc_conv2d_params *p) {
  const int32_t C = p->c;
  const tinyc_u4 offs = tinyc_u4_steps((int32_t)ostride);
  int32_t m = 0;
  for (; m + 4 <= p->m; m += 4) {
    const tinyc_v4 b = B ? tinyc_v4_load(B + m, 4) : tinyc_v4_dup(0.0f);
    tinyc_v4_scatter(out + (size_t)m * ostride, offs,
                     tinyc_v4_dot4(x, (int32_t)sx, W + (size_t)m * C, C, C, b), &p->act);
  }
  for (; m < p->m; ++m) {
    const float acc = tinyc_fpu_dot(B ? B[m] : 0.0f, W + (size_t)m * C, x, (int32_t)sx, C);
    out[(size_t)m * ostride] = tinyc_fpu_act1(acc, &p->act);
  }
}

void tinyc_conv1x1_stream_f32(const float *X, const float *restrict W, const float *restrict B,
                              float *Y, float *restrict scratch, const tinyc_conv2d_params *p) {
  const size_t plane = (size_t)p->h * p->w;
  size_t px;
  int32_t c, m;
  TINYC_DCHECK(p->n == 1 && p->kh == 1 && p->kw == 1 && p->group == 1);
  for (px = 0; px < plane; ++px) {
    if (p->c <= p->m) {
      /* buffer the input pixel, then every output channel can be stored at once */
      const float *x = X + px;
      for (c = 0; c < p->c; ++c) scratch[c] = x[(size_t)c * plane];
      pixel_outputs(scratch, 1, W, B, Y + px, plane, p);
    } else {
      /* fewer outputs than inputs: buffer the output pixel instead; the input pixel is
       * read in place, strided by the plane */
      pixel_outputs(X + px, plane, W, B, scratch, 1, p);
      for (m = 0; m < p->m; ++m) Y[(size_t)m * plane + px] = scratch[m];
    }
  }
}

#define TINYC_STREAM_CONV_ROW tinyc_mve_conv_row
#define TINYC_STREAM_GEMM_ROW tinyc_mve_gemm_row
#include "tinyc_fpu_stream_rows.h"
