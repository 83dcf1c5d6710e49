/* 2-D convolution, float32, NCHW, for the Cortex-M55 with Helium (MVE).
 *
 * Same contract as the portable kernel (tinyc_conv.h); sums run in another order (within
 * float tolerance of it). Output pixels go in the 4 lanes of a vector, multiplied by one
 * scalar weight per instruction, so the weights keep the portable layout and each loaded
 * input vector feeds several output channels (tinyc_mve_f32.h):
 *
 * - pointwise (1x1, stride 1, no padding, one group): 4 output channels x 4 pixels in 4
 *   accumulators, two input channels a round, the pixel tail under a lane predicate
 *   (tinyc_mve_pw_tile4, which the streamed 1x1 conv runs on its buffered pixels);
 * - depthwise 3x3 on small planes (KWS's 25x5): the plane copied once, zero padded, into
 *   the node's workspace (as on the Cortex-M4), then 4 outputs of a row per vector;
 *   other depthwise windows take the Cortex-M4 FPU path (tinyc_fpu_conv.h);
 * - anything else: 4 output channels x 4 interior output columns per block (contiguous
 *   loads at stride 1, gathers otherwise); border columns go pixel by pixel, the last
 *   1 to 3 channels in the same blocks (their weights repeated, their results dropped). */
#include "tinyc_conv.h"

#include "tinyc_mve_conv.h"

TINYC_INLINE float bias_of(const float *B, int32_t m) { return B ? B[m] : 0.0f; }

static TINYC_NOINLINE void depthwise(const float *restrict X, const float *restrict W,
                                     const float *restrict B, float *restrict Y,
                                     float *restrict work, const tinyc_conv2d_params *p) {
  const size_t in_plane = (size_t)p->h * p->w, out_plane = (size_t)p->oh * p->ow;
  int32_t n, k;
  for (n = 0; n < p->n; ++n) {
    for (k = 0; k < p->c; ++k) {
      const size_t plane = (size_t)n * p->c + k;
      const float *wk = W + (size_t)k * p->kh * p->kw;
      tinyc_mve_dw_plane(X + plane * in_plane, wk, bias_of(B, k), Y + plane * out_plane, work, p);
    }
  }
}

/* The (image, group, output row) loops as one loop, everything recomputed from p each
 * round (the empty asm keeps gcc from hoisting it): nothing to keep live across the row
 * calls, so this frame stays small above theirs. */
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
    tinyc_mve_conv_row(X + (size_t)ng * (p->c / p->group) * p->h * p->w, W, B,
                       Y + (size_t)ng * mg * plane + (size_t)oy * p->ow, plane, g * mg,
                       (g + 1) * mg, oy, p);
  }
}

void tinyc_conv2d_f32(const float *restrict X, const float *restrict W, const float *restrict B,
                      float *restrict Y, float *restrict work, const tinyc_conv2d_params *p) {
  const int unit = p->stride_h == 1 && p->stride_w == 1 && p->dil_h == 1 && p->dil_w == 1;
  const int no_pad = p->pad_top == 0 && p->pad_left == 0 && p->oh == p->h && p->ow == p->w;
  int32_t n;
  if (p->kh == 1 && p->kw == 1 && unit && no_pad && p->group == 1) {
    const size_t P = (size_t)p->h * p->w;
    for (n = 0; n < p->n; ++n) {
      tinyc_mve_pw_tile4(X + (size_t)n * p->c * P, P, W, B, Y + (size_t)n * p->m * P, P, p->c,
                         p->m, (int32_t)P, &p->act);
    }
  } else if (p->group == p->c && p->m == p->c) {
    depthwise(X, W, B, Y, work, p);
  } else {
    general(X, W, B, Y, p);
  }
}
