/* Overlapping ("in place") kernels, float32, for the Cortex-M4F/M7/M33 FPU.
 *
 * Same overlap rules, scratch sizes and accumulation order as the portable kernels
 * (tinyc_inplace.h), built from the same blocks as this variant's ordinary kernels
 * (tinyc_fpu.h, tinyc_fpu_conv.h), so choosing the in-place form never changes a bit. */
#include "tinyc_inplace.h"

#include <string.h>

#include "tinyc_fpu_conv.h"
#include "tinyc_fpu_gemm.h"

TINYC_FPU_SCALAR void tinyc_dwconv2d_stream_f32(const float *X, const float *restrict W, const float *restrict B,
                               float *Y, float *restrict scratch, float *restrict work,
                               const tinyc_conv2d_params *p) {
  const size_t in_plane = (size_t)p->h * p->w, out_plane = (size_t)p->oh * p->ow;
  int32_t n, k;
  /* the small-plane path copies input plane k into `work` before it stores any output:
   * output plane k goes straight to Y */
  const int direct = work != NULL && tinyc_fpu_dw3_small_fits(p);
  TINYC_DCHECK(p->group == p->c && p->m == p->c);
  for (n = 0; n < p->n; ++n) {
    for (k = 0; k < p->c; ++k) {
      const size_t plane = (size_t)n * p->c + k;
      float *yk = Y + plane * out_plane;
      tinyc_fpu_dw_any_plane(X + plane * in_plane, W + (size_t)k * p->kh * p->kw,
                             B ? B[k] : 0.0f, direct ? yk : scratch, work, p, plane > 0);
      /* input channel k is no longer needed: its bytes (and those below) may be written */
      if (!direct) memcpy(yk, scratch, out_plane * sizeof *yk);
    }
  }
}

/* acc[j] += x . row j of W for 8 rows `C` floats apart, x strided by `sx`. A streamed 1x1
 * conv holds one pixel, so each weight feeds one multiply-accumulate: what blocking saves
 * is the loads of x, one per 8. The loops stay rolled: every load post-increments its
 * pointer (one VLDMIA each), which unrolling would trade for separate pointer updates. */
#define TINYC_MAC8(v)                                                                          \
  do {                                                                                         \
    TINYC_FPU_MAC(s0, *w0++, v);                                                               \
    TINYC_FPU_MAC(s1, *w1++, v);                                                               \
    TINYC_FPU_MAC(s2, *w2++, v);                                                               \
    TINYC_FPU_MAC(s3, *w3++, v);                                                               \
    TINYC_FPU_MAC(s4, *w4++, v);                                                               \
    TINYC_FPU_MAC(s5, *w5++, v);                                                               \
    TINYC_FPU_MAC(s6, *w6++, v);                                                               \
    TINYC_FPU_MAC(s7, *w7++, v);                                                               \
  } while (0)

TINYC_INLINE void dot8(float *acc, const float *x, size_t sx, const float *restrict w,
                       int32_t C) {
  const float *w0 = w, *w1 = w + C, *w2 = w + 2 * C, *w3 = w + 3 * C, *w4 = w + 4 * C,
              *w5 = w + 5 * C, *w6 = w + 6 * C, *w7 = w + 7 * C;
  float s0 = acc[0], s1 = acc[1], s2 = acc[2], s3 = acc[3], s4 = acc[4], s5 = acc[5],
        s6 = acc[6], s7 = acc[7];
  const float *const end = w1; /* the loops count with w0 */
  if (sx == 1) {
    while (w0 != end) {
      const float v = *x++;
      TINYC_MAC8(v);
    }
  } else {
    while (w0 != end) {
      const float v = *x;
      x += sx;
      TINYC_MAC8(v);
    }
  }
  acc[0] = s0;
  acc[1] = s1;
  acc[2] = s2;
  acc[3] = s3;
  acc[4] = s4;
  acc[5] = s5;
  acc[6] = s6;
  acc[7] = s7;
}

#undef TINYC_MAC8

/* The output channels of one pixel, 8 at a time, then 4 (x contiguous) or 1: x is the
 * input pixel, `sx` floats between channels; output m goes to out[m * ostride]. */
