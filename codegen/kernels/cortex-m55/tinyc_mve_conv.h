/* Convolution building blocks of the Cortex-M55 float kernels (private to them), shared by
 * tinyc_conv2d_f32 and its in-place forms: one depthwise channel plane and one output row
 * of a dense or grouped convolution, with output pixels in the lanes (tinyc_mve_f32.h);
 * what they do not cover goes to the Cortex-M4 FPU blocks (tinyc_fpu_conv.h). */
#ifndef TINYC_MVE_CONV_H
#define TINYC_MVE_CONV_H

#include <string.h>

#include "tinyc_fpu_conv.h"
#include "tinyc_mve_f32.h"

/* ---- pointwise (1x1) ---------------------------------------------------------------- */

/* 4 output channels x n (1..4) adjacent pixels: input channel c's pixels at x + c sx,
 * one vector per input channel against one scalar weight per output channel (w: the
 * first channel's C weights, the others C floats apart). FULL (a constant, n == 4): two
 * input channels a round (tinyc_v4_fma4_pairs); else one, the lanes past n loaded as
 * zeros and not stored. Output channel j's pixels go to y + j sy. */
TINYC_INLINE void tinyc_mve_pw_block4(const float *restrict x, size_t sx,
                                      const float *restrict w, int32_t C, const float *b,
                                      float *restrict y, size_t sy, int32_t n, const int FULL,
                                      const tinyc_act *act) {
  const float *u0 = w, *u1 = w + C, *u2 = u1 + C, *u3 = u2 + C;
  tinyc_v4 a0 = tinyc_v4_dup(b[0]), a1 = tinyc_v4_dup(b[1]), a2 = tinyc_v4_dup(b[2]),
           a3 = tinyc_v4_dup(b[3]);
  int32_t c = 0;
  if (FULL) {
    tinyc_v4_fma4_pairs(&a0, &a1, &a2, &a3, x, sx, u0, u1, u2, u3, C >> 1);
    c = C & ~1;
  }
  for (; c < C; ++c) {
    const tinyc_v4 x0 = tinyc_v4_load(x + (size_t)c * sx, FULL ? 4 : n);
    a0 = tinyc_v4_fma(a0, x0, u0[c]);
    a1 = tinyc_v4_fma(a1, x0, u1[c]);
    a2 = tinyc_v4_fma(a2, x0, u2[c]);
    a3 = tinyc_v4_fma(a3, x0, u3[c]);
  }
  tinyc_v4_store(y, a0, n, act);
  tinyc_v4_store(y + sy, a1, n, act);
  tinyc_v4_store(y + 2 * sy, a2, n, act);
  tinyc_v4_store(y + 3 * sy, a3, n, act);
}

/* The last output channels (nm of 1..3) of tinyc_mve_pw_tile4 x n (1..4) pixels, one
 * input channel a round, the lanes past n loaded as zeros and not stored. */
TINYC_INLINE void tinyc_mve_pw_block_tail(const float *restrict x, size_t sx,
                                          const float *restrict w, int32_t C, const float *b,
                                          float *restrict y, size_t sy, int32_t nm, int32_t n,
                                          const tinyc_act *act) {
  tinyc_v4 a[4];
  int32_t c, j;
  for (j = 0; j < nm; ++j) a[j] = tinyc_v4_dup(b[j]);
  for (c = 0; c < C; ++c) {
    const tinyc_v4 x0 = tinyc_v4_load(x + (size_t)c * sx, n);
    for (j = 0; j < nm; ++j) a[j] = tinyc_v4_fma(a[j], x0, w[(size_t)j * C + c]);
  }
  for (j = 0; j < nm; ++j) tinyc_v4_store(y + (size_t)j * sy, a[j], n, act);
}

/* Y[m] = W[m] . X (+ bias) for the P adjacent pixels at x, every output channel m (the
 * Cortex-M4's tinyc_fpu_pw_tile4 contract: input channel c's pixels at x + c sx, output
 * channel m's at y + m sy): 4 output channels x 4 pixels a block, each loaded input
 * vector feeding 4 channels; the last pixels under a lane predicate, the last channels
 * 1 to 3 at a time. Out of line: one frame, whoever calls it. */
