/* Convolution building blocks of the Cortex-M4F/M7/M33 kernel variants (private to them),
 * shared by tinyc_conv2d_f32 and its in-place forms: one depthwise channel plane, and one
 * output row of a dense or grouped convolution. */
#ifndef TINYC_FPU_CONV_H
#define TINYC_FPU_CONV_H

#include <string.h>

#include "tinyc_conv.h"
#include "tinyc_fpu.h"

/* Any depthwise window, pixel by pixel with the taps clipped to the input. */
static inline void tinyc_fpu_dw_plane(const float *x, const float *wk, float bias, float *y,
                                      const tinyc_conv2d_params *p) {
  int32_t oy, ox, ky, kx;
  for (oy = 0; oy < p->oh; ++oy) {
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    const int32_t ky0 = tinyc_window_first(iy0, p->dil_h);
    const int32_t ky1 = tinyc_window_end(iy0, p->dil_h, p->kh, p->h);
    for (ox = 0; ox < p->ow; ++ox) {
      const int32_t ix0 = ox * p->stride_w - p->pad_left;
      const int32_t kx0 = tinyc_window_first(ix0, p->dil_w);
      const int32_t kx1 = tinyc_window_end(ix0, p->dil_w, p->kw, p->w);
      float acc = bias;
      for (ky = ky0; ky < ky1; ++ky) {
        const float *xr = x + (size_t)(iy0 + ky * p->dil_h) * p->w + ix0;
        const float *wr = wk + (size_t)ky * p->kw;
        for (kx = kx0; kx < kx1; ++kx) TINYC_FPU_MAC(acc, xr[kx * p->dil_w], wr[kx]);
      }
      y[(size_t)oy * p->ow + ox] = tinyc_fpu_act1(acc, &p->act);
    }
  }
}

/* The 9 weights of a 3x3 window, passed by value so they live in registers. */
typedef struct {
  float k0, k1, k2, k3, k4, k5, k6, k7, k8;
} tinyc_fpu_k9;

/* 3x3 depthwise, one output from three rows at the window's middle column; `lo`/`hi` say
 * whether the left/right tap column exists (constants after inlining). */
TINYC_INLINE float tinyc_fpu_dw3_pixel(const float *r0, const float *r1, const float *r2,
                                       const tinyc_fpu_k9 k, float acc, const int lo,
                                       const int hi) {
  if (lo) TINYC_FPU_MAC(acc, k.k0, r0[-1]);
  TINYC_FPU_MAC(acc, k.k1, r0[0]);
  if (hi) TINYC_FPU_MAC(acc, k.k2, r0[1]);
  if (lo) TINYC_FPU_MAC(acc, k.k3, r1[-1]);
  TINYC_FPU_MAC(acc, k.k4, r1[0]);
  if (hi) TINYC_FPU_MAC(acc, k.k5, r1[1]);
  if (lo) TINYC_FPU_MAC(acc, k.k6, r2[-1]);
  TINYC_FPU_MAC(acc, k.k7, r2[0]);
  if (hi) TINYC_FPU_MAC(acc, k.k8, r2[1]);
  return acc;
}

/* 4 adjacent outputs of a 3x3 depthwise row; S (the column stride) is a constant after
 * inlining, so every load has an immediate offset. */