static void pixel_outputs(const float *x, size_t sx, const float *restrict W,
                          const float *restrict B, float *out, size_t ostride,
                          const tinyc_conv2d_params *p) {
  const int32_t C = p->c;
  int32_t m = 0, j;
  for (; m + 8 <= p->m; m += 8) {
    float acc[8];
    for (j = 0; j < 8; ++j) acc[j] = B ? B[m + j] : 0.0f;
    dot8(acc, x, sx, W + (size_t)m * C, C);
    tinyc_fpu_store4(out + (size_t)m * ostride, (int32_t)ostride, acc[0], acc[1], acc[2],
                     acc[3], &p->act);
    tinyc_fpu_store4(out + (size_t)(m + 4) * ostride, (int32_t)ostride, acc[4], acc[5],
                     acc[6], acc[7], &p->act);
  }
  for (; sx == 1 && m + 4 <= p->m; m += 4) {
    float acc[4];
    acc[0] = B ? B[m] : 0.0f;
    acc[1] = B ? B[m + 1] : 0.0f;
    acc[2] = B ? B[m + 2] : 0.0f;
    acc[3] = B ? B[m + 3] : 0.0f;
    tinyc_fpu_dot4(acc, x, W + (size_t)m * C, C, C);
    tinyc_fpu_store4(out + (size_t)m * ostride, (int32_t)ostride, acc[0], acc[1], acc[2],
                     acc[3], &p->act);
  }
  for (; m < p->m; ++m) {
    const float acc = tinyc_fpu_dot(B ? B[m] : 0.0f, W + (size_t)m * C, x, (int32_t)sx, C);
    out[(size_t)m * ostride] = tinyc_fpu_act1(acc, &p->act);
  }
}

/* 4 pixels at a time through scratch[4 * min(c, m)] (the tile of tinyc_fpu_pw_tile4, so
 * the ordinary kernel's bits), the last plane % 4 pixels one at a time. */
void tinyc_conv1x1_stream_f32(const float *X, const float *restrict W, const float *restrict B,
                              float *Y, float *restrict scratch, const tinyc_conv2d_params *p) {
  const size_t plane = (size_t)p->h * p->w;
  size_t px = 0;
  int32_t c, m;
  TINYC_DCHECK(p->n == 1 && p->kh == 1 && p->kw == 1 && p->group == 1);
  for (; px + 4 <= plane; px += 4) {
    if (p->c <= p->m) {
      /* buffer the input tile (channel by channel, 4 pixels each), then every output
       * channel of its pixels can be stored at once */
      const float *x = X + px;
      float *t = scratch;
      for (c = p->c; c > 0; --c, x += plane, t += 4) memcpy(t, x, 4 * sizeof *t);
      tinyc_fpu_pw_tile4(scratch, 4, W, B, Y + px, plane, p->c, p->m, 1, &p->act);
    } else {
      /* fewer outputs than inputs: buffer the output tile; the input is read in place */
      const float *t = scratch;
      float *y = Y + px;
      tinyc_fpu_pw_tile4(X + px, plane, W, B, scratch, 4, p->c, p->m, 1, &p->act);
      for (m = p->m; m > 0; --m, y += plane, t += 4) memcpy(y, t, 4 * sizeof *y);
    }
  }
  for (; px < plane; ++px) {
    if (p->c <= p->m) {
      /* buffer the input pixel, then every output channel can be stored at once */
      const float *x = X + px;
      for (c = 0; c < p->c; ++c) scratch[c] = x[(size_t)c * plane];
      pixel_outputs(scratch, 1, W, B, Y + px, plane, p);
    } else {
      /* buffer the output pixel instead; the input pixel is read in place, strided by
       * the plane */
      pixel_outputs(X + px, plane, W, B, scratch, 1, p);
      for (m = 0; m < p->m; ++m) Y[(size_t)m * plane + px] = scratch[m];
    }
  }
}

#define TINYC_STREAM_CONV_ROW tinyc_fpu_conv_row
#define TINYC_STREAM_GEMM_ROW tinyc_fpu_gemm_row
#include "tinyc_fpu_stream_rows.h"
