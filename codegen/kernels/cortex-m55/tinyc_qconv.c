/* int8 2-D convolution (NCHW) with Helium (MVE) dot products, for the Cortex-M55. Same
 * contract and bit-exact results as the portable kernels (tinyc_qconv.h; integer sums do
 * not depend on their order). Scratch lives in the node's arena workspace (`work`, sized
 * by tinyc/ops/qwork.py for the Cortex-M4 kernels, whose column this one fits exactly).
 *
 * Short reductions (K <= 64): blocks of up to four output pixels' windows are fetched into
 * the workspace, then per pixel its window sits in up to four vectors while the weights of
 * four channels at a time stream past it, the four sums requantized as one vector and
 * scattered to the channel planes (short_pixels).
 *
 * Stack: every path's frames are kept apart (issue #16's 512 B for NAME_run): the window
 * vectors live only in the out-of-line block functions (short_block, column_block_fast,
 * dw_columns), not across the fetches and gathers; gcc 12 would otherwise keep them, and
 * the loads it hoists, in Q4-Q7 (a 64 B save) or spill them. Layer constants live in the
 * workspace (short_layer) or are reloaded where used; cold paths are out of line.
 *
 * Longer reductions: a block of output pixels' input windows is gathered into the
 * workspace as raw int8 rows in the weights' (c, ky, kx) order, the input zero point where
 * the window leaves the input; then each output channel runs over the block four pixels at
 * a time: per 16 reduction steps one weight load, four row loads and four VMLADAVA.S8 (64
 * MACs), and the input offset enters once per output as input_offset * sum(w)
 * (tinyc_mve.h). Reductions longer than TINYC_QCONV_COLUMN take the plain loop.
 *
 * Depthwise convolution: windows of at most 16 taps take one byte-gather and one VMLADAV
 * per output, column by column, with per-column tap masks (dw_rows, dw_columns); others run
 * four pixels at a time in int32 lanes (one widening load and one VMLA per tap). */
#include "tinyc_qconv.h"

#include <string.h>

#include "tinyc_mve.h"

/* The Cortex-M4 kernel's column words (tinyc/ops/qwork.py QCONV_COLUMN, QCONV_PAIRS): the
 * workspace holds 4 * K * min(COLUMN / K, PAIRS) bytes, that many int8 windows of K. */
#define TINYC_QCONV_COLUMN 576
#define TINYC_QCONV_PAIRS 4

/* ---- window taps as byte offsets ------------------------------------------------------ */

/* A window of at most 16 taps whose farthest tap is at most 255 bytes from its first can be
 * read with one byte-gather (VLDRB with a vector of offsets) per input channel. */
typedef struct {
  int fits;
  uint8_t offs[16]; /* tap (ky, kx) at ky * dil_h * w + kx * dil_w, in the weights' order */
} window_taps;

static void window_taps_of(const tinyc_qconv_params *p, window_taps *t) {
  int32_t ky, kx, i = 0;
  t->fits = p->kh * p->kw <= 16 &&
            (p->kh - 1) * p->dil_h * p->w + (p->kw - 1) * p->dil_w <= 255;
  for (ky = 0; ky < p->kh && t->fits; ++ky) {
    for (kx = 0; kx < p->kw; ++kx) t->offs[i++] = (uint8_t)(ky * p->dil_h * p->w + kx * p->dil_w);
  }
  for (; i < 16; ++i) t->offs[i] = 0u;
}

/* ---- dense ------------------------------------------------------------------------- */

/* Pixel px's window of group input xg (cg channels) into row[K], zero point outside. */
static void gather(const int8_t *xg, const tinyc_qconv_params *p, int32_t cg, int32_t px,
                   const window_taps *taps, int8_t *row) {
  const int32_t oy = px / p->ow, ox = px - oy * p->ow;
  const int32_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
  const int32_t ky0 = tinyc_window_first(iy0, p->dil_h);
  const int32_t ky1 = tinyc_window_end(iy0, p->dil_h, p->kh, p->h);
  const int32_t kx0 = tinyc_window_first(ix0, p->dil_w);
  const int32_t kx1 = tinyc_window_end(ix0, p->dil_w, p->kw, p->w);
  const int8_t zp = (int8_t)-p->input_offset;
  const size_t plane = (size_t)p->h * p->w;
  int32_t c, ky, kx;
  if (p->kh == 1 && p->kw == 1 && ky0 == 0 && ky1 == 1 && kx0 == 0 && kx1 == 1) {
    /* a pointwise tap inside the input: one byte per channel plane */
    const int8_t *x = xg + (size_t)iy0 * p->w + ix0;
    for (c = 0; c < cg; ++c) row[c] = x[(size_t)c * plane];
    return;
  }
#if TINYC_MVE
  if (taps->fits && ky0 == 0 && ky1 == p->kh && kx0 == 0 && kx1 == p->kw) {
    /* a window inside the input: one gather and one store per channel */
    const int32_t kk = p->kh * p->kw;
    const mve_pred16_t in = vctp8q((uint32_t)kk);
    const uint8x16_t offs = vldrbq_u8(taps->offs);
    const int8_t *x = xg + (ptrdiff_t)iy0 * p->w + ix0;
    for (c = 0; c < cg; ++c, x += plane, row += kk) {
      vstrbq_p_s8(row, vldrbq_gather_offset_z_s8(x, offs, in), in);
    }
    return;
  }
#else
  (void)taps;
#endif
  for (c = 0; c < cg; ++c) {
    const int8_t *xc = xg + (size_t)c * plane;
    for (ky = 0; ky < p->kh; ++ky, row += p->kw) {
      const int8_t *xr = xc + (ptrdiff_t)(iy0 + ky * p->dil_h) * p->w + ix0;
      if (ky < ky0 || ky >= ky1) {
        memset(row, zp, (size_t)p->kw);
        continue;
      }
      for (kx = 0; kx < kx0 && kx < p->kw; ++kx) row[kx] = zp; /* kx0 may pass kw */
      if (p->dil_w == 1) { /* short rows: one predicated vector copy, not a memcpy call */
        tinyc_mve_copy(row + kx0, xr + kx0, kx1 > kx0 ? kx1 - kx0 : 0);
      } else {
        for (kx = kx0; kx < kx1; ++kx) row[kx] = xr[kx * p->dil_w];
      }
      for (kx = kx1 > kx0 ? kx1 : kx0; kx < p->kw; ++kx) row[kx] = zp;
    }
  }
}

/* Whether the shifts of channels [m0, m1) are all in [-31, -2], the vector
 * requantization's rule (tinyc_mve_requant4) */
static int shifts_fit(const tinyc_qconv_params *p, int32_t m0, int32_t m1) {
  for (; m0 < m1; ++m0) {
    if (p->shift[m0] > -2 || p->shift[m0] < -31) return 0;
  }
  return 1;
}

#if TINYC_MVE
/* Output channel mm (weights wm) over `count` gathered windows (rows of K bytes at col)
 * into y[0 .. count), four rows at a time, all in registers (its shift in [-31, -2]);
 * rows past `count` (at most three, inside the workspace) are computed, not stored. */
TINYC_INLINE void channel_over_rows(const int8_t *wm, const int8_t *col, int32_t K,
                                    int32_t count, int32_t base, const tinyc_qconv_params *p,
                                    int32_t mm, int8_t *y) {
  const int32_t shift = p->shift[mm], q = p->multiplier[mm], zp = p->output_offset;
  const int32x4_t lo = vdupq_n_s32(p->act_min - zp), hi = vdupq_n_s32(p->act_max - zp);
  int32_t j;
  for (j = 0; j < count; j += 4, col += 4 * K) {
    int32x4_t v = tinyc_mve_dot1x4_v(wm, col, K, base);
    /* VQDMULH keeps one more low bit than VMULH (q > 0: no saturation), which the
     * rounding shift by one more drops exactly (dw_requant) */
    v = vrshlq_n_s32(vqdmulhq_n_s32(v, q), shift);
    v = vaddq_n_s32(vminq_s32(vmaxq_s32(v, lo), hi), zp);
    if (count - j >= 4) {
      vstrbq_s32(y + j, v);
    } else {
      vstrbq_p_s32(y + j, v, vctp32q((uint32_t)(count - j)));
    }
  }
}
#endif