TINYC_INLINE void tinyc_fpu_dw3_block(const float *a, const float *b, const float *c,
                                      const int32_t S, const tinyc_fpu_k9 k, float bias,
                                      float *y, const tinyc_act *act) {
  float y0 = bias, y1 = bias, y2 = bias, y3 = bias;
  TINYC_FPU_MAC(y0, k.k0, a[0]);
  TINYC_FPU_MAC(y1, k.k0, a[S]);
  TINYC_FPU_MAC(y2, k.k0, a[2 * S]);
  TINYC_FPU_MAC(y3, k.k0, a[3 * S]);
  TINYC_FPU_MAC(y0, k.k1, a[1]);
  TINYC_FPU_MAC(y1, k.k1, a[S + 1]);
  TINYC_FPU_MAC(y2, k.k1, a[2 * S + 1]);
  TINYC_FPU_MAC(y3, k.k1, a[3 * S + 1]);
  TINYC_FPU_MAC(y0, k.k2, a[2]);
  TINYC_FPU_MAC(y1, k.k2, a[S + 2]);
  TINYC_FPU_MAC(y2, k.k2, a[2 * S + 2]);
  TINYC_FPU_MAC(y3, k.k2, a[3 * S + 2]);
  TINYC_FPU_MAC(y0, k.k3, b[0]);
  TINYC_FPU_MAC(y1, k.k3, b[S]);
  TINYC_FPU_MAC(y2, k.k3, b[2 * S]);
  TINYC_FPU_MAC(y3, k.k3, b[3 * S]);
  TINYC_FPU_MAC(y0, k.k4, b[1]);
  TINYC_FPU_MAC(y1, k.k4, b[S + 1]);
  TINYC_FPU_MAC(y2, k.k4, b[2 * S + 1]);
  TINYC_FPU_MAC(y3, k.k4, b[3 * S + 1]);
  TINYC_FPU_MAC(y0, k.k5, b[2]);
  TINYC_FPU_MAC(y1, k.k5, b[S + 2]);
  TINYC_FPU_MAC(y2, k.k5, b[2 * S + 2]);
  TINYC_FPU_MAC(y3, k.k5, b[3 * S + 2]);
  TINYC_FPU_MAC(y0, k.k6, c[0]);
  TINYC_FPU_MAC(y1, k.k6, c[S]);
  TINYC_FPU_MAC(y2, k.k6, c[2 * S]);
  TINYC_FPU_MAC(y3, k.k6, c[3 * S]);
  TINYC_FPU_MAC(y0, k.k7, c[1]);
  TINYC_FPU_MAC(y1, k.k7, c[S + 1]);
  TINYC_FPU_MAC(y2, k.k7, c[2 * S + 1]);
  TINYC_FPU_MAC(y3, k.k7, c[3 * S + 1]);
  TINYC_FPU_MAC(y0, k.k8, c[2]);
  TINYC_FPU_MAC(y1, k.k8, c[S + 2]);
  TINYC_FPU_MAC(y2, k.k8, c[2 * S + 2]);
  TINYC_FPU_MAC(y3, k.k8, c[3 * S + 2]);
  tinyc_fpu_store4(y, 1, y0, y1, y2, y3, act);
}

/* A pixel whose window leaves the input on both sides, or by more than one column: the
 * taps are clipped one by one (rare: very narrow inputs or wide padding). */
static inline float tinyc_fpu_dw3_clipped(const float *const *rows, int32_t ix0, int32_t w,
                                          const tinyc_fpu_k9 *k, float acc) {
  const float kk[9] = {k->k0, k->k1, k->k2, k->k3, k->k4, k->k5, k->k6, k->k7, k->k8};
  int32_t ky, kx;
  for (ky = 0; ky < 3; ++ky) {
    for (kx = 0; kx < 3; ++kx) {
      const int32_t ix = ix0 + kx;
      if (ix >= 0 && ix < w) TINYC_FPU_MAC(acc, kk[ky * 3 + kx], rows[ky][ix]);
    }
  }
  return acc;
}

/* One output at column ix0 of the window, whatever part of it is inside the input. */
TINYC_INLINE float tinyc_fpu_dw3_edge(const float *const *rows, int32_t ix0, int32_t w,
                                      const tinyc_fpu_k9 k, float bias) {
  if (ix0 == -1 && w >= 2) {
    return tinyc_fpu_dw3_pixel(rows[0], rows[1], rows[2], k, bias, 0, 1);
  }
  if (ix0 == w - 2 && ix0 >= 0) {
    const int32_t mid = ix0 + 1;
    return tinyc_fpu_dw3_pixel(rows[0] + mid, rows[1] + mid, rows[2] + mid, k, bias, 1, 0);
  }
  return tinyc_fpu_dw3_clipped(rows, ix0, w, &k, bias);
}

/* One channel plane of a 3x3 depthwise convolution (unit dilation). The 9 weights stay in
 * registers and interior outputs go 4 at a time; a padded row is a row whose weights are
 * zero (so a non-finite input can make a padded output NaN where the reference has inf). */