static TINYC_NOINLINE void tinyc_mve_pw_tile4(const float *restrict x, size_t sx,
                                              const float *restrict W,
                                              const float *restrict B, float *restrict y,
                                              size_t sy, int32_t C, int32_t M, int32_t P,
                                              const tinyc_act *act) {
  int32_t m, p, i;
  for (m = 0; m < M; m += 4) {
    const int32_t nm = M - m < 4 ? M - m : 4;
    const float *w = W + (size_t)m * C;
    float *ym = y + (size_t)m * sy;
    float b[4];
    for (i = 0; i < 4; ++i) b[i] = B && i < nm ? B[m + i] : 0.0f;
    for (p = 0; p < P; p += 4) {
      const int32_t n = P - p < 4 ? P - p : 4;
      if (nm == 4 && n == 4) {
        tinyc_mve_pw_block4(x + p, sx, w, C, b, ym + p, sy, 4, 1, act);
      } else if (nm == 4) {
        tinyc_mve_pw_block4(x + p, sx, w, C, b, ym + p, sy, n, 0, act);
      } else {
        tinyc_mve_pw_block_tail(x + p, sx, w, C, b, ym + p, sy, nm, n, act);
      }
    }
  }
}

/* ---- depthwise (one input and one output channel per group) ------------------------ */

/* 4 (or, at the end, n) outputs of a 3x3 window whose rows start at a, b, c: bias + the
 * 9 taps in order. */
TINYC_INLINE tinyc_v4 tinyc_mve_dw3_vec(const float *a, const float *b, const float *c,
                                        const float *k, float bias, int32_t n) {
  tinyc_v4 acc = tinyc_v4_dup(bias);
  acc = tinyc_v4_fma(acc, tinyc_v4_load(a, n), k[0]);
  acc = tinyc_v4_fma(acc, tinyc_v4_load(a + 1, n), k[1]);
  acc = tinyc_v4_fma(acc, tinyc_v4_load(a + 2, n), k[2]);
  acc = tinyc_v4_fma(acc, tinyc_v4_load(b, n), k[3]);
  acc = tinyc_v4_fma(acc, tinyc_v4_load(b + 1, n), k[4]);
  acc = tinyc_v4_fma(acc, tinyc_v4_load(b + 2, n), k[5]);
  acc = tinyc_v4_fma(acc, tinyc_v4_load(c, n), k[6]);
  acc = tinyc_v4_fma(acc, tinyc_v4_load(c + 1, n), k[7]);
  return tinyc_v4_fma(acc, tinyc_v4_load(c + 2, n), k[8]);
}

/* One channel plane of a small 3x3 stride-1 depthwise convolution (tinyc_fpu_dw3_small_fits,
 * the Cortex-M4's workspace): x copied with its zero padding into `plane` (rows of
 * S = ow + 2 floats). Output (oy, ox) is the window at plane index q = oy S + ox, so the
 * outputs go 4 consecutive q per vector over the whole plane as one row (the 2 columns
 * past each row computed and dropped): no row tails on narrow maps like KWS's 25x5. The
 * result at q overwrites plane[q], which no later q reads (its taps are at q and past),
 * and the rows are then compacted into y. */