/* Every channel of group g over the block of `count` gathered windows at col: output
 * (m, j) to y[m * out_plane + j]; `fast`: every shift fits channel_over_rows, else one
 * output at a time (constant in each caller). */
TINYC_INLINE void column_block(const int8_t *col, int32_t count, const int8_t *W,
                               const int32_t *B, int8_t *y, size_t out_plane,
                               const tinyc_qconv_params *p, int32_t g, int fast) {
  const int32_t mg = p->m / p->group, K = p->c / p->group * p->kh * p->kw;
  int32_t m, j;
  for (m = 0; m < mg; ++m, y += out_plane) {
    const int32_t mm = g * mg + m;
    const int8_t *wm = W + (size_t)mm * K;
    const int32_t base = (B ? B[mm] : 0) + p->input_offset * tinyc_mve_sum_s8(wm, K);
#if TINYC_MVE
    if (fast) {
      channel_over_rows(wm, col, K, count, base, p, mm, y);
      continue;
    }
#else
    (void)fast;
#endif
    for (j = 0; j < count; ++j) {
      y[j] = tinyc_requantize_one(tinyc_mve_dot(wm, col + (size_t)j * K, K, base),
                                  p->multiplier[mm], p->shift[mm], p->output_offset,
                                  p->act_min, p->act_max);
    }
  }
}

/* column_block out of line in its two forms, so the gathers do not add to their frames,
 * nor the rare per-output form to the vector one's */
static TINYC_NOINLINE void column_block_fast(const int8_t *col, int32_t count,
                                             const int8_t *W, const int32_t *B, int8_t *y,
                                             size_t out_plane, const tinyc_qconv_params *p,
                                             int32_t g) {
  column_block(col, count, W, B, y, out_plane, p, g, 1);
}

static TINYC_NOINLINE void column_block_slow(const int8_t *col, int32_t count,
                                             const int8_t *W, const int32_t *B, int8_t *y,
                                             size_t out_plane, const tinyc_qconv_params *p,
                                             int32_t g) {
  column_block(col, count, W, B, y, out_plane, p, g, 0);
}

#if TINYC_MVE
/* ---- short reductions (K <= 64): the window in registers, four channels a vector ----
 *
 * Pixels go in blocks of up to TINYC_SHORT_ROWS: their windows (K <= 64 int8, lanes past K
 * zero) are fetched into workspace rows -- a pointwise pixel by two 16-bit gathers per 16
 * channels (even and odd channels, narrowed into one vector), a window whose taps all lie
 * within 255 bytes by one byte-gather per 16 taps, others through gather() -- then
 * (short_block) each pixel's window is loaded into up to four vectors once and every output
 * channel's weights stream past it: per four channels 4 n weight loads and 4 n VMLADAV
 * (n = ceil(K / 16)), the sums requantized as one vector with the channels' own
 * multipliers and shifts and scattered to the four channel planes. The last channels,
 * whose 16-byte weight reads would pass the end of W, read their last chunk predicated
 * (short_last). Layers whose shifts are all in [-31, -2] (tinyc_mve_requant4's rule) take
 * it. Workspace (the column's): the layer (short_layer), bias + input_offset * sum(w) per
 * channel, the tap offsets, the block's windows. */
#define TINYC_SHORT_K 64
/* windows fetched a block (fewer when the workspace is short) */
#define TINYC_SHORT_ROWS 4

typedef struct {
  int8x16_t x0, x1, x2, x3;
} short_window;

/* The workspace bytes conv_pixels has for K (its column). */
static int32_t column_bytes(int32_t K) {
  const int32_t fit = TINYC_QCONV_COLUMN / K;
  return 4 * K * (fit < TINYC_QCONV_PAIRS ? fit : TINYC_QCONV_PAIRS);
}

/* channel m's sum over the window's n chunks (its weights at w, 16 n bytes read) */
TINYC_INLINE int32_t short_dot(const int8_t *w, int n, const short_window *x) {
  int32_t s = vmladavq_s8(vldrbq_s8(w), x->x0);
  if (n > 1) s = vmladavaq_s8(s, vldrbq_s8(w + 16), x->x1);
  if (n > 2) s = vmladavaq_s8(s, vldrbq_s8(w + 32), x->x2);
  if (n > 3) s = vmladavaq_s8(s, vldrbq_s8(w + 48), x->x3);
  return s;
}

/* The layer as the pixel loop's steps need it, set once per call in the workspace (not on
 * the stack, under the pixel functions' frames); read through a pointer where used (the
 * output stores may alias it, so fields are reloaded: holding them in registers across the
 * channel loop spills more than the loads cost). */
typedef struct {
  const tinyc_qconv_params *p;
  const int8_t *X; /* the input (group 0) */
  const int8_t *W;
  const int32_t *multiplier, *shift;
  int32_t K, M, zp, act_min, act_max;
  int32_t n;    /* the window's 16-byte chunks, ceil(K / 16) */
  /* channels [0, full) run four at a time unguarded: a multiple of 4 whose 16 n-byte
   * weight reads stay inside W (the last channel's reads pass its row by 16 n - K) */
  int32_t full;
  uint32_t plane; /* output plane: the channels' outputs are this far apart */
  int near;       /* every tap within 255 bytes of the window origin */
  int32_t rows;   /* windows fetched per block (TINYC_SHORT_ROWS or fewer: the workspace) */
  int8_t *row;    /* the block's windows, 16 n bytes each (zero past K) */
  const uint8_t *offs; /* every tap's offset from the window origin (16 n bytes) */
  const int32_t *base; /* bias + input_offset * sum(w) per channel */
  window_taps taps;
} short_layer;

/* the four channels' sums v (base already in) requantized with their multipliers and
 * shifts (the output zero point zp, the activation clamp [lo, hi]) and scattered down the
 * channel planes at y (`steps`: 0, plane, 2 plane, 3 plane) */
TINYC_INLINE void short_store(int32x4_t v, int32x4_t lo, int32x4_t hi, uint32x4_t steps,
                              int32_t zp, const int32_t *multiplier, const int32_t *shift,
                              int8_t *y) {
  v = vqdmulhq_s32(v, vldrwq_s32(multiplier));
  v = vaddq_n_s32(vrshlq_s32(v, vldrwq_s32(shift)), zp);
  vstrbq_scatter_offset_s32(y, steps, vminq_s32(vmaxq_s32(v, lo), hi));
}

/* The window's n chunks from the workspace row (zero past K); chunks past n are never
 * read. */
TINYC_INLINE short_window short_window_of(const int8_t *row, int n) {
  short_window x;
  x.x0 = vldrbq_s8(row);
  x.x1 = n > 1 ? vldrbq_s8(row + 16) : x.x0;
  x.x2 = n > 2 ? vldrbq_s8(row + 32) : x.x0;
  x.x3 = n > 3 ? vldrbq_s8(row + 48) : x.x0;
  return x;
}

/* channel m's sum over the window's n chunks, its last chunk's weights read only for the
 * lanes `tail` (K % 16 of them, or 16) */