static inline void tinyc_fpu_dw3_plane(const float *x, const float *w9, float bias, float *y,
                                       const tinyc_conv2d_params *p) {
  const tinyc_act act = p->act; /* a local copy: stores to y cannot change it */
  const tinyc_fpu_k9 full = {w9[0], w9[1], w9[2], w9[3], w9[4], w9[5], w9[6], w9[7], w9[8]};
  const int32_t sw = p->stride_w, pl = p->pad_left, w = p->w;
  /* interior output columns: taps ox*sw - pl + {0, 1, 2} all inside [0, w) */
  const int32_t lo = (pl + sw - 1) / sw, last = w - 3 + pl;
  int32_t ox_lo = lo < p->ow ? lo : p->ow, ox_hi = last < 0 ? 0 : last / sw + 1, oy;
  if (ox_hi > p->ow) ox_hi = p->ow;
  if (ox_hi < ox_lo) ox_hi = ox_lo;
  for (oy = 0; oy < p->oh; ++oy, y += p->ow) {
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    const float *rows[3];
    tinyc_fpu_k9 k = full;
    int32_t ox;
    if (iy0 >= 0 && iy0 + 2 < p->h) {
      rows[0] = x + (size_t)iy0 * w;
      rows[1] = rows[0] + w;
      rows[2] = rows[1] + w;
    } else {
      /* a row outside the input: read row 0 instead, with zero weights */
      const int in0 = iy0 >= 0 && iy0 < p->h, in1 = iy0 + 1 >= 0 && iy0 + 1 < p->h,
                in2 = iy0 + 2 >= 0 && iy0 + 2 < p->h;
      rows[0] = x + (size_t)(in0 ? iy0 : 0) * w;
      rows[1] = x + (size_t)(in1 ? iy0 + 1 : 0) * w;
      rows[2] = x + (size_t)(in2 ? iy0 + 2 : 0) * w;
      if (!in0) k.k0 = k.k1 = k.k2 = 0.0f;
      if (!in1) k.k3 = k.k4 = k.k5 = 0.0f;
      if (!in2) k.k6 = k.k7 = k.k8 = 0.0f;
    }
    for (ox = 0; ox < ox_lo; ++ox) {
      y[ox] = tinyc_fpu_act1(tinyc_fpu_dw3_edge(rows, ox * sw - pl, w, k, bias), &act);
    }
    if (sw == 1) {
      for (; ox + 4 <= ox_hi; ox += 4) {
        const int32_t ix = ox - pl;
        tinyc_fpu_dw3_block(rows[0] + ix, rows[1] + ix, rows[2] + ix, 1, k, bias, y + ox, &act);
      }
    } else if (sw == 2) {
      for (; ox + 4 <= ox_hi; ox += 4) {
        const int32_t ix = 2 * ox - pl;
        tinyc_fpu_dw3_block(rows[0] + ix, rows[1] + ix, rows[2] + ix, 2, k, bias, y + ox, &act);
      }
    }
    for (; ox < ox_hi; ++ox) {
      const int32_t mid = ox * sw - pl + 1;
      const float v =
          tinyc_fpu_dw3_pixel(rows[0] + mid, rows[1] + mid, rows[2] + mid, k, bias, 1, 1);
      y[ox] = tinyc_fpu_act1(v, &act);
    }
    for (; ox < p->ow; ++ox) {
      y[ox] = tinyc_fpu_act1(tinyc_fpu_dw3_edge(rows, ox * sw - pl, w, k, bias), &act);
    }
  }
}

/* Small 3x3 planes (stride 1, like KWS's 25x5): copied once into `plane` (the node's
 * planned workspace: tinyc/ops/conv.py fpu_dw_plane_bytes) with their zero padding (short
 * rows by tinyc_copy_short; the border only when not `padded` yet), so that every output
 * is an interior one and rows go four outputs at a time
 * (tinyc_fpu_dw3_block) -- on a 5-wide map the edge handling above would otherwise be most
 * of the work. Zero padding is what the reference uses, so results are those of
 * tinyc_fpu_dw3_plane up to the order of the sums. */
#define TINYC_FPU_DW_PLANE 256 /* padded plane floats, at most */

