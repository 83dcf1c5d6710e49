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
 * - strided convs on narrow maps (KWS's first layer): 4 output channels x 4 output rows
 *   per block, each tap's 4 rows one gather (tinyc_mve_conv_cols);
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

#define TINYC_GENERAL_CONV_ROW tinyc_mve_conv_row
#include "tinyc_fpu_general_conv.h"

/* Whether a conv runs 4 output rows a vector (tinyc_mve_conv_cols) instead of 4 output
 * columns: one group, a strided row (its columns are gathered either way), and a map so
 * narrow that rows in the lanes waste fewer lanes than columns (KWS's 10x4 stride-2 first
 * layer, 25x5 outputs: 140 lanes for 125 outputs instead of 200, no lane predicates on
 * the rows inside the input). */
TINYC_INLINE int tinyc_mve_cols_fit(const tinyc_conv2d_params *p) {
  const int32_t row_lanes = (p->ow + 3) / 4 * 4 * p->oh;
  const int32_t col_lanes = (p->oh + 3) / 4 * 4 * p->ow;
  return p->group == 1 && p->stride_w > 1 && p->oh >= 4 && col_lanes < row_lanes;
}

/* Output rows oy0..oy0+3 of nm (1..4) output channels (weights w, biases b: 4, the last
 * repeated), every output column: per column, each tap's inputs of the 4 rows one gather
 * (on a tap row where some lane's row is outside the input, under a lane predicate: those
 * are never read) against one weight per
 * channel, bias + the taps in order; stored 4 rows apart through the activation. */
static TINYC_NOINLINE void tinyc_mve_cols4(const float *x, const float *w, const float *b,
                                           int32_t nm, float *y, int32_t oy0,
                                           const tinyc_conv2d_params *p) {
  const int32_t kh = p->kh, kw = p->kw, ws = p->c * kh * kw, dw = p->dil_w;
  const size_t in_plane = (size_t)p->h * p->w, out_plane = (size_t)p->oh * p->ow;
  const tinyc_u4 rows = tinyc_u4_steps(p->stride_h * p->w), outs = tinyc_u4_steps(p->ow);
  const int32_t iy0 = oy0 * p->stride_h - p->pad_top;
  /* the taps ky in [full0, full1) have every lane's row inside the input: no predicate */
  const int32_t full0 = tinyc_window_first(iy0, p->dil_h);
  const int32_t full1 = tinyc_window_end(iy0 + 3 * p->stride_h, p->dil_h, kh, p->h);
  const float *u0 = w, *u1 = w + (nm > 1 ? ws : 0), *u2 = w + (nm > 2 ? 2 * ws : 0),
              *u3 = w + (size_t)(nm - 1) * ws;
  int32_t ox, c, ky, kx;
  y += (size_t)oy0 * p->ow;
  for (ox = 0; ox < p->ow; ++ox) {
    const int32_t ix0 = ox * p->stride_w - p->pad_left;
    const int32_t kx0 = tinyc_window_first(ix0, dw), kx1 = tinyc_window_end(ix0, dw, kw, p->w);
    tinyc_v4 a0 = tinyc_v4_dup(b[0]), a1 = tinyc_v4_dup(b[1]), a2 = tinyc_v4_dup(b[2]),
             a3 = tinyc_v4_dup(b[3]);
    for (c = 0; c < p->c; ++c) {
      const float *xc = x + (size_t)c * in_plane + ix0;
      for (ky = 0; ky < kh; ++ky) {
        const int32_t iy = iy0 + ky * p->dil_h; /* lane 0's input row */
        const size_t wo = ((size_t)c * kh + ky) * kw;
        if (ky >= full0 && ky < full1) { /* every lane's row inside the input */
          const float *xr = xc + (size_t)iy * p->w;
          for (kx = kx0; kx < kx1; ++kx) {
            const tinyc_v4 xv = tinyc_v4_gather(xr + kx * dw, rows);
            a0 = tinyc_v4_fma(a0, xv, u0[wo + kx]);
            a1 = tinyc_v4_fma(a1, xv, u1[wo + kx]);
            a2 = tinyc_v4_fma(a2, xv, u2[wo + kx]);
            a3 = tinyc_v4_fma(a3, xv, u3[wo + kx]);
          }
        } else {
          const tinyc_p4 in = tinyc_p4_inside(iy, p->stride_h, p->h);
          const tinyc_u4 ro = tinyc_u4_add(rows, iy * p->w);
          if (!in) continue;
          for (kx = kx0; kx < kx1; ++kx) {
            const tinyc_v4 xv = tinyc_v4_gather_p(xc + kx * dw, ro, in);
            a0 = tinyc_v4_fma(a0, xv, u0[wo + kx]);
            a1 = tinyc_v4_fma(a1, xv, u1[wo + kx]);
            a2 = tinyc_v4_fma(a2, xv, u2[wo + kx]);
            a3 = tinyc_v4_fma(a3, xv, u3[wo + kx]);
          }
        }
      }
    }
    tinyc_v4_scatter(y + ox, outs, a0, &p->act);
    if (nm > 1) tinyc_v4_scatter(y + out_plane + ox, outs, a1, &p->act);
    if (nm > 2) tinyc_v4_scatter(y + 2 * out_plane + ox, outs, a2, &p->act);
    if (nm > 3) tinyc_v4_scatter(y + 3 * out_plane + ox, outs, a3, &p->act);
  }
}

/* A conv that tinyc_mve_cols_fit: 4 channels x 4 output rows at a time, the last rows'
 * block shifted up to end at the map's end (recomputing rows, bit for bit the same). */
static TINYC_NOINLINE void tinyc_mve_conv_cols(const float *restrict X, const float *restrict W,
                                               const float *restrict B, float *restrict Y,
                                               const tinyc_conv2d_params *p) {
  const size_t ws = (size_t)p->c * p->kh * p->kw, out_plane = (size_t)p->oh * p->ow;
  int32_t n, m, oy, i;
  for (n = 0; n < p->n; ++n) {
    for (m = 0; m < p->m; m += 4) {
      const int32_t nm = p->m - m < 4 ? p->m - m : 4;
      float b[4];
      for (i = 0; i < 4; ++i) b[i] = B ? B[m + (i < nm ? i : nm - 1)] : 0.0f;
      for (oy = 0; oy < p->oh; oy += 4) {
        tinyc_mve_cols4(X + (size_t)n * p->c * p->h * p->w, W + (size_t)m * ws, b, nm,
                        Y + ((size_t)n * p->m + m) * out_plane,
                        oy + 4 <= p->oh ? oy : p->oh - 4, p);
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
      tinyc_mve_pw_tile4(X + (size_t)n * p->c * P, P, W, B, Y + (size_t)n * p->m * P, P, p->c,
                         p->m, (int32_t)P, &p->act);
    }
  } else if (p->group == p->c && p->m == p->c) {
    depthwise(X, W, B, Y, work, p);
  } else if (tinyc_mve_cols_fit(p)) {
    tinyc_mve_conv_cols(X, W, B, Y, p);
  } else {
    general(X, W, B, Y, p);
  }
}