TINYC_INLINE int32_t short_dot_guarded(const int8_t *w, int n, const short_window *x,
                                       mve_pred16_t tail) {
  int32_t s = vmladavq_s8(n == 1 ? vldrbq_z_s8(w, tail) : vldrbq_s8(w), x->x0);
  if (n > 1) s = vmladavaq_s8(s, n == 2 ? vldrbq_z_s8(w + 16, tail) : vldrbq_s8(w + 16), x->x1);
  if (n > 2) s = vmladavaq_s8(s, n == 3 ? vldrbq_z_s8(w + 32, tail) : vldrbq_s8(w + 32), x->x2);
  if (n > 3) s = vmladavaq_s8(s, vldrbq_z_s8(w + 48, tail), x->x3);
  return s;
}

/* Output channels [m, M) of `count` pixels (windows at row, 16 n bytes apart; outputs at
 * y, y + 1, ...) into y + (channel - m) * plane, four channels at a time, the weights'
 * last chunk read predicated (the last channels, whose 16-byte weight reads would pass
 * the end of W) */
TINYC_INLINE void short_last_n(const short_layer *L, int n, const int8_t *row, int32_t count,
                               int8_t *y, int32_t m0) {
  const int32_t K = L->K;
  const mve_pred16_t tail = vctp8q((uint32_t)(K - 16 * (n - 1)));
  int32_t i, m;
  for (i = 0; i < count; ++i, row += 16 * n, ++y) {
    const short_window x = short_window_of(row, n);
    int8_t *yc = y;
    for (m = m0; m < L->M; m += 4, yc += 4 * L->plane) {
      const int32_t left = L->M - m;
      const mve_pred16_t in = vctp32q((uint32_t)left);
      const int8_t *w = L->W + (size_t)m * K;
      int32x4_t v = vdupq_n_s32(short_dot_guarded(w, n, &x, tail));
      if (left > 1) v = vsetq_lane_s32(short_dot_guarded(w + K, n, &x, tail), v, 1);
      if (left > 2) v = vsetq_lane_s32(short_dot_guarded(w + 2 * K, n, &x, tail), v, 2);
      if (left > 3) v = vsetq_lane_s32(short_dot_guarded(w + 3 * K, n, &x, tail), v, 3);
      v = vaddq_s32(v, vldrwq_z_s32(L->base + m, in));
      v = vqdmulhq_s32(v, vldrwq_z_s32(L->multiplier + m, in));
      v = vaddq_n_s32(vrshlq_s32(v, vldrwq_z_s32(L->shift + m, in)), L->zp);
      v = vminq_s32(vmaxq_s32(v, vdupq_n_s32(L->act_min)), vdupq_n_s32(L->act_max));
      vstrbq_scatter_offset_p_s32(yc, vmulq_n_u32(vidupq_n_u32(0, 1), L->plane), v, in);
    }
  }
}

/* short_last_n out of line over the block's windows (a cold path: at most a few channels
 * a pixel) */
static TINYC_NOINLINE void short_last(const short_layer *L, int32_t count, int8_t *y,
                                      int32_t m) {
  switch (L->n) {
    case 1: short_last_n(L, 1, L->row, count, y, m); break;
    case 2: short_last_n(L, 2, L->row, count, y, m); break;
    case 3: short_last_n(L, 3, L->row, count, y, m); break;
    default: short_last_n(L, 4, L->row, count, y, m); break;
  }
}

/* Output channels [0, L->full) of `count` pixels (windows at row, 16 n bytes apart,
 * outputs at y, y + 1, ...): per pixel its window in n vectors, the channels' weights
 * streamed past it four channels at a time; n is constant in each caller, so the chunk
 * tests fold. `held`: the clamp and the scatter offsets stay in Q registers across the
 * loop (a window of one or two chunks leaves room), else they are made anew each round
 * from the layer (read after a barrier, so gcc cannot hoist them into Q4-Q7). */
TINYC_INLINE void short_channels(const short_layer *L, int n, int held, const int8_t *row,
                                 int32_t count, int8_t *y) {
  const int32_t K = L->K, full = L->full;
  const int32x4_t lo = vdupq_n_s32(L->act_min), hi = vdupq_n_s32(L->act_max);
  const uint32x4_t steps = vmulq_n_u32(vidupq_n_u32(0, 1), L->plane);
  const int32_t zp = L->zp;
  const size_t plane = L->plane;
  int32_t i, m;
  for (i = 0; i < count; ++i, row += 16 * n) {
    const short_window x = short_window_of(row, n);
    const int8_t *w = L->W;
    const int32_t *base = L->base, *multiplier = L->multiplier, *shift = L->shift;
    int8_t *yc = y + i;
    for (m = 0; m < full; m += 4, yc += 4 * (held ? plane : L->plane)) {
      /* one sum at a time into its lane; the barriers keep gcc from hoisting the next
       * channel's weight loads into spills */
      int32x4_t v = vdupq_n_s32(short_dot(w, n, &x));
      TINYC_MVE_BARRIER();
      v = vsetq_lane_s32(short_dot(w + K, n, &x), v, 1);
      TINYC_MVE_BARRIER();
      v = vsetq_lane_s32(short_dot(w + 2 * K, n, &x), v, 2);
      TINYC_MVE_BARRIER();
      v = vsetq_lane_s32(short_dot(w + 3 * K, n, &x), v, 3);
      TINYC_MVE_BARRIER();
      v = vaddq_s32(v, vldrwq_s32(base + m));
      if (held) {
        short_store(v, lo, hi, steps, zp, multiplier + m, shift + m, yc);
      } else {
        short_store(v, vdupq_n_s32(L->act_min), vdupq_n_s32(L->act_max),
                    vmulq_n_u32(vidupq_n_u32(0, 1), L->plane), L->zp, multiplier + m,
                    shift + m, yc);
      }
      w += 4 * K;
    }
  }
}

/* A block of pixels' output channels from their windows in the workspace rows, out of
 * line: the windows' vectors live only here, not across the fetches and gathers. */
static TINYC_NOINLINE void short_block(const short_layer *L, int32_t count, int8_t *y) {
  if (L->n == 3) {
    short_channels(L, 3, 0, L->row, count, y);
  } else {
    short_channels(L, 4, 0, L->row, count, y);
  }
}

/* short_block for windows of one or two chunks (K <= 32), the clamp held in registers */
static TINYC_NOINLINE void short_block_held(const short_layer *L, int32_t count, int8_t *y) {
  if (L->n == 1) {
    short_channels(L, 1, 1, L->row, count, y);
  } else {
    short_channels(L, 2, 1, L->row, count, y);
  }
}

/* 16 channels of a pointwise pixel from c0 on (`left` of them, lanes past it 0) */
TINYC_INLINE int8x16_t short_channels16(const int8_t *x, uint16x8_t even, uint16x8_t odd,
                                        int32_t left) {
  if (left >= 16) {
    return vmovntq_s16(vmovnbq_s16(vdupq_n_s8(0), vldrbq_gather_offset_s16(x, even)),
                       vldrbq_gather_offset_s16(x, odd));
  }
  return vmovntq_s16(
      vmovnbq_s16(vdupq_n_s8(0),
                  vldrbq_gather_offset_z_s16(x, even, vctp16q((uint32_t)(left + 1) / 2u))),
      vldrbq_gather_offset_z_s16(x, odd, vctp16q((uint32_t)left / 2u)));
}

/* The workspace bytes short_pixels needs with `rows` windows a block: the layer, base[M],
 * the tap offsets and the windows (16 ceil(K / 16) bytes each). */
static size_t short_bytes(int32_t K, int32_t M, int32_t rows) {
  return sizeof(short_layer) + 4u * (uint32_t)M + 16u * (uint32_t)((K + 15) / 16 * (1 + rows));
}

/* Whether short_pixels takes the layer: group 1, K <= 64, its workspace within the
 * column's, every shift in [-31, -2] (the vector requantization's rule). */
static int short_fits(const tinyc_qconv_params *p, int32_t K) {
  return p->group == 1 && K <= TINYC_SHORT_K &&
         short_bytes(K, p->m, 1) <= (size_t)column_bytes(K) && shifts_fit(p, 0, p->m);
}

