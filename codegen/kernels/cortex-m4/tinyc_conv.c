/* 2-D convolution, float32, NCHW, laid out for the Cortex-M4F/M7/M33 FPU.
 *
 * Same contract and accumulation order as the portable kernel (tinyc_conv.h). The FPU has
 * 32 single-precision registers, so outputs are computed in register blocks and every
 * loaded value feeds several multiply-accumulates; inner loops have constant bounds (3x3
 * taps unrolled) and walk pointers, no per-element index arithmetic. One of three shapes
 * is chosen from the parameters:
 *
 * - pointwise (1x1, stride 1, no padding, one group): Y[M, HW] = W[M, C] X[C, HW] in
 *   4-channel x 4-pixel blocks (16 accumulators; 8 loads feed 16 MACs);
 * - depthwise (one input and one output channel per group): channel planes, 3x3 windows
 *   with the weights in registers and 4 outputs at a time (tinyc_fpu_conv.h);
 * - anything else: direct convolution in 4-channel x 4-pixel blocks over the interior
 *   columns, where every tap is inside the input; border columns go pixel by pixel with
 *   the tap range clipped. */
#include "tinyc_conv.h"

#include "tinyc_fpu_conv.h"


TINYC_INLINE float bias_of(const float *B, int32_t m) { return B ? B[m] : 0.0f; }

/* ---- pointwise ------------------------------------------------------------------------ */

static TINYC_NOINLINE TINYC_FPU_SCALAR void pointwise(const float *restrict X, const float *restrict W,
                                     const float *restrict B, float *restrict Y, int32_t C,
                                     int32_t M, int32_t P, const tinyc_act *act) {
  int32_t m = 0, p, c;
  for (; m + 4 <= M; m += 4) {
    const float *w0 = W + (size_t)m * C;
    const float b0 = bias_of(B, m), b1 = bias_of(B, m + 1), b2 = bias_of(B, m + 2),
                b3 = bias_of(B, m + 3);
    float *y = Y + (size_t)m * P;
    for (p = 0; p + 4 <= P; p += 4) {
      const float *x = X + p;
      const float *u0 = w0, *u1 = w0 + C, *u2 = w0 + 2 * C, *u3 = w0 + 3 * C;
      float a00 = b0, a01 = b0, a02 = b0, a03 = b0, a10 = b1, a11 = b1, a12 = b1, a13 = b1;
      float a20 = b2, a21 = b2, a22 = b2, a23 = b2, a30 = b3, a31 = b3, a32 = b3, a33 = b3;
      for (c = C; c > 0; --c) {
        const float x0 = x[0], x1 = x[1], x2 = x[2], x3 = x[3];
        const float v0 = *u0++, v1 = *u1++, v2 = *u2++, v3 = *u3++;
        x += P;
        TINYC_FPU_MAC(a00, v0, x0); TINYC_FPU_MAC(a01, v0, x1);
        TINYC_FPU_MAC(a02, v0, x2); TINYC_FPU_MAC(a03, v0, x3);
        TINYC_FPU_MAC(a10, v1, x0); TINYC_FPU_MAC(a11, v1, x1);
        TINYC_FPU_MAC(a12, v1, x2); TINYC_FPU_MAC(a13, v1, x3);
        TINYC_FPU_MAC(a20, v2, x0); TINYC_FPU_MAC(a21, v2, x1);
        TINYC_FPU_MAC(a22, v2, x2); TINYC_FPU_MAC(a23, v2, x3);
        TINYC_FPU_MAC(a30, v3, x0); TINYC_FPU_MAC(a31, v3, x1);
        TINYC_FPU_MAC(a32, v3, x2); TINYC_FPU_MAC(a33, v3, x3);
      }
      tinyc_fpu_store4(y + p, 1, a00, a01, a02, a03, act);
      tinyc_fpu_store4(y + P + p, 1, a10, a11, a12, a13, act);
      tinyc_fpu_store4(y + 2 * P + p, 1, a20, a21, a22, a23, act);
      tinyc_fpu_store4(y + 3 * P + p, 1, a30, a31, a32, a33, act);
    }
    for (; p < P; ++p) {
      const float *x = X + p;
      const float *u0 = w0, *u1 = w0 + C, *u2 = w0 + 2 * C, *u3 = w0 + 3 * C;
      float a0 = b0, a1 = b1, a2 = b2, a3 = b3;
      for (c = C; c > 0; --c) {
        const float x0 = *x;
        x += P;
        TINYC_FPU_MAC(a0, *u0++, x0); TINYC_FPU_MAC(a1, *u1++, x0);
        TINYC_FPU_MAC(a2, *u2++, x0); TINYC_FPU_MAC(a3, *u3++, x0);
      }
      tinyc_fpu_store4(y + p, P, a0, a1, a2, a3, act);
    }
  }
  for (; m < M; ++m) {
    const float *w0 = W + (size_t)m * C;
    const float b0 = bias_of(B, m);
    float *y = Y + (size_t)m * P;
    for (p = 0; p + 4 <= P; p += 4) {
      const float *x = X + p, *u0 = w0;
      float a0 = b0, a1 = b0, a2 = b0, a3 = b0;
      for (c = C; c > 0; --c) {
        const float v0 = *u0++;
        TINYC_FPU_MAC(a0, v0, x[0]); TINYC_FPU_MAC(a1, v0, x[1]);
        TINYC_FPU_MAC(a2, v0, x[2]); TINYC_FPU_MAC(a3, v0, x[3]);
        x += P;
      }
      tinyc_fpu_store4(y + p, 1, a0, a1, a2, a3, act);
    }
    for (; p < P; ++p) {
      const float *x = X + p, *u0 = w0;
      float a0 = b0;
      for (c = C; c > 0; --c) {
        TINYC_FPU_MAC(a0, *u0++, *x);
        x += P;
      }
      y[p] = tinyc_fpu_act1(a0, act);
    }
  }
}

/* ---- depthwise (one input and one output channel per group) ------------------------ */

static TINYC_NOINLINE TINYC_FPU_SCALAR void depthwise(const float *restrict X, const float *restrict W,
                                     const float *restrict B, float *restrict Y,
                                     float *restrict work, const tinyc_conv2d_params *p) {
  const size_t in_plane = (size_t)p->h * p->w, out_plane = (size_t)p->oh * p->ow;
  int32_t n, k;
  for (n = 0; n < p->n; ++n) {
    for (k = 0; k < p->c; ++k) {
      const size_t plane = (size_t)n * p->c + k;
      tinyc_fpu_dw_any_plane(X + plane * in_plane, W + (size_t)k * p->kh * p->kw, bias_of(B, k),
                             Y + plane * out_plane, work, p);
    }
  }
}

/* ---- general direct convolution ------------------------------------------------------ */

/* One loop over (image, group, output row), indices recovered by division once a row, the
 * parameters re-read each row (an empty asm hides that they do not change): nested, with
 * the loops' invariants hoisted, it spilled to a 136 B frame under the row's own. */
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
    tinyc_fpu_conv_row(X + (size_t)ng * (p->c / p->group) * p->h * p->w, W, B,
                       Y + (size_t)ng * mg * plane + (size_t)oy * p->ow, plane, g * mg,
                       (g + 1) * mg, oy, p);
  }
}

/* The three paths are TINYC_NOINLINE: inlined here their frames (register spills) would
 * add up on the stack of every call. */
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