static int tinyc_fpu_dw3_small_fits(const tinyc_conv2d_params *p) {
  const int32_t S = p->ow + 2; /* a row: the output's columns and the window's two more */
  return p->kh == 3 && p->kw == 3 && p->dil_h == 1 && p->dil_w == 1 && p->stride_h == 1 &&
         p->stride_w == 1 && p->pad_top >= 0 && p->pad_top <= 2 && p->pad_left >= 0 &&
         p->pad_left <= 2 &&
         (p->oh + 2) * S <= TINYC_FPU_DW_PLANE;
}

static void tinyc_fpu_dw3_small_plane(const float *x, const float *w9, float bias, float *y,
                                      float *restrict plane, const tinyc_conv2d_params *p,
                                      int padded) {
  const tinyc_act act = p->act;
  const tinyc_fpu_k9 k = {w9[0], w9[1], w9[2], w9[3], w9[4], w9[5], w9[6], w9[7], w9[8]};
  const int32_t S = p->ow + 2, rows = p->oh + 2, pl = p->pad_left;
  const int32_t inner = p->w < S - pl ? p->w : S - pl;
  int32_t r, i, oy, ox;
  if (!padded) {
    for (i = 0; i < rows * S; ++i) plane[i] = 0.0f;
  }
  for (r = 0; r < rows; ++r) {
    const int32_t iy = r - p->pad_top;
    if (iy >= 0 && iy < p->h) {
      const float *src = x + (size_t)iy * p->w;
      float *dst = plane + (size_t)r * S + pl;
      if (inner > 8) {
        memcpy(dst, src, (size_t)inner * sizeof(float));
      } else {
        tinyc_copy_short(dst, src, (size_t)inner * sizeof(float));
      }
    }
  }
  for (oy = 0; oy < p->oh; ++oy, y += p->ow) {
    const float *a = plane + (size_t)oy * S, *b = a + S, *c = b + S;
    for (ox = 0; ox + 4 <= p->ow; ox += 4) {
      tinyc_fpu_dw3_block(a + ox, b + ox, c + ox, 1, k, bias, y + ox, &act);
    }
    for (; ox < p->ow; ++ox) {
      y[ox] = tinyc_fpu_act1(
          tinyc_fpu_dw3_pixel(a + ox + 1, b + ox + 1, c + ox + 1, k, bias, 1, 1), &act);
    }
  }
}

/* One depthwise channel plane, whichever window; `work` (or NULL): the small-plane path's
 * padded plane, `padded`: its zero border is already there (the copy of each plane writes
 * the same interior, so the border is zeroed once a node). */
static inline void tinyc_fpu_dw_any_plane(const float *x, const float *wk, float bias, float *y,
                                          float *restrict work, const tinyc_conv2d_params *p,
                                          int padded) {
  if (work != NULL && tinyc_fpu_dw3_small_fits(p)) {
    tinyc_fpu_dw3_small_plane(x, wk, bias, y, work, p, padded);
  } else if (p->kh == 3 && p->kw == 3 && p->dil_h == 1 && p->dil_w == 1) {
    tinyc_fpu_dw3_plane(x, wk, bias, y, p);
  } else {
    tinyc_fpu_dw_plane(x, wk, bias, y, p);
  }
}

/* ---- dense and grouped convolution, one output row at a time ----------------------- */

/* What every block of one output row shares: pointers at the first valid tap row, and
 * the steps that walk (input channel, tap row) without index arithmetic. */
typedef struct {
  const float *x;  /* input channel 0 of the group, first valid tap row, column 0 */
  const float *w;  /* weights of the block's first output channel, channel 0, first valid row */
  int32_t cg;      /* input channels per group */
  int32_t rows;    /* valid tap rows */
  int32_t xrow;    /* floats from one tap row to the next (w * dil_h) */
  int32_t xnext;   /* from past the last valid row of a channel to the next channel's first */
  int32_t wnext;   /* weights skipped between channels (the invalid tap rows) */
  int32_t ws;      /* weights between output channels (cg * kh * kw) */
} tinyc_fpu_row;