/* The layer, its tables and the zeroed row tail, in the workspace. */
static TINYC_NOINLINE short_layer *short_layer_of(int32_t *work, const int8_t *X,
                                                  const int8_t *W, const int32_t *B,
                                                  size_t out_plane,
                                                  const tinyc_qconv_params *p) {
  const int32_t K = p->c * p->kh * p->kw, chunks = 16 * ((K + 15) / 16);
  const size_t plane = (size_t)p->h * p->w;
  short_layer *L = (short_layer *)(void *)work;
  int32_t *base = (int32_t *)(void *)(L + 1);
  uint8_t *offs = (uint8_t *)(base + p->m);
  int8_t *row = (int8_t *)(offs + chunks);
  int32_t rows = TINYC_SHORT_ROWS;
  int32_t m, c, ky, kx, i = 0, near = 1;
  for (m = 0; m < p->m; ++m) {
    base[m] = (B ? B[m] : 0) + p->input_offset * tinyc_mve_sum_s8(W + (size_t)m * K, K);
  }
  for (c = 0; c < p->c; ++c) { /* every tap's offset from the window origin, if <= 255 */
    for (ky = 0; ky < p->kh; ++ky) {
      for (kx = 0; kx < p->kw; ++kx) {
        const size_t o = (size_t)c * plane + (size_t)ky * p->dil_h * p->w + (size_t)kx * p->dil_w;
        near = near && o <= 255u;
        offs[i++] = (uint8_t)o;
      }
    }
  }
  while (rows > 1 && short_bytes(K, p->m, rows) > (size_t)column_bytes(K)) --rows;
  for (; i < chunks; ++i) offs[i] = 0u;
  /* the windows' bytes past K stay 0: the fetches write only their first K */
  for (i = 0; i < rows * chunks; i += 16) vstrbq_s8(row + i, vdupq_n_s8(0));
  L->p = p, L->X = X, L->W = W, L->multiplier = p->multiplier, L->shift = p->shift;
  L->K = K, L->M = p->m, L->zp = p->output_offset, L->act_min = p->act_min;
  L->act_max = p->act_max, L->plane = (uint32_t)out_plane, L->near = near;
  L->n = chunks / 16;
  m = p->m - (chunks - 1) / K; /* the channels whose 16 n-byte reads stay inside W */
  L->full = m > 0 ? m / 4 * 4 : 0;
  L->rows = rows, L->row = row, L->offs = offs, L->base = base;
  window_taps_of(p, &L->taps);
  return L;
}

/* Pixel px's window into L->row: a pointwise pixel by two 16-bit gathers per 16 channels
 * (even and odd channels, narrowed into one vector), a window whose taps all lie within 255
 * bytes by one byte-gather per 16 taps, others (borders) through gather(). */
TINYC_INLINE void short_fetch(const short_layer *L, int32_t px, int8_t *row) {
  const tinyc_qconv_params *p = L->p;
  const int32_t K = L->K, oy = px / p->ow, ox = px - oy * p->ow;
  const int32_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
  const int inside = iy0 >= 0 && ix0 >= 0 && iy0 + (p->kh - 1) * p->dil_h < p->h &&
                     ix0 + (p->kw - 1) * p->dil_w < p->w;
  const int8_t *x0 = L->X + (ptrdiff_t)iy0 * p->w + ix0;
  const size_t plane = (size_t)p->h * p->w;
  int32_t j;
  if (inside && p->kh == 1 && p->kw == 1 && 15 * plane <= 65535u) {
    const uint16x8_t even = vmulq_n_u16(vidupq_n_u16(0, 2), (uint16_t)plane);
    const uint16x8_t odd = vaddq_n_u16(even, (uint16_t)plane);
    for (j = 0; j < K; j += 16) {
      vstrbq_s8(row + j, short_channels16(x0 + (size_t)j * plane, even, odd, K - j));
    }
  } else if (inside && L->near) {
    for (j = 0; j < K; j += 16) {
      vstrbq_s8(row + j, vldrbq_gather_offset_z_s8(x0, vldrbq_u8(L->offs + j),
                                                      vctp8q((uint32_t)(K - j))));
    }
  } else {
    gather(L->X, p, p->c, px, &L->taps, row);
  }
}

/* Output pixels [px0, px1) of a group-1 layer with K <= 64 (column_pixels' contract), one
 * pixel at a time: its window fetched into the workspace row, then all its channels. */
static TINYC_NOINLINE void short_pixels(int32_t *work, const int8_t *xg, const int8_t *W,
                                        const int32_t *B, int8_t *yg, size_t out_plane,
                                        const tinyc_qconv_params *p, int32_t px0, int32_t px1) {
  const short_layer *L = short_layer_of(work, xg, W, B, out_plane, p);
  const int32_t chunks = 16 * L->n;
  int32_t px, j;
  for (px = px0; px < px1; px += L->rows) {
    const int32_t count = px1 - px < L->rows ? px1 - px : L->rows;
    for (j = 0; j < count; ++j) short_fetch(L, px + j, L->row + j * chunks);
    if (L->n <= 2) {
      short_block_held(L, count, yg + (px - px0));
    } else {
      short_block(L, count, yg + (px - px0));
    }
    if (L->full < L->M) short_last(L, count, yg + (px - px0) + (size_t)L->full * L->plane, L->full);
  }
}
#endif

/* Output pixels [px0, px1) of group g's channels; output (m, px) goes to
 * yg[m * out_plane + px - px0]. A block's windows are all gathered before any of its
 * outputs is written (which the in-place forms rely on). K <= TINYC_QCONV_COLUMN. */
static TINYC_NOINLINE void column_pixels(int8_t *restrict col, const int8_t *xg,
                                         const int8_t *W, const int32_t *B, int8_t *yg,
                                         size_t out_plane, const tinyc_qconv_params *p,
                                         int32_t g, int32_t px0, int32_t px1) {
  const int32_t cg = p->c / p->group, K = cg * p->kh * p->kw;
  const int32_t fit = TINYC_QCONV_COLUMN / K;
  const int32_t block = 4 * (fit < TINYC_QCONV_PAIRS ? fit : TINYC_QCONV_PAIRS);
  const int32_t mg = p->m / p->group;
  const int fast = TINYC_MVE && shifts_fit(p, g * mg, (g + 1) * mg);
  int32_t px, j;
  window_taps taps;
  window_taps_of(p, &taps);
  for (px = px0; px < px1; px += block) {
    const int32_t count = px1 - px < block ? px1 - px : block;
    for (j = 0; j < count; ++j) gather(xg, p, cg, px + j, &taps, col + (size_t)j * K);
    if (fast) {
      column_block_fast(col, count, W, B, yg + (px - px0), out_plane, p, g);
    } else {
      column_block_slow(col, count, W, B, yg + (px - px0), out_plane, p, g);
    }
  }
}

/* Output pixels [px0, px1) of group g (column_pixels' contract): reductions up to 64 with
 * window and table in the workspace take short_pixels. */
TINYC_INLINE void conv_pixels(int8_t *restrict col, const int8_t *xg, const int8_t *W,
                              const int32_t *B, int8_t *yg, size_t out_plane,
                              const tinyc_qconv_params *p, int32_t g, int32_t px0,
                              int32_t px1) {
#if TINYC_MVE
  if (short_fits(p, p->c / p->group * p->kh * p->kw)) {
    short_pixels((int32_t *)(void *)col, xg, W, B, yg, out_plane, p, px0, px1);
    return;
  }
#endif
  column_pixels(col, xg, W, B, yg, out_plane, p, g, px0, px1);
}