static TINYC_NOINLINE void tinyc_mve_dw3_small_plane(const float *x, const float *w9, float bias, float *y,
                                      float *restrict plane, const tinyc_conv2d_params *p) {
  const tinyc_act act = p->act;
  const int32_t S = p->ow + 2, pl = p->pad_left, ow = p->ow;
  const int32_t inner = p->w < S - pl ? p->w : S - pl;
  const int32_t total = (p->oh + 2) * S, last = (p->oh - 1) * S + ow; /* outputs: q < last */
  const tinyc_v4 zero = tinyc_v4_dup(0.0f);
  float k[9];
  float *q;
  int32_t i, r, oy;
  for (i = 0; i < 9; ++i) k[i] = w9[i];
  for (i = 0; i + 4 <= total; i += 4) tinyc_v4_put(plane + i, zero);
  for (; i < total; ++i) plane[i] = 0.0f;
  for (r = 0; r < p->h; ++r) {
    const int32_t pr = r + p->pad_top;
    if (pr >= p->oh + 2) break;
    tinyc_v4_copy(plane + (size_t)pr * S + pl, x + (size_t)r * p->w, inner);
  }
  for (q = plane, i = last; i >= 4; i -= 4, q += 4) {
    tinyc_v4_store(q, tinyc_mve_dw3_vec(q, q + S, q + 2 * S, k, bias, 4), 4, &act);
  }
  if (i > 0) tinyc_v4_store(q, tinyc_mve_dw3_vec(q, q + S, q + 2 * S, k, bias, i), i, &act);
  for (oy = 0; oy < p->oh; ++oy) tinyc_v4_copy(y + (size_t)oy * ow, plane + (size_t)oy * S, ow);
}

/* The other depthwise windows: the Cortex-M4 FPU plane, out of line (its frame apart
 * from the small plane's). */
static TINYC_NOINLINE TINYC_FPU_SCALAR void tinyc_mve_dw_other_plane(
    const float *x, const float *wk, float bias, float *y, float *restrict work,
    const tinyc_conv2d_params *p) {
  tinyc_fpu_dw_any_plane(x, wk, bias, y, work, p, 0);
}

/* One depthwise channel plane, whichever window (as tinyc_fpu_dw_any_plane). */
static inline void tinyc_mve_dw_plane(const float *x, const float *wk, float bias, float *y,
                                      float *restrict work, const tinyc_conv2d_params *p) {
  if (work != NULL && tinyc_fpu_dw3_small_fits(p)) {
    tinyc_mve_dw3_small_plane(x, wk, bias, y, work, p);
  } else {
    tinyc_mve_dw_other_plane(x, wk, bias, y, work, p);
  }
}

/* ---- general direct convolution ------------------------------------------------------ */

/* 4 output channels x 4 interior output columns starting at input column ix0: a vector
 * of the 4 columns' inputs per tap (contiguous when UNIT, a constant, says the column
 * stride is 1; `offs` gathers them otherwise) times one weight of each channel; K3 (a
 * constant): a 3-wide window of unit dilation, its taps unrolled; EDGE (a constant, with
 * a window of at most 4 columns and unit dilation): some of the columns fall outside the
 * row (padding), loaded as zeros under a lane predicate. */