/* a{i}{j} += v{i} * x{j}: 4 weights (output channels) times 4 inputs (output columns) */
#define TINYC_FPU_BLOCK16(v0, v1, v2, v3, x0, x1, x2, x3)                                          \
  do {                                                                                             \
    const float w0_ = (v0), w1_ = (v1), w2_ = (v2), w3_ = (v3);                                    \
    TINYC_FPU_MAC(a00, w0_, x0);                                                                   \
    TINYC_FPU_MAC(a01, w0_, x1);                                                                   \
    TINYC_FPU_MAC(a02, w0_, x2);                                                                   \
    TINYC_FPU_MAC(a03, w0_, x3);                                                                   \
    TINYC_FPU_MAC(a10, w1_, x0);                                                                   \
    TINYC_FPU_MAC(a11, w1_, x1);                                                                   \
    TINYC_FPU_MAC(a12, w1_, x2);                                                                   \
    TINYC_FPU_MAC(a13, w1_, x3);                                                                   \
    TINYC_FPU_MAC(a20, w2_, x0);                                                                   \
    TINYC_FPU_MAC(a21, w2_, x1);                                                                   \
    TINYC_FPU_MAC(a22, w2_, x2);                                                                   \
    TINYC_FPU_MAC(a23, w2_, x3);                                                                   \
    TINYC_FPU_MAC(a30, w3_, x0);                                                                   \
    TINYC_FPU_MAC(a31, w3_, x1);                                                                   \
    TINYC_FPU_MAC(a32, w3_, x2);                                                                   \
    TINYC_FPU_MAC(a33, w3_, x3);                                                                   \
  } while (0)

/* ---- dense convolution through zero-padded window rows (tinyc_conv.c padded_rows) ---- */

#define TINYC_FPU_PADDED_ROWS 256 /* floats of padded window rows, at most */
/* Floats ahead of the rows in the same workspace: the padded rows' geometry, kept off the
 * stack (a tinyc_conv2d_params in padded_rows' frame took NAME_run's stack past 512 B). */
#define TINYC_FPU_PADDED_PARAMS 20
typedef char tinyc_fpu_padded_params_fit[sizeof(tinyc_conv2d_params) <= 4 * TINYC_FPU_PADDED_PARAMS
                                             ? 1
                                             : -1];

/* The columns one output row's windows span, padding included. */
TINYC_INLINE int32_t tinyc_fpu_padded_width(const tinyc_conv2d_params *p) {
  return (p->ow - 1) * p->stride_w + (p->kw - 1) * p->dil_w + 1;
}

/* Whether a dense convolution goes through padded window rows: some output column's window
 * leaves the input sideways, and the rows of every input channel fit. Mirrored by
 * tinyc/ops/conv.py fpu_padded_rows_bytes. */
TINYC_INLINE int tinyc_fpu_padded_rows_fit(const tinyc_conv2d_params *p) {
  const int32_t span = (p->kh - 1) * p->dil_h + 1, wp = tinyc_fpu_padded_width(p);
  return p->group == 1 && (p->pad_left > 0 || wp - p->pad_left > p->w) &&
         p->c <= TINYC_FPU_PADDED_ROWS && span <= TINYC_FPU_PADDED_ROWS &&
         wp <= TINYC_FPU_PADDED_ROWS && p->c * span * wp <= TINYC_FPU_PADDED_ROWS;
}

/* ---- pointwise (1x1) convolution, 4 pixels at a time ----------------------------------- */

/* y[m * sy + j] = act(B[m] + sum_c W[m * C + c] * x[c * sx + j]) for `tiles` runs of 4
 * adjacent pixels j and every output channel m: channels 4 at a time in a 4x4 register
 * tile (16 accumulators, every loaded weight and every loaded input feed 4
 * multiply-accumulates), then one at a time. The ordinary kernel runs it on the
 * activations, the in-place one on a buffered tile (tinyc_inplace.c), so both give the
 * same bits. Out of line: one frame, whatever calls it. */
