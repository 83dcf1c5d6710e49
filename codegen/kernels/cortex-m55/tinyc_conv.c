/* 2-D convolution, float32, NCHW, for the Cortex-M55 with Helium (MVE).
 *
 * Same contract as the portable kernel (tinyc_conv.h); sums run in another order (within
 * float tolerance of it). Output pixels go in the 4 lanes of a vector, multiplied by one
 * scalar weight per instruction, so the weights keep the portable layout and each loaded
 * input vector feeds several output channels (tinyc_mve_f32.h):
 *
 * - pointwise (1x1, stride 1, no padding, one group): 3 output channels x 8 pixels in 6
 *   accumulators, the pixel tail under a lane predicate;
 * - depthwise 3x3 on small planes (KWS's 25x5): the plane copied once, zero padded, into
 *   the node's workspace (as on the Cortex-M4), then 4 outputs of a row per vector;
 *   other depthwise windows take the Cortex-M4 FPU path (tinyc_fpu_conv.h);
 * - anything else: 4 output channels x 4 interior output columns per block (contiguous
 *   loads at stride 1, gathers otherwise); border columns go pixel by pixel and the
 *   channels past a multiple of 4 take the Cortex-M4 FPU path (tinyc_fpu_conv_row). */
#include "tinyc_conv.h"

#include "tinyc_mve_conv.h"

TINYC_INLINE float bias_of(const float *B, int32_t m) { return B ? B[m] : 0.0f; }

/* ---- pointwise ------------------------------------------------------------------------ */

/* NM (1..3, a constant) output channels x the n (1..8) pixels at x; w: the first
 * channel's C weights, the others C floats apart. */
TINYC_INLINE void pw_block(const float *x, const float *w, const float *b, float *y,
                           int32_t C, int32_t P, int32_t n, const int NM, const tinyc_act *act) {
  const int32_t n0 = n < 4 ? n : 4, n1 = n - n0;
  const float *u0 = w, *u1 = w + C, *u2 = w + 2 * C;
  tinyc_v4 a00 = tinyc_v4_dup(b[0]), a01 = a00;
  tinyc_v4 a10 = tinyc_v4_dup(NM > 1 ? b[1] : 0.0f), a11 = a10;
  tinyc_v4 a20 = tinyc_v4_dup(NM > 2 ? b[2] : 0.0f), a21 = a20;
  int32_t c;
  if (n == 8) {
    for (c = C; c > 0; --c) {
      const tinyc_v4 x0 = tinyc_v4_load(x, 4), x1 = tinyc_v4_load(x + 4, 4);
      x += P;
      a00 = tinyc_v4_fma(a00, x0, *u0);
      a01 = tinyc_v4_fma(a01, x1, *u0++);
      if (NM > 1) {
        a10 = tinyc_v4_fma(a10, x0, *u1);
        a11 = tinyc_v4_fma(a11, x1, *u1++);
      }
      if (NM > 2) {
        a20 = tinyc_v4_fma(a20, x0, *u2);
        a21 = tinyc_v4_fma(a21, x1, *u2++);
      }
    }
  } else {
    for (c = C; c > 0; --c) {
      const tinyc_v4 x0 = tinyc_v4_load(x, n0);
      const tinyc_v4 x1 = n1 > 0 ? tinyc_v4_load(x + 4, n1) : x0;
      x += P;
      a00 = tinyc_v4_fma(a00, x0, *u0);
      a01 = tinyc_v4_fma(a01, x1, *u0++);
      if (NM > 1) {
        a10 = tinyc_v4_fma(a10, x0, *u1);
        a11 = tinyc_v4_fma(a11, x1, *u1++);
      }
      if (NM > 2) {
        a20 = tinyc_v4_fma(a20, x0, *u2);
        a21 = tinyc_v4_fma(a21, x1, *u2++);
      }
    }
  }
  tinyc_v4_store(y, a00, n0, act);
  if (n1 > 0) tinyc_v4_store(y + 4, a01, n1, act);
  if (NM > 1) {
    tinyc_v4_store(y + P, a10, n0, act);
    if (n1 > 0) tinyc_v4_store(y + P + 4, a11, n1, act);
  }
  if (NM > 2) {
    tinyc_v4_store(y + 2 * P, a20, n0, act);
    if (n1 > 0) tinyc_v4_store(y + 2 * P + 4, a21, n1, act);
  }
}

/* Y[M, P] = W[M, C] X[C, P] (+ bias), 3 channels at a time (then 2 or 1). */
static TINYC_NOINLINE void pointwise(const float *restrict X, const float *restrict W,
                                     const float *restrict B, float *restrict Y, int32_t C,
                                     int32_t M, int32_t P, const tinyc_act *act) {
  int32_t m, p, i;
  for (m = 0; m < M; m += 3) {
    const int32_t nm = M - m < 3 ? M - m : 3;
    const float *w = W + (size_t)m * C;
    float *y = Y + (size_t)m * P;
    float b[3];
    for (i = 0; i < 3; ++i) b[i] = i < nm ? bias_of(B, m + i) : 0.0f;
    for (p = 0; p < P; p += 8) {
      const int32_t n = P - p < 8 ? P - p : 8;
      if (nm == 3) {
        pw_block(X + p, w, b, y + p, C, P, n, 3, act);
      } else if (nm == 2) {
        pw_block(X + p, w, b, y + p, C, P, n, 2, act);
      } else {
        pw_block(X + p, w, b, y + p, C, P, n, 1, act);
      }
    }
  }
}

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

static TINYC_NOINLINE void general(const float *restrict X, const float *restrict W,
                                   const float *restrict B, float *restrict Y,
                                   const tinyc_conv2d_params *p) {
  const int32_t cg = p->c / p->group, mg = p->m / p->group;
  const size_t plane = (size_t)p->oh * p->ow, in_plane = (size_t)p->h * p->w;
  int32_t n, g, oy;
  for (n = 0; n < p->n; ++n) {
    for (g = 0; g < p->group; ++g) {
      const float *xg = X + ((size_t)n * p->c + (size_t)g * cg) * in_plane;
      float *yg = Y + ((size_t)n * p->m + (size_t)g * mg) * plane;
      for (oy = 0; oy < p->oh; ++oy) {
        tinyc_mve_conv_row(xg, W, B, yg + (size_t)oy * p->ow, plane, g * mg, (g + 1) * mg, oy,
                           p);
      }
    }
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
      pointwise(X + (size_t)n * p->c * P, W, B, Y + (size_t)n * p->m * P, p->c, p->m,
                (int32_t)P, &p->act);
    }
  } else if (p->group == p->c && p->m == p->c) {
    depthwise(X, W, B, Y, work, p);
  } else {
    general(X, W, B, Y, p);
  }
}