TINYC_INLINE void tinyc_mve_block4x4(const tinyc_fpu_row *r, const tinyc_conv2d_params *p,
                                     int32_t ix0, const int UNIT, const int K3,
                                     const int EDGE, tinyc_u4 offs, const float *b, float *y,
                                     size_t ystride) {
  const int32_t kw = p->kw, dw = p->dil_w;
  const int32_t sw = p->stride_w;
  tinyc_p4 q[4];
  int32_t t;
  tinyc_v4 a0 = tinyc_v4_dup(b[0]), a1 = tinyc_v4_dup(b[1]), a2 = tinyc_v4_dup(b[2]),
           a3 = tinyc_v4_dup(b[3]);
  const float *xr = r->x + ix0;
  const float *u0 = r->w, *u1 = u0 + r->ws, *u2 = u1 + r->ws, *u3 = u2 + r->ws;
  int32_t c, ky, kx;
  if (EDGE) {
    for (t = 0; t < 4; ++t) q[t] = tinyc_p4_inside(ix0 + t, sw, p->w);
  }
  for (c = r->cg; c > 0; --c) {
    for (ky = r->rows; ky > 0; --ky) {
      const float *xp = xr;
      if (EDGE && K3) { /* 3 taps, the columns outside the row loaded as zeros */
        const tinyc_v4 x0 = UNIT ? tinyc_v4_load_p(xp, q[0]) : tinyc_v4_gather_p(xp, offs, q[0]);
        const tinyc_v4 x1 =
            UNIT ? tinyc_v4_load_p(xp + 1, q[1]) : tinyc_v4_gather_p(xp + 1, offs, q[1]);
        const tinyc_v4 x2 =
            UNIT ? tinyc_v4_load_p(xp + 2, q[2]) : tinyc_v4_gather_p(xp + 2, offs, q[2]);
        a0 = tinyc_v4_fma(tinyc_v4_fma(tinyc_v4_fma(a0, x0, u0[0]), x1, u0[1]), x2, u0[2]);
        a1 = tinyc_v4_fma(tinyc_v4_fma(tinyc_v4_fma(a1, x0, u1[0]), x1, u1[1]), x2, u1[2]);
        a2 = tinyc_v4_fma(tinyc_v4_fma(tinyc_v4_fma(a2, x0, u2[0]), x1, u2[1]), x2, u2[2]);
        a3 = tinyc_v4_fma(tinyc_v4_fma(tinyc_v4_fma(a3, x0, u3[0]), x1, u3[1]), x2, u3[2]);
        u0 += 3;
        u1 += 3;
        u2 += 3;
        u3 += 3;
        xr += r->xrow;
        continue;
      }
      if (K3) { /* 3 taps unrolled */
        const tinyc_v4 x0 = UNIT ? tinyc_v4_load(xp, 4) : tinyc_v4_gather(xp, offs);
        const tinyc_v4 x1 = UNIT ? tinyc_v4_load(xp + 1, 4) : tinyc_v4_gather(xp + 1, offs);
        const tinyc_v4 x2 = UNIT ? tinyc_v4_load(xp + 2, 4) : tinyc_v4_gather(xp + 2, offs);
        a0 = tinyc_v4_fma(tinyc_v4_fma(tinyc_v4_fma(a0, x0, u0[0]), x1, u0[1]), x2, u0[2]);
        a1 = tinyc_v4_fma(tinyc_v4_fma(tinyc_v4_fma(a1, x0, u1[0]), x1, u1[1]), x2, u1[2]);
        a2 = tinyc_v4_fma(tinyc_v4_fma(tinyc_v4_fma(a2, x0, u2[0]), x1, u2[1]), x2, u2[2]);
        a3 = tinyc_v4_fma(tinyc_v4_fma(tinyc_v4_fma(a3, x0, u3[0]), x1, u3[1]), x2, u3[2]);
        u0 += 3;
        u1 += 3;
        u2 += 3;
        u3 += 3;
        xr += r->xrow;
        continue;
      }
      if (EDGE) { /* kw <= 4 taps, unit dilation, as above */
        for (kx = 0; kx < kw; ++kx) {
          const tinyc_v4 x = UNIT ? tinyc_v4_load_p(xp + kx, q[kx])
                                  : tinyc_v4_gather_p(xp + kx, offs, q[kx]);
          a0 = tinyc_v4_fma(a0, x, *u0++);
          a1 = tinyc_v4_fma(a1, x, *u1++);
          a2 = tinyc_v4_fma(a2, x, *u2++);
          a3 = tinyc_v4_fma(a3, x, *u3++);
        }
        xr += r->xrow;
        continue;
      }
      for (kx = kw; kx > 0; --kx) {
        const tinyc_v4 x = UNIT ? tinyc_v4_load(xp, 4) : tinyc_v4_gather(xp, offs);
        xp += dw;
        a0 = tinyc_v4_fma(a0, x, *u0++);
        a1 = tinyc_v4_fma(a1, x, *u1++);
        a2 = tinyc_v4_fma(a2, x, *u2++);
        a3 = tinyc_v4_fma(a3, x, *u3++);
      }
      xr += r->xrow;
    }
    xr += r->xnext;
    u0 += r->wnext;
    u1 += r->wnext;
    u2 += r->wnext;
    u3 += r->wnext;
  }
  y += (size_t)(ix0 + p->pad_left) / (size_t)p->stride_w;
  tinyc_v4_store(y, a0, 4, &p->act);
  tinyc_v4_store(y + ystride, a1, 4, &p->act);
  tinyc_v4_store(y + 2 * ystride, a2, 4, &p->act);
  tinyc_v4_store(y + 3 * ystride, a3, 4, &p->act);
}