static TINYC_FPU_NOINLINE void tinyc_fpu_pw_tile4(const float *restrict x, size_t sx,
                                                  const float *restrict W,
                                                  const float *restrict B, float *restrict y,
                                                  size_t sy, int32_t C, int32_t M,
                                                  int32_t tiles, const tinyc_act *act) {
  int32_t m = 0, c, t;
  for (; m + 4 <= M; m += 4, W += 4 * (size_t)C, y += 4 * sy) {
    const float b0 = B ? B[m] : 0.0f, b1 = B ? B[m + 1] : 0.0f, b2 = B ? B[m + 2] : 0.0f,
                b3 = B ? B[m + 3] : 0.0f;
    for (t = 0; t < tiles; ++t) {
      const float *xc = x + 4 * t, *u0 = W, *u1 = W + C, *u2 = W + 2 * C, *u3 = W + 3 * C;
      float *yt = y + 4 * t;
      float a00 = b0, a01 = b0, a02 = b0, a03 = b0, a10 = b1, a11 = b1, a12 = b1, a13 = b1;
      float a20 = b2, a21 = b2, a22 = b2, a23 = b2, a30 = b3, a31 = b3, a32 = b3, a33 = b3;
      for (c = C; c > 0; --c) {
        float x0, x1, x2, x3;
        TINYC_FPU_LOAD4(xc, x0, x1, x2, x3);
        xc += sx;
        TINYC_FPU_BLOCK16(*u0++, *u1++, *u2++, *u3++, x0, x1, x2, x3);
      }
      tinyc_fpu_store4(yt, 1, a00, a01, a02, a03, act);
      tinyc_fpu_store4(yt + sy, 1, a10, a11, a12, a13, act);
      tinyc_fpu_store4(yt + 2 * sy, 1, a20, a21, a22, a23, act);
      tinyc_fpu_store4(yt + 3 * sy, 1, a30, a31, a32, a33, act);
    }
  }
  for (; m < M; ++m, W += C, y += sy) {
    const float b0 = B ? B[m] : 0.0f;
    for (t = 0; t < tiles; ++t) {
      const float *xc = x + 4 * t, *u0 = W;
      float a0 = b0, a1 = b0, a2 = b0, a3 = b0;
      for (c = C; c > 0; --c) {
        const float v0 = *u0++;
        TINYC_FPU_MAC(a0, v0, xc[0]);
        TINYC_FPU_MAC(a1, v0, xc[1]);
        TINYC_FPU_MAC(a2, v0, xc[2]);
        TINYC_FPU_MAC(a3, v0, xc[3]);
        xc += sx;
      }
      tinyc_fpu_store4(y + 4 * t, 1, a0, a1, a2, a3, act);
    }
  }
}

/* 4 output channels x 4 interior output columns starting at input column ix0; S is
 * stride_w, K3 a 3-wide kernel with unit dilation (both constants after inlining). */
TINYC_INLINE void tinyc_fpu_block4x4(const tinyc_fpu_row *r, const tinyc_conv2d_params *p,
                                     int32_t ix0, const int32_t S, const int K3, const float *b,
                                     float *y, size_t ystride) {
  const int32_t kw = K3 ? 3 : p->kw, dw = K3 ? 1 : p->dil_w;
  float a00 = b[0], a01 = b[0], a02 = b[0], a03 = b[0], a10 = b[1], a11 = b[1], a12 = b[1],
        a13 = b[1], a20 = b[2], a21 = b[2], a22 = b[2], a23 = b[2], a30 = b[3], a31 = b[3],
        a32 = b[3], a33 = b[3];
  const float *xr = r->x + ix0;
  const float *u0 = r->w, *u1 = u0 + r->ws, *u2 = u1 + r->ws, *u3 = u2 + r->ws;
  int32_t c, ky, kx;
  for (c = r->cg; c > 0; --c) {
    for (ky = r->rows; ky > 0; --ky) {
      const float *xp = xr;
      if (K3) {
        /* 3 taps unrolled: the 4 outputs' windows share their input columns */
        const float x0 = xp[0], x1 = xp[S], x2 = xp[2 * S], x3 = xp[3 * S];
        const float x4 = xp[1], x5 = xp[S + 1], x6 = xp[2 * S + 1], x7 = xp[3 * S + 1];
        const float x8 = xp[2], x9 = xp[S + 2], xa = xp[2 * S + 2], xb = xp[3 * S + 2];
        TINYC_FPU_BLOCK16(u0[0], u1[0], u2[0], u3[0], x0, x1, x2, x3);
        TINYC_FPU_BLOCK16(u0[1], u1[1], u2[1], u3[1], x4, x5, x6, x7);
        TINYC_FPU_BLOCK16(u0[2], u1[2], u2[2], u3[2], x8, x9, xa, xb);
        u0 += 3;
        u1 += 3;
        u2 += 3;
        u3 += 3;
        xr += r->xrow;
        continue;
      }
      for (kx = kw; kx > 0; --kx) {
        const float x0 = xp[0], x1 = xp[S], x2 = xp[2 * S], x3 = xp[3 * S];
        const float v0 = *u0++, v1 = *u1++, v2 = *u2++, v3 = *u3++;
        xp += dw;
        TINYC_FPU_BLOCK16(v0, v1, v2, v3, x0, x1, x2, x3);
      }
      xr += r->xrow;
    }
    xr += r->xnext;
    u0 += r->wnext;
    u1 += r->wnext;
    u2 += r->wnext;
    u3 += r->wnext;
  }
  y += (size_t)(ix0 + p->pad_left) / (size_t)S;
  tinyc_fpu_store4(y, 1, a00, a01, a02, a03, &p->act);
  tinyc_fpu_store4(y + ystride, 1, a10, a11, a12, a13, &p->act);
  tinyc_fpu_store4(y + 2 * ystride, 1, a20, a21, a22, a23, &p->act);
  tinyc_fpu_store4(y + 3 * ystride, 1, a30, a31, a32, a33, &p->act);
}