/* The plain loop, for reductions too long for the column. */
static int32_t direct_pixel(const int8_t *xg, const int8_t *wm, const tinyc_qconv_params *p,
                            int32_t cg, int32_t px, int32_t acc) {
  const int32_t oy = px / p->ow, ox = px - oy * p->ow;
  const int32_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
  const int32_t ky0 = tinyc_window_first(iy0, p->dil_h);
  const int32_t ky1 = tinyc_window_end(iy0, p->dil_h, p->kh, p->h);
  const int32_t kx0 = tinyc_window_first(ix0, p->dil_w);
  const int32_t kx1 = tinyc_window_end(ix0, p->dil_w, p->kw, p->w);
  int32_t c, ky, kx;
  for (c = 0; c < cg; ++c) {
    const int8_t *xc = xg + (size_t)c * p->h * p->w;
    const int8_t *wc = wm + (size_t)c * p->kh * p->kw;
    for (ky = ky0; ky < ky1; ++ky) {
      const int8_t *xr = xc + (size_t)(iy0 + ky * p->dil_h) * p->w + ix0;
      const int8_t *wr = wc + (size_t)ky * p->kw;
      for (kx = kx0; kx < kx1; ++kx) {
        acc += ((int32_t)xr[kx * p->dil_w] + p->input_offset) * wr[kx];
      }
    }
  }
  return acc;
}

static int8_t direct_output(const int8_t *xg, const int8_t *W, const int32_t *B,
                            const tinyc_qconv_params *p, int32_t cg, int32_t mm, int32_t px) {
  const int32_t K = cg * p->kh * p->kw;
  const int32_t acc = direct_pixel(xg, W + (size_t)mm * K, p, cg, px, B ? B[mm] : 0);
  return tinyc_requantize_one(acc, p->multiplier[mm], p->shift[mm], p->output_offset,
                              p->act_min, p->act_max);
}

/* Group g's outputs by the plain loop (reductions past the column), in its own frame. */
static TINYC_NOINLINE void direct_group(const int8_t *xg, const int8_t *W, const int32_t *B,
                                        int8_t *yg, const tinyc_qconv_params *p, int32_t g) {
  const int32_t cg = p->c / p->group, mg = p->m / p->group, pixels = p->oh * p->ow;
  int32_t m, px;
  for (m = 0; m < mg; ++m) {
    for (px = 0; px < pixels; ++px) {
      yg[(size_t)m * pixels + px] = direct_output(xg, W, B, p, cg, g * mg + m, px);
    }
  }
}

void tinyc_conv2d_s8(const int8_t *restrict X, const int8_t *restrict W,
                     const int32_t *restrict B, int8_t *restrict Y,
                     int32_t *restrict work, const tinyc_qconv_params *p) {
  const int32_t cg = p->c / p->group, mg = p->m / p->group, K = cg * p->kh * p->kw;
  const int32_t pixels = p->oh * p->ow;
  const size_t in_plane = (size_t)p->h * p->w, out_plane = (size_t)pixels;
  int32_t n, g;
  for (n = 0; n < p->n; ++n) {
    for (g = 0; g < p->group; ++g) {
      const int8_t *xg = X + ((size_t)n * p->c + (size_t)g * cg) * in_plane;
      int8_t *yg = Y + ((size_t)n * p->m + (size_t)g * mg) * out_plane;
      if (K <= TINYC_QCONV_COLUMN) {
        conv_pixels((int8_t *)work, xg, W, B, yg, out_plane, p, g, 0, pixels);
      } else {
        direct_group(xg, W, B, yg, p, g);
      }
    }
  }
}

/* tinyc_conv1x1_stream_s8 past the column: pixel by pixel through scratch[min(c, m)] */
static TINYC_NOINLINE void conv1x1_long(const int8_t *X, const int8_t *W, const int32_t *B,
                                        int8_t *Y, int8_t *scratch,
                                        const tinyc_qconv_params *p) {
  const int32_t pixels = p->h * p->w;
  int32_t px, c, m;
  for (px = 0; px < pixels; ++px) {
    if (p->m <= p->c) {
      for (m = 0; m < p->m; ++m) scratch[m] = direct_output(X, W, B, p, p->c, m, px);
      for (m = 0; m < p->m; ++m) Y[(size_t)m * pixels + px] = scratch[m];
    } else {
      for (c = 0; c < p->c; ++c) scratch[c] = X[(size_t)c * pixels + px];
      for (m = 0; m < p->m; ++m) {
        const int8_t *wm = W + (size_t)m * p->c;
        const int32_t acc = tinyc_mve_dot(wm, scratch, p->c, B ? B[m] : 0) +
                            p->input_offset * tinyc_mve_sum_s8(wm, p->c);
        Y[(size_t)m * pixels + px] = tinyc_requantize_one(
            acc, p->multiplier[m], p->shift[m], p->output_offset, p->act_min, p->act_max);
      }
    }
  }
}

void tinyc_conv1x1_stream_s8(const int8_t *X, const int8_t *restrict W,
                             const int32_t *restrict B, int8_t *Y, int8_t *restrict scratch,
                             int32_t *restrict work, const tinyc_qconv_params *p) {
  TINYC_DCHECK(p->n == 1 && p->kh == 1 && p->kw == 1 && p->group == 1);
  if (p->c <= TINYC_QCONV_COLUMN) { /* the column holds the input pixels */
    conv_pixels((int8_t *)work, X, W, B, Y, (size_t)p->h * p->w, p, 0, 0, p->h * p->w);
  } else {
    conv1x1_long(X, W, B, Y, scratch, p);
  }
}

void tinyc_conv2d_rows_stream_s8(const int8_t *X, const int8_t *restrict W,
                                 const int32_t *restrict B, int8_t *Y, int8_t *restrict scratch,
                                 int32_t *restrict work, const tinyc_qconv_params *p) {
  /* output row oy needs input rows from oy - pad_top on: once row oy is computed, input
   * rows <= oy - pad_top are dead, and so is the place of output row oy - pad_top */
  const int32_t lag = p->pad_top, ring = p->pad_top + 1, K = p->c * p->kh * p->kw;
  const size_t row = (size_t)p->m * p->ow, plane = (size_t)p->oh * p->ow;
  int32_t oy, m, ox;
  TINYC_DCHECK(p->n == 1 && p->group == 1 && p->stride_h == 1 && p->oh == p->h);
  TINYC_DCHECK(p->ow == p->w);
  for (oy = 0; oy <= p->oh + lag - 1; ++oy) {
    if (oy < p->oh) {
      int8_t *slot = scratch + (size_t)(oy % ring) * row;
      if (K <= TINYC_QCONV_COLUMN) {
        conv_pixels((int8_t *)work, X, W, B, slot, (size_t)p->ow, p, 0, oy * p->ow,
                    (oy + 1) * p->ow);
      } else {
        for (m = 0; m < p->m; ++m) {
          for (ox = 0; ox < p->ow; ++ox) {
            slot[(size_t)m * p->ow + ox] = direct_output(X, W, B, p, p->c, m, oy * p->ow + ox);
          }
        }
      }
    }
    if (oy >= lag) { /* store output row oy - lag */
      const int32_t done = oy - lag;
      const int8_t *slot = scratch + (size_t)(done % ring) * row;
      for (m = 0; m < p->m; ++m) {
        memcpy(Y + (size_t)m * plane + (size_t)done * p->ow, slot + (size_t)m * p->ow,
               (size_t)p->ow);
      }
    }
  }
}

/* ---- depthwise --------------------------------------------------------------------- */

/* s[j] = base + sum over taps (ky in [ky0, ky1), all kx) of x0[row + kx + j * stride] * w,
 * j < n <= 4, where x0 points at the first pixel's window origin (row ky0 included) */