/* 4 output channels x the output column ox, unit dilation, tap columns clipped to the
 * input: each tap row's columns in vectors (4 at a time, the rest under a predicate)
 * against the 4 channels' weights, lane sums added across at the end (tinyc_v4_hsum4).
 * For border columns, and rows too narrow for tinyc_mve_block4x4 (KWS's 10x4 layer).
 * K4 (a constant): the clipped window row is exactly 4 columns, one vector, no loop. */
TINYC_INLINE void tinyc_mve_pixel4_rows(const tinyc_fpu_row *r, const tinyc_conv2d_params *p,
                                        int32_t ox, const int K4, const float *b, float *y,
                                        size_t ystride) {
  const int32_t ix0 = ox * p->stride_w - p->pad_left, kw = p->kw;
  const int32_t kx0 = tinyc_window_first(ix0, 1);
  const int32_t n_kx = tinyc_window_end(ix0, 1, kw, p->w) - kx0;
  const float *xr = r->x + ix0 + kx0;
  const float *u0 = r->w + kx0, *u1 = u0 + r->ws, *u2 = u1 + r->ws, *u3 = u2 + r->ws;
  tinyc_v4 s0 = tinyc_v4_dup(0.0f), s1 = s0, s2 = s0, s3 = s0;
  float v[4];
  int32_t c, ky, kx, j;
  for (c = r->cg; c > 0; --c) {
    for (ky = r->rows; ky > 0; --ky) {
      if (K4) {
        const tinyc_v4 xv = tinyc_v4_load(xr, 4);
        s0 = tinyc_v4_fmav(s0, tinyc_v4_load(u0, 4), xv);
        s1 = tinyc_v4_fmav(s1, tinyc_v4_load(u1, 4), xv);
        s2 = tinyc_v4_fmav(s2, tinyc_v4_load(u2, 4), xv);
        s3 = tinyc_v4_fmav(s3, tinyc_v4_load(u3, 4), xv);
      } else {
        for (kx = 0; kx < n_kx; kx += 4) { /* lanes past the window add 0 * 0 */
          const int32_t n = n_kx - kx < 4 ? n_kx - kx : 4;
          const tinyc_v4 xv = tinyc_v4_load(xr + kx, n);
          s0 = tinyc_v4_fmav(s0, tinyc_v4_load(u0 + kx, n), xv);
          s1 = tinyc_v4_fmav(s1, tinyc_v4_load(u1 + kx, n), xv);
          s2 = tinyc_v4_fmav(s2, tinyc_v4_load(u2 + kx, n), xv);
          s3 = tinyc_v4_fmav(s3, tinyc_v4_load(u3 + kx, n), xv);
        }
      }
      xr += r->xrow;
      u0 += kw;
      u1 += kw;
      u2 += kw;
      u3 += kw;
    }
    xr += r->xnext;
    u0 += r->wnext;
    u1 += r->wnext;
    u2 += r->wnext;
    u3 += r->wnext;
  }
  tinyc_v4_store(v, tinyc_v4_hsum4(s0, s1, s2, s3, tinyc_v4_load(b, 4)), 4, &p->act);
  for (j = 0; j < 4; ++j) y[(size_t)j * ystride + ox] = v[j];
}

static TINYC_NOINLINE void tinyc_mve_pixel4(const tinyc_fpu_row *r,
                                            const tinyc_conv2d_params *p, int32_t ox,
                                            const float *b, float *y, size_t ystride) {
  const int32_t ix0 = ox * p->stride_w - p->pad_left;
  const int32_t n_kx = tinyc_window_end(ix0, 1, p->kw, p->w) - tinyc_window_first(ix0, 1);
  if (n_kx == 4) {
    tinyc_mve_pixel4_rows(r, p, ox, 1, b, y, ystride);
  } else {
    tinyc_mve_pixel4_rows(r, p, ox, 0, b, y, ystride);
  }
}

/* A border column of a dilated window: the Cortex-M4 FPU pixel, out of line. */
static TINYC_NOINLINE void tinyc_mve_pixel4_dilated(const tinyc_fpu_row *r,
                                                    const tinyc_conv2d_params *p, int32_t ox,
                                                    const float *b, float *y, size_t ystride) {
  tinyc_fpu_pixel(r, p, ox, 4, b, y, ystride);
}