/* `nm` (1 or 4) output channels x one output column, tap columns clipped to the input. */
static inline void tinyc_fpu_pixel(const tinyc_fpu_row *r, const tinyc_conv2d_params *p,
                                   int32_t ox, int32_t nm, const float *b, float *y,
                                   size_t ystride) {
  const int32_t ix0 = ox * p->stride_w - p->pad_left, dw = p->dil_w;
  const int32_t kx0 = tinyc_window_first(ix0, dw);
  const int32_t n_kx = tinyc_window_end(ix0, dw, p->kw, p->w) - kx0;
  const int32_t wrow = p->kw - n_kx; /* weights skipped per tap row */
  const float *xr = r->x + ix0 + kx0 * dw;
  const float *u0 = r->w + kx0, *u1 = u0 + r->ws, *u2 = u1 + r->ws, *u3 = u2 + r->ws;
  float a0 = b[0], a1 = b[1], a2 = b[2], a3 = b[3];
  int32_t c, ky, kx;
  for (c = r->cg; c > 0; --c) {
    for (ky = r->rows; ky > 0; --ky) {
      const float *xp = xr;
      if (nm == 1) {
        for (kx = n_kx; kx > 0; --kx) {
          TINYC_FPU_MAC(a0, *u0++, *xp);
          xp += dw;
        }
      } else {
        for (kx = n_kx; kx > 0; --kx) {
          const float x0 = *xp;
          xp += dw;
          TINYC_FPU_MAC(a0, *u0++, x0);
          TINYC_FPU_MAC(a1, *u1++, x0);
          TINYC_FPU_MAC(a2, *u2++, x0);
          TINYC_FPU_MAC(a3, *u3++, x0);
        }
        u1 += wrow;
        u2 += wrow;
        u3 += wrow;
      }
      u0 += wrow;
      xr += r->xrow;
    }
    xr += r->xnext;
    u0 += r->wnext;
    u1 += r->wnext;
    u2 += r->wnext;
    u3 += r->wnext;
  }
  if (nm > 1) {
    tinyc_fpu_store4(y + ox, (int32_t)ystride, a0, a1, a2, a3, &p->act);
  } else {
    y[ox] = tinyc_fpu_act1(a0, &p->act);
  }
}

/* All columns of one output row for 4 channels: border pixels, then interior blocks of 4;
 * a remainder of 2 or 3 is one more block shifted left to end at the interior's edge
 * (recomputing a few outputs costs less than the slower pixel path), a remainder of 1 goes
 * to the pixel path (a whole block for it would cost more). */
TINYC_INLINE void tinyc_fpu_row4(const tinyc_fpu_row *r, const tinyc_conv2d_params *p,
                                 int32_t ox_lo, int32_t ox_hi, const int32_t S, const int K3,
                                 const float *b, float *y, size_t ystride) {
  int32_t ox;
  for (ox = 0; ox < ox_lo; ++ox) tinyc_fpu_pixel(r, p, ox, 4, b, y, ystride);
  if (ox_hi - ox_lo >= 4) {
    for (; ox + 4 <= ox_hi; ox += 4) {
      tinyc_fpu_block4x4(r, p, ox * S - p->pad_left, S, K3, b, y, ystride);
    }
    if (ox_hi - ox >= 2) {
      tinyc_fpu_block4x4(r, p, (ox_hi - 4) * S - p->pad_left, S, K3, b, y, ystride);
      ox = ox_hi;
    }
  }
  for (; ox < p->ow; ++ox) tinyc_fpu_pixel(r, p, ox, 4, b, y, ystride);
}