static void dw_block4(const int8_t *x0, const int8_t *wk, const tinyc_qconv_params *p,
                      int32_t ky0, int32_t ky1, int32_t base, int32_t n, int32_t s[4]) {
  int32_t ky, kx;
#if TINYC_MVE
  const mve_pred16_t pred = vctp32q((uint32_t)n);
  const uint32x4_t offs = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)p->stride_w);
  int32x4_t acc = vdupq_n_s32(base);
  for (ky = ky0; ky < ky1; ++ky) {
    const int8_t *xr = x0 + (ptrdiff_t)ky * p->dil_h * p->w;
    const int8_t *wr = wk + (size_t)ky * p->kw;
    for (kx = 0; kx < p->kw; ++kx) {
      const int8_t *xt = xr + kx * p->dil_w;
      const int32x4_t xv = p->stride_w == 1 ? vldrbq_z_s32(xt, pred)
                                            : vldrbq_gather_offset_z_s32(xt, offs, pred);
      acc = vmlaq_n_s32(acc, xv, wr[kx]);
    }
  }
  vstrwq_s32(s, acc);
#else
  int32_t j;
  for (j = 0; j < n; ++j) {
    int32_t a = base;
    for (ky = ky0; ky < ky1; ++ky) {
      const int8_t *xr = x0 + (ptrdiff_t)ky * p->dil_h * p->w + j * p->stride_w;
      for (kx = 0; kx < p->kw; ++kx) a += xr[kx * p->dil_w] * wk[ky * p->kw + kx];
    }
    s[j] = a;
  }
#endif
}

/* One channel's plane for dw_rows and dw_columns: its input plane, weights, bias and
 * requantization, and where its outputs go. */
typedef struct {
  const int8_t *x, *wk;
  int8_t *out;
  int32_t bias;
  tinyc_mve_rq rq;
} dw_chan;

/* One output plane from input plane xc and weights wk (kh x kw) into out. */
static TINYC_NOINLINE void dw_plane(const int8_t *xc, const int8_t *wk, int32_t bias,
                                    const tinyc_mve_rq *rq, int8_t *out,
                                    const tinyc_qconv_params *p) {
  const int32_t span = (p->kw - 1) * p->dil_w; /* window width - 1 */
  /* pixels whose windows lie inside the input columns: ox in [lo, hi) */
  const int32_t lo = (p->pad_left + p->stride_w - 1) / p->stride_w;
  const int32_t last = p->w - 1 - span + p->pad_left; /* largest ix0 + pad_left allowed */
  const int32_t hi0 = last < 0 ? 0 : last / p->stride_w + 1;
  const int32_t hi = hi0 < p->ow ? hi0 : p->ow;
  int32_t oy, ox, ky, kx;
  for (oy = 0; oy < p->oh; ++oy, out += p->ow) {
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    const int32_t ky0 = tinyc_window_first(iy0, p->dil_h);
    const int32_t ky1 = tinyc_window_end(iy0, p->dil_h, p->kh, p->h);
    int32_t wsum = 0;
    for (ky = ky0; ky < ky1; ++ky) {
      for (kx = 0; kx < p->kw; ++kx) wsum += wk[ky * p->kw + kx];
    }
    for (ox = 0; ox < p->ow; ++ox) {
      if (ox >= lo && ox < hi) { /* four inner pixels at a time */
        const int32_t n = hi - ox < 4 ? hi - ox : 4;
        const int8_t *x0 = xc + (ptrdiff_t)iy0 * p->w + (ox * p->stride_w - p->pad_left);
        int32_t s[4];
        dw_block4(x0, wk, p, ky0, ky1, bias + p->input_offset * wsum, n, s);
        tinyc_mve_requant4(s, n, rq, out + ox);
        ox += n - 1;
        continue;
      }
      {
        const int32_t ix0 = ox * p->stride_w - p->pad_left;
        const int32_t kx0 = tinyc_window_first(ix0, p->dil_w);
        const int32_t kx1 = tinyc_window_end(ix0, p->dil_w, p->kw, p->w);
        int32_t acc = bias;
        for (ky = ky0; ky < ky1; ++ky) {
          const int8_t *xr = xc + (ptrdiff_t)(iy0 + ky * p->dil_h) * p->w + ix0;
          for (kx = kx0; kx < kx1; ++kx) {
            acc += ((int32_t)xr[kx * p->dil_w] + p->input_offset) * wk[ky * p->kw + kx];
          }
        }
        out[ox] = tinyc_requantize_one(acc, rq->q, rq->shift, rq->zp, rq->act_min,
                                       rq->act_max);
      }
    }
  }
}

#if TINYC_MVE
/* Windows that fit a byte-gather (window_taps): one gather and one VMLADAVA.S8 per output
 * pixel, no predication in the body. The plane runs column by column, so every pixel of a
 * column has the same taps inside the input columns: its weights (taps outside switched to
 * 0, lanes past the window 0) and tap offsets (taps outside moved onto one inside, so no
 * read leaves the input) are made once per column. The rows whose windows are inside the
 * input go four at a time, requantized as one vector and scattered down the column; the
 * few edge rows take per-pixel masks. */
/* predicate bits of the window's taps in rows [ky0, ky1) and columns [kx0, kx1) */
static mve_pred16_t dw_taps(const tinyc_qconv_params *p, int32_t ky0, int32_t ky1,
                            int32_t kx0, int32_t kx1) {
  uint32_t bits = 0u, row = 0u;
  int32_t ky, kx;
  for (kx = kx0; kx < kx1; ++kx) row |= 1u << kx;
  for (ky = ky0; ky < ky1; ++ky) bits |= row << (ky * p->kw);
  return (mve_pred16_t)bits;
}

/* Output indices [lo, hi) of one axis whose windows lie inside the input (size n, window
 * span `span`, `pad` before), from `count` outputs; lo <= hi. */
static void dw_inner(int32_t n, int32_t span, int32_t pad, int32_t stride, int32_t count,
                     int32_t *lo, int32_t *hi) {
  const int32_t first = (pad + stride - 1) / stride, last = n - 1 - span + pad;
  const int32_t end = last < 0 ? 0 : last / stride + 1;
  *hi = end < count ? end : count;
  *lo = first < *hi ? first : *hi;
}

/* One window's weights and tap offsets with the taps outside `in` off: weight 0, offset
 * that of tap `inside` (a tap inside the input); the bias plus input offset term of it. */
typedef struct {
  int8x16_t w;
  uint8x16_t offs;
  int32_t base;
} dw_window;

static dw_window dw_window_of(int8x16_t w, uint8x16_t offs, mve_pred16_t in, uint32_t inside,
                              int32_t bias, int32_t input_offset) {
  dw_window d;
  /* lanes outside `in`: weight 0 and offset `inside` (merging VDUPs: no constant vector
   * is kept in a register) */
  d.w = vdupq_m_n_s8(w, 0, (mve_pred16_t)~in);
  d.offs = vdupq_m_n_u8(offs, (uint8_t)inside, (mve_pred16_t)~in);
  d.base = bias + input_offset * vaddvq_s8(d.w);
  return d;
}

/* The requantization of tinyc_mve_requant4's fast form (shift in [-31, -2]) as
 * VQDMULH by the multiplier (floor(2 s q / 2^32): q > 0, so it never saturates; one more
 * low bit than VMULH's, which a rounding shift by one more drops exactly), a rounding right
 * shift by -shift, the zero point, then the activation clamp. */
typedef struct {
  int32_t q, shift, zp, act_min, act_max;
} dw_rq;

/* the four sums in lanes 0..3 */
TINYC_INLINE int32x4_t dw_lanes(int32_t s0, int32_t s1, int32_t s2, int32_t s3) {
  return vsetq_lane_s32(s3, vsetq_lane_s32(s2, vsetq_lane_s32(s1, vdupq_n_s32(s0), 1), 2), 3);
}

/* base + v requantized (lo, hi: the activation clamp as vectors) */
TINYC_INLINE int32x4_t dw_requant(int32x4_t v, int32_t base, dw_rq r, int32x4_t lo,
                                  int32x4_t hi) {
  v = vqdmulhq_n_s32(vaddq_n_s32(v, base), r.q);
  v = vaddq_n_s32(vrshlq_n_s32(v, r.shift), r.zp);
  return vminq_s32(vmaxq_s32(v, lo), hi);
}