/* One border column (or too narrow a row) for 4 channels. */
TINYC_INLINE void tinyc_mve_edge4(const tinyc_fpu_row *r, const tinyc_conv2d_params *p,
                                  int32_t ox, const float *b, float *y, size_t ystride) {
  if (p->dil_w == 1) {
    tinyc_mve_pixel4(r, p, ox, b, y, ystride);
  } else {
    tinyc_mve_pixel4_dilated(r, p, ox, b, y, ystride);
  }
}

/* A window of at most 4 columns (unit dilation) on a row of at least 4 outputs: the
 * whole row goes in blocks of 4 (tinyc_mve_block4x4 loads the padding as zeros), no
 * border column on its own. */
TINYC_INLINE int tinyc_mve_whole_row_blocks(const tinyc_conv2d_params *p) {
  return p->ow >= 4 && p->kw <= 4 && p->dil_w == 1;
}

/* The block columns of one output row for 4 channels: the whole row when
 * tinyc_mve_whole_row_blocks (the last block shifted left to end at the row's end), else
 * the interior [ox_lo, ox_hi) in blocks of 4, the last one shifted left to end at the
 * interior's edge (the border columns are the caller's: tinyc_mve_edge4). */
TINYC_INLINE void tinyc_mve_row4(const tinyc_fpu_row *r, const tinyc_conv2d_params *p,
                                 int32_t ox_lo, int32_t ox_hi, const int UNIT, const int K3,
                                 const float *b, float *y, size_t ystride) {
  const tinyc_u4 offs = tinyc_u4_steps(p->stride_w);
  int32_t ox;
  if (tinyc_mve_whole_row_blocks(p)) {
    for (ox = 0; ox < p->ow; ox += 4) {
      const int32_t o = ox + 4 <= p->ow ? ox : p->ow - 4;
      if (o >= ox_lo && o + 4 <= ox_hi) {
        tinyc_mve_block4x4(r, p, o * p->stride_w - p->pad_left, UNIT, K3, 0, offs, b, y,
                           ystride);
      } else {
        tinyc_mve_block4x4(r, p, o * p->stride_w - p->pad_left, UNIT, K3, 1, offs, b, y,
                           ystride);
      }
    }
    return;
  }
  if (ox_hi - ox_lo < 4) return;
  for (ox = ox_lo; ox + 4 <= ox_hi; ox += 4) {
    tinyc_mve_block4x4(r, p, ox * p->stride_w - p->pad_left, UNIT, K3, 0, offs, b, y, ystride);
  }
  if (ox < ox_hi) {
    tinyc_mve_block4x4(r, p, (ox_hi - 4) * p->stride_w - p->pad_left, UNIT, K3, 0, offs, b, y,
                       ystride);
  }
}

/* tinyc_mve_row4 for each (UNIT, K3), out of line: one frame each, none of them above
 * another kernel's (the border columns run from the caller). */
static TINYC_NOINLINE void tinyc_mve_row4_unit_k3(const tinyc_fpu_row *r,
                                                  const tinyc_conv2d_params *p, int32_t ox_lo,
                                                  int32_t ox_hi, const float *b, float *y,
                                                  size_t ystride) {
  tinyc_mve_row4(r, p, ox_lo, ox_hi, 1, 1, b, y, ystride);
}

static TINYC_NOINLINE void tinyc_mve_row4_gather_k3(const tinyc_fpu_row *r,
                                                    const tinyc_conv2d_params *p,
                                                    int32_t ox_lo, int32_t ox_hi,
                                                    const float *b, float *y, size_t ystride) {
  tinyc_mve_row4(r, p, ox_lo, ox_hi, 0, 1, b, y, ystride);
}

static TINYC_NOINLINE void tinyc_mve_row4_unit(const tinyc_fpu_row *r,
                                               const tinyc_conv2d_params *p, int32_t ox_lo,
                                               int32_t ox_hi, const float *b, float *y,
                                               size_t ystride) {
  tinyc_mve_row4(r, p, ox_lo, ox_hi, 1, 0, b, y, ystride);
}

