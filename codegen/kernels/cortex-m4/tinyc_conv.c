/* 2-D convolution, float32, NCHW, laid out for the Cortex-M4F/M7/M33 FPU.
 *
 * Same contract and accumulation order as the portable kernel (tinyc_conv.h). The FPU has
 * 32 single-precision registers, so outputs are computed in register blocks and every
 * loaded value feeds several multiply-accumulates; inner loops have constant bounds (3x3
 * taps unrolled) and walk pointers, no per-element index arithmetic. One of three shapes
 * is chosen from the parameters:
 *
 * - pointwise (1x1, stride 1, no padding, one group): Y[M, HW] = W[M, C] X[C, HW] in
 *   4-channel x 4-pixel register tiles (tinyc_fpu_pw_tile4: 8 loads feed 16 MACs);
 * - depthwise (one input and one output channel per group): channel planes, 3x3 windows
 *   with the weights in registers and 4 outputs at a time (tinyc_fpu_conv.h);
 * - anything else: direct convolution in 4-channel x 4-pixel blocks over the interior
 *   columns, where every tap is inside the input; border columns go pixel by pixel with
 *   the tap range clipped, or, when few input channels have padded columns (a first
 *   layer), every column is made interior through zero-padded copies of the window rows. */
#include "tinyc_conv.h"

#include "tinyc_fpu_conv.h"


TINYC_INLINE float bias_of(const float *B, int32_t m) { return B ? B[m] : 0.0f; }

/* ---- pointwise ------------------------------------------------------------------------ */

static TINYC_NOINLINE TINYC_FPU_SCALAR void pointwise(const float *restrict X, const float *restrict W,
                                     const float *restrict B, float *restrict Y, int32_t C,
                                     int32_t M, int32_t P, const tinyc_act *act) {
  int32_t m, p, c;
  tinyc_fpu_pw_tile4(X, (size_t)P, W, B, Y, (size_t)P, C, M, P / 4, act);
  p = P - P % 4;
  /* the last P % 4 pixels: 4 channels at a time, each loaded input feeding 4 */
  for (; p < P; ++p) {
    for (m = 0; m + 4 <= M; m += 4) {
      const float *x = X + p, *u0 = W + (size_t)m * C, *u1 = u0 + C, *u2 = u1 + C,
                  *u3 = u2 + C;
      float a0 = bias_of(B, m), a1 = bias_of(B, m + 1), a2 = bias_of(B, m + 2),
            a3 = bias_of(B, m + 3);
      for (c = C; c > 0; --c) {
        const float x0 = *x;
        x += P;
        TINYC_FPU_MAC(a0, *u0++, x0); TINYC_FPU_MAC(a1, *u1++, x0);
        TINYC_FPU_MAC(a2, *u2++, x0); TINYC_FPU_MAC(a3, *u3++, x0);
      }
      tinyc_fpu_store4(Y + (size_t)m * P + p, P, a0, a1, a2, a3, act);
    }
    for (; m < M; ++m) {
      const float *x = X + p, *u0 = W + (size_t)m * C;
      float a0 = bias_of(B, m);
      for (c = C; c > 0; --c) {
        TINYC_FPU_MAC(a0, *u0++, *x);
        x += P;
      }
      Y[(size_t)m * P + p] = tinyc_fpu_act1(a0, act);
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
                             Y + plane * out_plane, work, p, plane > 0);
    }
  }
}

/* ---- general direct convolution ------------------------------------------------------ */

#define TINYC_GENERAL_CONV_ROW tinyc_fpu_conv_row
#include "tinyc_fpu_general_conv.h"

/* ---- small-channel convolution through zero-padded window rows ---------------------- */

/* Output rows one at a time from a copy of their window's rows (all input channels, only
 * the rows inside the input) zero-padded left and right to the columns the row's windows
 * span (`rows`: the node's planned workspace, tinyc/ops/conv.py fpu_padded_rows_bytes),
 * so every output column is an interior one and goes in 4x4 blocks: KWS's first layer
 * (one channel, 10x4 window, stride 2, 5 output columns) has no interior column at all.
 * Zero padding is the reference's, so results are the direct kernel's up to the order of
 * the sums (the padded taps add zeros). */
/* `count` rows of every input channel from row `first` of x into `rows`, each zero-padded
 * to the padded width. Out of line, so that padded_rows' frame stays small. */
static TINYC_NOINLINE void copy_padded_rows(const float *restrict x, int32_t first,
                                            int32_t count, float *restrict rows,
                                            const tinyc_conv2d_params *p) {
  const int32_t wp = tinyc_fpu_padded_width(p), left = p->pad_left < wp ? p->pad_left : wp;
  const int32_t inner = p->w < wp - left ? p->w : wp - left;
  const size_t in_plane = (size_t)p->h * p->w;
  int32_t c, r, i;
  for (c = 0; c < p->c; ++c) {
    const float *src = x + (size_t)c * in_plane + (size_t)first * p->w;
    for (r = 0; r < count; ++r, src += p->w, rows += wp) {
      for (i = 0; i < left; ++i) rows[i] = 0.0f;
      memcpy(rows + left, src, (size_t)inner * sizeof *rows);
      for (i = left + inner; i < wp; ++i) rows[i] = 0.0f;
    }
  }
}

static TINYC_NOINLINE void padded_rows(const float *restrict X, const float *restrict W,
                                       const float *restrict B, float *restrict Y,
                                       float *restrict rows, const tinyc_conv2d_params *p) {
  const size_t plane = (size_t)p->oh * p->ow, in_plane = (size_t)p->h * p->w;
  tinyc_conv2d_params *q = (tinyc_conv2d_params *)(void *)rows; /* the padded geometry */
  int32_t n, oy;
  rows += TINYC_FPU_PADDED_PARAMS;
  *q = *p;
  q->w = tinyc_fpu_padded_width(p);
  q->pad_left = 0;
  q->oh = 1;
  for (n = 0; n < p->n; ++n) {
    const float *xn = X + (size_t)n * p->c * in_plane;
    float *yn = Y + (size_t)n * p->m * plane;
    for (oy = 0; oy < p->oh; ++oy) {
      const int32_t iy0 = oy * p->stride_h - p->pad_top;
      const int32_t ky0 = tinyc_window_first(iy0, p->dil_h);
      const int32_t ky1 = tinyc_window_end(iy0, p->dil_h, p->kh, p->h);
      if (ky1 <= ky0) { /* the whole window is padding: the direct row gives the bias */
        tinyc_fpu_conv_row(xn, W, B, yn + (size_t)oy * p->ow, plane, 0, p->m, oy, p);
        continue;
      }
      q->h = (ky1 - 1 - ky0) * p->dil_h + 1;
      q->pad_top = ky0 * p->dil_h;
      copy_padded_rows(xn, iy0 + q->pad_top, q->h, rows, p);
      tinyc_fpu_conv_row(rows, W, B, yn + (size_t)oy * p->ow, plane, 0, p->m, 0, q);
    }
  }
}

/* The paths are TINYC_NOINLINE: inlined here their frames (register spills) would
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
  } else if (work != NULL && tinyc_fpu_padded_rows_fit(p)) {
    padded_rows(X, W, B, Y, work, p);
  } else {
    general(X, W, B, Y, p);
  }
}