/* `rows` pixels down one column (windows x, x + rstep, ...; outputs o, o + ow, ...):
 * four sums at a time into one vector, requantized and scattered; the last one to three
 * with a predicated scatter */
TINYC_INLINE void dw_column(const dw_window *d, const int8_t *x, ptrdiff_t rstep,
                            int8_t *o, int32_t ow, int32_t rows, const dw_rq *rp) {
  const dw_rq r = *rp; /* in registers: the stores below may alias it */
  const int8x16_t w = d->w;
  const uint8x16_t offs = d->offs;
  const uint32x4_t steps = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)ow);
  const int32x4_t lo = vdupq_n_s32(r.act_min), hi = vdupq_n_s32(r.act_max);
  const int32_t base = d->base;
  int32_t i;
  for (i = rows; i >= 4; i -= 4, x += 4 * rstep, o += 4 * ow) {
    /* the barriers keep gcc from hoisting the gathers into more Q registers */
    const int32_t s0 = vmladavq_s8(w, vldrbq_gather_offset_s8(x, offs));
    TINYC_MVE_BARRIER();
    const int32_t s1 = vmladavq_s8(w, vldrbq_gather_offset_s8(x + rstep, offs));
    TINYC_MVE_BARRIER();
    const int32_t s2 = vmladavq_s8(w, vldrbq_gather_offset_s8(x + 2 * rstep, offs));
    TINYC_MVE_BARRIER();
    const int32_t s3 = vmladavq_s8(w, vldrbq_gather_offset_s8(x + 3 * rstep, offs));
    vstrbq_scatter_offset_s32(o, steps, dw_requant(dw_lanes(s0, s1, s2, s3), base, r, lo, hi));
  }
  if (i > 0) { /* no window past the last row is read */
    const int32_t s0 = vmladavq_s8(w, vldrbq_gather_offset_s8(x, offs));
    const int32_t s1 = i > 1 ? vmladavq_s8(w, vldrbq_gather_offset_s8(x + rstep, offs)) : 0;
    const int32_t s2 = i > 2 ? vmladavq_s8(w, vldrbq_gather_offset_s8(x + 2 * rstep, offs)) : 0;
    vstrbq_scatter_offset_p_s32(o, steps, dw_requant(dw_lanes(s0, s1, s2, 0), base, r, lo, hi),
                                vctp32q((uint32_t)i));
  }
}

/* The layer's window geometry, the same for every channel: rows [ylo, yhi) and columns
 * [lo, hi) have windows inside the input; each edge row or column (at most TINYC_DW_EDGES
 * of each) its taps inside the input and the offset of one of them. */
#define TINYC_DW_EDGES 6
typedef struct {
  uint8x16_t offs;
  mve_pred16_t all;
  int16_t ylo, yhi, lo, hi; /* 16 bits: an entry's frame holds the geometry */
  mve_pred16_t row_in[TINYC_DW_EDGES], col_in[TINYC_DW_EDGES];
  uint8_t row_inside[TINYC_DW_EDGES], col_inside[TINYC_DW_EDGES];
} dw_geometry;

/* the taps of edge index o (< lo or >= hi) on one axis: first and end tap */
static int dw_edge_taps(int32_t o, int32_t stride, int32_t pad, int32_t dil, int32_t k,
                        int32_t n, int32_t *k0, int32_t *k1) {
  const int32_t i0 = o * stride - pad;
  *k0 = tinyc_window_first(i0, dil);
  *k1 = tinyc_window_end(i0, dil, k, n);
  return *k0 < *k1;
}

/* The geometry of p's windows; 0 when they do not fit a byte-gather, some window has no
 * tap inside the input, or there are more edges than the table holds. */
static int dw_geometry_of(const tinyc_qconv_params *p, dw_geometry *g) {
  window_taps taps;
  int32_t e, o, k0, k1, lo, hi;
  window_taps_of(p, &taps);
  if (!taps.fits || p->oh > 32767 || p->ow > 32767) return 0;
  g->offs = vldrbq_u8(taps.offs);
  g->all = vctp8q((uint32_t)(p->kh * p->kw));
  dw_inner(p->h, (p->kh - 1) * p->dil_h, p->pad_top, p->stride_h, p->oh, &lo, &hi);
  g->ylo = (int16_t)lo, g->yhi = (int16_t)hi;
  dw_inner(p->w, (p->kw - 1) * p->dil_w, p->pad_left, p->stride_w, p->ow, &lo, &hi);
  g->lo = (int16_t)lo, g->hi = (int16_t)hi;
  if (g->ylo + p->oh - g->yhi > TINYC_DW_EDGES || g->lo + p->ow - g->hi > TINYC_DW_EDGES) {
    return 0;
  }
  for (o = 0, e = 0; o < p->oh; o = o + 1 == g->ylo ? g->yhi : o + 1) {
    if (o >= g->ylo && o < g->yhi) continue; /* ylo == 0: start at yhi */
    if (!dw_edge_taps(o, p->stride_h, p->pad_top, p->dil_h, p->kh, p->h, &k0, &k1)) return 0;
    g->row_in[e] = dw_taps(p, k0, k1, 0, p->kw);
    g->row_inside[e++] = (uint8_t)(k0 * p->dil_h * p->w);
  }
  for (o = 0, e = 0; o < p->ow; o = o + 1 == g->lo ? g->hi : o + 1) {
    if (o >= g->lo && o < g->hi) continue;
    if (!dw_edge_taps(o, p->stride_w, p->pad_left, p->dil_w, p->kw, p->w, &k0, &k1)) return 0;
    g->col_in[e] = dw_taps(p, 0, p->kh, k0, k1);
    g->col_inside[e++] = (uint8_t)(k0 * p->dil_w);
  }
  return 1;
}

/* One output row (x: its windows' origin at ox = 0), e its index among the geometry's
 * edge rows or -1 for an inner row (whose inner columns take `mid`): every output of the
 * row, the others each with its own taps, requantized four at a time. */
TINYC_INLINE void dw_row(const int8_t *x, int8x16_t w, const dw_window *mid, int32_t bias,
                         const tinyc_mve_rq *rq, int8_t *out, const tinyc_qconv_params *p,
                         const dw_geometry *g, int32_t e) {
  const int fast = rq->shift <= -2 && rq->shift >= -31;
  const mve_pred16_t row_in = e < 0 ? g->all : g->row_in[e];
  const uint32_t row_inside = e < 0 ? 0u : g->row_inside[e];
  int32_t ox, t = 0, n = 0, j, s[4];
  for (ox = 0; ox < p->ow; ++ox, x += p->stride_w) {
    const int edge = ox < g->lo || ox >= g->hi;
    if (e < 0 && !edge) {
      s[n++] = vmladavaq_s8(mid->base, mid->w, vldrbq_gather_offset_s8(x, mid->offs));
    } else {
      const mve_pred16_t in = (mve_pred16_t)(row_in & (edge ? g->col_in[t] : g->all));
      const uint32_t inside = row_inside + (edge ? g->col_inside[t] : 0u);
      const dw_window d = dw_window_of(w, g->offs, in, inside, bias, p->input_offset);
      s[n++] = vmladavaq_s8(d.base, d.w, vldrbq_gather_offset_s8(x, d.offs));
    }
    t += edge;
    if (n < 4 && ox + 1 < p->ow) continue;
    if (fast) {
      dw_rq r;
      r.q = rq->q, r.shift = rq->shift, r.zp = rq->zp, r.act_min = rq->act_min;
      r.act_max = rq->act_max;
      vstrbq_p_s32(out + ox + 1 - n,
                   dw_requant(vldrwq_s32(s), 0, r, vdupq_n_s32(rq->act_min),
                              vdupq_n_s32(rq->act_max)),
                   vctp32q((uint32_t)n));
    } else {
      for (j = 0; j < n; ++j) {
        out[ox + 1 - n + j] = tinyc_requantize_one(s[j], rq->q, rq->shift, rq->zp,
                                                   rq->act_min, rq->act_max);
      }
    }
    n = 0;
  }
}