static TINYC_NOINLINE void tinyc_mve_row4_gather(const tinyc_fpu_row *r,
                                                 const tinyc_conv2d_params *p, int32_t ox_lo,
                                                 int32_t ox_hi, const float *b, float *y,
                                                 size_t ystride) {
  tinyc_mve_row4(r, p, ox_lo, ox_hi, 0, 0, b, y, ystride);
}

/* Output row oy of the output channels [m0, m1) of one group, m1 - m0 a multiple of 4
 * (the setup of tinyc_fpu_conv_row, which does the remainder channels). */
static TINYC_NOINLINE TINYC_FPU_SCALAR void tinyc_mve_conv_row4(const float *xg, const float *restrict W,
                                     const float *restrict B, float *y, size_t ch_stride,
                                     int32_t m0, int32_t m1, int32_t oy,
                                     const tinyc_conv2d_params *p) {
  const int32_t cg = p->c / p->group, kk = p->kh * p->kw;
  const int32_t sw = p->stride_w, span = (p->kw - 1) * p->dil_w;
  const int k3 = p->kw == 3 && p->dil_w == 1;
  const size_t in_plane = (size_t)p->h * p->w;
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
  for (m = m0; m < m1; m += 4) {
    float *ym = y + (size_t)(m - m0) * ch_stride;
    float b[4];
    for (i = 0; i < 4; ++i) b[i] = B ? B[m + i] : 0.0f;
    r.w = W + (size_t)m * cg * kk + (size_t)(r.rows ? ky0 : 0) * p->kw;
    if (r.rows == 0) { /* the whole window is padding: the bias */
      for (ox = 0; ox < p->ow; ++ox) {
        for (i = 0; i < 4; ++i) ym[i * ch_stride + ox] = tinyc_fpu_act1(b[i], &p->act);
      }
      continue;
    }
    if (k3 && sw == 1) { /* the common 3x3 windows get their own unrolled copies */
      tinyc_mve_row4_unit_k3(&r, p, ox_lo, ox_hi, b, ym, ch_stride);
    } else if (k3) {
      tinyc_mve_row4_gather_k3(&r, p, ox_lo, ox_hi, b, ym, ch_stride);
    } else if (sw == 1) {
      tinyc_mve_row4_unit(&r, p, ox_lo, ox_hi, b, ym, ch_stride);
    } else {
      tinyc_mve_row4_gather(&r, p, ox_lo, ox_hi, b, ym, ch_stride);
    }
    if (!tinyc_mve_whole_row_blocks(p)) { /* the border columns (all, on too narrow a row) */
      const int32_t lo = ox_hi - ox_lo >= 4 ? ox_lo : p->ow;
      for (ox = 0; ox < lo; ++ox) tinyc_mve_edge4(&r, p, ox, b, ym, ch_stride);
      for (ox = ox_hi - ox_lo >= 4 ? ox_hi : p->ow; ox < p->ow; ++ox) {
        tinyc_mve_edge4(&r, p, ox, b, ym, ch_stride);
      }
    }
  }
}

/* Output row oy of the output channels [m0, m1) of one group, whose input channels start
 * at xg (as tinyc_fpu_conv_row): 4 channels at a time in vectors, the remainder channels
 * by the Cortex-M4 FPU path. */
static inline void tinyc_mve_conv_row(const float *xg, const float *restrict W,
                                      const float *restrict B, float *y, size_t ch_stride,
                                      int32_t m0, int32_t m1, int32_t oy,
                                      const tinyc_conv2d_params *p) {
  const int32_t m4 = m0 + (m1 - m0) / 4 * 4;
  if (m4 > m0) tinyc_mve_conv_row4(xg, W, B, y, ch_stride, m0, m4, oy, p);
  if (m4 < m1) {
    tinyc_fpu_conv_row(xg, W, B, y + (size_t)(m4 - m0) * ch_stride, ch_stride, m4, m1, oy, p);
  }
}

#endif /* TINYC_MVE_CONV_H */