/* Output row oy of the output channels [m0, m1) of one group, whose input channels start
 * at xg: channel m is stored at y + (m - m0) * ch_stride, columns contiguous. Channels go
 * 4 at a time (1 for a remainder), columns as in tinyc_fpu_row4. In its own frame
 * (TINYC_FPU_NOINLINE): inlined into its callers its spills would add to theirs; the
 * Cortex-M55 includes this header without calling it. */
static TINYC_FPU_NOINLINE TINYC_FPU_SCALAR void tinyc_fpu_conv_row(const float *xg, const float *restrict W,
                                              const float *restrict B, float *y,
                                              size_t ch_stride, int32_t m0, int32_t m1,
                                              int32_t oy, const tinyc_conv2d_params *p) {
  const int32_t cg = p->c / p->group, kk = p->kh * p->kw;
  const int32_t sw = p->stride_w, span = (p->kw - 1) * p->dil_w;
  const int k3 = p->kw == 3 && p->dil_w == 1;
  const size_t in_plane = (size_t)p->h * p->w;
  /* interior output columns: ox*sw - pad_left >= 0 and ox*sw - pad_left + span < w */
  const int32_t ox_lo0 = (p->pad_left + sw - 1) / sw, last = p->w - 1 - span + p->pad_left;
  const int32_t iy0 = oy * p->stride_h - p->pad_top;
  const int32_t ky0 = tinyc_window_first(iy0, p->dil_h);
  const int32_t ky1 = tinyc_window_end(iy0, p->dil_h, p->kh, p->h);
  int32_t ox_lo = ox_lo0 < p->ow ? ox_lo0 : p->ow;
  int32_t ox_hi = last < 0 ? 0 : last / sw + 1;
  int32_t m, ox, i;
  tinyc_fpu_row r;
  if (ox_hi > p->ow) ox_hi = p->ow;
  if (ox_hi < ox_lo) ox_hi = ox_lo;
  r.cg = cg;
  r.rows = ky1 > ky0 ? ky1 - ky0 : 0;
  r.xrow = p->w * p->dil_h;
  r.x = xg + (size_t)(r.rows ? iy0 + ky0 * p->dil_h : 0) * p->w;
  r.xnext = (int32_t)in_plane - r.rows * r.xrow;
  r.wnext = (p->kh - r.rows) * p->kw;
  r.ws = cg * kk;
  for (m = m0; m < m1; m += (m + 4 <= m1) ? 4 : 1) {
    const int32_t nm = m + 4 <= m1 ? 4 : 1;
    float *ym = y + (size_t)(m - m0) * ch_stride;
    float b[4];
    for (i = 0; i < 4; ++i) b[i] = i < nm && B ? B[m + i] : 0.0f;
    r.w = W + (size_t)m * cg * kk + (size_t)(r.rows ? ky0 : 0) * p->kw;
    if (r.rows == 0) { /* the whole window is padding: the bias */
      for (ox = 0; ox < p->ow; ++ox) {
        for (i = 0; i < nm; ++i) ym[i * ch_stride + ox] = tinyc_fpu_act1(b[i], &p->act);
      }
    } else if (nm == 1) {
      for (ox = 0; ox < p->ow; ++ox) tinyc_fpu_pixel(&r, p, ox, 1, b, ym, ch_stride);
    } else if (sw == 1 && k3) { /* the common 3x3 windows get their own unrolled copies */
      tinyc_fpu_row4(&r, p, ox_lo, ox_hi, 1, 1, b, ym, ch_stride);
    } else if (sw == 2 && k3) {
      tinyc_fpu_row4(&r, p, ox_lo, ox_hi, 2, 1, b, ym, ch_stride);
    } else {
      tinyc_fpu_row4(&r, p, ox_lo, ox_hi, sw, 0, b, ym, ch_stride);
    }
  }
}

#endif /* TINYC_FPU_CONV_H */