/* the window (0, 0)'s origin in c's input plane */
TINYC_INLINE const int8_t *dw_origin(const dw_chan *c, const tinyc_qconv_params *p) {
  return c->x - p->pad_left - (ptrdiff_t)p->pad_top * p->w;
}

/* the window with every tap inside the input: c's weights (0 past the taps) */
TINYC_INLINE dw_window dw_mid(const dw_chan *c, const tinyc_qconv_params *p,
                              const dw_geometry *g) {
  dw_window mid;
  mid.w = vldrbq_z_s8(c->wk, g->all);
  mid.offs = g->offs, mid.base = c->bias + p->input_offset * vaddvq_s8(mid.w);
  return mid;
}

/* The rows that run as rows: every row of a plane under 4 rows (a band's), else the
 * edge rows, in the geometry table's order. */
static TINYC_NOINLINE void dw_rows(const dw_chan *c, const tinyc_qconv_params *p,
                                   const dw_geometry *g) {
  const dw_window mid = dw_mid(c, p, g);
  const ptrdiff_t rstep = (ptrdiff_t)p->stride_h * p->w;
  const int8_t *x0 = dw_origin(c, p);
  int32_t oy, e = 0;
  if (p->oh < 4) { /* a few rows (a band's one): row by row */
    for (oy = 0; oy < p->oh; ++oy) {
      dw_row(x0 + oy * rstep, mid.w, &mid, c->bias, &c->rq, c->out + (size_t)oy * p->ow, p,
             g, oy >= g->ylo && oy < g->yhi ? -1 : e++);
    }
    return;
  }
  for (oy = 0; oy < p->oh; oy = oy + 1 == g->ylo ? g->yhi : oy + 1) {
    if (oy >= g->ylo && oy < g->yhi) continue; /* the edge rows, in the table's order */
    dw_row(x0 + oy * rstep, mid.w, &mid, c->bias, &c->rq, c->out + (size_t)oy * p->ow, p, g,
           e++);
  }
}

/* The inner rows of a plane of at least 4 rows, column by column (dw_column); each
 * column's window is loaded anew (no vector is live across columns). */
static TINYC_NOINLINE void dw_columns(const dw_chan *c, const tinyc_qconv_params *p,
                                      const dw_geometry *g) {
  const tinyc_mve_rq *rq = &c->rq;
  const ptrdiff_t rstep = (ptrdiff_t)p->stride_h * p->w;
  const int fast = rq->shift <= -2 && rq->shift >= -31;
  const int8_t *x0 = dw_origin(c, p) + g->ylo * rstep;
  int8_t *out = c->out + (size_t)g->ylo * p->ow;
  dw_rq r;
  int32_t ox, oy, t = 0;
  r.q = rq->q, r.shift = rq->shift, r.zp = rq->zp, r.act_min = rq->act_min;
  r.act_max = rq->act_max;
  for (ox = 0; ox < p->ow; ++ox) {
    const int edge = ox < g->lo || ox >= g->hi;
    const int8_t *x = x0 + ox * p->stride_w;
    int8_t *o = out + ox;
    dw_window d = dw_mid(c, p, g);
    if (edge) {
      d = dw_window_of(d.w, g->offs, g->col_in[t], g->col_inside[t], c->bias, p->input_offset);
    }
    t += edge;
    if (fast) {
      dw_column(&d, x, rstep, o, p->ow, g->yhi - g->ylo, &r);
    } else {
      for (oy = g->ylo; oy < g->yhi; ++oy, x += rstep, o += p->ow) {
        *o = tinyc_requantize_one(vmladavaq_s8(d.base, d.w, vldrbq_gather_offset_s8(x, d.offs)),
                                  rq->q, rq->shift, rq->zp, rq->act_min, rq->act_max);
      }
    }
  }
}
#endif

#if TINYC_MVE
typedef dw_geometry dw_layer;
#else
typedef int dw_layer; /* the plain C form needs no geometry */
#endif

/* p's geometry into g; whether the gather path takes the layer */
static int dw_layer_of(const tinyc_qconv_params *p, dw_layer *g) {
#if TINYC_MVE
  return dw_geometry_of(p, g);
#else
  (void)p, (void)g;
  return 0;
#endif
}

/* dw_plane for channel c (two arguments: the entries' frames hold no outgoing ones) */
static TINYC_NOINLINE void dw_plane_of(const dw_chan *c, const tinyc_qconv_params *p) {
  dw_plane(c->x, c->wk, c->bias, &c->rq, c->out, p);
}

/* Output plane m from its input plane xc into out: windows that fit a byte-gather by
 * rows and columns (dw_rows, dw_columns), others by dw_plane. */
TINYC_INLINE void dw_channel(const int8_t *xc, const int8_t *W, const int32_t *B, int32_t m,
                             int8_t *out, const tinyc_qconv_params *p, const dw_layer *g) {
  dw_chan c;
  c.x = xc, c.wk = W + (size_t)m * p->kh * p->kw, c.out = out, c.bias = B ? B[m] : 0;
  /* field by field: a returned struct would take a second copy on the entry's stack */
  c.rq.q = p->multiplier[m], c.rq.shift = p->shift[m], c.rq.zp = p->output_offset;
  c.rq.act_min = p->act_min, c.rq.act_max = p->act_max;
#if TINYC_MVE
  if (g) {
    dw_rows(&c, p, g);
    if (p->oh >= 4) dw_columns(&c, p, g);
    return;
  }
#else
  (void)g;
#endif
  dw_plane_of(&c, p);
}

TINYC_MVE_NO_SLP
void tinyc_depthwise_conv2d_s8(const int8_t *restrict X, const int8_t *restrict W,
                               const int32_t *restrict B, int8_t *restrict Y,
                               int32_t *restrict work, const tinyc_qconv_params *p) {
  const int32_t mult_per_channel = p->m / p->c;
  const size_t in_plane = (size_t)p->h * p->w, out_plane = (size_t)p->oh * p->ow;
  dw_layer g;
  const dw_layer *gp = dw_layer_of(p, &g) ? &g : NULL;
  int32_t n, m;
  (void)work;
  for (n = 0; n < p->n; ++n) {
    for (m = 0; m < p->m; ++m) {
      dw_channel(X + ((size_t)n * p->c + m / mult_per_channel) * in_plane, W, B, m,
                 Y + ((size_t)n * p->m + m) * out_plane, p, gp);
    }
  }
}

TINYC_MVE_NO_SLP
void tinyc_dwconv2d_stream_s8(const int8_t *X, const int8_t *restrict W,
                              const int32_t *restrict B, int8_t *Y, int8_t *restrict scratch,
                              int32_t *restrict work, const tinyc_qconv_params *p) {
  const size_t in_plane = (size_t)p->h * p->w, out_plane = (size_t)p->oh * p->ow;
  dw_layer g;
  const dw_layer *gp = dw_layer_of(p, &g) ? &g : NULL;
  int32_t n, k;
  (void)work;
  TINYC_DCHECK(p->group == p->c && p->m == p->c);
  for (n = 0; n < p->n; ++n) {
    for (k = 0; k < p->c; ++k) {
      const size_t plane = (size_t)n * p->c + k;
      dw_channel(X + plane * in_plane, W, B, k, scratch, p, gp);
      /* input channel k is no longer needed: its bytes (and those below) may be written */
      tinyc_mve_copy(Y + plane * out_plane, scratch, (int32_t)out_plane);
    }
  }
}
