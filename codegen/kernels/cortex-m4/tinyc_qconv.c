/* int8 2-D convolution (NCHW) with the DSP extension's SIMD multiply-accumulate, for the
 * Cortex-M4/M7/M33. Same contract and bit-exact results as the portable kernels
 * (tinyc_qconv.h; integer sums do not depend on their order).
 *
 * Scratch lives in the node's arena workspace (`work`, sized by tinyc/ops/qwork.py, which
 * mirrors the choices below), never on the stack.
 *
 * Dense and grouped convolution: pixel pairs' input windows are first gathered into a
 * column buffer (the workspace) as int16 with the input offset added (padding becomes 0, so
 * the inner loop has no bounds and no offset to add), in the halfword order of SXTB16
 * (tinyc_dsp.h); the column costs a few instructions per element, shared by every output
 * channel (3-tap rows at stride 1 or, inside, 2, 1x1 windows at stride 1 or 2, and 4-tap
 * rows are gathered and widened in one pass: gather3_widened, gather3s2_widened,
 * gather1_widened, gather1x4_widened (two pairs of contiguous pointwise pixels),
 * gather1s2_widened, gather4_widened; the 3-tap words are SXTAB16
 * rotations of row words or of PKHs of two rows). Then, in the short requantization form, two output
 * channels run over two pixels at a time (mac2x2: per 4 reduction steps one LDM of the
 * pair's four column words, two weight loads, four sign extensions and eight SMLADs; 6
 * words read per 16 MACs) and the four sums are requantized straight from registers
 * (channels_short; with gcc the whole tile is one assembly run, tile2x2_short); other
 * channels take one channel over four pixels (mac1x4, one weight
 * word against two LDMs) or, for a single pixel pair (long reductions), mac2x2 with the
 * row requantizer (channels_rest). A dense layer whose channels all take the short form
 * (K % 4 == 0) comes with compile-time packed records instead (tinyc_qconv_params.packed:
 * weights already int16, requantization constants ready): its tiles sign-extend nothing
 * and one assembly run takes every channel pair of a column (channels_packed:
 * packed_pairs, 17 estimated cycles per 16 MACs; wide layers, triples_of, run pixel
 * triples, two channels x three pixels, packed_triples, 24 per 24 MACs, a triple being two
 * of the column's pair blocks, so the gathers are the same). Reductions longer than
 * TINYC_QCONV_COLUMN (cg * kh * kw) take the plain loop.
 *
 * Depthwise convolution: small 3x3 planes are copied once with their padding; at stride 1
 * with rows of at most 8 padded bytes they are walked down one output column at a time,
 * requantized in the same loop (dw3_walk_*: each row word serves three outputs), else
 * computed two outputs at a time along the rows (dw3_small_row*);
 * larger 3x3 planes keep a ring of three padded rows (dw3_plane); other windows take the
 * plain loop (dw_plane). */
#include "tinyc_qconv.h"

#include <string.h>

#include "tinyc_dsp.h"

/* The column holds one word (two pixels' int16) per reduction step (cg * kh * kw) and
 * pixel pair: min(TINYC_QCONV_COLUMN / K, TINYC_QCONV_PAIRS) pairs (K * pairs words,
 * at most 2.3 KiB); longer reductions take the plain loop and no column. */
#define TINYC_QCONV_COLUMN 576
/* Pixel pairs gathered at once when the reduction is short (each output channel's
 * requantization and weight pointers are then set up once per 2 * PAIRS outputs). */
#define TINYC_QCONV_PAIRS 4
/* 0 under the model switch TINYC_QCONV_SHORT_ONLY (tinyc_rt.h: every dense layer is one
 * image in one group, K <= TINYC_QCONV_COLUMN, every channel in the short form): the
 * dispatch below then never takes the other paths, and the compiler leaves them (and
 * their frames) out */
#ifdef TINYC_QCONV_SHORT_ONLY
#define TINYC_QCONV_GENERAL 0
#else
#define TINYC_QCONV_GENERAL 1
#endif
/* Whether the layer has packed records (tinyc_qconv_params.packed): always under the
 * model switch TINYC_QCONV_PACKED_ONLY (every dense layer has them), which leaves the int8
 * tiles of the short form out, and their frames */
#ifdef TINYC_QCONV_PACKED_ONLY
#define TINYC_QCONV_PACKED(p) 1
#else
#define TINYC_QCONV_PACKED(p) ((p)->packed != NULL)
#endif

/* ---- the column: two output pixels' windows as int16 (x + input_offset), 0 outside ----- */

/* Where one output pixel's window lies in the input: its first row and column, and the
 * range of taps inside. */
typedef struct {
  int32_t iy0, ix0, ky0, ky1, kx0, kx1;
} window;

/* tinyc_window_first and _end without their divisions at unit dilation (the common case) */
TINYC_INLINE int32_t axis_first(int32_t start, int32_t dil) {
  if (start >= 0) return 0;
  return dil == 1 ? -start : tinyc_window_first(start, dil);
}

TINYC_INLINE int32_t axis_end(int32_t start, int32_t dil, int32_t kmax, int32_t size) {
  int32_t e;
  if (dil != 1) return tinyc_window_end(start, dil, kmax, size);
  if (start >= size) return 0;
  e = size - start;
  return e < kmax ? e : kmax;
}

/* The window of output pixel (oy, ox). */
TINYC_INLINE window window_at(const tinyc_qconv_params *p, int32_t oy, int32_t ox) {
  window v;
  v.iy0 = oy * p->stride_h - p->pad_top;
  v.ix0 = ox * p->stride_w - p->pad_left;
  v.ky0 = axis_first(v.iy0, p->dil_h);
  v.ky1 = axis_end(v.iy0, p->dil_h, p->kh, p->h);
  v.kx0 = axis_first(v.ix0, p->dil_w);
  v.kx1 = axis_end(v.ix0, p->dil_w, p->kw, p->w);
  return v;
}

/* axis_first / axis_end at unit dilation without branches (conditional moves): the pixel
 * pairs' windows cost a few cycles each */
TINYC_INLINE int32_t at_least0(int32_t v) { return v < 0 ? 0 : v; }

TINYC_INLINE int32_t axis_end1(int32_t start, int32_t kmax, int32_t size) {
  const int32_t e = size - start;
  return at_least0(e < kmax ? e : kmax);
}

/* The window of the pixel right of v's, on the same output row: only the columns change. */
TINYC_INLINE window window_right(const window *v, const tinyc_qconv_params *p) {
  window r = *v;
  r.ix0 = v->ix0 + p->stride_w;
  r.kx0 = axis_first(r.ix0, p->dil_w);
  r.kx1 = axis_end(r.ix0, p->dil_w, p->kw, p->w);
  return r;
}

TINYC_INLINE int full(const window *v, const tinyc_qconv_params *p) {
  return v->ky0 == 0 && v->ky1 == p->kh && v->kx0 == 0 && v->kx1 == p->kw;
}

/* Pass 1: col[k] = the raw input bytes of reduction step k = (c, ky, kx) for pixel a (bits
 * 0..7) and pixel b (bits 8..15). A tap outside the input reads the input zero point,
 * which is 0 once the input offset is added. With `one`, pixel b is absent. */
static void gather(const int8_t *xg, const tinyc_qconv_params *p, int32_t cg, const window *a,
                   const window *b, int one, int32_t *restrict col) {
  const uint32_t zx = (uint32_t)(uint8_t)(int8_t)-p->input_offset; /* the zero point */
  const int32_t dw = p->dil_w, kw = p->kw, xrow = p->dil_h * p->w;
  const size_t plane = (size_t)p->h * p->w;
  int32_t c, ky, kx;
  if (!one && full(a, p) && full(b, p)) { /* the common case: nothing to clip */
    const int8_t *ra = xg + (size_t)a->iy0 * p->w + a->ix0;
    const int8_t *rb = xg + (size_t)b->iy0 * p->w + b->ix0;
    const int32_t next = (int32_t)plane - p->kh * xrow;
    if (rb == ra + 1 && p->kh == 1 && kw == 1) { /* pointwise, neighbours: one halfword */
      for (c = cg; c > 0; --c, ra += plane) *col++ = (int32_t)tinyc_load2(ra);
      return;
    }
    if (rb == ra + 1) { /* neighbours on a row, stride 1: one halfword holds both bytes */
      for (c = cg; c > 0; --c, ra += next) {
        for (ky = p->kh; ky > 0; --ky, ra += xrow) {
          if (kw == 3 && dw == 1) {
            col[0] = (int32_t)tinyc_load2(ra);
            col[1] = (int32_t)tinyc_load2(ra + 1);
            col[2] = (int32_t)tinyc_load2(ra + 2);
            col += 3;
          } else {
            const int8_t *xa = ra;
            for (kx = kw; kx > 0; --kx, xa += dw) *col++ = (int32_t)tinyc_load2(xa);
          }
        }
      }
      return;
    }
    if (p->kh == 1 && kw == 1) { /* 1x1 windows apart (ResNet's stride-2 shortcuts) */
      for (c = cg; c > 0; --c, ra += plane, rb += plane) {
        *col++ = (int32_t)((uint32_t)(uint8_t)*ra | ((uint32_t)(uint8_t)*rb << 8));
      }
      return;
    }
    if (rb == ra + 2 && kw == 3 && dw == 1) { /* stride 2, 3 taps: two words a row */
      for (c = cg; c > 0; --c, ra += next) {
        for (ky = p->kh; ky > 0; --ky, ra += xrow) {
          /* x0 x1 x2 x3 and x1 x2 x3 x4 (pixel b's taps are x2 x3 x4; no byte read
           * outside the two windows); v = x0 x2 x2 x4 holds steps 0 and 2 */
          const uint32_t lo = (uint32_t)tinyc_load4(ra), hi = (uint32_t)tinyc_load4(ra + 1);
          const uint32_t v = (lo & 0x00FF00FFu) | (hi & 0xFF00FF00u);
          col[0] = (int32_t)(v & 0xFFFFu);
          col[1] = (int32_t)(((lo >> 8) & 0xFFu) | ((hi >> 8) & 0xFF00u));
          col[2] = (int32_t)(v >> 16);
          col += 3;
        }
      }
      return;
    }
    for (c = cg; c > 0; --c, ra += next, rb += next) {
      for (ky = p->kh; ky > 0; --ky, ra += xrow, rb += xrow) {
        const int8_t *xa = ra, *xb = rb;
        for (kx = kw; kx > 0; --kx, xa += dw, xb += dw) {
          *col++ = (int32_t)((uint32_t)(uint8_t)*xa | ((uint32_t)(uint8_t)*xb << 8));
        }
      }
    }
    return;
  }
  { /* clipped windows: pixel a fills every step, pixel b adds its byte */
    /* kx0 may pass kw (a window wholly in a pad wider than the kernel) */
    const int32_t ax0 = a->kx0 < kw ? a->kx0 : kw, ax1 = a->kx1;
    int32_t *out = col;
    for (c = 0; c < cg; ++c) {
      const int8_t *xc = xg + (size_t)c * plane;
      for (ky = 0; ky < p->kh; ++ky) {
        if (ky < a->ky0 || ky >= a->ky1) {
          for (kx = kw; kx > 0; --kx) *out++ = (int32_t)zx;
        } else {
          const int8_t *xr = xc + (size_t)(a->iy0 + ky * p->dil_h) * p->w + a->ix0;
          for (kx = 0; kx < ax0; ++kx) *out++ = (int32_t)zx;
          for (; kx < ax1; ++kx) *out++ = (int32_t)(uint32_t)(uint8_t)xr[kx * dw];
          for (; kx < kw; ++kx) *out++ = (int32_t)zx;
        }
      }
    }
  }
  if (one) return;
  for (c = 0; c < cg; ++c) {
    const int8_t *xc = xg + (size_t)c * plane;
    int32_t *out = col + (size_t)c * p->kh * kw;
    for (ky = 0; ky < p->kh; ++ky, out += kw) {
      const int inside = ky >= b->ky0 && ky < b->ky1;
      const int8_t *xr = xc + (size_t)(inside ? b->iy0 + ky * p->dil_h : 0) * p->w + b->ix0;
      for (kx = 0; kx < kw; ++kx) {
        const uint32_t v = inside && kx >= b->kx0 && kx < b->kx1 ? (uint8_t)xr[kx * dw] : zx;
        out[kx] = (int32_t)((uint32_t)out[kx] | (v << 8));
      }
    }
  }
}

/* Pass 2, in place: the raw byte pairs become, per 4 steps, the int16 words (input offset
 * added) p0(k, k+2), p0(k+1, k+3), p1(k, k+2), p1(k+1, k+3) -- the halfword order of
 * SXTB16 applied to 4 weights. The K % 4 last steps become (p0, p1) pairs. */
static void widen(int32_t *restrict col, int32_t K, int32_t off) {
  const int32_t off2 = tinyc_pack16(off, off);
  int32_t q;
  for (q = K >> 2; q > 0; --q, col += 4) {
    /* bytes p0(k), p1(k), p0(k+2), p1(k+2) and the same for k+1, k+3 */
    const int32_t t0 = (int32_t)((uint32_t)col[0] | ((uint32_t)col[2] << 16));
    const int32_t t1 = (int32_t)((uint32_t)col[1] | ((uint32_t)col[3] << 16));
    col[0] = tinyc_sxtab16(off2, t0);
    col[1] = tinyc_sxtab16(off2, t1);
    col[2] = tinyc_sxtab16_hi(off2, t0);
    col[3] = tinyc_sxtab16_hi(off2, t1);
  }
  for (q = K & 3; q > 0; --q, ++col) {
    const uint32_t e = (uint32_t)*col; /* bytes p0, p1 -> bytes 0 and 2 */
    *col = tinyc_sxtab16(off2, (int32_t)(e | (e << 8)));
  }
}

/* SXTAB16 with rotations 16 and 24 as assembly (<arm_acle.h> has no form with a rotation)
 * under the kernels' usual guard; the C form otherwise. */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__thumb2__) && \
    defined(__OPTIMIZE__) && !defined(TINYC_NO_DSP_ASM) && defined(__GNUC__)
#define TINYC_GATHER_ASM 1
#else
#define TINYC_GATHER_ASM 0
#endif

/* Column words straight from row words: off2 + the sign-extended bytes (r, r + 2) of x,
 * r = the rotation (SXTAB16's built-in ROR: bytes 0/2, 1/3, 2/0 or 3/1), and the
 * halfword packs PKHBT x, y, LSL #24 (bytes x0 x1 0 y0) and PKHTB x, y, ASR #8 (bytes
 * y1 y2 x2 x3). */
#if TINYC_GATHER_ASM
#define TINYC_GATHER_SX(name, rot)                                             \
  TINYC_INLINE int32_t name(int32_t off2, uint32_t x) {                        \
    int32_t r;                                                                 \
    __asm__("sxtab16 %0, %1, %2, ror #" #rot : "=r"(r) : "r"(off2), "r"(x));   \
    return r;                                                                  \
  }
#else
#define TINYC_GATHER_SX(name, rot)                                             \
  TINYC_INLINE int32_t name(int32_t off2, uint32_t x) {                        \
    return tinyc_sxtab16(off2, (int32_t)((x >> (rot)) | (x << ((32 - (rot)) & 31)))); \
  }
#endif
TINYC_GATHER_SX(sx_r8, 8)
TINYC_GATHER_SX(sx_r16, 16)
TINYC_GATHER_SX(sx_r24, 24)
#undef TINYC_GATHER_SX

TINYC_INLINE int32_t sx_r0(int32_t off2, uint32_t x) { return tinyc_sxtab16(off2, (int32_t)x); }

#if TINYC_GATHER_ASM
TINYC_INLINE uint32_t pkhbt24(uint32_t x, uint32_t y) {
  uint32_t r;
  __asm__("pkhbt %0, %1, %2, lsl #24" : "=r"(r) : "r"(x), "r"(y));
  return r;
}

TINYC_INLINE uint32_t pkhtb8(uint32_t x, uint32_t y) {
  uint32_t r;
  __asm__("pkhtb %0, %1, %2, asr #8" : "=r"(r) : "r"(x), "r"(y));
  return r;
}
#else
TINYC_INLINE uint32_t pkhbt24(uint32_t x, uint32_t y) { return (x & 0xFFFFu) | (y << 24); }

TINYC_INLINE uint32_t pkhtb8(uint32_t x, uint32_t y) {
  return (x & 0xFFFF0000u) | ((y >> 8) & 0xFFFFu);
}
#endif

/* PKHBT x, y, LSL #16 (the low halves of x and y) and PKHTB x, y, ASR #16 (the high
 * halves of y and x) */
TINYC_INLINE uint32_t pkhbt16(uint32_t x, uint32_t y) { return (x & 0xFFFFu) | (y << 16); }

TINYC_INLINE uint32_t pkhtb16(uint32_t x, uint32_t y) { return (x & 0xFFFF0000u) | (y >> 16); }

/* x rotated right by r (0..31): ROR */
TINYC_INLINE uint32_t ror32(uint32_t x, uint32_t r) { return (x >> r) | (x << ((32 - r) & 31)); }

/* Each group's column words stored before the next row is read: gcc otherwise keeps
 * twelve results live for paired stores and spills them. */
#if defined(__GNUC__)
#define TINYC_STORES_NOW() __asm__ volatile("" ::: "memory")
#else
#define TINYC_STORES_NOW() ((void)0)
#endif

/* The column words of 12 steps (four window rows of 3 taps) of a pixel pair, from the
 * rows' words: pixel a's taps are bytes 0..2 of la..ld, pixel b's bytes 1..3 of ha..hd
 * (at stride 1 the same words). Per 4 steps the words are p0(k, k+2), p0(k+1, k+3),
 * p1(k, k+2), p1(k+1, k+3); pixel a's steps are (la0 la1 la2 lb0), (lb1 lb2 lc0 lc1),
 * (lc2 ld0 ld1 ld2), and each word is an SXTAB16 rotation of a row word or of one PKH of
 * two rows. */
TINYC_INLINE void gather3_group1(int32_t *col, int32_t off2, uint32_t la, uint32_t lb,
                                 uint32_t ha, uint32_t hb) {
  col[0] = sx_r0(off2, la);
  col[1] = sx_r8(off2, pkhbt24(la, lb));
  col[2] = sx_r8(off2, ha);
  col[3] = sx_r16(off2, pkhtb8(ha, hb));
}

TINYC_INLINE void gather3_group2(int32_t *col, int32_t off2, uint32_t lb, uint32_t lc,
                                 uint32_t hb, uint32_t hc) {
  const uint32_t zh = pkhtb8(hb, hc);
  col[0] = sx_r8(off2, pkhbt24(lb, lc));
  col[1] = sx_r16(off2, pkhtb8(lb, lc)); /* = col[2] at stride 1 */
  TINYC_STORES_NOW(); /* two STRs, not an STRD (3 cycles) */
  col[2] = sx_r16(off2, zh);
  col[3] = sx_r24(off2, zh);
}

TINYC_INLINE void gather3_group3(int32_t *col, int32_t off2, uint32_t lc, uint32_t ld,
                                 uint32_t hc, uint32_t hd) {
  col[0] = sx_r16(off2, pkhtb8(lc, ld));
  col[1] = sx_r0(off2, ld);
  col[2] = sx_r24(off2, pkhtb8(hc, hd));
  col[3] = sx_r8(off2, hd);
}

/* gather and widen in one pass for the commonest windows: 3 taps a row (unit dilation),
 * pixel b one byte right of pixel a (stride 1), at most one column of either outside the
 * input (padding 1 at a left or right edge; rows may be outside too). One word of a row
 * holds both pixels' three taps (bytes 0..2: pixel a's, 1..3: pixel b's; at an edge the
 * word is read one byte over and the outside byte set to the zero point, a row outside
 * is all zero point); four rows (12 steps, three groups of 4) are repacked into the word
 * pairs widen expects with shifts and masks, so each input byte is loaded once per pixel
 * pair and nothing is stored twice. The result equals gather then widen. */
typedef struct {
  const int8_t *xg;
  int32_t base;        /* offset of pixel a's first tap in channel c's window row 0 */
  int32_t ky, kh;      /* the next row of the window, of kh */
  int32_t ky0, ky1;    /* rows inside the input */
  int32_t xrow, plane; /* bytes between window rows; between channels */
  int32_t edge;        /* -1: pixel a's first column is outside, 1: b's last, 0: neither */
  uint32_t zp;         /* the zero point byte */
} gather3_rows;

TINYC_INLINE uint32_t gather3_row(gather3_rows *g) {
  uint32_t v = g->zp * 0x01010101u;
  if (g->ky >= g->ky0 && g->ky < g->ky1) {
    const int32_t o = g->base + g->ky * g->xrow;
    if (g->edge == 0) {
      v = (uint32_t)tinyc_load4(g->xg + o);
    } else if (g->edge < 0) {
      v = ((uint32_t)tinyc_load4(g->xg + o + 1) << 8) | g->zp;
    } else {
      v = ((uint32_t)tinyc_load4(g->xg + o - 1) >> 8) | (g->zp << 24);
    }
  }
  if (++g->ky == g->kh) {
    g->ky = 0;
    g->base += g->plane;
  }
  return v;
}

TINYC_INLINE void gather3_widened(const int8_t *xg, const tinyc_qconv_params *p, int32_t cg,
                            const window *a, int32_t *restrict col) {
  const int32_t off2 = tinyc_pack16(p->input_offset, p->input_offset);
  gather3_rows g;
  uint32_t wa, wb, wc, wd;
  int32_t q;
  g.xg = xg;
  g.base = a->iy0 * p->w + a->ix0;
  g.ky = 0;
  g.kh = p->kh;
  g.ky0 = a->ky0;
  g.ky1 = a->ky1;
  g.xrow = p->dil_h * p->w;
  g.plane = p->h * p->w;
  g.edge = a->ix0 < 0 ? -1 : a->ix0 + 3 == p->w ? 1 : 0;
  g.zp = (uint8_t)(int8_t)-p->input_offset;
/* a last step alone: bytes pixel a, pixel b -> bytes 0 and 2 (as widen) */
#define TINYC_GATHER3_TAIL(col, h) \
  ((col) = tinyc_sxtab16(off2, (int32_t)(((h) & 0xFFFFu) | (((h) & 0xFFFFu) << 8))))
  /* a tap's halfword (pixel a, pixel b) is bytes kx, kx + 1 of its row word: the groups
   * above with the same words for both pixels */
#define TINYC_GATHER3_A(col, x, y) gather3_group1(col, off2, x, y, x, y)
#define TINYC_GATHER3_B(col, x, y) gather3_group2(col, off2, x, y, x, y)
#define TINYC_GATHER3_C(col, x, y) gather3_group3(col, off2, x, y, x, y)
#define TINYC_GATHER3_FOUR(col)           \
  do {                                    \
    TINYC_GATHER3_A(col, wa, wb);         \
    TINYC_GATHER3_B((col) + 4, wb, wc);   \
    TINYC_GATHER3_C((col) + 8, wc, wd);   \
  } while (0)
  q = cg * p->kh;
  if (g.kh == 3 && q >= 12 && g.ky1 - g.ky0 >= 2 && (g.edge == 0) != (g.ky1 - g.ky0 == 3)) {
    /* the other common pairs of 3x3 windows, in rounds of four channels at fixed steps
     * as the wholly inside pairs below: at a left or right edge with every row inside (at
     * the first or last column of a row), or inside with the top or bottom row outside (a
     * band's first or last output row; a row outside is the zero point word). The corners
     * take gather3_row. Measured on ResNet-8: the edge pairs' 4 rows took 71-75 est.
     * cycles here (the loop below with its row count), the top and bottom pairs' about 120
     * (gather3_row). */
    const int32_t xrow = g.xrow, plane = g.plane, next = plane - 2 * xrow;
    const int8_t *r = xg + (g.base + g.ky0 * xrow);
    const uint32_t zp = g.zp, zp_hi = g.zp << 24, zp4 = g.zp * 0x01010101u;
/* a row word: loaded (then r steps on to the next row inside) or the zero point */
#define TINYC_GATHER3_LD(w, LOAD, step) ((w) = (LOAD), r += (step))
#define TINYC_GATHER3_ZP(w, LOAD, step) ((w) = zp4)
#define TINYC_GATHER3_THIRD(col, LOAD, KA, SA, KB, SB, KC, SC, KD, SD) \
  do {                                                                 \
    KA(wa, LOAD, SA);                                                  \
    KB(wb, LOAD, SB);                                                  \
    TINYC_GATHER3_A(col, wa, wb);                                      \
    TINYC_STORES_NOW();                                                \
    KC(wc, LOAD, SC);                                                  \
    TINYC_GATHER3_B((col) + 4, wb, wc);                                \
    TINYC_STORES_NOW();                                                \
    KD(wd, LOAD, SD);                                                  \
    TINYC_GATHER3_C((col) + 8, wc, wd);                                \
    TINYC_STORES_NOW();                                                \
  } while (0)
/* rows 0, 1, 2 of a window by K0, K1, K2 (each with its step to the next row read) */
#define TINYC_GATHER3_ROUNDS(LOAD, K0, S0, K1, S1, K2, S2)                   \
  for (; q >= 12; q -= 12, col += 36) {                                      \
    TINYC_GATHER3_THIRD(col, LOAD, K0, S0, K1, S1, K2, S2, K0, S0);          \
    TINYC_GATHER3_THIRD(col + 12, LOAD, K1, S1, K2, S2, K0, S0, K1, S1);     \
    TINYC_GATHER3_THIRD(col + 24, LOAD, K2, S2, K0, S0, K1, S1, K2, S2);     \
  }
    if (g.ky0 == 1) {
      TINYC_GATHER3_ROUNDS((uint32_t)tinyc_load4(r), TINYC_GATHER3_ZP, 0, TINYC_GATHER3_LD,
                           xrow, TINYC_GATHER3_LD, plane - xrow)
    } else if (g.ky1 == 2) {
      TINYC_GATHER3_ROUNDS((uint32_t)tinyc_load4(r), TINYC_GATHER3_LD, xrow, TINYC_GATHER3_LD,
                           plane - xrow, TINYC_GATHER3_ZP, 0)
    } else if (g.edge < 0) {
      TINYC_GATHER3_ROUNDS(((uint32_t)tinyc_load4(r + 1) << 8) | zp, TINYC_GATHER3_LD, xrow,
                           TINYC_GATHER3_LD, xrow, TINYC_GATHER3_LD, next)
    } else {
      TINYC_GATHER3_ROUNDS(((uint32_t)tinyc_load4(r - 1) >> 8) | zp_hi, TINYC_GATHER3_LD, xrow,
                           TINYC_GATHER3_LD, xrow, TINYC_GATHER3_LD, next)
    }
#undef TINYC_GATHER3_ROUNDS
#undef TINYC_GATHER3_THIRD
#undef TINYC_GATHER3_ZP
#undef TINYC_GATHER3_LD
    if (q == 0) return;
    g.base = (int32_t)(r - xg) - g.ky0 * xrow; /* the rest from a channel's first row */
  }
  if (g.kh == 3 && g.ky0 == 0 && g.ky1 == 3 && g.edge == 0 && q >= 4) {
    /* the window wholly inside: four channels' twelve rows a round at fixed offsets,
     * without gather3_row's tests (ResNet-8's 3x3 convs: most pixel pairs) */
    /* r walks the rows: down a channel's window by xrow, to the next channel by next */
    const int32_t xrow = g.xrow, next = g.plane - 2 * g.xrow;
    const int8_t *r = xg + g.base;
#define TINYC_GATHER3_AT(w, step) (w = (uint32_t)tinyc_load4(r), r += (step))
    /* each group stored before the next row is read (TINYC_STORES_NOW), so few words
     * are live at once */
#define TINYC_GATHER3_FOUR_AT(col, s0, s1, s2, s3) \
  do {                                            \
    TINYC_GATHER3_AT(wa, s0);                     \
    TINYC_GATHER3_AT(wb, s1);                     \
    TINYC_GATHER3_A(col, wa, wb);                 \
    TINYC_STORES_NOW();                           \
    TINYC_GATHER3_AT(wc, s2);                     \
    TINYC_GATHER3_B((col) + 4, wb, wc);           \
    TINYC_STORES_NOW();                           \
    TINYC_GATHER3_AT(wd, s3);                     \
    TINYC_GATHER3_C((col) + 8, wc, wd);           \
    TINYC_STORES_NOW();                           \
  } while (0)
    for (; q >= 12; q -= 12, col += 36) {
      TINYC_GATHER3_FOUR_AT(col, xrow, xrow, next, xrow);
      TINYC_GATHER3_FOUR_AT(col + 12, xrow, next, xrow, xrow);
      TINYC_GATHER3_FOUR_AT(col + 24, next, xrow, xrow, next);
    }
    if (q >= 4) { /* the first 4 or 8 rows of a round (the stem's 3 channels: 9 rows) */
      TINYC_GATHER3_FOUR_AT(col, xrow, xrow, next, xrow);
      q -= 4;
      col += 12;
      g.ky = 1;
      if (q >= 4) {
        TINYC_GATHER3_FOUR_AT(col, xrow, next, xrow, xrow);
        q -= 4;
        col += 12;
        g.ky = 2;
      }
    }
#undef TINYC_GATHER3_FOUR_AT
#undef TINYC_GATHER3_AT
    g.base = (int32_t)(r - xg) - g.ky * xrow;
  }
  if (g.ky0 == 0 && g.ky1 == g.kh && q >= 4) {
    /* no row outside: each row one load (at an edge, one byte over, from inside, and the
     * outside byte set to the zero point), the next row's address one add (plus the step
     * to the next channel after kh rows) */
    const int8_t *r = xg + g.base;
    const int32_t xrow = g.xrow, skip = g.plane - g.kh * g.xrow, kh = g.kh;
    const uint32_t zp = g.zp, zp_hi = g.zp << 24;
    int32_t ky = kh;
#define TINYC_GATHER3_NEXT(v, LOAD) \
  do {                              \
    (v) = (LOAD);                   \
    r += xrow;                      \
    if (--ky == 0) {                \
      ky = kh;                      \
      r += skip;                    \
    }                               \
  } while (0)
#define TINYC_GATHER3_ROWS(LOAD)                                               \
  for (; q >= 4; q -= 4, col += 12) {                                          \
    TINYC_GATHER3_NEXT(wa, LOAD);                                              \
    TINYC_GATHER3_NEXT(wb, LOAD);                                              \
    TINYC_GATHER3_A(col, wa, wb);                                              \
    TINYC_STORES_NOW();                                                        \
    TINYC_GATHER3_NEXT(wc, LOAD);                                              \
    TINYC_GATHER3_B(col + 4, wb, wc);                                          \
    TINYC_STORES_NOW();                                                        \
    TINYC_GATHER3_NEXT(wd, LOAD);                                              \
    TINYC_GATHER3_C(col + 8, wc, wd);                                          \
  }
    if (g.edge == 0) {
      TINYC_GATHER3_ROWS((uint32_t)tinyc_load4(r))
    } else if (g.edge < 0) {
      TINYC_GATHER3_ROWS(((uint32_t)tinyc_load4(r + 1) << 8) | zp)
    } else {
      TINYC_GATHER3_ROWS(((uint32_t)tinyc_load4(r - 1) >> 8) | zp_hi)
    }
#undef TINYC_GATHER3_ROWS
#undef TINYC_GATHER3_NEXT
    if (q == 0) return;
    g.ky = kh - ky; /* the rest from the next row on */
    g.base = (int32_t)(r - xg) - g.ky * xrow;
  }
  for (; q >= 4; q -= 4, col += 12) {
    wa = gather3_row(&g);
    wb = gather3_row(&g);
    wc = gather3_row(&g);
    wd = gather3_row(&g);
    TINYC_GATHER3_FOUR(col);
  }
#undef TINYC_GATHER3_FOUR
  if (q == 0) return;
  wa = gather3_row(&g); /* 1 to 3 rows left: 3, 6 or 9 steps */
  if (q == 1) {
    TINYC_GATHER3_TAIL(col[0], wa);
    TINYC_GATHER3_TAIL(col[1], wa >> 8);
    TINYC_GATHER3_TAIL(col[2], wa >> 16);
    return;
  }
  wb = gather3_row(&g);
  TINYC_GATHER3_A(col, wa, wb);
  if (q == 2) {
    TINYC_GATHER3_TAIL(col[4], wb >> 8);
    TINYC_GATHER3_TAIL(col[5], wb >> 16);
    return;
  }
  wc = gather3_row(&g);
  TINYC_GATHER3_B(col + 4, wb, wc);
  TINYC_GATHER3_TAIL(col[8], wc >> 16);
#undef TINYC_GATHER3_A
#undef TINYC_GATHER3_B
#undef TINYC_GATHER3_C
#undef TINYC_GATHER3_TAIL
}

/* The same at stride 2 (pixel b two bytes right of pixel a; ResNet's downsampling 3x3
 * convs), cg * kh a multiple of 4, pixel b's columns inside and pixel a's but perhaps the
 * first (padding 1 at the left edge); rows may be outside. Per window row the words at x1
 * (pixel b's taps in bytes 1..3) and at x0 (pixel a's in bytes 0..2; at the left edge the
 * x1 word moved up a byte over the zero point), so no byte outside the two windows is
 * read; a row outside is all zero point. */
static void gather3s2_widened(const int8_t *xg, const tinyc_qconv_params *p, int32_t cg,
                              const window *a, int32_t *restrict col) {
  const int32_t off2 = tinyc_pack16(p->input_offset, p->input_offset);
  const int32_t xrow = p->dil_h * p->w, kh = p->kh, plane = p->h * p->w;
  const uint32_t zp = (uint8_t)(int8_t)-p->input_offset, zp4 = zp * 0x01010101u;
  const int left = a->kx0 == 1;
  int32_t q = cg * kh, ky = 0, o = a->iy0 * p->w + a->ix0;
  uint32_t la, lb, lc, ld, ha, hb, hc, hd;
  if (kh == 3 && q >= 12 && a->ky1 == 3 && a->ky0 <= 1) {
    /* rounds of four channels at fixed steps, rows 0..2 of a window each loaded (r then
     * steps on to the next row inside) or, outside (the top row at the first output row;
     * pad 1 and an even height leave no bottom row outside), the zero point word; at the
     * left edge pixel a's word is pixel b's moved up a byte over the zero point. Measured
     * on ResNet-8: the left edge and top pairs took the per-row loop below at about 80 K
     * est. cycles, the rounds about 35 K. */
    const int32_t k0 = a->ky0, next = plane - 2 * xrow, step1 = plane - xrow;
    const int8_t *r = xg + (o + k0 * xrow);
#define TINYC_GATHER3S2_LD(l, h, LOADL, step) \
  do {                                        \
    (h) = (uint32_t)tinyc_load4(r + 1);       \
    (l) = LOADL(h);                           \
    r += (step);                              \
  } while (0)
#define TINYC_GATHER3S2_ZP(l, h, LOADL, step) ((l) = (h) = zp4)
#define TINYC_GATHER3S2_L0(h) ((uint32_t)tinyc_load4(r))
#define TINYC_GATHER3S2_LEFT(h) (((h) << 8) | zp)
#define TINYC_GATHER3S2_ANY(h) ((ror32((uint32_t)tinyc_load4(r + dl), rot) & keep) | fill)
#define TINYC_GATHER3S2_THIRD(col, L, KA, SA, KB, SB, KC, SC, KD, SD) \
  do {                                                                \
    KA(la, ha, L, SA);                                                \
    KB(lb, hb, L, SB);                                                \
    gather3_group1(col, off2, la, lb, ha, hb);                        \
    TINYC_STORES_NOW();                                               \
    KC(lc, hc, L, SC);                                                \
    gather3_group2((col) + 4, off2, lb, lc, hb, hc);                  \
    TINYC_STORES_NOW();                                               \
    KD(ld, hd, L, SD);                                                \
    gather3_group3((col) + 8, off2, lc, ld, hc, hd);                  \
    TINYC_STORES_NOW();                                               \
  } while (0)
#define TINYC_GATHER3S2_ROUNDS(L, K0, S0, K1, S1, K2, S2)               \
  for (; q >= 12; q -= 12, col += 36) {                                 \
    TINYC_GATHER3S2_THIRD(col, L, K0, S0, K1, S1, K2, S2, K0, S0);      \
    TINYC_GATHER3S2_THIRD(col + 12, L, K1, S1, K2, S2, K0, S0, K1, S1); \
    TINYC_GATHER3S2_THIRD(col + 24, L, K2, S2, K0, S0, K1, S1, K2, S2); \
  }
    if (k0 == 0 && !left) { /* wholly inside */
      TINYC_GATHER3S2_ROUNDS(TINYC_GATHER3S2_L0, TINYC_GATHER3S2_LD, xrow, TINYC_GATHER3S2_LD,
                             xrow, TINYC_GATHER3S2_LD, next)
    } else if (k0 == 0) { /* the left edge, every row inside */
      TINYC_GATHER3S2_ROUNDS(TINYC_GATHER3S2_LEFT, TINYC_GATHER3S2_LD, xrow, TINYC_GATHER3S2_LD,
                             xrow, TINYC_GATHER3S2_LD, next)
    } else { /* the top row outside, at either edge: pixel a's word by its form (rotation,
              * mask, fill; the left edge's is the x1 word << 8) */
      const uint32_t rot = left ? 24 : 0, keep = left ? 0xFFFFFF00u : 0xFFFFFFFFu;
      const uint32_t fill = left ? zp : 0;
      const int32_t dl = left;
      TINYC_GATHER3S2_ROUNDS(TINYC_GATHER3S2_ANY, TINYC_GATHER3S2_ZP, 0, TINYC_GATHER3S2_LD,
                             xrow, TINYC_GATHER3S2_LD, step1)
    }
#undef TINYC_GATHER3S2_ROUNDS
#undef TINYC_GATHER3S2_THIRD
#undef TINYC_GATHER3S2_ANY
#undef TINYC_GATHER3S2_LEFT
#undef TINYC_GATHER3S2_L0
#undef TINYC_GATHER3S2_ZP
#undef TINYC_GATHER3S2_LD
    if (q == 0) return;
    o = (int32_t)(r - xg) - k0 * xrow; /* the rest (4 or 8 rows) below, from row 0 */
  }
#define TINYC_GATHER3S2_NEXT(l, h)                                           \
  do {                                                                       \
    if (ky >= a->ky0 && ky < a->ky1) {                                       \
      (h) = (uint32_t)tinyc_load4(xg + o + ky * xrow + 1);                   \
      (l) = left ? ((h) << 8) | zp : (uint32_t)tinyc_load4(xg + o + ky * xrow); \
    } else {                                                                 \
      (l) = (h) = zp4;                                                       \
    }                                                                        \
    if (++ky == kh) {                                                        \
      ky = 0;                                                                \
      o += plane;                                                            \
    }                                                                        \
  } while (0)
  for (; q > 0; q -= 4, col += 12) {
    TINYC_GATHER3S2_NEXT(la, ha);
    TINYC_GATHER3S2_NEXT(lb, hb);
    gather3_group1(col, off2, la, lb, ha, hb);
    TINYC_STORES_NOW();
    TINYC_GATHER3S2_NEXT(lc, hc);
    gather3_group2(col + 4, off2, lb, lc, hb, hc);
    TINYC_STORES_NOW();
    TINYC_GATHER3S2_NEXT(ld, hd);
    gather3_group3(col + 8, off2, lc, ld, hc, hd);
    TINYC_STORES_NOW();
  }
#undef TINYC_GATHER3S2_NEXT
}

/* The same for a 1x1 window at stride 1 (pointwise): channel c's two pixels are one
 * halfword, four channels make a group of steps. */
TINYC_INLINE void gather1_widened(const int8_t *r, int32_t cg, int32_t plane, int32_t off,
                            int32_t *restrict col) {
  const int32_t off2 = tinyc_pack16(off, off);
  int32_t q;
  for (q = cg >> 2; q > 0; --q, r += 4 * plane, col += 4) {
    const uint32_t t0 = tinyc_load2(r) | (tinyc_load2(r + 2 * plane) << 16);
    const uint32_t t1 = tinyc_load2(r + plane) | (tinyc_load2(r + 3 * plane) << 16);
    col[0] = tinyc_sxtab16(off2, (int32_t)t0);
    col[1] = tinyc_sxtab16(off2, (int32_t)t1);
    col[2] = tinyc_sxtab16_hi(off2, (int32_t)t0);
    col[3] = tinyc_sxtab16_hi(off2, (int32_t)t1);
  }
  for (q = cg & 3; q > 0; --q, r += plane) { /* as widen's last steps */
    const uint32_t h = tinyc_load2(r);
    *col++ = tinyc_sxtab16(off2, (int32_t)(h | (h << 8)));
  }
}

/* The same for a last pixel alone (pixel b = pixel a: KWS's pointwise layers end on an
 * odd pixel), instead of gather and widen's clipped-window loops. */
static void gather1_alone(const int8_t *r, int32_t cg, int32_t plane, int32_t off,
                          int32_t *restrict col) {
  const int32_t off2 = tinyc_pack16(off, off);
  int32_t q;
  for (q = cg >> 2; q > 0; --q, r += 4 * plane, col += 4) {
    const uint32_t t0 = (uint32_t)(uint8_t)r[0] | ((uint32_t)(uint8_t)r[2 * plane] << 16);
    const uint32_t t1 = (uint32_t)(uint8_t)r[plane] | ((uint32_t)(uint8_t)r[3 * plane] << 16);
    col[0] = col[2] = sx_r0(off2, t0);
    col[1] = col[3] = sx_r0(off2, t1);
  }
  for (q = cg & 3; q > 0; --q, r += plane) *col++ = sx_r0(off2, (uint32_t)(uint8_t)*r * 0x10001u);
}

/* The same for two pixel pairs at once, four pixels in a row (pointwise on contiguous
 * pixels: gather_columns): channel c's word holds the four pixels, and PKHBT/PKHTB of
 * channels c and c + 2 give both blocks' words (block a: pixels 0, 1 from the low
 * halves; block b: pixels 2, 3 from the high ones), as gather1s2_widened does for one
 * pair. Measured on KWS: 3.6 est. cycles a column word instead of 5.3 (and the pairs
 * across output rows no longer take gather and widen). */
static void gather1x4_widened(const int8_t *r, int32_t cg, int32_t plane, int32_t off,
                              int32_t *restrict ca, int32_t *restrict cb) {
  const int32_t off2 = tinyc_pack16(off, off);
  int32_t q;
  for (q = cg >> 2; q > 0; --q, r += 4 * plane, ca += 4, cb += 4) {
    /* channels 0 and 2, then 1 and 3: few words live at once (no frame beyond gather's) */
    uint32_t x = (uint32_t)tinyc_load4(r), y = (uint32_t)tinyc_load4(r + 2 * plane);
    uint32_t lo = pkhbt16(x, y), hi = pkhtb16(y, x);
    ca[0] = sx_r0(off2, lo);
    ca[2] = sx_r8(off2, lo);
    cb[0] = sx_r0(off2, hi);
    cb[2] = sx_r8(off2, hi);
    TINYC_STORES_NOW();
    x = (uint32_t)tinyc_load4(r + plane);
    y = (uint32_t)tinyc_load4(r + 3 * plane);
    lo = pkhbt16(x, y);
    hi = pkhtb16(y, x);
    ca[1] = sx_r0(off2, lo);
    ca[3] = sx_r8(off2, lo);
    cb[1] = sx_r0(off2, hi);
    cb[3] = sx_r8(off2, hi);
  }
  for (q = cg & 3; q > 0; --q, r += plane) { /* (pixel a, pixel b) pairs: bytes 0 and 2 */
    const uint32_t w = (uint32_t)tinyc_load4(r), lo = w & 0xFFFFu, hi = w >> 16;
    *ca++ = sx_r0(off2, lo | (lo << 8));
    *cb++ = sx_r0(off2, hi | (hi << 8));
  }
}

/* The same for 1x1 windows two bytes apart (stride 2: ResNet's shortcuts): channel c's
 * word at pixel a holds a in byte 0 and b in byte 2, and PKHBT/PKHTB of channels c and
 * c + 2 give the groups' words. The word reads one byte past pixel b, so pixel b is not
 * on the input's last column. */
static void gather1s2_widened(const int8_t *r, int32_t cg, int32_t plane, int32_t off,
                              int32_t *restrict col) {
  const int32_t off2 = tinyc_pack16(off, off);
  int32_t q;
  for (q = cg >> 2; q > 0; --q, r += 4 * plane, col += 4) {
    const uint32_t w0 = (uint32_t)tinyc_load4(r), w1 = (uint32_t)tinyc_load4(r + plane);
    const uint32_t w2 = (uint32_t)tinyc_load4(r + 2 * plane);
    const uint32_t w3 = (uint32_t)tinyc_load4(r + 3 * plane);
    col[0] = tinyc_sxtab16(off2, (int32_t)((w0 & 0xFFFFu) | (w2 << 16)));
    col[1] = tinyc_sxtab16(off2, (int32_t)((w1 & 0xFFFFu) | (w3 << 16)));
    col[2] = tinyc_sxtab16(off2, (int32_t)((w2 & 0xFFFF0000u) | (w0 >> 16)));
    col[3] = tinyc_sxtab16(off2, (int32_t)((w3 & 0xFFFF0000u) | (w1 >> 16)));
  }
  for (q = cg & 3; q > 0; --q, r += plane) { /* (pixel a, pixel b) pairs: bytes 0 and 2 */
    *col++ = tinyc_sxtab16(off2, tinyc_load4(r));
  }
}

/* The same for 4 taps a row (unit dilation; KWS's 10x4 first conv): a window row is one
 * word, so each of the pair's rows widens straight into a group of 4 steps (sxtab16 of the
 * word and of its odd bytes); the pixels need not be neighbours. A window may lose its
 * first tap or its last to the padding (then the row is read one byte over, from inside,
 * and that byte set to the zero point); rows outside are all zero point. Rows are at
 * least 4 bytes. */
TINYC_INLINE int gather4_fits_one(const window *v, const tinyc_qconv_params *p) {
  return (v->kx0 == 0 && v->kx1 >= 3) || (v->kx0 == 1 && v->kx1 == 4 && p->w >= 4);
}

/* window v's row ky of channel plane xc as a word, the zero point where it is outside */
TINYC_INLINE uint32_t gather4_row(const int8_t *xc, const window *v, int32_t ky, int32_t y,
                                  const tinyc_qconv_params *p, uint32_t zp) {
  const int8_t *r;
  if (ky < v->ky0 || ky >= v->ky1) return zp * 0x01010101u;
  r = xc + (size_t)y * p->w + v->ix0;
  if (v->kx0 == 1) return ((uint32_t)tinyc_load4(r + 1) << 8) | zp;
  if (v->kx1 == 3) return ((uint32_t)tinyc_load4(r - 1) >> 8) | (zp << 24);
  return (uint32_t)tinyc_load4(r);
}

/* A window's row word without a branch a row: loaded at r + d, rotated right by rot, the
 * byte outside (if any) masked off and the zero point put in its place (gather4_row's
 * three forms: rot 0 / 24 / 8 with d 0 / 1 / -1). */
typedef struct {
  int32_t d;
  uint32_t rot, keep, fill;
} row4_form;

TINYC_INLINE row4_form row4_of(const window *v, uint32_t zp) {
  row4_form f = {0, 0, 0xFFFFFFFFu, 0};
  if (v->kx0 == 1) {
    f.d = 1;
    f.rot = 24;
    f.keep = 0xFFFFFF00u;
    f.fill = zp;
  } else if (v->kx1 == 3) {
    f.d = -1;
    f.rot = 8;
    f.keep = 0x00FFFFFFu;
    f.fill = zp << 24;
  }
  return f;
}

TINYC_INLINE uint32_t row4_word(const int8_t *r, const row4_form *f) {
  const uint32_t w = (uint32_t)tinyc_load4(r);
  return (ror32(w, f->rot) & f->keep) | f->fill;
}

/* Measured on KWS's first conv: with both pixels on one output row (the same rows
 * inside), a row pair costs about 25 est. cycles here instead of about 90 through
 * gather4_row's tests. */
static void gather4_widened(const int8_t *xg, const tinyc_qconv_params *p, int32_t cg,
                            const window *a, const window *b, int32_t *restrict col) {
  const int32_t off2 = tinyc_pack16(p->input_offset, p->input_offset);
  const uint32_t zp = (uint8_t)(int8_t)-p->input_offset;
  const size_t plane = (size_t)p->h * p->w;
  int32_t ch, ky;
  if (a->iy0 == b->iy0) { /* one output row: rows [k0, k1) inside for both pixels */
    const int32_t kh = p->kh, xrow = p->dil_h * p->w;
    const int32_t k0 = a->ky0 < kh ? a->ky0 : kh, k1 = a->ky1 > k0 ? a->ky1 : k0;
    const int32_t zw = tinyc_sxtab16(off2, (int32_t)(zp * 0x01010101u)); /* a zero-point word */
    const row4_form fa = row4_of(a, zp), fb = row4_of(b, zp);
    const int32_t oa = (a->iy0 + k0 * p->dil_h) * p->w + a->ix0 + fa.d;
    const int32_t ob = (b->iy0 + k0 * p->dil_h) * p->w + b->ix0 + fb.d;
    for (ch = 0; ch < cg; ++ch) {
      for (ky = 0; ky < k0; ++ky, col += 4) col[0] = col[1] = col[2] = col[3] = zw;
      if (k0 < k1) {
        const int8_t *ra = xg + (size_t)ch * plane + oa, *rb = xg + (size_t)ch * plane + ob;
        for (; ky < k1; ++ky, col += 4, ra += xrow, rb += xrow) {
          const uint32_t ta = row4_word(ra, &fa), tb = row4_word(rb, &fb);
          col[0] = tinyc_sxtab16(off2, (int32_t)ta);
          col[1] = tinyc_sxtab16_hi(off2, (int32_t)ta);
          col[2] = tinyc_sxtab16(off2, (int32_t)tb);
          col[3] = tinyc_sxtab16_hi(off2, (int32_t)tb);
        }
      }
      for (; ky < kh; ++ky, col += 4) col[0] = col[1] = col[2] = col[3] = zw;
    }
    return;
  }
  for (ch = 0; ch < cg; ++ch) {
    const int8_t *xc = xg + (size_t)ch * plane;
    for (ky = 0; ky < p->kh; ++ky, col += 4) {
      const int32_t ya = a->iy0 + ky * p->dil_h, yb = b->iy0 + ky * p->dil_h;
      const uint32_t ta = gather4_row(xc, a, ky, ya, p, zp);
      const uint32_t tb = gather4_row(xc, b, ky, yb, p, zp);
      col[0] = tinyc_sxtab16(off2, (int32_t)ta);
      col[1] = tinyc_sxtab16_hi(off2, (int32_t)ta);
      col[2] = tinyc_sxtab16(off2, (int32_t)tb);
      col[3] = tinyc_sxtab16_hi(off2, (int32_t)tb);
    }
  }
}

/* ---- two output channels x two pixels ------------------------------------------------ */

/* The loops of 14 registers: gcc with the optimizer (clang's allocator gives an asm
 * statement fewer; frame-pointer builds define TINYC_NO_DSP_ASM). */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__thumb2__) && \
    defined(__OPTIMIZE__) && !defined(TINYC_NO_DSP_ASM) && !defined(__clang__)
#define TINYC_QCONV_ASM14 1
#else
#define TINYC_QCONV_ASM14 0
#endif

/* Two output channels (rows w0, w0 + K of W) x two pixels (the column) over K steps: the
 * four sums start from *s.. and are stored back. Per 4 reduction steps the pixel pair's
 * four column words come in one LDM and each channel's weight word is sign-extended once
 * and meets them: 15 instructions, 21 estimated cycles and 6 words read per 16 MACs (the
 * one-channel, four-pixel tile reads 9). gcc: 14 registers, the LDM's four pinned in
 * ascending order; clang (12 registers at most) reads the column with LDRDs, pixel 0's
 * words twice (19 instructions per 16 MACs). */
#define TINYC_MAC2X2_STEP                           \
  "ldmia  %[col]!, {%[c0], %[c1], %[c2], %[c3]}\n\t" \
  "ldr    %[u], [%[w0]], #4\n\t"                   \
  "sxtb16 %[t], %[u]\n\t"                          \
  "sxtb16 %[u], %[u], ror #8\n\t"                  \
  "smlad  %[a00], %[t], %[c0], %[a00]\n\t"         \
  "smlad  %[a00], %[u], %[c1], %[a00]\n\t"         \
  "smlad  %[a01], %[t], %[c2], %[a01]\n\t"         \
  "smlad  %[a01], %[u], %[c3], %[a01]\n\t"         \
  "ldr    %[u], [%[w1]], #4\n\t"                   \
  "sxtb16 %[t], %[u]\n\t"                          \
  "sxtb16 %[u], %[u], ror #8\n\t"                  \
  "smlad  %[a10], %[t], %[c0], %[a10]\n\t"         \
  "smlad  %[a10], %[u], %[c1], %[a10]\n\t"         \
  "smlad  %[a11], %[t], %[c2], %[a11]\n\t"         \
  "smlad  %[a11], %[u], %[c3], %[a11]\n\t"
#define TINYC_MAC2X2_OPERANDS                                                                 \
  : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11), [w0] "+r"(w0),        \
    [w1] "+r"(w1), [col] "+r"(col), [q] "+r"(q), [u] "=&r"(u), [t] "=&r"(t), [c0] "=&r"(c0), \
    [c1] "=&r"(c1), [c2] "=&r"(c2), [c3] "=&r"(c3)                                            \
  :                                                                                           \
  : "cc", "memory"

TINYC_INLINE void mac2x2(const int8_t *w0, int32_t K, const int32_t *col, int32_t *s00,
                         int32_t *s01, int32_t *s10, int32_t *s11) {
  const int8_t *w1 = w0 + K;
  int32_t a00 = *s00, a01 = *s01, a10 = *s10, a11 = *s11, q;
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__thumb2__) && \
    defined(__OPTIMIZE__) && !defined(TINYC_NO_DSP_ASM) && !defined(__clang__)
  /* 16 reduction steps a loop, then single steps */
  register int32_t c0 __asm__("r4"), c1 __asm__("r5"), c2 __asm__("r6"), c3 __asm__("r8");
  int32_t u, t;
  q = K >> 4;
  if (q > 0) {
    __asm__ volatile("1:\n\t" TINYC_MAC2X2_STEP
                     TINYC_MAC2X2_STEP TINYC_MAC2X2_STEP
                     TINYC_MAC2X2_STEP
                     "subs   %[q], %[q], #1\n\t"
                     "bne    1b" TINYC_MAC2X2_OPERANDS);
  }
  for (q = (K >> 2) & 3; q > 0; --q) {
    __asm__ volatile(TINYC_MAC2X2_STEP TINYC_MAC2X2_OPERANDS);
  }
#elif defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__thumb2__) && \
    defined(__OPTIMIZE__) && !defined(TINYC_NO_DSP_ASM)
  /* 12 registers: pixel 0's column words are read twice rather than kept */
  int32_t u, t, c0, c1;
  for (q = K >> 2; q > 0; --q) {
    __asm__ volatile(
        "ldr    %[u], [%[w0]], #4\n\t"
        "ldrd   %[c0], %[c1], [%[col]]\n\t"
        "sxtb16 %[t], %[u]\n\t"
        "smlad  %[a00], %[t], %[c0], %[a00]\n\t"
        "sxtb16 %[u], %[u], ror #8\n\t"
        "smlad  %[a00], %[u], %[c1], %[a00]\n\t"
        "ldrd   %[c0], %[c1], [%[col], #8]\n\t"
        "smlad  %[a01], %[t], %[c0], %[a01]\n\t"
        "smlad  %[a01], %[u], %[c1], %[a01]\n\t"
        "ldr    %[u], [%[w1]], #4\n\t"
        "sxtb16 %[t], %[u]\n\t"
        "smlad  %[a11], %[t], %[c0], %[a11]\n\t"
        "sxtb16 %[u], %[u], ror #8\n\t"
        "smlad  %[a11], %[u], %[c1], %[a11]\n\t"
        "ldrd   %[c0], %[c1], [%[col]], #16\n\t"
        "smlad  %[a10], %[t], %[c0], %[a10]\n\t"
        "smlad  %[a10], %[u], %[c1], %[a10]"
        : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11),
          [w0] "+r"(w0), [w1] "+r"(w1), [col] "+r"(col), [u] "=&r"(u), [t] "=&r"(t),
          [c0] "=&r"(c0), [c1] "=&r"(c1)
        :
        : "cc", "memory");
  }
#else
  for (q = K >> 2; q > 0; --q) {
    const int32_t u = tinyc_load4(w0), v = tinyc_load4(w1);
    const int32_t u02 = tinyc_sxtb16(u), u13 = tinyc_sxtb16_hi(u);
    const int32_t v02 = tinyc_sxtb16(v), v13 = tinyc_sxtb16_hi(v);
    const int32_t c0 = col[0], c1 = col[1], c2 = col[2], c3 = col[3];
    w0 += 4;
    w1 += 4;
    col += 4;
    a00 = tinyc_smlad(u02, c0, a00);
    a00 = tinyc_smlad(u13, c1, a00);
    a01 = tinyc_smlad(u02, c2, a01);
    a01 = tinyc_smlad(u13, c3, a01);
    a10 = tinyc_smlad(v02, c0, a10);
    a10 = tinyc_smlad(v13, c1, a10);
    a11 = tinyc_smlad(v02, c2, a11);
    a11 = tinyc_smlad(v13, c3, a11);
  }
#endif
  for (q = K & 3; q > 0; --q) { /* the last K % 4 steps: plain (pixel 0, pixel 1) pairs */
    const int32_t e = *col++, s = *w0++, t = *w1++;
    const int32_t p0 = (int32_t)(int16_t)(uint16_t)((uint32_t)e & 0xFFFFu);
    const int32_t p1 = (int32_t)(int16_t)(uint16_t)((uint32_t)e >> 16);
    a00 += s * p0;
    a01 += s * p1;
    a10 += t * p0;
    a11 += t * p1;
  }
  *s00 = a00;
  *s01 = a01;
  *s10 = a10;
  *s11 = a11;
}

/* One output channel x four pixels (pixel pairs ca and cb): the channel's sums start at
 * `bias` and go to acc[0..3]. Per 4 reduction steps: one weight word, sign-extended once,
 * meets the four column words of each pixel pair. With gcc those come in one LDM per pair
 * (5 cycles for 4 words, against 6 for two LDRDs; 13 instructions and 22 estimated cycles
 * per 16 MACs) in 14 registers, the LDM's four pinned in ascending order as it requires;
 * clang's allocator cannot give an asm statement 14 registers, so it takes two LDRDs per
 * pair in 12 (15 instructions, 24 cycles). */
#define TINYC_MAC1X4_LDM_STEP                          \
  "ldr    %[u], [%[w]], #4\n\t"                        \
  "sxtb16 %[t], %[u]\n\t"                              \
  "sxtb16 %[u], %[u], ror #8\n\t"                      \
  "ldmia  %[ca]!, {%[c0], %[c1], %[c2], %[c3]}\n\t"    \
  "smlad  %[a0], %[t], %[c0], %[a0]\n\t"               \
  "smlad  %[a0], %[u], %[c1], %[a0]\n\t"               \
  "smlad  %[a1], %[t], %[c2], %[a1]\n\t"               \
  "smlad  %[a1], %[u], %[c3], %[a1]\n\t"               \
  "ldmia  %[cb]!, {%[c0], %[c1], %[c2], %[c3]}\n\t"    \
  "smlad  %[a2], %[t], %[c0], %[a2]\n\t"               \
  "smlad  %[a2], %[u], %[c1], %[a2]\n\t"               \
  "smlad  %[a3], %[t], %[c2], %[a3]\n\t"               \
  "smlad  %[a3], %[u], %[c3], %[a3]\n\t"
#define TINYC_MAC1X4_LDM_OPERANDS                                                              \
  : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [w] "+r"(w), [ca] "+r"(ca),   \
    [cb] "+r"(cb), [q] "+r"(q), [u] "=&r"(u), [t] "=&r"(t), [c0] "=&r"(c0), [c1] "=&r"(c1),  \
    [c2] "=&r"(c2), [c3] "=&r"(c3)                                                            \
  :                                                                                            \
  : "cc", "memory"
#define TINYC_MAC1X4_STEP                       \
  "ldr    %[u], [%[w]], #4\n\t"                 \
  "sxtb16 %[t], %[u]\n\t"                       \
  "sxtb16 %[u], %[u], ror #8\n\t"               \
  "ldrd   %[c0], %[c1], [%[ca]], #8\n\t"        \
  "smlad  %[a0], %[t], %[c0], %[a0]\n\t"        \
  "smlad  %[a0], %[u], %[c1], %[a0]\n\t"        \
  "ldrd   %[c0], %[c1], [%[ca]], #8\n\t"        \
  "smlad  %[a1], %[t], %[c0], %[a1]\n\t"        \
  "smlad  %[a1], %[u], %[c1], %[a1]\n\t"        \
  "ldrd   %[c0], %[c1], [%[cb]], #8\n\t"        \
  "smlad  %[a2], %[t], %[c0], %[a2]\n\t"        \
  "smlad  %[a2], %[u], %[c1], %[a2]\n\t"        \
  "ldrd   %[c0], %[c1], [%[cb]], #8\n\t"        \
  "smlad  %[a3], %[t], %[c0], %[a3]\n\t"        \
  "smlad  %[a3], %[u], %[c1], %[a3]\n\t"
#define TINYC_MAC1X4_OPERANDS                                                                \
  : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [w] "+r"(w), [ca] "+r"(ca), \
    [cb] "+r"(cb), [q] "+r"(q), [u] "=&r"(u), [t] "=&r"(t), [c0] "=&r"(c0), [c1] "=&r"(c1)  \
  :                                                                                          \
  : "cc", "memory"

TINYC_INLINE void mac1x4(const int8_t *w, int32_t K, const int32_t *ca, const int32_t *cb,
                         int32_t bias, int32_t *acc) {
  int32_t a0 = bias, a1 = bias, a2 = bias, a3 = bias, q;
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__thumb2__) && \
    defined(__OPTIMIZE__) && !defined(TINYC_NO_DSP_ASM) && !defined(__clang__)
  /* 16 reduction steps a loop (the branch costs 4 cycles per 64 MACs), then single steps */
  register int32_t c0 __asm__("r4"), c1 __asm__("r5"), c2 __asm__("r6"), c3 __asm__("r8");
  int32_t u, t;
  q = K >> 4;
  if (q > 0) {
    __asm__ volatile("1:\n\t" TINYC_MAC1X4_LDM_STEP TINYC_MAC1X4_LDM_STEP
                     TINYC_MAC1X4_LDM_STEP TINYC_MAC1X4_LDM_STEP
                     "subs   %[q], %[q], #1\n\t"
                     "bne    1b" TINYC_MAC1X4_LDM_OPERANDS);
  }
  for (q = (K >> 2) & 3; q > 0; --q) __asm__ volatile(TINYC_MAC1X4_LDM_STEP TINYC_MAC1X4_LDM_OPERANDS);
#elif defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__thumb2__) && \
    defined(__OPTIMIZE__) && !defined(TINYC_NO_DSP_ASM)
  int32_t u, t, c0, c1;
  q = K >> 3;
  if (q > 0) {
    __asm__ volatile("1:\n\t" TINYC_MAC1X4_STEP TINYC_MAC1X4_STEP
                     "subs   %[q], %[q], #1\n\t"
                     "bne    1b" TINYC_MAC1X4_OPERANDS);
  }
  if (K & 4) __asm__ volatile(TINYC_MAC1X4_STEP TINYC_MAC1X4_OPERANDS);
#else
  for (q = K >> 2; q > 0; --q, w += 4, ca += 4, cb += 4) {
    const int32_t u = tinyc_load4(w);
    const int32_t u02 = tinyc_sxtb16(u), u13 = tinyc_sxtb16_hi(u);
    a0 = tinyc_smlad(u13, ca[1], tinyc_smlad(u02, ca[0], a0));
    a1 = tinyc_smlad(u13, ca[3], tinyc_smlad(u02, ca[2], a1));
    a2 = tinyc_smlad(u13, cb[1], tinyc_smlad(u02, cb[0], a2));
    a3 = tinyc_smlad(u13, cb[3], tinyc_smlad(u02, cb[2], a3));
  }
#endif
  for (q = K & 3; q > 0; --q) { /* the last K % 4 steps: plain (pixel 0, pixel 1) pairs */
    const int32_t s = *w++, e = *ca++, f = *cb++;
    a0 += s * (int32_t)(int16_t)(uint16_t)((uint32_t)e & 0xFFFFu);
    a1 += s * (int32_t)(int16_t)(uint16_t)((uint32_t)e >> 16);
    a2 += s * (int32_t)(int16_t)(uint16_t)((uint32_t)f & 0xFFFFu);
    a3 += s * (int32_t)(int16_t)(uint16_t)((uint32_t)f >> 16);
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}

/* One output channel x two pixels. */
TINYC_INLINE void mac1x2(const int8_t *w0, int32_t K, const int32_t *col, int32_t *s00,
                         int32_t *s01) {
  int32_t a00 = *s00, a01 = *s01, q;
  for (q = K >> 2; q > 0; --q) {
    const int32_t u = tinyc_load4(w0);
    const int32_t u02 = tinyc_sxtb16(u), u13 = tinyc_sxtb16_hi(u);
    w0 += 4;
    a00 = tinyc_smlad(u02, col[0], a00);
    a00 = tinyc_smlad(u13, col[1], a00);
    a01 = tinyc_smlad(u02, col[2], a01);
    a01 = tinyc_smlad(u13, col[3], a01);
    col += 4;
  }
  for (q = K & 3; q > 0; --q) {
    const int32_t e = *col++, s = *w0++;
    a00 += s * (int32_t)(int16_t)(uint16_t)((uint32_t)e & 0xFFFFu);
    a01 += s * (int32_t)(int16_t)(uint16_t)((uint32_t)e >> 16);
  }
  *s00 = a00;
  *s01 = a01;
}

/* The plain loop, for reductions too long for the column buffer. */
static int32_t direct_pixel(const int8_t *xg, const int8_t *wm, const tinyc_qconv_params *p,
                            int32_t cg, int32_t oy, int32_t ox, int32_t acc) {
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
      for (kx = kx0; kx < kx1; ++kx) acc += ((int32_t)xr[kx * p->dil_w] + p->input_offset) * wr[kx];
    }
  }
  return acc;
}

/* A channel pair's short requantization forms (tinyc_dsp_requant_row_bias: SMMLA with
 * the zero point in the rounding term, shift, SSAT) with their biases, the reduction
 * length and where the pair's current pixel pair goes: one record per channel pair,
 * which the tile's assembly reads as memory operands. */
typedef struct {
  int32_t q0, round0, rs0, q1, round1, rs1, bias0, bias1;
  int32_t K;
  int8_t *y0, *y1;
  int8_t last[2][2];  /* where a last pixel pair of one pixel goes */
} tile_short;

/* Whether shift takes the short form: -21 <= shift <= -2 (rs = -1 - shift in 1..20). */
TINYC_INLINE int short_form(int32_t shift) { return (uint32_t)(shift + 21) <= 19u; }

TINYC_INLINE int8_t short_requant_one(int32_t acc, int32_t q, int32_t round, int32_t rs) {
  return (int8_t)tinyc_ssat8(tinyc_smmla(acc, q, round) >> rs);
}

#if TINYC_QCONV_ASM14
/* One tile in one assembly run: the four sums start from the biases, run mac2x2's loop
 * (32 steps a round, then 16, then 4; with `singles`, 16, 4 and the K % 4 last steps),
 * are requantized and stored to s->y0[0..1], s->y1[0..1], and both pointers move on by
 * 2. What it needs besides the loop's 14 registers it reads as memory operands (s is the
 * caller's local, so they address the stack), so gcc spills nothing around it: about 45
 * cycles a tile besides the loop, against about 80 for mac2x2 and the requantization as
 * separate statements. Returns the column's next pixel pair. */
#define TINYC_TILE2X2_START                              \
  "ldr    %[a00], %[b0]\n\t"                             \
  "ldr    %[a10], %[b1]\n\t"                             \
  "ldr    %[q], %[K]\n\t"                                \
  "mov    %[a01], %[a00]\n\t"                            \
  "mov    %[a11], %[a10]\n\t"                            \
  "add    %[w1], %[w0], %[q]\n\t"                        \
  "asrs   %[q], %[q], #2\n\t"
/* the K / 4 groups of 4 steps: 16 steps a round, then one at a time */
#define TINYC_TILE2X2_LOOP16                             \
  "subs   %[q], %[q], #4\n\t"                            \
  "blt    2f\n"                                          \
  "1:\n\t" TINYC_MAC2X2_STEP TINYC_MAC2X2_STEP TINYC_MAC2X2_STEP TINYC_MAC2X2_STEP \
  "subs   %[q], %[q], #4\n\t"                            \
  "bge    1b\n"                                          \
  "2:\n\t"                                               \
  "adds   %[q], %[q], #4\n\t"                            \
  "beq    4f\n"                                          \
  "3:\n\t" TINYC_MAC2X2_STEP                             \
  "subs   %[q], %[q], #1\n\t"                            \
  "bne    3b\n"                                          \
  "4:\n\t"
/* the same 32 steps a round (the loop's branch: 2 cycles per 64 MACs), then 16, then
 * one group at a time */
#define TINYC_TILE2X2_LOOP32                                                        \
  "subs   %[q], %[q], #8\n\t"                                                       \
  "blt    2f\n"                                                                     \
  "1:\n\t" TINYC_MAC2X2_STEP TINYC_MAC2X2_STEP TINYC_MAC2X2_STEP TINYC_MAC2X2_STEP \
  TINYC_MAC2X2_STEP TINYC_MAC2X2_STEP TINYC_MAC2X2_STEP TINYC_MAC2X2_STEP           \
  "subs   %[q], %[q], #8\n\t"                                                       \
  "bge    1b\n"                                                                     \
  "2:\n\t"                                                                          \
  "adds   %[q], %[q], #8\n\t"                                                       \
  "beq    4f\n"                                                                     \
  "cmp    %[q], #4\n\t"                                                             \
  "blt    3f\n\t" TINYC_MAC2X2_STEP TINYC_MAC2X2_STEP TINYC_MAC2X2_STEP TINYC_MAC2X2_STEP \
  "subs   %[q], %[q], #4\n\t"                                                       \
  "beq    4f\n"                                                                     \
  "3:\n\t" TINYC_MAC2X2_STEP                                                        \
  "subs   %[q], %[q], #1\n\t"                                                       \
  "bne    3b\n"                                                                     \
  "4:\n\t"
/* the K % 4 last steps: plain (pixel 0, pixel 1) halfword pairs */
#define TINYC_TILE2X2_SINGLES                            \
  "ldr    %[q], %[K]\n\t"                                \
  "ands   %[q], %[q], #3\n\t"                            \
  "beq    6f\n"                                          \
  "5:\n\t"                                               \
  "ldr    %[c0], [%[col]], #4\n\t"                       \
  "ldrsb  %[c1], [%[w0]], #1\n\t"                        \
  "ldrsb  %[c2], [%[w1]], #1\n\t"                        \
  "smlabb %[a00], %[c1], %[c0], %[a00]\n\t"              \
  "smlabt %[a01], %[c1], %[c0], %[a01]\n\t"              \
  "smlabb %[a10], %[c2], %[c0], %[a10]\n\t"              \
  "smlabt %[a11], %[c2], %[c0], %[a11]\n\t"              \
  "subs   %[q], %[q], #1\n\t"                            \
  "bne    5b\n"                                          \
  "6:\n\t"
#define TINYC_TILE2X2_REQUANT(A, B, Q, R, S)    \
  "ldr    %[c0], %[" Q "]\n\t"                  \
  "ldr    %[c1], %[" R "]\n\t"                  \
  "ldr    %[c2], %[" S "]\n\t"                  \
  "smmla  %[" A "], %[" A "], %[c0], %[c1]\n\t" \
  "smmla  %[" B "], %[" B "], %[c0], %[c1]\n\t" \
  "asr    %[" A "], %[" A "], %[c2]\n\t"        \
  "asr    %[" B "], %[" B "], %[c2]\n\t"        \
  "ssat   %[" A "], #8, %[" A "]\n\t"           \
  "ssat   %[" B "], #8, %[" B "]\n\t"
#define TINYC_TILE2X2_TAIL                                       \
  TINYC_TILE2X2_REQUANT("a00", "a01", "q0", "round0", "rs0")     \
  TINYC_TILE2X2_REQUANT("a10", "a11", "q1", "round1", "rs1")     \
  "ldr    %[u], %[y0]\n\t"                                       \
  "ldr    %[t], %[y1]\n\t"                                       \
  "strb   %[a00], [%[u]], #1\n\t"                                \
  "strb   %[a01], [%[u]], #1\n\t"                                \
  "strb   %[a10], [%[t]], #1\n\t"                                \
  "strb   %[a11], [%[t]], #1\n\t"                                \
  "str    %[u], %[y0]\n\t"                                       \
  "str    %[t], %[y1]"
#define TINYC_TILE2X2_OPERANDS                                                               \
  : [a00] "=&r"(a00), [a01] "=&r"(a01), [a10] "=&r"(a10), [a11] "=&r"(a11), [w0] "+r"(w0),  \
    [w1] "=&r"(w1), [col] "+r"(col), [q] "=&r"(q), [u] "=&r"(u), [t] "=&r"(t),               \
    [c0] "=&r"(c0), [c1] "=&r"(c1), [c2] "=&r"(c2), [c3] "=&r"(c3), [y0] "+m"(s->y0),       \
    [y1] "+m"(s->y1)                                                                         \
  : [b0] "m"(s->bias0), [b1] "m"(s->bias1), [K] "m"(s->K), [q0] "m"(s->q0),                 \
    [round0] "m"(s->round0), [rs0] "m"(s->rs0), [q1] "m"(s->q1), [round1] "m"(s->round1),   \
    [rs1] "m"(s->rs1)                                                                        \
  : "cc", "memory"

TINYC_INLINE const int32_t *tile2x2_short(const int8_t *w0, const int32_t *col,
                                          tile_short *s, int singles) {
  register int32_t c0 __asm__("r4"), c1 __asm__("r5"), c2 __asm__("r6"), c3 __asm__("r8");
  const int8_t *w1;
  int32_t a00, a01, a10, a11, q, u, t;
  if (singles) { /* K % 4 != 0: rare (a 3-channel first conv), the shorter code */
    __asm__ volatile(TINYC_TILE2X2_START TINYC_TILE2X2_LOOP16 TINYC_TILE2X2_SINGLES
                     TINYC_TILE2X2_TAIL TINYC_TILE2X2_OPERANDS);
  } else {
    __asm__ volatile(TINYC_TILE2X2_START TINYC_TILE2X2_LOOP32 TINYC_TILE2X2_TAIL
                     TINYC_TILE2X2_OPERANDS);
  }
  return col;
}
#undef TINYC_TILE2X2_START
#undef TINYC_TILE2X2_LOOP16
#undef TINYC_TILE2X2_LOOP32
#undef TINYC_TILE2X2_SINGLES
#undef TINYC_TILE2X2_REQUANT
#undef TINYC_TILE2X2_TAIL
#undef TINYC_TILE2X2_OPERANDS

/* The tiles over the column's count & ~1 pixels; `singles` is constant where it is
 * inlined, so the loop holds one form of the assembly. */
TINYC_INLINE const int32_t *tiles2x2_short(const int8_t *w, const int32_t *col,
                                           int32_t count, tile_short *s, int singles) {
  int8_t *const end = s->y0 + (count & ~1);
  while (s->y0 < end) col = tile2x2_short(w, col, s, singles);
  return col;
}
#endif

/* ---- packed records (tinyc_qconv_params.packed) --------------------------------------- */

/* A dense layer whose channels all take the short form (K % 4 == 0) comes with compile-time
 * records (tinyc/ops/qpack.py), one per output channel pair, K + TINYC_QCONV_PACK_EXTRA
 * words: bias0, bias1; the weights as int16 pairs, per 4 reduction steps k..k+3 ch0 (k,
 * k+2), ch1 (k, k+2), ch0 (k+1, k+3), ch1 (k+1, k+3), against the column's words p(k, k+2),
 * p(k+1, k+3); then q0, round0, rs0, q1, round1, rs1 (pair_record's values). The tiles
 * load each weight word once and sign-extend nothing, and one assembly run takes every
 * channel pair of every tile of a column: the records are read front to back (one
 * pointer), the column block stays while the channel pairs change. What the run keeps
 * besides its 14 registers lives here, in its caller's frame (memory operands). */
typedef struct {
  int8_t *y;              /* the current tile's first output of its first channel */
  int8_t *y_col;          /* the current column tile's outputs of channel 0 */
  int8_t *y_end;          /* y_col after the last column tile */
  int8_t *y_odd;          /* the 2 x 2 tiles: y_col of a last pixel pair of one pixel */
  const int32_t *rec;     /* the first record */
  const int32_t *rec_end; /* past the last record */
  const int32_t *end;     /* where the current tile's reduction ends in the column */
  const int32_t *block;   /* the 2 x 2 tiles: the current pixel pair's column block */
  int32_t plane;          /* bytes between two channels' outputs */
  int32_t kb;             /* 4K: bytes of a column block */
  int32_t step;           /* the 2 x 2 tiles: where a pair's second pixel goes (1, or 0) */
  int32_t skip;           /* the 2 x 2 tiles: groups of 4 steps the first round skips */
  uint32_t entry;         /* the 2 x 2 tiles' assembly: the address of that group */
} packed_run;

/* A run over the records of a layer (one group) with outputs from y */
TINYC_INLINE void packed_begin(packed_run *r, const tinyc_qconv_params *p, int8_t *y,
                               size_t out_plane, int32_t K) {
  r->y = r->y_col = y;
  r->rec = p->packed;
  r->rec_end = p->packed + (size_t)(p->m >> 1) * (size_t)(K + TINYC_QCONV_PACK_EXTRA);
  r->plane = (int32_t)out_plane;
  r->kb = 4 * K;
}

/* ---- two output channels x three pixels --------------------------------------------------- */

/* A triple of pixels takes two of the column's pair blocks (K words each, mac2x2's
 * layout), X then M: its first two pixels are M's, its third is X's first (X's second is
 * gathered for nothing: it is the third's neighbour, which keeps X on the gathers' fast
 * paths). The tile reads X's words at M's address minus 4K bytes. */
#if TINYC_QCONV_ASM14
/* Every channel pair (record) of every triple of the column in one assembly run. A tile:
 * the six sums start from the record's biases (LDRD), then per 4 reduction steps two runs
 * of five loads (two weight words, three pixels' column words: 6 estimated cycles) and six
 * SMLADs: 24 cycles per 24 MACs. Sixteen groups a round (the loop's end test, 6 cycles,
 * once per 384 MACs), entered (TBH, out of line: nothing when K / 4 % 16 == 0) at the
 * group that leaves a multiple of sixteen; the loop ends where the column pointer meets
 * r->end. The six sums are requantized with the record's constants and stored; then the
 * next record on the same triple (col back to M), and after the last record the next
 * triple (2K words on). About 40 cycles a tile besides the groups, against about 100 for
 * the int8 tile with the pair set up in C. col: the first triple's M. */
#define TINYC_P2X3_GROUP                           \
  "ldr    %[u], [%[w]], #4\n\t"                    \
  "ldr    %[v], [%[w]], #4\n\t"                    \
  "ldr    %[c2], [%[col], %[nk], lsl #2]\n\t"      \
  "ldr    %[c1], [%[col], #8]\n\t"                 \
  "ldr    %[c0], [%[col]], #4\n\t"                 \
  "smlad  %[a00], %[u], %[c0], %[a00]\n\t"         \
  "smlad  %[a01], %[u], %[c1], %[a01]\n\t"         \
  "smlad  %[a02], %[u], %[c2], %[a02]\n\t"         \
  "smlad  %[a10], %[v], %[c0], %[a10]\n\t"         \
  "smlad  %[a11], %[v], %[c1], %[a11]\n\t"         \
  "smlad  %[a12], %[v], %[c2], %[a12]\n\t"         \
  "ldr    %[u], [%[w]], #4\n\t"                    \
  "ldr    %[v], [%[w]], #4\n\t"                    \
  "ldr    %[c2], [%[col], %[nk], lsl #2]\n\t"      \
  "ldr    %[c1], [%[col], #8]\n\t"                 \
  "ldr    %[c0], [%[col]], #12\n\t"                \
  "smlad  %[a00], %[u], %[c0], %[a00]\n\t"         \
  "smlad  %[a01], %[u], %[c1], %[a01]\n\t"         \
  "smlad  %[a02], %[u], %[c2], %[a02]\n\t"         \
  "smlad  %[a10], %[v], %[c0], %[a10]\n\t"         \
  "smlad  %[a11], %[v], %[c1], %[a11]\n\t"         \
  "smlad  %[a12], %[v], %[c2], %[a12]\n\t"
#define TINYC_P2X3_REQUANT(A, B, C)             \
  "ldr    %[c1], [%[w], #4]\n\t"                \
  "ldr    %[c2], [%[w], #8]\n\t"                \
  "ldr    %[c0], [%[w]], #12\n\t"               \
  "smmla  %[" A "], %[" A "], %[c0], %[c1]\n\t" \
  "smmla  %[" B "], %[" B "], %[c0], %[c1]\n\t" \
  "smmla  %[" C "], %[" C "], %[c0], %[c1]\n\t" \
  "asr    %[" A "], %[" A "], %[c2]\n\t"        \
  "asr    %[" B "], %[" B "], %[c2]\n\t"        \
  "asr    %[" C "], %[" C "], %[c2]\n\t"        \
  "ssat   %[" A "], #8, %[" A "]\n\t"           \
  "ssat   %[" B "], #8, %[" B "]\n\t"           \
  "ssat   %[" C "], #8, %[" C "]\n\t"
/* the entry of a round of sixteen groups: TBH's table precedes its targets */
#define TINYC_PACKED_AT(n) "(.Lpg" #n "_%= - .Lpt%=) / 2"
#define TINYC_PACKED_ENTRY "tbh    [pc, %[u], lsl #1]\n" TINYC_PACKED_TABLE
#define TINYC_PACKED_TABLE                                                               \
  ".Lpt%=:\n\t"                                                                          \
  ".hword (1f - .Lpt%=) / 2, " TINYC_PACKED_AT(2) ", " TINYC_PACKED_AT(3) ", "             \
  TINYC_PACKED_AT(4) "\n\t"                                                               \
  ".hword " TINYC_PACKED_AT(5) ", " TINYC_PACKED_AT(6) ", " TINYC_PACKED_AT(7) ", "         \
  TINYC_PACKED_AT(8) "\n\t"                                                               \
  ".hword " TINYC_PACKED_AT(9) ", " TINYC_PACKED_AT(10) ", " TINYC_PACKED_AT(11) ", "       \
  TINYC_PACKED_AT(12) "\n\t"                                                              \
  ".hword " TINYC_PACKED_AT(13) ", " TINYC_PACKED_AT(14) ", " TINYC_PACKED_AT(15) ", "      \
  TINYC_PACKED_AT(16) "\n"
#define TINYC_PACKED_GROUPS(G)                                                            \
  "1:\n\t" G ".Lpg2_%=:\n\t" G ".Lpg3_%=:\n\t" G ".Lpg4_%=:\n\t" G ".Lpg5_%=:\n\t" G       \
  ".Lpg6_%=:\n\t" G ".Lpg7_%=:\n\t" G ".Lpg8_%=:\n\t" G ".Lpg9_%=:\n\t" G ".Lpg10_%=:\n\t" G \
  ".Lpg11_%=:\n\t" G ".Lpg12_%=:\n\t" G ".Lpg13_%=:\n\t" G ".Lpg14_%=:\n\t" G             \
  ".Lpg15_%=:\n\t" G ".Lpg16_%=:\n\t" G

TINYC_INLINE void packed_triples(const int32_t *col, int32_t nk, packed_run *r) {
  const int32_t *w = r->rec;
  int32_t a00, a01, a02, a10, a11, a12, u, v, c0, c1, c2;
  __asm__ volatile(
      "b      0f\n"
      "9:\n\t"
      "lsr    %[u], %[u], #2\n\t" TINYC_PACKED_ENTRY
      "0:\n\t"
      "ldrd   %[a00], %[a10], [%[w]], #8\n\t"
      "mov    %[a01], %[a00]\n\t"
      "mov    %[a02], %[a00]\n\t"
      "mov    %[a11], %[a10]\n\t"
      "mov    %[a12], %[a10]\n\t"
      "ands   %[u], %[nk], #60\n\t" /* 4 * (groups the first round skips) */
      "bne    9b\n" TINYC_PACKED_GROUPS(TINYC_P2X3_GROUP)
      "ldr    %[u], %[end]\n\t"
      "cmp    %[col], %[u]\n\t"
      "bne    1b\n\t"
      TINYC_P2X3_REQUANT("a00", "a01", "a02")
      TINYC_P2X3_REQUANT("a10", "a11", "a12")
      "ldr    %[u], %[y]\n\t"
      "ldr    %[v], %[plane]\n\t"
      "strb   %[a00], [%[u]]\n\t"
      "strb   %[a01], [%[u], #1]\n\t"
      "strb   %[a02], [%[u], #2]\n\t"
      "add    %[u], %[u], %[v]\n\t"
      "strb   %[a10], [%[u]]\n\t"
      "strb   %[a11], [%[u], #1]\n\t"
      "strb   %[a12], [%[u], #2]\n\t"
      "add    %[u], %[u], %[v]\n\t"
      "str    %[u], %[y]\n\t"
      "add    %[col], %[col], %[nk], lsl #2\n\t" /* back to M */
      "ldr    %[u], %[rec_end]\n\t"
      "cmp    %[w], %[u]\n\t"
      "bne    0b\n\t"
      /* the next triple: the first record, M and the loop's end 2K words on */
      "ldr    %[w], %[rec]\n\t"
      "ldr    %[u], %[y_col]\n\t"
      "add    %[u], %[u], #3\n\t"
      "str    %[u], %[y_col]\n\t"
      "str    %[u], %[y]\n\t"
      "sub    %[col], %[col], %[nk], lsl #3\n\t"
      "ldr    %[v], %[end]\n\t"
      "sub    %[v], %[v], %[nk], lsl #3\n\t"
      "str    %[v], %[end]\n\t"
      "ldr    %[v], %[y_end]\n\t"
      "cmp    %[u], %[v]\n\t"
      "bne    0b"
      : [a00] "=&r"(a00), [a01] "=&r"(a01), [a02] "=&r"(a02), [a10] "=&r"(a10),
        [a11] "=&r"(a11), [a12] "=&r"(a12), [w] "+r"(w), [col] "+r"(col), [u] "=&r"(u),
        [v] "=&r"(v), [c0] "=&r"(c0), [c1] "=&r"(c1), [c2] "=&r"(c2), [y] "+m"(r->y),
        [y_col] "+m"(r->y_col), [end] "+m"(r->end)
      : [nk] "r"(nk), [y_end] "m"(r->y_end), [rec] "m"(r->rec), [rec_end] "m"(r->rec_end),
        [plane] "m"(r->plane)
      : "cc", "memory");
}
#undef TINYC_P2X3_GROUP
#undef TINYC_P2X3_REQUANT
#else
/* The same in C: col is the first triple's M, nk = -K. */
TINYC_INLINE void packed_triples(const int32_t *col, int32_t nk, packed_run *r) {
  const int32_t K = -nk;
  for (; r->y_col != r->y_end; r->y_col += 3, col += 2 * K) {
    const int32_t *rec;
    int8_t *y = r->y_col;
    for (rec = r->rec; rec != r->rec_end; rec += K + TINYC_QCONV_PACK_EXTRA) {
      const int32_t *m = col, *x = col + nk, *wt = rec + 2, *t = rec + 2 + K;
      int32_t a00 = rec[0], a01 = a00, a02 = a00, a10 = rec[1], a11 = a10, a12 = a10, q;
      for (q = K >> 2; q > 0; --q, wt += 4, m += 4, x += 4) {
        a00 = tinyc_smlad(wt[2], m[1], tinyc_smlad(wt[0], m[0], a00));
        a01 = tinyc_smlad(wt[2], m[3], tinyc_smlad(wt[0], m[2], a01));
        a02 = tinyc_smlad(wt[2], x[1], tinyc_smlad(wt[0], x[0], a02));
        a10 = tinyc_smlad(wt[3], m[1], tinyc_smlad(wt[1], m[0], a10));
        a11 = tinyc_smlad(wt[3], m[3], tinyc_smlad(wt[1], m[2], a11));
        a12 = tinyc_smlad(wt[3], x[1], tinyc_smlad(wt[1], x[0], a12));
      }
      y[0] = short_requant_one(a00, t[0], t[1], t[2]);
      y[1] = short_requant_one(a01, t[0], t[1], t[2]);
      y[2] = short_requant_one(a02, t[0], t[1], t[2]);
      y += r->plane;
      y[0] = short_requant_one(a10, t[3], t[4], t[5]);
      y[1] = short_requant_one(a11, t[3], t[4], t[5]);
      y[2] = short_requant_one(a12, t[3], t[4], t[5]);
      y += r->plane;
    }
  }
}
#endif

/* ---- two output channels x two pixels, packed ------------------------------------------- */

#if TINYC_QCONV_ASM14
/* Every channel pair (record) of every pixel pair block from r->block up to r->y_end in
 * one assembly run, as packed_triples: per 4 reduction steps one run of eight loads (the
 * block's four column words, both channels' two weight words: 9 estimated cycles) and
 * eight SMLADs, 17 cycles per 16 MACs (the int8 tile: 21). The pair's second output goes
 * r->step bytes after its first, stored first: with step 0 (a last pixel pair of one
 * pixel) the first overwrites it. */
#define TINYC_P2X2_GROUP                           \
  "ldr    %[c1], [%[col], #4]\n\t"                 \
  "ldr    %[c2], [%[col], #8]\n\t"                 \
  "ldr    %[c3], [%[col], #12]\n\t"                \
  "ldr    %[c0], [%[col]], #16\n\t"                \
  "ldr    %[v], [%[w], #4]\n\t"                    \
  "ldr    %[t], [%[w], #8]\n\t"                    \
  "ldr    %[s], [%[w], #12]\n\t"                   \
  "ldr    %[u], [%[w]], #16\n\t"                   \
  "smlad  %[a00], %[u], %[c0], %[a00]\n\t"         \
  "smlad  %[a01], %[u], %[c2], %[a01]\n\t"         \
  "smlad  %[a10], %[v], %[c0], %[a10]\n\t"         \
  "smlad  %[a11], %[v], %[c2], %[a11]\n\t"         \
  "smlad  %[a00], %[t], %[c1], %[a00]\n\t"         \
  "smlad  %[a01], %[t], %[c3], %[a01]\n\t"         \
  "smlad  %[a10], %[s], %[c1], %[a10]\n\t"         \
  "smlad  %[a11], %[s], %[c3], %[a11]\n\t"
#define TINYC_P2X2_REQUANT(A, B)                \
  "ldr    %[c1], [%[w], #4]\n\t"                \
  "ldr    %[c2], [%[w], #8]\n\t"                \
  "ldr    %[c0], [%[w]], #12\n\t"               \
  "smmla  %[" A "], %[" A "], %[c0], %[c1]\n\t" \
  "smmla  %[" B "], %[" B "], %[c0], %[c1]\n\t" \
  "asr    %[" A "], %[" A "], %[c2]\n\t"        \
  "asr    %[" B "], %[" B "], %[c2]\n\t"        \
  "ssat   %[" A "], #8, %[" A "]\n\t"           \
  "ssat   %[" B "], #8, %[" B "]\n\t"

TINYC_INLINE void packed_pairs(packed_run *r) {
  const int32_t *w = r->rec, *col = r->block;
  int32_t a00, a01, a10, a11, u, v, t, s, c0, c1, c2, c3;
  __asm__ volatile(
      /* where the tiles enter their first round, from TBH's table once a run (each tile
       * then branches there with one LDR to PC: 4 cycles, against 10 for a TBH) */
      "adr.w  %[u], .Lpt%=\n\t"
      "ldr    %[v], %[skip]\n\t"
      "ldrh   %[v], [%[u], %[v], lsl #1]\n\t"
      "add    %[u], %[u], %[v], lsl #1\n\t"
      "orr    %[u], %[u], #1\n\t" /* Thumb */
      "str    %[u], %[entry]\n\t"
      "b      0f\n" TINYC_PACKED_TABLE
      "0:\n\t"
      "ldrd   %[a00], %[a10], [%[w]], #8\n\t"
      "mov    %[a01], %[a00]\n\t"
      "mov    %[a11], %[a10]\n\t"
      "ldr    pc, %[entry]\n" TINYC_PACKED_GROUPS(TINYC_P2X2_GROUP)
      "ldr    %[u], %[end]\n\t"
      "cmp    %[col], %[u]\n\t"
      "bne    1b\n\t"
      TINYC_P2X2_REQUANT("a00", "a01")
      TINYC_P2X2_REQUANT("a10", "a11")
      "ldr    %[u], %[y]\n\t"
      "ldr    %[v], %[plane]\n\t"
      "ldr    %[t], %[step]\n\t"
      "strb   %[a01], [%[u], %[t]]\n\t"
      "strb   %[a00], [%[u]]\n\t"
      "add    %[u], %[u], %[v]\n\t"
      "strb   %[a11], [%[u], %[t]]\n\t"
      "strb   %[a10], [%[u]]\n\t"
      "add    %[u], %[u], %[v]\n\t"
      "str    %[u], %[y]\n\t"
      "ldr    %[col], %[block]\n\t" /* back to the block's start */
      "ldr    %[u], %[rec_end]\n\t"
      "cmp    %[w], %[u]\n\t"
      "bne    0b\n\t"
      /* the next pixel pair: the first record, the next block; a last pixel pair of
       * one pixel stores it once (step 0) */
      "ldr    %[w], %[rec]\n\t"
      "ldr    %[u], %[y_col]\n\t"
      "ldr    %[v], %[y_odd]\n\t"
      "add    %[u], %[u], #2\n\t"
      "cmp    %[u], %[v]\n\t"
      "itt    eq\n\t"
      "moveq  %[v], #0\n\t"
      "streq  %[v], %[step]\n\t"
      "str    %[u], %[y_col]\n\t"
      "str    %[u], %[y]\n\t"
      "ldr    %[col], %[end]\n\t"
      "ldr    %[v], %[kb]\n\t"
      "str    %[col], %[block]\n\t"
      "add    %[v], %[v], %[col]\n\t"
      "str    %[v], %[end]\n\t"
      "ldr    %[v], %[y_end]\n\t"
      "cmp    %[u], %[v]\n\t"
      "bne    0b"
      : [a00] "=&r"(a00), [a01] "=&r"(a01), [a10] "=&r"(a10), [a11] "=&r"(a11), [w] "+r"(w),
        [col] "+r"(col), [u] "=&r"(u), [v] "=&r"(v), [t] "=&r"(t), [s] "=&r"(s),
        [c0] "=&r"(c0), [c1] "=&r"(c1), [c2] "=&r"(c2), [c3] "=&r"(c3), [y] "+m"(r->y)
      /* y_col, end, block, step and entry are written too: an asm takes at most 30
       * operands, and the memory clobber covers them */
      : [y_col] "m"(r->y_col), [end] "m"(r->end), [block] "m"(r->block),
        [step] "m"(r->step), [y_end] "m"(r->y_end), [y_odd] "m"(r->y_odd), [rec] "m"(r->rec), [rec_end] "m"(r->rec_end),
        [plane] "m"(r->plane), [kb] "m"(r->kb), [skip] "m"(r->skip), [entry] "m"(r->entry)
      : "cc", "memory");
}
#undef TINYC_P2X2_GROUP
#undef TINYC_P2X2_REQUANT
#else
TINYC_INLINE void packed_pairs(packed_run *r) {
  const int32_t K = r->kb >> 2;
  for (; r->y_col != r->y_end; r->y_col += 2, r->block += K) {
    const int32_t *rec;
    int8_t *y = r->y_col;
    if (y == r->y_odd) r->step = 0;
    for (rec = r->rec; rec != r->rec_end; rec += K + TINYC_QCONV_PACK_EXTRA) {
      const int32_t *c = r->block, *wt = rec + 2, *t = rec + 2 + K;
      int32_t a00 = rec[0], a01 = a00, a10 = rec[1], a11 = a10, q;
      for (q = K >> 2; q > 0; --q, wt += 4, c += 4) {
        a00 = tinyc_smlad(wt[2], c[1], tinyc_smlad(wt[0], c[0], a00));
        a01 = tinyc_smlad(wt[2], c[3], tinyc_smlad(wt[0], c[2], a01));
        a10 = tinyc_smlad(wt[3], c[1], tinyc_smlad(wt[1], c[0], a10));
        a11 = tinyc_smlad(wt[3], c[3], tinyc_smlad(wt[1], c[2], a11));
      }
      y[r->step] = short_requant_one(a01, t[0], t[1], t[2]);
      y[0] = short_requant_one(a00, t[0], t[1], t[2]);
      y += r->plane;
      y[r->step] = short_requant_one(a11, t[3], t[4], t[5]);
      y[0] = short_requant_one(a10, t[3], t[4], t[5]);
      y += r->plane;
    }
  }
}
#endif
#undef TINYC_PACKED_AT
#undef TINYC_PACKED_TABLE
#undef TINYC_PACKED_ENTRY
#undef TINYC_PACKED_GROUPS

/* Two channels (rows w, w + K) over the `count` pixels of the column (K words per pixel
 * pair), each four sums requantized straight from registers into s->y0 and s->y1 (the
 * two channels' output rows, advanced as it goes); the activation clamp is int8's own. */
TINYC_INLINE void channel_pair_short(const int8_t *w, const int32_t *col, int32_t count,
                                    tile_short *s) {
#if TINYC_QCONV_ASM14
  col = s->K & 3 ? tiles2x2_short(w, col, count, s, 1) : tiles2x2_short(w, col, count, s, 0);
  if (count & 1) { /* the last pixel pair has one pixel: its tile goes through s->last */
    int8_t *const y0 = s->y0, *const y1 = s->y1;
    s->y0 = s->last[0];
    s->y1 = s->last[1];
    tile2x2_short(w, col, s, 1); /* the 16-step form, which takes any K */
    y0[0] = s->last[0][0];
    y1[0] = s->last[1][0];
  }
#else
  int8_t *const end = s->y0 + (count & ~1);
  const int32_t K = s->K;
  for (; s->y0 < end; s->y0 += 2, s->y1 += 2, col += K) {
    int32_t a00 = s->bias0, a01 = a00, a10 = s->bias1, a11 = a10;
    mac2x2(w, K, col, &a00, &a01, &a10, &a11);
    s->y0[0] = short_requant_one(a00, s->q0, s->round0, s->rs0);
    s->y0[1] = short_requant_one(a01, s->q0, s->round0, s->rs0);
    s->y1[0] = short_requant_one(a10, s->q1, s->round1, s->rs1);
    s->y1[1] = short_requant_one(a11, s->q1, s->round1, s->rs1);
  }
  if (count & 1) { /* the last pixel pair has one pixel */
    int32_t a00 = s->bias0, a01 = a00, a10 = s->bias1, a11 = a10;
    mac2x2(w, K, col, &a00, &a01, &a10, &a11);
    s->y0[0] = short_requant_one(a00, s->q0, s->round0, s->rs0);
    s->y1[0] = short_requant_one(a10, s->q1, s->round1, s->rs1);
  }
#endif
}

/* The requantization of the channel pair whose multipliers and shifts start at qm, sm
 * into its record; zp2 = 2 * output zero point + 1. */
TINYC_INLINE void pair_record(tile_short *s, const int32_t *qm, const int32_t *sm,
                              uint32_t zp2) {
  /* round = 2^(rs - 1) + (zp << rs) = ((2 zp + 1) << rs) / 2, exact: |2 zp + 1| < 2^8 */
  s->q0 = qm[0];
  s->rs0 = -1 - sm[0];
  s->round0 = (int32_t)(zp2 << s->rs0) >> 1;
  s->q1 = qm[1];
  s->rs1 = -1 - sm[1];
  s->round1 = (int32_t)(zp2 << s->rs1) >> 1;
}

/* Output channels 0, 1, ... of group g (outputs from y) two at a time over the column's
 * `count` pixels (pair blocks) while both channels of a pair take the short form; returns
 * the first channel it left. One call per column, in a frame of its own (the column's
 * other paths and the multiply-accumulate's 14 registers do not meet); few arguments, as
 * those on the stack are in its caller's frame. */
static TINYC_DSP_NOINLINE int32_t channels_short(const int32_t *col, int32_t count,
                                                 const int8_t *W, const int32_t *B,
                                                 int8_t *y, size_t out_plane,
                                                 const tinyc_qconv_params *p, int32_t g) {
  const int32_t cg = p->c / p->group, mg = p->m / p->group, K = cg * p->kh * p->kw;
  const int8_t *w = W + (size_t)g * mg * K;
  const int32_t *bm = B ? B + g * mg : NULL;
  const int32_t *qm = p->multiplier + g * mg, *sm = p->shift + g * mg;
  const uint32_t zp2 = (uint32_t)(2 * p->output_offset + 1);
  const int32_t *const sm0 = sm, *const end = sm + (mg & ~1);
  tile_short s;
  s.K = K;
  s.bias0 = s.bias1 = 0;
  for (; sm < end; sm += 2, qm += 2, w += 2 * K, y += 2 * out_plane) {
    if (!short_form(sm[0]) || !short_form(sm[1])) break;
    pair_record(&s, qm, sm, zp2);
    if (bm) {
      s.bias0 = bm[0];
      s.bias1 = bm[1];
      bm += 2;
    }
    s.y0 = y;
    s.y1 = y + out_plane;
    channel_pair_short(w, col, count, &s);
  }
  return (int32_t)(sm - sm0);
}

/* Every output channel of a layer with packed records, two at a time over the column's
 * `count` pixels (outputs from y): its first `triples` triples (triples_of), then its
 * pair blocks (a last odd pixel stored once). One call a column from a small frame. */
static TINYC_DSP_NOINLINE void channels_packed(const int32_t *col, int32_t triples,
                                               int32_t count, int8_t *y, size_t out_plane,
                                               const tinyc_qconv_params *p) {
  const int32_t K = p->c * p->kh * p->kw;
  packed_run r;
  packed_begin(&r, p, y, out_plane, K);
  if (triples > 0) {
    r.y_end = y + 3 * triples;
    r.end = col + 2 * K; /* the first triple's M + K words */
    packed_triples(col + K, -K, &r);
    count -= 3 * triples;
    if (count == 0) return;
    y += 3 * triples;
    col += (size_t)2 * triples * K;
    r.y = r.y_col = y;
  }
  r.skip = (-(K >> 2)) & 15;
  r.y_end = y + ((count + 1) & ~1);
  r.y_odd = count & 1 ? r.y_end - 2 : NULL;
  r.step = r.y_odd == y ? 0 : 1;
  r.block = col;
  r.end = col + K;
  packed_pairs(&r);
}

/* The gather a layer's pixel pairs take when their windows allow (gather_columns): the
 * shape's part of each path's test, decided once a column. */
enum { GATHER_PLAIN, GATHER_3S1, GATHER_3S2, GATHER_4, GATHER_1S1, GATHER_1S2 };

TINYC_INLINE int gather_kind(const tinyc_qconv_params *p, int32_t K, int32_t cg) {
  if (p->kw == 3 && p->dil_w == 1) {
    if (p->stride_w == 1 && p->w >= 4) return GATHER_3S1;
    if (p->stride_w == 2 && ((cg * p->kh) & 3) == 0) return GATHER_3S2;
  }
  if (p->kw == 4 && p->dil_w == 1 && p->w >= 4) return GATHER_4;
  if (K == cg && p->stride_w == 1) return GATHER_1S1;
  if (K == cg && p->stride_w == 2) return GATHER_1S2;
  return GATHER_PLAIN;
}

/* gather_columns a pair block at a time.
 * Each pair's windows come from its row and column without a division, at unit dilation
 * without branches, and only the windows' part of the paths' tests is left per pair
 * (measured on ResNet-8: about 120 est. cycles a pair less than window_of, window_right
 * and every test per pair). */
static TINYC_DSP_NOINLINE void gather_pairs(int32_t *restrict col, const int8_t *xg,
                                            const tinyc_qconv_params *p, int32_t px,
                                            int32_t count, int32_t triples) {
  const int32_t cg = p->c / p->group, K = cg * p->kh * p->kw;
  const int32_t pixels = p->oh * p->ow, blocks = 2 * triples + (count - 3 * triples + 1) / 2;
  /* pixel px's row and column: one division a column, the pairs' windows from there */
  const int32_t ow = p->ow, oy0 = px / ow, ox0 = px - oy0 * ow;
  const int kind = gather_kind(p, K, cg), unit = p->dil_h == 1 && p->dil_w == 1;
  const int32_t plane = p->h * p->w;
  int32_t t;
  for (t = 0; t < blocks; ++t, col += K) {
    int32_t a, one, row, oy = oy0, ox;
    window wa, wb;
    if (t < 2 * triples) { /* X (p2, p3), then M (p0, p1) */
      a = 3 * (t >> 1) + (t & 1 ? 0 : 2);
      one = px + a + 1 >= pixels;
    } else {
      a = 3 * triples + 2 * (t - 2 * triples);
      one = a + 1 >= count;
    }
    for (ox = ox0 + a; ox >= ow; ox -= ow) ++oy; /* pixel px + a */
    row = !one && ox + 1 < ow; /* pixel b right of pixel a on its output row */
    if (unit) {
      wa.iy0 = oy * p->stride_h - p->pad_top;
      wa.ix0 = ox * p->stride_w - p->pad_left;
      wa.ky0 = at_least0(-wa.iy0);
      wa.ky1 = axis_end1(wa.iy0, p->kh, p->h);
      wa.kx0 = at_least0(-wa.ix0);
      wa.kx1 = axis_end1(wa.ix0, p->kw, p->w);
      wb = wa;
      if (row) {
        wb.ix0 = wa.ix0 + p->stride_w;
        wb.kx0 = at_least0(-wb.ix0);
        wb.kx1 = axis_end1(wb.ix0, p->kw, p->w);
      } else if (!one) {
        wb = window_at(p, oy + 1, 0);
      }
    } else {
      wa = window_at(p, oy, ox);
      wb = one ? wa : row ? window_right(&wa, p) : window_at(p, oy + 1, 0);
    }
    switch (kind) {
      case GATHER_3S1: /* see gather3_widened */
        if (row && wa.ix0 >= -1 && wa.ix0 + 3 <= p->w) {
          gather3_widened(xg, p, cg, &wa, col);
          continue;
        }
        break;
      case GATHER_3S2: /* see gather3s2_widened */
        if (row && wb.kx0 == 0 && wb.kx1 == 3 && wa.kx0 <= 1 && wa.kx1 == 3) {
          gather3s2_widened(xg, p, cg, &wa, col);
          continue;
        }
        break;
      case GATHER_4: /* a last odd pixel pairs with itself */
        if (gather4_fits_one(&wa, p) && gather4_fits_one(&wb, p)) {
          gather4_widened(xg, p, cg, &wa, &wb, col);
          continue;
        }
        break;
      case GATHER_1S1:
        if (row && full(&wa, p) && full(&wb, p)) {
          gather1_widened(xg + (size_t)wa.iy0 * p->w + wa.ix0, cg, plane, p->input_offset, col);
          continue;
        }
        break;
      case GATHER_1S2: /* the word reads one byte past pixel b (gather1s2_widened) */
        if (row && wb.ix0 + 1 < p->w && full(&wa, p) && full(&wb, p)) {
          gather1s2_widened(xg + (size_t)wa.iy0 * p->w + wa.ix0, cg, plane, p->input_offset,
                            col);
          continue;
        }
        break;
      default:
        break;
    }
    gather(xg, p, cg, &wa, &wb, one, col);
    widen(col, K, p->input_offset);
  }
}

/* `pairs` pixel pairs of one output row from (oy, ox) at stride 1, 3 taps a row, each
 * pair's windows within gather3_widened's reach: the pairs' rows are the same, so a pair
 * costs its column words and a step of its first column (measured on ResNet-8, whose
 * banded columns are all such runs: 20.92M -> 20.77M est. cycles; gather3_widened is then
 * inlined twice, here and in gather_pairs, +5 KB of code: a call from gather_pairs would
 * stack the two frames past issue #16's 512 B). */
static TINYC_DSP_NOINLINE void gather3_row_pairs(int32_t *restrict col, const int8_t *xg,
                                                 const tinyc_qconv_params *p, int32_t oy,
                                                 int32_t ox, int32_t pairs) {
  const int32_t cg = p->c / p->group, K = cg * p->kh * 3;
  window wa = window_at(p, oy, ox);
  for (; pairs > 0; --pairs, col += K, wa.ix0 += 2) gather3_widened(xg, p, cg, &wa, col);
}

/* The column of output pixels [px, px + count) (pair blocks of K words; a last odd pixel
 * pairs with itself), gathered and widened; the first 3 * `triples` pixels as triples
 * (blocks X, M: pixel 2 and the next pixel -- read ahead, never written before it is
 * gathered again -- or pixel 2 alone at the end of the output, then pixels 0 and 1).
 * At a 1x1 window on contiguous pixels (stride 1, no padding, the input's rows as wide as
 * the output's: pixel px + a is byte px + a of each input plane, across output rows too)
 * two blocks come from four pixels in a row (gather1x4_widened): a triple's M and X (its
 * pixels 0..3) or two pairs, then a last triple or pair from halfwords, a last pixel
 * alone (gather1_alone); other layers take gather_pairs, a tail call: their frames are
 * not stacked. */
static TINYC_DSP_NOINLINE void gather_columns(int32_t *restrict col, const int8_t *xg,
                                              const tinyc_qconv_params *p, int32_t px,
                                              int32_t count, int32_t triples) {
  if (p->kh == 1 && p->kw == 1 && p->stride_w == 1 && p->pad_top == 0 && p->pad_left == 0 &&
      p->ow == p->w && p->oh <= p->h) {
    const int32_t cg = p->c / p->group, plane = p->h * p->w, pixels = p->oh * p->ow;
    for (; triples > 0 && px + 3 < pixels; --triples, px += 3, count -= 3, col += 2 * cg) {
      gather1x4_widened(xg + px, cg, plane, p->input_offset, col + cg, col); /* M, X */
    }
    if (triples == 0) {
      for (; count >= 4; px += 4, count -= 4, col += 2 * cg) { /* pixels px..px + 3 */
        gather1x4_widened(xg + px, cg, plane, p->input_offset, col, col + cg);
      }
    }
    /* the last triple (its pixel 2 alone) or pair(s): a pair's bytes are a halfword */
    for (; triples > 0; --triples, px += 3, count -= 3, col += 2 * cg) {
      gather1_widened(xg + px, cg, plane, p->input_offset, col + cg);
      if (px + 3 < pixels) {
        gather1_widened(xg + px + 2, cg, plane, p->input_offset, col);
      } else {
        gather1_alone(xg + px + 2, cg, plane, p->input_offset, col);
      }
    }
    for (; count >= 2; px += 2, count -= 2, col += cg) {
      gather1_widened(xg + px, cg, plane, p->input_offset, col);
    }
    if (count == 1) gather1_alone(xg + px, cg, plane, p->input_offset, col);
    return;
  }
  if (p->kw == 3 && p->dil_w == 1 && p->stride_w == 1 && p->w >= 4 && triples == 0 &&
      (count & 1) == 0) { /* a run of pairs on one output row (ResNet-8's rows) */
    const int32_t oy = px / p->ow, ox = px - oy * p->ow, ix0 = ox - p->pad_left;
    if (ox + count <= p->ow && ix0 >= -1 && ix0 + count + 1 <= p->w) {
      gather3_row_pairs(col, xg, p, oy, ox, count >> 1);
      return;
    }
  }
  gather_pairs(col, xg, p, px, count, triples);
}

/* Four pixels of one channel a round (mac1x4), each sum requantized straight from its
 * register by TOP (tinyc_smmla or tinyc_tflite_top: the rounding's high word), shifted
 * right by rs and saturated; for the register forms of channels_rest below. */
#define TINYC_QCONV_1X4_REQUANT(TOP)                                              \
  for (; t + 2 <= pairs && 2 * t + 4 <= count; t += 2) {                          \
    int32_t a[4];                                                                 \
    int8_t *o = y + 2 * t;                                                        \
    mac1x4(wm, K, col + (size_t)t * K, col + (size_t)(t + 1) * K, bias, a);       \
    o[0] = (int8_t)tinyc_ssat8(TOP(a[0], q, round) >> rs);                        \
    o[1] = (int8_t)tinyc_ssat8(TOP(a[1], q, round) >> rs);                        \
    o[2] = (int8_t)tinyc_ssat8(TOP(a[2], q, round) >> rs);                        \
    o[3] = (int8_t)tinyc_ssat8(TOP(a[3], q, round) >> rs);                        \
  }

/* Output channels [m, mg) of group g over the `count` pixels of the column (the paths
 * channel_pair_short does not take): a single pixel pair (long reductions) two channels at
 * a time, else one channel over four pixels at a time. Its own frame, off the stack of the
 * short form's. */
static TINYC_DSP_NOINLINE void channels_rest(const int32_t *col, const int8_t *W,
                                             const int32_t *B, int8_t *yg, size_t out_plane,
                                             const tinyc_qconv_params *p, int32_t g,
                                             int32_t m, int32_t count) {
  const int32_t cg = p->c / p->group, mg = p->m / p->group, K = cg * p->kh * p->kw;
  const tinyc_dsp_clamp cl = tinyc_dsp_clamp_make(p->output_offset, p->act_min, p->act_max);
  const int32_t *bm = B ? B + g * mg : NULL;
  const int32_t *qm = p->multiplier + g * mg, *sm = p->shift + g * mg;
  const int32_t pairs = (count + 1) / 2;
  const int clamp = p->act_min > -128 || p->act_max < 127;
  const int8_t *wm = W + ((size_t)g * mg + m) * K;
  int8_t *y = yg + (size_t)m * out_plane;
  int32_t m0, t;
  if (pairs == 1) { /* one pixel pair (long reductions): two channels at a time */
    for (; m + 2 <= mg; m += 2, wm += 2 * K, y += 2 * out_plane) {
      const tinyc_dsp_mult u0 = tinyc_dsp_mult_make(qm[m], sm[m]);
      const tinyc_dsp_mult u1 = tinyc_dsp_mult_make(qm[m + 1], sm[m + 1]);
      int32_t acc0[2] = {0, 0}, acc1[2] = {0, 0};
      mac2x2(wm, K, col, &acc0[0], &acc0[1], &acc1[0], &acc1[1]);
      tinyc_dsp_requant_row_bias(acc0, bm ? bm[m] : 0, y, count, &u0, &cl);
      tinyc_dsp_requant_row_bias(acc1, bm ? bm[m + 1] : 0, y + out_plane, count, &u1, &cl);
    }
  }
  for (; m < mg; ++m, wm += K, y += out_plane) {
    const tinyc_dsp_mult mu = tinyc_dsp_mult_make(qm[m], sm[m]);
    const int32_t bias = bm ? bm[m] : 0;
    int32_t acc[2 * TINYC_QCONV_PAIRS];
    t = 0;
    if (mu.shift <= -2 && mu.rs <= 20 && !clamp) {
      /* each four sums requantized straight from registers (SMMLA, shift, SSAT; zero
       * point in the rounding term as in tinyc_dsp_requant_row) */
      const int32_t q = mu.q, rs = mu.rs;
      const int32_t round = (int32_t)((uint32_t)mu.round + ((uint32_t)cl.zp << rs));
      TINYC_QCONV_1X4_REQUANT(tinyc_smmla);
      if (t == pairs) continue;
#ifdef TINYC_TFLITE
    } else if (!clamp && tinyc_tflite_rs(mu.shift) && tinyc_tflite_rs(mu.shift) <= 20) {
      /* the same with TFLite's rounding (tinyc_tflite_top) */
      const int32_t q = mu.q, rs = tinyc_tflite_rs(mu.shift);
      const int32_t round = (int32_t)((1u << (rs - 1)) + ((uint32_t)cl.zp << rs));
      TINYC_QCONV_1X4_REQUANT(tinyc_tflite_top);
      if (t == pairs) continue;
#endif
    }
    for (m0 = t; t + 2 <= pairs; t += 2) {
      mac1x4(wm, K, col + (size_t)t * K, col + (size_t)(t + 1) * K, bias, acc + 2 * t);
    }
    if (t < pairs) {
      acc[2 * t] = acc[2 * t + 1] = bias;
      mac1x2(wm, K, col + (size_t)t * K, &acc[2 * t], &acc[2 * t + 1]);
    }
    tinyc_dsp_requant_row(acc + 2 * m0, y + 2 * m0, count - 2 * m0, &mu, &cl);
  }
}

/* Triples a column of max_pairs pair blocks holds: in pairs of blocks when the layer has
 * packed records (every channel in the short form, one group, K % 4 == 0) and the column
 * is full size; and only for many channels over a long enough reduction: a triple
 * gathers one pixel twice (a pair block per triple more than pairs), which the 2 x 3
 * tile's saving over the 2 x 2 repays only from about mg >= TINYC_QCONV_TRIPLE_MG and K >=
 * TINYC_QCONV_TRIPLE_K (measured on the packed tiles: KWS int8 4.36M -> 4.14M est.
 * cycles with triples; ResNet-8's 16- and 32-channel K = 144 convs on triples too gain
 * nothing, unbanded 17.59M -> 17.61M, banded 17.86M -> 17.80M, one conv 2.5 % faster,
 * another 2.2 % slower, and 32 B more stack). tinyc/ops/qwork.py mirrors the shape test
 * (dense_takes_triples); a model
 * with no such layer defines TINYC_QCONV_NO_TRIPLES (tinyc_rt.h), which leaves the 2 x 3
 * tile's code out. */
#define TINYC_QCONV_TRIPLE_MG 64
#define TINYC_QCONV_TRIPLE_K 40
#ifdef TINYC_QCONV_NO_TRIPLES
TINYC_INLINE int32_t triples_of(const tinyc_qconv_params *p, int32_t blocks) {
  (void)p;
  (void)blocks;
  return 0;
}
#else
TINYC_INLINE int32_t triples_of(const tinyc_qconv_params *p, int32_t blocks) {
  const int32_t K = p->c * p->kh * p->kw;
  return TINYC_QCONV_PACKED(p) && blocks >= TINYC_QCONV_PAIRS && p->m >= TINYC_QCONV_TRIPLE_MG &&
                 K >= TINYC_QCONV_TRIPLE_K
             ? blocks / 2
             : 0;
}
#endif

/* Output pixels [px0, px1) of the output channels of group g, in groups of up to
 * TINYC_QCONV_PAIRS pixel pairs: their windows are gathered before any of their outputs is
 * written (which the in-place form relies on), then a layer with packed records runs every
 * channel pair over them (channels_packed); otherwise each pair of output channels in the
 * short requantization form runs over the pixel pairs (channel_pair_short), and the
 * other channels take channels_rest. K <= TINYC_QCONV_COLUMN. */
TINYC_INLINE void conv_pixels_with(int32_t *restrict col, int32_t blocks,
                                   const int8_t *xg, const int8_t *W, const int32_t *B,
                                   int8_t *yg, size_t out_plane, const tinyc_qconv_params *p,
                                   int32_t g, int32_t px0, int32_t px1) {
  const int32_t mg = p->m / p->group, K = p->c / p->group * p->kh * p->kw;
  const int32_t max_pairs = blocks < TINYC_QCONV_PAIRS ? blocks : TINYC_QCONV_PAIRS;
  const int clamp = p->act_min > -128 || p->act_max < 127;
  const int32_t triples = triples_of(p, blocks);
  const int32_t span = triples ? 3 * triples : 2 * max_pairs; /* pixels a column */
  int32_t m, px;
  for (px = px0; px < px1; px += span) {
    const int32_t count = px1 - px < span ? px1 - px : span;     /* pixels */
    const int32_t whole = count / 3 < triples ? count / 3 : triples; /* triples */
    int8_t *y = yg + (px - px0); /* output (m, px) at yg[m * out_plane + px - px0] */
    const int32_t rest = count - 3 * whole; /* pixels in pair blocks */
    const int32_t *pairs = col + (size_t)2 * whole * K;
    gather_columns(col, xg, p, px, count, whole);
    m = mg;
    if (TINYC_QCONV_PACKED(p)) { /* one group, every channel short (tinyc/ops/qpack.py) */
      channels_packed(col, whole, count, y, out_plane, p);
      continue;
    }
    if (rest > 0) {
      m = clamp && TINYC_QCONV_GENERAL ? 0
                                       : channels_short(pairs, rest, W, B, y, out_plane, p, g);
    }
    TINYC_DCHECK(TINYC_QCONV_GENERAL || (!clamp && m == mg));
    if (TINYC_QCONV_GENERAL && m < mg) channels_rest(pairs, W, B, y, out_plane, p, g, m, rest);
  }
}

/* K <= TINYC_QCONV_COLUMN; the column is `work` (K words a pair block, up to
 * TINYC_QCONV_PAIRS blocks) */
static TINYC_DSP_NOINLINE void conv_pixels(int32_t *restrict work, const int8_t *xg,
                                           const int8_t *W, const int32_t *B, int8_t *yg,
                                           size_t out_plane, const tinyc_qconv_params *p,
                                           int32_t g, int32_t px0, int32_t px1) {
  const int32_t fit = TINYC_QCONV_COLUMN / (p->c / p->group * p->kh * p->kw);
  conv_pixels_with(work, fit < TINYC_QCONV_PAIRS ? fit : TINYC_QCONV_PAIRS, xg, W, B, yg,
                   out_plane, p, g, px0, px1);
}

/* The same without the column buffer, one output pixel and channel at a time (reductions
 * longer than TINYC_QCONV_COLUMN); each pixel's outputs are computed before any is stored,
 * through `buf` (m bytes), which keeps the in-place form's promise too. */
static TINYC_DSP_NOINLINE void conv_pixels_direct(const int8_t *xg, const int8_t *W,
                                                  const int32_t *B, int8_t *yg,
                                                  const tinyc_qconv_params *p, int32_t g,
                                                  int32_t px0, int32_t px1, int8_t *buf) {
  const int32_t cg = p->c / p->group, mg = p->m / p->group, K = cg * p->kh * p->kw;
  const size_t out_plane = (size_t)p->oh * p->ow;
  const tinyc_dsp_clamp cl = tinyc_dsp_clamp_make(p->output_offset, p->act_min, p->act_max);
  int32_t m, px;
  for (px = px0; px < px1; ++px) {
    for (m = 0; m < mg; ++m) {
      const int32_t mm = g * mg + m;
      const int32_t acc = direct_pixel(xg, W + (size_t)mm * K, p, cg, px / p->ow, px % p->ow,
                                       B ? B[mm] : 0);
      buf[m] = tinyc_dsp_requant1(acc, p->multiplier[mm], p->shift[mm], &cl);
    }
    for (m = 0; m < mg; ++m) yg[(size_t)m * out_plane + px] = buf[m];
  }
}

/* One group's outputs without the column (Y does not alias X: no buffer needed); a
 * function of its own so its frame is not on the stack of the column path. */
static TINYC_DSP_NOINLINE void conv_group_direct(const int8_t *xg, const int8_t *W,
                                                 const int32_t *B, int8_t *yg,
                                                 const tinyc_qconv_params *p, int32_t g) {
  const int32_t cg = p->c / p->group, mg = p->m / p->group, K = cg * p->kh * p->kw;
  const int32_t pixels = p->oh * p->ow;
  const tinyc_dsp_clamp cl = tinyc_dsp_clamp_make(p->output_offset, p->act_min, p->act_max);
  int32_t px, m;
  for (px = 0; px < pixels; ++px) {
    for (m = 0; m < mg; ++m) {
      const int32_t mm = g * mg + m;
      const int32_t acc = direct_pixel(xg, W + (size_t)mm * K, p, cg, px / p->ow, px % p->ow,
                                       B ? B[mm] : 0);
      yg[(size_t)m * pixels + px] = tinyc_dsp_requant1(acc, p->multiplier[mm], p->shift[mm],
                                                       &cl);
    }
  }
}

/* Every image and group (tinyc_conv2d_s8 without its one-image, one-group shortcut). */
static TINYC_DSP_NOINLINE void conv2d_groups(const int8_t *X, const int8_t *W, const int32_t *B,
                                             int8_t *Y, int32_t *work,
                                             const tinyc_qconv_params *p) {
  const int32_t cg = p->c / p->group, mg = p->m / p->group, K = cg * p->kh * p->kw;
  const int32_t pixels = p->oh * p->ow;
  const size_t in_plane = (size_t)p->h * p->w, out_plane = (size_t)pixels;
  int32_t n, g;
  for (n = 0; n < p->n; ++n) {
    for (g = 0; g < p->group; ++g) {
      const int8_t *xg = X + ((size_t)n * p->c + (size_t)g * cg) * in_plane;
      int8_t *yg = Y + ((size_t)n * p->m + (size_t)g * mg) * out_plane;
      if (K <= TINYC_QCONV_COLUMN) {
        conv_pixels(work, xg, W, B, yg, out_plane, p, g, 0, pixels);
      } else {
        conv_group_direct(xg, W, B, yg, p, g);
      }
    }
  }
}

/* One image in one group, the usual case, calls the column loop from a small frame (the
 * stack of NAME_run: a float-boundary conv calls this from its own band loop). */
void tinyc_conv2d_s8(const int8_t *restrict X, const int8_t *restrict W,
                     const int32_t *restrict B, int8_t *restrict Y,
                     int32_t *restrict work, const tinyc_qconv_params *p) {
  const int32_t pixels = p->oh * p->ow;
  if (!TINYC_QCONV_GENERAL ||
      (p->n == 1 && p->group == 1 && p->c * p->kh * p->kw <= TINYC_QCONV_COLUMN)) {
    conv_pixels(work, X, W, B, Y, (size_t)pixels, p, 0, 0, pixels);
  } else {
    conv2d_groups(X, W, B, Y, work, p);
  }
}

/* A 1x1 convolution with more outputs than scratch bytes and too many inputs for the
 * column: each input pixel is buffered in scratch, then every output can be stored at once.
 * Its own frame, off the stack of the column path. */
static TINYC_DSP_NOINLINE void conv1x1_buffered(const int8_t *X, const int8_t *W,
                                                const int32_t *B, int8_t *Y, int8_t *scratch,
                                                const tinyc_qconv_params *p) {
  const int32_t pixels = p->h * p->w;
  const tinyc_dsp_clamp cl = tinyc_dsp_clamp_make(p->output_offset, p->act_min, p->act_max);
  int32_t px, c, m;
  for (px = 0; px < pixels; ++px) {
    for (c = 0; c < p->c; ++c) scratch[c] = X[(size_t)c * pixels + px];
    for (m = 0; m < p->m; ++m) {
      const int8_t *wm = W + (size_t)m * p->c;
      int32_t acc = B ? B[m] : 0;
      for (c = 0; c < p->c; ++c) acc += ((int32_t)scratch[c] + p->input_offset) * wm[c];
      Y[(size_t)m * pixels + px] = tinyc_dsp_requant1(acc, p->multiplier[m], p->shift[m], &cl);
    }
  }
}

void tinyc_conv1x1_stream_s8(const int8_t *X, const int8_t *restrict W,
                             const int32_t *restrict B, int8_t *Y, int8_t *restrict scratch,
                             int32_t *restrict work, const tinyc_qconv_params *p) {
  const int32_t pixels = p->h * p->w;
  TINYC_DCHECK(p->n == 1 && p->kh == 1 && p->kw == 1 && p->group == 1);
  if (p->c <= TINYC_QCONV_COLUMN) {
    /* the column buffer holds the input pixels */
    conv_pixels(work, X, W, B, Y, (size_t)pixels, p, 0, 0, pixels);
  } else if (p->m <= p->c) {
    conv_pixels_direct(X, W, B, Y, p, 0, 0, pixels, scratch);
  } else {
    conv1x1_buffered(X, W, B, Y, scratch, p);
  }
}

/* Output row oy into slot (m rows of ow) without the column (reductions longer than
 * TINYC_QCONV_COLUMN); its own frame, off the stack of the column path. */
static TINYC_DSP_NOINLINE void conv_row_direct(const int8_t *X, const int8_t *W,
                                               const int32_t *B, int8_t *slot,
                                               const tinyc_qconv_params *p, int32_t oy) {
  const int32_t K = p->c * p->kh * p->kw;
  const tinyc_dsp_clamp cl = tinyc_dsp_clamp_make(p->output_offset, p->act_min, p->act_max);
  int32_t m, ox;
  for (m = 0; m < p->m; ++m) {
    for (ox = 0; ox < p->ow; ++ox) {
      const int32_t acc = direct_pixel(X, W + (size_t)m * K, p, p->c, oy, ox, B ? B[m] : 0);
      slot[(size_t)m * p->ow + ox] = tinyc_dsp_requant1(acc, p->multiplier[m], p->shift[m],
                                                        &cl);
    }
  }
}

void tinyc_conv2d_rows_stream_s8(const int8_t *X, const int8_t *restrict W,
                                 const int32_t *restrict B, int8_t *Y, int8_t *restrict scratch,
                                 int32_t *restrict work, const tinyc_qconv_params *p) {
  /* output row oy needs input rows from oy - pad_top on: once row oy is computed, input
   * rows <= oy - pad_top are dead, and so is the place of output row oy - pad_top */
  const int32_t lag = p->pad_top, ring = p->pad_top + 1, K = p->c * p->kh * p->kw;
  const size_t row = (size_t)p->m * p->ow, plane = (size_t)p->oh * p->ow;
  int32_t oy, m;
  TINYC_DCHECK(p->n == 1 && p->group == 1 && p->stride_h == 1 && p->oh == p->h);
  TINYC_DCHECK(p->ow == p->w);
  for (oy = 0; oy <= p->oh + lag - 1; ++oy) {
    if (oy < p->oh) {
      int8_t *slot = scratch + (size_t)(oy % ring) * row;
      if (K <= TINYC_QCONV_COLUMN) {
        conv_pixels(work, X, W, B, slot, (size_t)p->ow, p, 0, oy * p->ow, (oy + 1) * p->ow);
      } else {
        conv_row_direct(X, W, B, slot, p, oy);
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

/* ---- depthwise ------------------------------------------------------------------------- */

/* One depthwise output plane: input plane xc, weights wk (kh x kw), into out. */
static void dw_plane(const int8_t *xc, const int8_t *wk, int32_t bias, int32_t q, int32_t sh,
                     int8_t *out, int32_t *restrict work, const tinyc_qconv_params *p) {
  const tinyc_dsp_clamp cl = tinyc_dsp_clamp_make(p->output_offset, p->act_min, p->act_max);
  const tinyc_dsp_mult mul = tinyc_dsp_mult_make(q, sh);
  const int32_t off = p->input_offset;
  int32_t oy, ox, ky, kx;
  (void)work; /* no scratch */
  for (oy = 0; oy < p->oh; ++oy) {
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    const int32_t ky0 = tinyc_window_first(iy0, p->dil_h);
    const int32_t ky1 = tinyc_window_end(iy0, p->dil_h, p->kh, p->h);
    for (ox = 0; ox < p->ow; ++ox) {
      const int32_t ix0 = ox * p->stride_w - p->pad_left;
      const int32_t kx0 = tinyc_window_first(ix0, p->dil_w);
      const int32_t kx1 = tinyc_window_end(ix0, p->dil_w, p->kw, p->w);
      int32_t acc = bias;
      for (ky = ky0; ky < ky1; ++ky) {
        const int8_t *xr = xc + (size_t)(iy0 + ky * p->dil_h) * p->w;
        const int8_t *wr = wk + (size_t)ky * p->kw;
        for (kx = kx0; kx < kx1; ++kx) {
          acc += ((int32_t)xr[ix0 + kx * p->dil_w] + off) * (int32_t)wr[kx];
        }
      }
      out[(size_t)oy * p->ow + ox] = tinyc_dsp_requant(acc, &mul, &cl);
    }
  }
}

/* A 3x3 depthwise plane (unit dilation, stride_w 1 or 2, padded rows at most
 * TINYC_QDW_ROW bytes; wider rows take the plain loop). Each output row reads three input
 * rows copied into `rows` with
 * the padding filled with the input zero point; since a zero-point byte contributes
 * (zp + input_offset) * w = 0, every output is then a full 3x3 window and
 *   acc = bias + input_offset * sum(w) + sum(x * w)
 * needs no offset per tap. Per row of taps: one 4-byte load, two SXTB16, and SMLAD with
 * the weight pair (w0, w2) plus SMLABB/SMLATB with w1 give two outputs (stride 1). */
#define TINYC_QDW_ROW 128

TINYC_INLINE int32_t dw3_row1(int32_t acc, int32_t x, int32_t w02, int32_t w1) {
  /* one output, taps x0 x1 x2 (bytes 0..2 of x) */
  return tinyc_smlabb(tinyc_sxtb16_hi(x), w1, tinyc_smlad(tinyc_sxtb16(x), w02, acc));
}

static int dw3_fits(const tinyc_qconv_params *p) {
  return p->kh == 3 && p->kw == 3 && p->dil_h == 1 && p->dil_w == 1 &&
         (p->stride_w == 1 || p->stride_w == 2) && p->pad_left <= 2 &&
         (p->ow - 1) * p->stride_w + 3 <= TINYC_QDW_ROW;
}

static void dw3_plane(const int8_t *xc, const int8_t *wk, int32_t bias, int32_t q, int32_t sh,
                      int8_t *out, int32_t *restrict work, const tinyc_qconv_params *p) {
  const tinyc_dsp_clamp cl = tinyc_dsp_clamp_make(p->output_offset, p->act_min, p->act_max);
  const tinyc_dsp_mult mul = tinyc_dsp_mult_make(q, sh);
  const int8_t zp = (int8_t)-p->input_offset;
  const int32_t sw = p->stride_w, len = (p->ow - 1) * sw + 3, pl = p->pad_left;
  const int32_t inner = p->w < len - pl ? p->w : len - pl; /* input bytes a row holds */
  /* work: one output row's sums (ow words, requantized in a second pass), then three
   * padded rows of len + 4 bytes */
  int32_t *const acc = work;
  int8_t *const buf = (int8_t *)(work + p->ow);
  int8_t *rows[3];
  int32_t w02[3], w1[3], sumw = 0, r, oy, ox, i;
  for (r = 0; r < 3; ++r) {
    w02[r] = tinyc_pack16(wk[3 * r], wk[3 * r + 2]);
    w1[r] = wk[3 * r + 1];
    sumw += wk[3 * r] + wk[3 * r + 1] + wk[3 * r + 2];
    rows[r] = buf + (size_t)r * (size_t)(len + 4);
    memset(rows[r], zp, (size_t)len + 4); /* the padding stays: rows only rewrite [pl, pl+inner) */
  }
  bias += p->input_offset * sumw;
  for (oy = 0; oy < p->oh; ++oy, out += p->ow) {
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    /* stride 1 after the first row: the two lower rows move up, one row is new */
    const int32_t reuse = oy > 0 && p->stride_h == 1 ? 2 : 0;
    if (reuse) {
      int8_t *top = rows[0];
      rows[0] = rows[1];
      rows[1] = rows[2];
      rows[2] = top;
    }
    for (r = reuse; r < 3; ++r) {
      const int32_t iy = iy0 + r;
      int8_t *dst = rows[r] + pl;
      if (iy >= 0 && iy < p->h) {
        const int8_t *src = xc + (size_t)iy * p->w;
        if (inner > 16) {
          memcpy(dst, src, (size_t)inner);
        } else {
          for (i = 0; i < inner; ++i) dst[i] = src[i];
        }
      } else {
        for (i = 0; i < inner; ++i) dst[i] = zp;
      }
    }
    {
      const int8_t *x0 = rows[0], *x1 = rows[1], *x2 = rows[2];
      const int32_t u0 = w02[0], u1 = w02[1], u2 = w02[2], v0 = w1[0], v1 = w1[1], v2 = w1[2];
      ox = 0;
      if (sw == 1) {
        for (; ox + 2 <= p->ow; ox += 2, x0 += 2, x1 += 2, x2 += 2) {
          const int32_t t0 = tinyc_load4(x0), t1 = tinyc_load4(x1), t2 = tinyc_load4(x2);
          const int32_t e0 = tinyc_sxtb16(t0), o0 = tinyc_sxtb16_hi(t0);
          const int32_t e1 = tinyc_sxtb16(t1), o1 = tinyc_sxtb16_hi(t1);
          const int32_t e2 = tinyc_sxtb16(t2), o2 = tinyc_sxtb16_hi(t2);
          int32_t a0 = tinyc_smlad(e0, u0, bias), a1 = tinyc_smlad(o0, u0, bias);
          a0 = tinyc_smlabb(o0, v0, a0);
          a1 = tinyc_smlatb(e0, v0, a1);
          a0 = tinyc_smlabb(o1, v1, tinyc_smlad(e1, u1, a0));
          a1 = tinyc_smlatb(e1, v1, tinyc_smlad(o1, u1, a1));
          a0 = tinyc_smlabb(o2, v2, tinyc_smlad(e2, u2, a0));
          a1 = tinyc_smlatb(e2, v2, tinyc_smlad(o2, u2, a1));
          acc[ox] = a0;
          acc[ox + 1] = a1;
        }
      }
      for (; ox < p->ow; ++ox, x0 += sw, x1 += sw, x2 += sw) {
        int32_t a0 = dw3_row1(bias, tinyc_load4(x0), u0, v0);
        a0 = dw3_row1(a0, tinyc_load4(x1), u1, v1);
        acc[ox] = dw3_row1(a0, tinyc_load4(x2), u2, v2);
      }
    }
    tinyc_dsp_requant_row(acc, out, p->ow, &mul, &cl);
  }
}

/* Small 3x3 depthwise planes: the whole plane is first copied, padding included, into
 * `plane` in the workspace, so no output needs a bound check and the copy is the plane's only
 * per-row overhead (small maps, like KWS's 25x5 or a MobileNet's 6x6, are all overhead
 * otherwise). At stride 1 both ways with rows of at most TINYC_QDW_WIDE padded bytes the
 * plane is walked down its columns with the requantization in the same loop (dw3_walk,
 * below). Otherwise, with stride_w 1 outputs come in pairs from one row word per tap row (26
 * instructions per two outputs in 13 registers, row 2's weights read each time; an odd
 * last column computes a pair whose second value is dropped); with stride_w 2, one at a
 * time. The assembly loops need the optimizer; TINYC_NO_DSP_ASM turns them off for builds
 * that reserve registers (a frame pointer, -ffixed-r9: the 14-register loops of this file
 * do not fit then). Their sums go to `acc` a band
 * of rows at a time, and the bias and requantization follow per band. Since the input
 * plane is fully copied before any of its outputs is stored, the in-place form can write
 * its output straight to Y. */
#define TINYC_QDW_PLANE 512 /* padded plane bytes (plus 4 of slack) */
#define TINYC_QDW_ACC 64    /* sums per band */
/* The column walk's plane: rows of TINYC_QDW_NARROW or TINYC_QDW_WIDE bytes (constants,
 * so the assembly steps down a column with an immediate offset), at most TINYC_QDW_STAGE
 * bytes with the slack; its outputs are staged TINYC_QDW_STAGE bytes further on, row for
 * row. */
#define TINYC_QDW_NARROW 8
#define TINYC_QDW_WIDE 16
#define TINYC_QDW_STAGE 256

typedef struct {
  int32_t stride; /* bytes per padded row: (ow - 1) * stride_w + 3, or the walk's */
  int32_t rows;   /* padded rows: (oh - 1) * stride_h + 3 */
  int32_t pairs;  /* stride_w 1: output pairs per row */
  int32_t row;    /* sums per output row: 2 * pairs, or ow */
  int32_t band;   /* output rows per band */
  int32_t walk;   /* 1: the column walk (stride 1, narrow rows), no sums */
} dw3_small_shape;

static dw3_small_shape dw3_small_shape_of(const tinyc_qconv_params *p) {
  dw3_small_shape g;
  g.stride = (p->ow - 1) * p->stride_w + 3;
  g.rows = (p->oh - 1) * p->stride_h + 3;
  g.pairs = (p->ow + 1) / 2;
  g.row = p->stride_w == 1 ? 2 * g.pairs : p->ow;
  g.band = TINYC_QDW_ACC / g.row;
  g.walk = 0;
  if (p->stride_h == 1 && p->stride_w == 1 && g.stride <= TINYC_QDW_WIDE) {
    const int32_t S = g.stride <= TINYC_QDW_NARROW ? TINYC_QDW_NARROW : TINYC_QDW_WIDE;
    g.walk = g.rows * S + 4 <= TINYC_QDW_STAGE;
    if (g.walk) g.stride = S;
  }
  return g;
}

static TINYC_DSP_NOINLINE int dw3_walk_fits(const tinyc_qconv_params *p) {
  return dw3_small_shape_of(p).walk;
}

static TINYC_DSP_NOINLINE int dw3_small_fits(const tinyc_qconv_params *p) {
  dw3_small_shape g;
  if (!dw3_fits(p) || p->pad_top < 0 || p->pad_top > 2 || p->pad_left < 0) return 0;
  g = dw3_small_shape_of(p);
  return g.walk || (g.band >= 1 && g.rows * g.stride <= TINYC_QDW_PLANE);
}

/* The padded plane: row r holds input row r - pad_top, columns -pad_left ... Per call it
 * is first all zero point (word stores, dw3_small_begin), then each plane's input rows are
 * copied in (4 to 8 bytes as two words, other short rows by tinyc_copy_short: no library
 * call); the copies write the same bytes every plane, so the padding stays the zero point. */
static void dw3_small_pad(int32_t *restrict plane_words, const dw3_small_shape *g,
                          const tinyc_qconv_params *p) {
  const int32_t zp4 = (int32_t)(0x01010101u * (uint8_t)(int8_t)-p->input_offset);
  /* one word more than the rows: the last pair's load reads a byte past them */
  const int32_t words = (g->rows * g->stride + 3) / 4 + 1;
  int32_t i;
  for (i = 0; i < words; ++i) plane_words[i] = zp4;
}

/* `rows` rows of n bytes from src (src_stride apart) to dst (dst_stride apart), 4 to 8
 * bytes as two words (overlapping when n < 8), other lengths by tinyc_copy_short or memcpy
 * (no library call for short rows). */
static TINYC_DSP_NOINLINE void dw3_copy_rows(int8_t *dst, int32_t dst_stride, const int8_t *src,
                          int32_t src_stride, int32_t n, int32_t rows) {
  for (; rows > 0; --rows, dst += dst_stride, src += src_stride) {
    if (n >= 4 && n <= 8) {
      const int32_t a = tinyc_load4(src), b = tinyc_load4(src + n - 4);
      tinyc_store4(dst, a);
      tinyc_store4(dst + n - 4, b);
    } else if (n > 8 && n <= 16) { /* four words, the last two overlapping */
      const int32_t a = tinyc_load4(src), b = tinyc_load4(src + 4);
      const int32_t c = tinyc_load4(src + n - 8), d = tinyc_load4(src + n - 4);
      tinyc_store4(dst, a);
      tinyc_store4(dst + 4, b);
      tinyc_store4(dst + n - 8, c);
      tinyc_store4(dst + n - 4, d);
    } else if (n > 32) {
      memcpy(dst, src, (size_t)n);
    } else {
      tinyc_copy_short(dst, src, (size_t)n);
    }
  }
}

/* The column walk's assembly (gcc with the optimizer, as the other loops of this file; not
 * at -Os, where gcc cannot find its 13 registers once the walk is inlined into the band's
 * split-window form: -Os builds take the C walk, bit for bit the same). */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__thumb2__) && \
    defined(__OPTIMIZE__) && !defined(__OPTIMIZE_SIZE__) && !defined(TINYC_NO_DSP_ASM) && \
    !defined(__clang__)
#define TINYC_DW3_WALK_ASM 1
#else
#define TINYC_DW3_WALK_ASM 0
#endif

/* The column walk's copies of 4 to 8 bytes a row (as dw3_copy_rows), two rows a round:
 * `into` a narrow plane (rows TINYC_QDW_NARROW apart, from rows `stride` apart) or out of
 * its stage (the other way round). With the assembly the narrow side steps by post-index
 * and the loop needs no set-up (7 cycles a row). */
#if TINYC_DW3_WALK_ASM
#define TINYC_DW3_COPY(LOADS, STORES)                                                  \
  __asm__ volatile("1:\n\t" LOADS STORES                                                \
                   "subs   %[n], %[n], #1\n\t"                                         \
                   "bne    1b"                                                         \
                   : [d] "+r"(dst), [s] "+r"(src), [n] "+r"(pairs), [a] "=&r"(a),      \
                     [b] "=&r"(b), [c] "=&r"(c), [e] "=&r"(e)                          \
                   : [tail] "r"(tail), [st] "r"(st), [str] "r"(stride),                \
                     [s2] "r"(2 * stride), [N] "i"(TINYC_QDW_NARROW)                   \
                   : "cc", "memory")
#endif

TINYC_INLINE void dw3_walk_copy(int8_t *dst, const int8_t *src, int32_t stride, int32_t n,
                                int32_t rows, int into) {
  const int32_t tail = n - 4;
#if TINYC_DW3_WALK_ASM
  const int32_t st = stride + tail;
  int32_t pairs = rows >> 1, a, b, c, e;
  if (pairs && into) {
    TINYC_DW3_COPY("ldr    %[a], [%[s]]\n\t"
                   "ldr    %[b], [%[s], %[tail]]\n\t"
                   "ldr    %[c], [%[s], %[str]]\n\t"
                   "ldr    %[e], [%[s], %[st]]\n\t"
                   "add    %[s], %[s], %[s2]\n\t",
                   "str    %[b], [%[d], %[tail]]\n\t"
                   "str    %[a], [%[d]], %[N]\n\t"
                   "str    %[e], [%[d], %[tail]]\n\t"
                   "str    %[c], [%[d]], %[N]\n\t");
  } else if (pairs) {
    TINYC_DW3_COPY("ldr    %[b], [%[s], %[tail]]\n\t"
                   "ldr    %[a], [%[s]], %[N]\n\t"
                   "ldr    %[e], [%[s], %[tail]]\n\t"
                   "ldr    %[c], [%[s]], %[N]\n\t",
                   "str    %[a], [%[d]]\n\t"
                   "str    %[b], [%[d], %[tail]]\n\t"
                   "str    %[c], [%[d], %[str]]\n\t"
                   "str    %[e], [%[d], %[st]]\n\t"
                   "add    %[d], %[d], %[s2]\n\t");
  }
  if (rows & 1) {
    a = tinyc_load4(src);
    b = tinyc_load4(src + tail);
    tinyc_store4(dst, a);
    tinyc_store4(dst + tail, b);
  }
#else
  const int32_t ds = into ? TINYC_QDW_NARROW : stride, ss = into ? stride : TINYC_QDW_NARROW;
  for (; rows >= 2; rows -= 2, dst += 2 * ds, src += 2 * ss) {
    const int32_t a = tinyc_load4(src), b = tinyc_load4(src + tail);
    const int32_t c = tinyc_load4(src + ss), d = tinyc_load4(src + ss + tail);
    tinyc_store4(dst, a);
    tinyc_store4(dst + tail, b);
    tinyc_store4(dst + ds, c);
    tinyc_store4(dst + ds + tail, d);
  }
  if (rows) {
    const int32_t a = tinyc_load4(src), b = tinyc_load4(src + tail);
    tinyc_store4(dst, a);
    tinyc_store4(dst + tail, b);
  }
#endif
}

static void dw3_small_fill(const int8_t *xc, int32_t *restrict plane_words,
                           const dw3_small_shape *g, const tinyc_qconv_params *p) {
  const int32_t S = g->stride;
  const int32_t inner = p->w < S - p->pad_left ? p->w : S - p->pad_left; /* bytes per row */
  const int32_t r0 = p->pad_top; /* rows [r0, r1) hold input rows */
  const int32_t r1 = p->h + p->pad_top < g->rows ? p->h + p->pad_top : g->rows;
  dw3_copy_rows((int8_t *)plane_words + (size_t)r0 * S + p->pad_left, S, xc, p->w, inner,
                r1 - r0);
}

/* What the planes of one call share, worked out once a call (a band calls for every few
 * rows): the shape, the clamp, where the sums and the padded plane go. */
typedef struct {
  dw3_small_shape g;
  tinyc_dsp_clamp cl;
  int32_t *acc, *plane_words;
} dw3_small_call;

static void dw3_small_begin(dw3_small_call *k, int32_t *restrict work,
                            const tinyc_qconv_params *p) {
  const dw3_small_shape g = dw3_small_shape_of(p);
  const int32_t sums = (g.band < p->oh ? g.band : p->oh) * g.row;
  k->g = g;
  k->cl = tinyc_dsp_clamp_make(p->output_offset, p->act_min, p->act_max);
  k->acc = work;
  k->plane_words = work + sums;
  dw3_small_pad(k->plane_words, &k->g, p);
}

/* The column walk's start of a call: the padded plane at work (all zero point) and its
 * row stride, returned. */
static TINYC_DSP_NOINLINE int32_t dw3_walk_begin(int32_t *restrict work,
                                                 const tinyc_qconv_params *p) {
  const dw3_small_shape g = dw3_small_shape_of(p);
  dw3_small_pad(work, &g, p);
  return g.stride;
}

/* Sums (no bias) of `pairs` output pairs of one row, taps in rows x0, x0+S, x0+2S;
 * u[r] = (w[r][0], w[r][2]), v01 = (w[0][1], w[1][1]), v2 = w[2][1]. */
static TINYC_DSP_NOINLINE void dw3_small_row(const int8_t *x0, int32_t S, int32_t *acc,
                                             int32_t pairs, const int32_t *u, int32_t v01,
                                             int32_t v2) {
  const int8_t *x1 = x0 + S, *x2 = x1 + S;
  int32_t u0 = u[0], u1 = u[1], u2 = u[2];
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__thumb2__) && \
    defined(__OPTIMIZE__) && !defined(TINYC_NO_DSP_ASM) && !defined(__clang__)
  /* 13 registers (row 2's weights are read from memory each time, so a frame pointer can
   * keep its register); clang's allocator still gives up here and compiles the C below */
  int32_t a0, a1, t, e, r;
  const int32_t w2[2] = {u2, v2};
  __asm__ volatile(
      "1:\n\t"
      "ldr    %[t], [%[x0]], #2\n\t"
      "sxtb16 %[e], %[t]\n\t"
      "smuad  %[a0], %[e], %[u0]\n\t"
      "sxtb16 %[t], %[t], ror #8\n\t"
      "smuad  %[a1], %[t], %[u0]\n\t"
      "smlabb %[a0], %[t], %[v01], %[a0]\n\t"
      "smlatb %[a1], %[e], %[v01], %[a1]\n\t"
      "ldr    %[t], [%[x1]], #2\n\t"
      "sxtb16 %[e], %[t]\n\t"
      "smlad  %[a0], %[e], %[u1], %[a0]\n\t"
      "sxtb16 %[t], %[t], ror #8\n\t"
      "smlad  %[a1], %[t], %[u1], %[a1]\n\t"
      "smlabt %[a0], %[t], %[v01], %[a0]\n\t"
      "smlatt %[a1], %[e], %[v01], %[a1]\n\t"
      "ldr    %[t], [%[x2]], #2\n\t"
      "ldr    %[r], %[w20]\n\t"
      "sxtb16 %[e], %[t]\n\t"
      "smlad  %[a0], %[e], %[r], %[a0]\n\t"
      "sxtb16 %[t], %[t], ror #8\n\t"
      "smlad  %[a1], %[t], %[r], %[a1]\n\t"
      "ldr    %[r], %[w21]\n\t"
      "smlabb %[a0], %[t], %[r], %[a0]\n\t"
      "smlatb %[a1], %[e], %[r], %[a1]\n\t"
      "strd   %[a0], %[a1], [%[acc]], #8\n\t"
      "subs   %[n], %[n], #1\n\t"
      "bne    1b"
      : [x0] "+r"(x0), [x1] "+r"(x1), [x2] "+r"(x2), [acc] "+r"(acc), [n] "+r"(pairs),
        [a0] "=&r"(a0), [a1] "=&r"(a1), [t] "=&r"(t), [e] "=&r"(e), [r] "=&r"(r)
      : [u0] "r"(u0), [u1] "r"(u1), [v01] "r"(v01), [w20] "m"(w2[0]), [w21] "m"(w2[1])
      : "cc", "memory");
#else
  for (; pairs > 0; --pairs, x0 += 2, x1 += 2, x2 += 2, acc += 2) {
    int32_t t = tinyc_load4(x0), e = tinyc_sxtb16(t), o = tinyc_sxtb16_hi(t);
    int32_t a0 = tinyc_smlabb(o, v01, tinyc_smuad(e, u0));
    int32_t a1 = tinyc_smlatb(e, v01, tinyc_smuad(o, u0));
    t = tinyc_load4(x1);
    e = tinyc_sxtb16(t);
    o = tinyc_sxtb16_hi(t);
    a0 = tinyc_smlabt(o, v01, tinyc_smlad(e, u1, a0));
    a1 = tinyc_smlatt(e, v01, tinyc_smlad(o, u1, a1));
    t = tinyc_load4(x2);
    e = tinyc_sxtb16(t);
    o = tinyc_sxtb16_hi(t);
    acc[0] = tinyc_smlabb(o, v2, tinyc_smlad(e, u2, a0));
    acc[1] = tinyc_smlatb(e, v2, tinyc_smlad(o, u2, a1));
  }
#endif
}

/* The same for stride_w 2: n single outputs, two input bytes apart. */
static TINYC_DSP_NOINLINE void dw3_small_row_s2(const int8_t *x0, int32_t S, int32_t *acc,
                                                int32_t n, const int32_t *u, int32_t v01,
                                                int32_t v2) {
  const int8_t *x1 = x0 + S, *x2 = x1 + S;
  const int32_t u0 = u[0], u1 = u[1], u2 = u[2];
  for (; n > 0; --n, x0 += 2, x1 += 2, x2 += 2) {
    const int32_t t0 = tinyc_load4(x0), t1 = tinyc_load4(x1), t2 = tinyc_load4(x2);
    int32_t a = tinyc_smlabb(tinyc_sxtb16_hi(t0), v01, tinyc_smuad(tinyc_sxtb16(t0), u0));
    a = tinyc_smlabt(tinyc_sxtb16_hi(t1), v01, tinyc_smlad(tinyc_sxtb16(t1), u1, a));
    *acc++ = tinyc_smlabb(tinyc_sxtb16_hi(t2), v2, tinyc_smlad(tinyc_sxtb16(t2), u2, a));
  }
}

/* The column walk (stride 1 both ways, rows of TINYC_QDW_NARROW or _WIDE bytes): each column of
 * the padded plane is read once from the top, and each row word (taps x0 x1 x2: one load,
 * two sign extensions) serves three outputs: it finishes the output two rows up (tap row
 * 2, then requantized and stored at once), adds tap row 1 to the one above and starts the
 * one at its row (tap row 0, on the bias). The finished output's register takes the new
 * one, so two sums rotate. Per output: a load, two SXTB16, six multiply-accumulates,
 * SMMLA with the rounding term (the zero point in it), SSAT with the shift and a store,
 * 13 cycles, every constant in a register for the whole plane: u[r] = (w[r][0], w[r][2]),
 * v01 = (w[0][1], w[1][1]), rv = (w[2][1], counts) (the assembly's column count rides in
 * bits 16..23, its row count in bits 24..31, where SUBS's sign ends the loop).
 *
 * The assembly's shift is the constant TINYC_QDW_WALK_SHIFT (SSAT's immediate): a channel
 * whose short-form shift rs is smaller has its weights and bias scaled by 2^j, j = SHIFT
 * - rs <= 8 (int8 weights stay int16), and its rounding term with them; since
 * floor((floor(a q 2^j / 2^32) + 2^j r) / 2^(rs + j)) = floor((floor(a q / 2^32) + r) / 2^rs),
 * the outputs are those of tinyc_dsp_requant_row_bias's short form, bit for bit. The sums
 * stay below 2^31 when |bias + input_offset * sum(w)| <= 2^(30 - j) (nine products of
 * 2^14 scaled by 2^8 are below 2^26); other channels take the C walk. */
#define TINYC_QDW_WALK_SHIFT 10

typedef struct {
  int32_t u0, u1, u2, v01, v2, q, round, bias;
  /* the C walk's short-form shift (round 0: tinyc_dsp_requant instead), TFLite's rounding */
  int32_t rs, tflite;
} dw3_walk_k;

/* The rounding term of the short requantization with the zero point in it, as in
 * tinyc_dsp_requant_row_bias. */
TINYC_INLINE int32_t dw3_round(int32_t rs, int32_t zp) {
  return (int32_t)((1u << (rs - 1)) + ((uint32_t)zp << rs));
}

#if TINYC_DW3_WALK_ASM
/* one input row: finish F (stored in the stage, three rows up from x after the load's
 * step: TINYC_QDW_STAGE - 3 * S), tap row 1 into M, F starts again */
#define TINYC_DW3_WALK_STEP(F, M)                          \
  "ldr    %[t], [%[x]], %[S]\n\t"                          \
  "sxtb16 %[e], %[t]\n\t"                                  \
  "sxtb16 %[t], %[t], ror #8\n\t"                          \
  "smlad  %[" F "], %[e], %[u2], %[" F "]\n\t"             \
  "smlabb %[" F "], %[t], %[rv], %[" F "]\n\t"             \
  "smmla  %[" F "], %[" F "], %[q], %[round]\n\t"          \
  "ssat   %[" F "], #8, %[" F "], asr %[shift]\n\t"        \
  "strb   %[" F "], [%[x], %[off]]\n\t"                    \
  "smlad  %[" M "], %[e], %[u1], %[" M "]\n\t"             \
  "smlabt %[" M "], %[t], %[v01], %[" M "]\n\t"            \
  "smlad  %[" F "], %[e], %[u0], %[bias]\n\t"              \
  "smlabb %[" F "], %[t], %[v01], %[" F "]\n\t"

/* The whole plane, column after column (13 registers): two rows start a column, then
 * rows four at a time (the sums swap roles every row; an odd number of row pairs enters
 * the first round half way, as bit 0 of `pairs` says), then the odd row (TAIL). */
#define TINYC_DW3_WALK(TAIL, STRIDE)                                                      \
  __asm__ volatile(                                                                      \
      "1:\n\t"                                                                           \
      "ldr    %[t], [%[x]], %[S]\n\t"                                                    \
      "sxtb16 %[e], %[t]\n\t"                                                            \
      "sxtb16 %[t], %[t], ror #8\n\t"                                                    \
      "smlad  %[f], %[e], %[u0], %[bias]\n\t"                                            \
      "smlabb %[f], %[t], %[v01], %[f]\n\t"                                              \
      "ldr    %[t], [%[x]], %[S]\n\t"                                                    \
      "sxtb16 %[e], %[t]\n\t"                                                            \
      "sxtb16 %[t], %[t], ror #8\n\t"                                                    \
      "smlad  %[f], %[e], %[u1], %[f]\n\t"                                               \
      "smlabt %[f], %[t], %[v01], %[f]\n\t"                                              \
      "smlad  %[m], %[e], %[u0], %[bias]\n\t"                                            \
      "smlabb %[m], %[t], %[v01], %[m]\n\t"                                              \
      "ldr    %[t], %[pairs]\n\t"                                                        \
      "lsrs   %[e], %[t], #1\n\t"                                                        \
      "add    %[rv], %[rv], %[e], lsl #1\n\t"                                            \
      "bcs    3f\n\t"                                                                    \
      "2:\n\t" TINYC_DW3_WALK_STEP("f", "m") TINYC_DW3_WALK_STEP("m", "f")               \
      "3:\n\t" TINYC_DW3_WALK_STEP("f", "m") TINYC_DW3_WALK_STEP("m", "f")               \
      "subs   %[rv], %[rv], #0x1000000\n\t"                                              \
      "bpl    2b\n\t" TAIL                                                               \
      "ldr    %[t], %[back]\n\t"                                                         \
      "sub    %[x], %[x], %[t]\n\t"                                                      \
      "sub    %[rv], %[rv], #0x10000\n\t"                                                \
      "tst    %[rv], #0xff0000\n\t"                                                      \
      "bne    1b"                                                                        \
      : [x] "+r"(x), [rv] "+r"(rv), [f] "=&r"(f), [m] "=&r"(m), [t] "=&r"(t),            \
        [e] "=&r"(e)                                                                     \
      : [u0] "r"(k.u0), [u1] "r"(k.u1), [u2] "r"(k.u2), [v01] "r"(k.v01), [q] "r"(k.q),  \
        [round] "r"(k.round), [bias] "r"(k.bias), [pairs] "m"(pairs),                    \
        [back] "m"(back), [S] "i"(STRIDE), [off] "i"(TINYC_QDW_STAGE - 3 * (STRIDE)),    \
        [shift] "i"(TINYC_QDW_WALK_SHIFT)                                                \
      : "cc", "memory")

/* The assembly's counts for a call's planes (2 <= oh <= 255 rows, 1 <= ow <= 255 columns):
 * the row count starts at -1 (top byte 0xff, as each column's loop leaves it), and adding
 * `pairs` (bits 24..31: the rounds of four rows, ceil(oh / 2 / 2); bit 0: an odd number of
 * row pairs, the first round entered half way) makes it rounds - 1. */
typedef struct {
  int32_t pairs, back, counts, odd;
} dw3_walk_run;

TINYC_INLINE dw3_walk_run dw3_walk_run_of(int32_t oh, int32_t ow, int32_t S) {
  dw3_walk_run r;
  r.pairs = (int32_t)((uint32_t)((oh >> 1) + 1) >> 1 << 24 | (uint32_t)(oh >> 1 & 1));
  r.back = (oh + 2) * S - 1; /* from past a column's last row to the next column's top */
  r.counts = (int32_t)(0xff000000u | (uint32_t)ow << 16);
  r.odd = oh & 1;
  return r;
}

/* Every column of the plane (rows S = TINYC_QDW_NARROW or _WIDE bytes apart): outputs to
 * the stage, row oy at byte oy * S; k scaled to TINYC_QDW_WALK_SHIFT. */
TINYC_INLINE void dw3_walk_asm(const int8_t *x, const dw3_walk_run *run, int32_t S,
                               const dw3_walk_k k) {
  const int32_t pairs = run->pairs, back = run->back;
  int32_t rv = (int32_t)((uint32_t)run->counts | ((uint32_t)k.v2 & 0xffffu));
  int32_t f, m, t, e;
  if (S == TINYC_QDW_NARROW) {
    if (run->odd) {
      TINYC_DW3_WALK(TINYC_DW3_WALK_STEP("f", "m"), TINYC_QDW_NARROW);
    } else {
      TINYC_DW3_WALK("", TINYC_QDW_NARROW);
    }
  } else if (run->odd) {
    TINYC_DW3_WALK(TINYC_DW3_WALK_STEP("f", "m"), TINYC_QDW_WIDE);
  } else {
    TINYC_DW3_WALK("", TINYC_QDW_WIDE);
  }
}
#endif

/* One output of the C walk: the short form (gemmlowp's rounding, `mode` 1; TFLite's, 2),
 * else tinyc_dsp_requant. */
TINYC_INLINE int8_t dw3_walk_requant(int32_t acc, int32_t q, int32_t round, int32_t rs,
                                     const tinyc_dsp_mult *m, const tinyc_dsp_clamp *c,
                                     const int mode) {
  if (mode == 0) return tinyc_dsp_requant(acc, m, c);
#ifdef TINYC_TFLITE
  if (mode == 2) return (int8_t)tinyc_ssat8(tinyc_tflite_top(acc, q, round) >> rs);
#endif
  return (int8_t)tinyc_ssat8(tinyc_smmla(acc, q, round) >> rs);
}

/* The same walk in C, straight into out, k unscaled: every value in a local, since the
 * byte stores could alias k and p; one loop per requantization `mode` (as above). */
TINYC_INLINE void dw3_walk_c_of(const int8_t *plane, int32_t S, int8_t *out,
                                const dw3_walk_k *k, const tinyc_dsp_mult *mul,
                                const tinyc_dsp_clamp *clamp, int32_t oh, int32_t ow,
                                const int mode) {
  const int32_t u0 = k->u0, u1 = k->u1, u2 = k->u2, v01 = k->v01, v2 = k->v2;
  const int32_t q = k->q, round = k->round, rs = k->rs, bias = k->bias;
  int32_t ox, oy;
  for (ox = 0; ox < ow; ++ox) {
    const int8_t *x = plane + ox;
    int8_t *o = out + ox;
    int32_t t = tinyc_load4(x), e = tinyc_sxtb16(t), f, m, n;
    t = tinyc_sxtb16_hi(t);
    f = tinyc_smlabb(t, v01, tinyc_smlad(e, u0, bias));
    t = tinyc_load4(x += S);
    e = tinyc_sxtb16(t);
    t = tinyc_sxtb16_hi(t);
    f = tinyc_smlabt(t, v01, tinyc_smlad(e, u1, f));
    m = tinyc_smlabb(t, v01, tinyc_smlad(e, u0, bias));
    for (oy = 0; oy < oh; ++oy, o += ow) {
      t = tinyc_load4(x += S);
      e = tinyc_sxtb16(t);
      t = tinyc_sxtb16_hi(t);
      f = tinyc_smlabb(t, v2, tinyc_smlad(e, u2, f));
      *o = dw3_walk_requant(f, q, round, rs, mul, clamp, mode);
      n = tinyc_smlabb(t, v01, tinyc_smlad(e, u0, bias));
      f = tinyc_smlabt(t, v01, tinyc_smlad(e, u1, m));
      m = n;
    }
  }
}

static TINYC_DSP_NOINLINE void dw3_walk_c(const int8_t *plane, int32_t S, int8_t *out,
                                          const dw3_walk_k *k, int32_t sh,
                                          const tinyc_qconv_params *p) {
  const tinyc_dsp_mult mul = tinyc_dsp_mult_make(k->q, sh);
  const tinyc_dsp_clamp clamp = tinyc_dsp_clamp_make(p->output_offset, p->act_min, p->act_max);
  const int32_t oh = p->oh, ow = p->ow;
  if (!k->round) {
    dw3_walk_c_of(plane, S, out, k, &mul, &clamp, oh, ow, 0);
  } else if (k->tflite) {
    dw3_walk_c_of(plane, S, out, k, &mul, &clamp, oh, ow, 2);
  } else {
    dw3_walk_c_of(plane, S, out, k, &mul, &clamp, oh, ow, 1);
  }
}

/* TFLite's shift of a biased shift (tinyc_tflite_rs), else 0. */
TINYC_INLINE int32_t dw3_tflite_rs(int32_t shift) {
#ifdef TINYC_TFLITE
  return shift > 30 ? tinyc_tflite_rs(shift) : 0;
#else
  (void)shift;
  return 0;
#endif
}

TINYC_INLINE int32_t dw3_scale(int32_t x, int32_t j) { return (int32_t)((uint32_t)x << j); }

/* A plane's walk constants from its nine weights (row by row: the pairs (w0, w2),
 * (w1, w3), (w4, w6), (w5, w7) as SXTB16 gives them, and w8), scaled by 2^j; the bias
 * (input_offset * sum(w) added by the caller) scaled with them. */
TINYC_INLINE dw3_walk_k dw3_walk_setup(int32_t p02, int32_t p13, int32_t p46, int32_t p57,
                                       int32_t w8, int32_t bias, int32_t q, int32_t round,
                                       int32_t j) {
  dw3_walk_k k;
  k.u0 = tinyc_pack16(dw3_scale(p02, j), dw3_scale(p02 >> 16, j));
  k.u1 = tinyc_pack16(dw3_scale(p13 >> 16, j), dw3_scale(p57, j));
  k.u2 = tinyc_pack16(dw3_scale(p46 >> 16, j), dw3_scale(w8, j));
  k.v01 = tinyc_pack16(dw3_scale(p13, j), dw3_scale(p46, j));
  k.v2 = dw3_scale(p57 >> 16, j);
  k.q = q;
  k.round = round;
  k.bias = dw3_scale(bias, j);
  k.rs = 0;
  k.tflite = 0;
  return k;
}

/* A band's window split in two (tinyc_dwconv2d_halo_s8): each channel's first `in` rows
 * at H ([c][in][w]), the others at X; once a channel's rows are in the padded plane, the
 * last `out` rows of its window go to H ([c][out][w]). `down`: the planes are taken last
 * first (an output plane larger than the input plane it overwrites). in = out = 0: whole
 * planes at X. */
typedef struct {
  int8_t *H;
  int32_t in, out, down;
  const int32_t *K; /* each channel's walk constants (tinyc_dwconv2d_halo_s8), or NULL */
} dw3_halo;

/* n bytes (4 to 16 as words, overlapping; else tinyc_copy_short or memcpy) */
TINYC_INLINE void dw3_copy_bytes(int8_t *dst, const int8_t *src, int32_t n) {
  if (n >= 4 && n <= 16) {
    const int32_t a = tinyc_load4(src), b = tinyc_load4(src + (n > 8 ? 4 : 0));
    const int32_t c = tinyc_load4(src + (n > 8 ? n - 8 : 0)), d = tinyc_load4(src + n - 4);
    tinyc_store4(dst, a);
    tinyc_store4(dst + (n > 8 ? 4 : 0), b);
    tinyc_store4(dst + (n > 8 ? n - 8 : 0), c);
    tinyc_store4(dst + n - 4, d);
  } else if (n > 32) {
    memcpy(dst, src, (size_t)n);
  } else {
    tinyc_copy_short(dst, src, (size_t)n);
  }
}

/* Every plane of a call by the column walk, rows S bytes apart (a constant in each of
 * the two callers below), the call's values worked out once (the kernel's parameters are
 * read through a pointer that the planes' stores could alias). Per plane: its input rows
 * into the padded plane (a band's halo rows first), then the walk and the staged rows out
 * to Y, or the C walk. */
TINYC_INLINE void dw3_walk_planes_of(const int8_t *X, const int8_t *W, const int32_t *B,
                                     int8_t *Y, int32_t *work, const tinyc_qconv_params *p,
                                     const int32_t S, const dw3_halo *hl) {
  const int32_t mult_per_channel = p->m / p->c, planes = p->n * p->m;
  const int32_t out_plane = p->oh * p->ow, w = p->w;
  const int32_t in_plane = (p->h - hl->in) * w; /* bytes a plane has at X */
  const int32_t oh = p->oh, input_offset = p->input_offset;
  const int32_t off2 = tinyc_pack16(input_offset, input_offset);
  const int32_t r1 = p->h + p->pad_top < oh + 2 ? p->h + p->pad_top : oh + 2;
  const int32_t fill_rows = r1 - p->pad_top;
  const int fast_act = p->act_min <= -128 && p->act_max >= 127;
  const int32_t fill_n = w < S - p->pad_left ? w : S - p->pad_left;
  const int8_t *const plane = (const int8_t *)work;
  int8_t *const fill = (int8_t *)work + p->pad_top * S + p->pad_left;
#if TINYC_DW3_WALK_ASM
  const dw3_walk_run run = dw3_walk_run_of(oh, p->ow, S);
  const int asm_ok = fast_act && oh >= 2;
  const int32_t round = dw3_round(TINYC_QDW_WALK_SHIFT, p->output_offset);
#endif
  /* output plane m: channel ch, rep-th of its input plane; `down` (one image, one output
   * plane per input plane) from the last. The halo's values are read from hl where used:
   * the walk takes every register, and more values kept would grow the frame. */
  int32_t m, ch = 0, rep = 0;
  if (hl->down) {
    ch = p->m - 1;
    X += (size_t)ch * in_plane;
    Y += (size_t)ch * out_plane;
  }
  for (m = 0; m < planes; ++m, Y += hl->down ? -out_plane : out_plane) {
    const int32_t c0 = ch; /* the plane's channel (ch moves on below) */
    /* the window's rows from the halo, then from X */
    const int32_t hr = hl->in < fill_rows ? hl->in : fill_rows;
    /* the copy first: the weights' registers are then free for the set-up */
    if (S == TINYC_QDW_NARROW && fill_n >= 4) {
      if (hr == 2 && fill_n <= 8) { /* a 3x3's halo: two rows, no loop */
        const int8_t *const h = hl->H + c0 * hl->in * w;
        const int32_t t = fill_n - 4, a0 = tinyc_load4(h), b0 = tinyc_load4(h + t);
        const int32_t a1 = tinyc_load4(h + w), b1 = tinyc_load4(h + w + t);
        tinyc_store4(fill, a0);
        tinyc_store4(fill + t, b0);
        tinyc_store4(fill + S, a1);
        tinyc_store4(fill + S + t, b1);
      } else if (hr) {
        dw3_walk_copy(fill, hl->H + c0 * hl->in * w, w, fill_n, hr, 1);
      }
      dw3_walk_copy(fill + hr * S, X, w, fill_n, fill_rows - hr, 1);
    } else {
      if (hr) dw3_copy_rows(fill, S, hl->H + c0 * hl->in * w, w, fill_n, hr);
      dw3_copy_rows(fill + hr * S, S, X, w, fill_n, fill_rows - hr);
    }
    /* the next band's halo, before any output of this plane is stored */
    if (hl->out) {
      const int32_t n = hl->out * w;
      dw3_copy_bytes(hl->H + c0 * n, X + in_plane - n, n);
    }
    if (hl->down) {
      X -= in_plane;
      --ch;
    } else {
      if (++rep == mult_per_channel) { /* the next input plane */
        rep = 0;
        X += in_plane;
      }
      if (++ch == p->m) ch = 0; /* the next image */
    }
#if TINYC_DW3_WALK_ASM
    if (hl->K && asm_ok && (hl->K[6 * c0 + 4] >> 16)) { /* the set-up's constants, made */
      const int32_t *const kc = hl->K + 6 * c0;
      dw3_walk_k k;
      k.u0 = kc[0];
      k.u1 = kc[1];
      k.u2 = kc[2];
      k.v01 = kc[3];
      k.v2 = kc[4];
      k.bias = kc[5];
      k.q = p->multiplier[c0];
      k.round = round;
      k.rs = 0;
      k.tflite = 0;
      dw3_walk_asm(plane, &run, S, k);
      if (S == TINYC_QDW_NARROW && p->ow >= 4) {
        dw3_walk_copy(Y, plane + TINYC_QDW_STAGE, p->ow, p->ow, oh, 0);
      } else {
        dw3_copy_rows(Y, p->ow, plane + TINYC_QDW_STAGE, S, p->ow, oh);
      }
      continue;
    }
#endif
    { /* the channel's set-up */
      const int8_t *const wc = W + 9 * c0;
      const int32_t sh = p->shift[c0], q = p->multiplier[c0];
      const int32_t rs = sh <= -2 ? -1 - sh : 0; /* the short form's shift, 0 if none */
      int32_t bias = B ? B[c0] : 0, a, b, w8, p02, p13, p46, p57;
      a = tinyc_load4(wc);
      b = tinyc_load4(wc + 4);
      w8 = wc[8];
      p02 = tinyc_sxtb16(a);
      p13 = tinyc_sxtb16_hi(a);
      p46 = tinyc_sxtb16(b);
      p57 = tinyc_sxtb16_hi(b);
      /* a zero-point byte contributes (zp + input_offset) * w = 0: padding is the zero point,
       * and input_offset * sum(w) joins the bias */
      bias = tinyc_smlad(p02, off2, tinyc_smlad(p13, off2, bias + input_offset * w8));
      bias = tinyc_smlad(p46, off2, tinyc_smlad(p57, off2, bias));
#if TINYC_DW3_WALK_ASM
      {
        /* j = TINYC_QDW_WALK_SHIFT - rs in 0..8: -11 <= sh <= -3 */
        const int32_t j = TINYC_QDW_WALK_SHIFT + 1 + sh, ow = p->ow;
        const int8_t *const stage = plane + TINYC_QDW_STAGE;
        if (asm_ok && (uint32_t)j <= 8 && (uint32_t)(bias + (1 << (30 - j))) <= 2u << (30 - j)) {
          dw3_walk_asm(plane, &run, S, dw3_walk_setup(p02, p13, p46, p57, w8, bias, q, round, j));
          if (S == TINYC_QDW_NARROW && ow >= 4) {
            dw3_walk_copy(Y, stage, ow, ow, oh, 0);
          } else {
            dw3_copy_rows(Y, ow, stage, S, ow, oh);
          }
          continue;
        }
      }
#endif
      {
        /* the short form's shift: gemmlowp's rs, or TFLite's (tinyc_dsp_requant_row_bias) */
        const int32_t tflite = dw3_tflite_rs(sh), crs = tflite ? tflite : rs;
        const int short_form = fast_act && crs >= 1 && crs <= 20;
        dw3_walk_k k = dw3_walk_setup(p02, p13, p46, p57, w8, bias, q,
                                      short_form ? dw3_round(crs, p->output_offset) : 0, 0);
        k.rs = crs;
        k.tflite = tflite != 0;
        dw3_walk_c(plane, S, Y, &k, sh, p);
      }
    }
  }
}

/* the whole planes of a call: no halo (the constant folds every halo test away) */
static const dw3_halo dw3_no_halo = {NULL, 0, 0, 0, NULL};

/* The column walk of a call (as dw3_small_planes, whose frame it does not share). */
static TINYC_DSP_NOINLINE void dw3_walk_planes(const int8_t *X, const int8_t *W,
                                               const int32_t *B, int8_t *Y, int32_t *work,
                                               const tinyc_qconv_params *p) {
  if (dw3_walk_begin(work, p) == TINYC_QDW_NARROW) {
    dw3_walk_planes_of(X, W, B, Y, work, p, TINYC_QDW_NARROW, &dw3_no_halo);
  } else {
    dw3_walk_planes_of(X, W, B, Y, work, p, TINYC_QDW_WIDE, &dw3_no_halo);
  }
}

/* The column walk of a band's split window, over X: inlined into tinyc_dwconv2d_halo_s8, whose
 * frame it shares (two frames would put KWS's stack bound past 512 B). */
TINYC_INLINE void dw3_walk_halo(int8_t *X, const int8_t *W, const int32_t *B, int32_t *work,
                                const tinyc_qconv_params *p, const dw3_halo *hl) {
  if (dw3_walk_begin(work, p) == TINYC_QDW_NARROW) {
    dw3_walk_planes_of(X, W, B, X, work, p, TINYC_QDW_NARROW, hl);
  } else {
    dw3_walk_planes_of(X, W, B, X, work, p, TINYC_QDW_WIDE, hl);
  }
}

/* One plane: xc (input plane) -> out (output plane), bias, multiplier q / shift sh. */
TINYC_INLINE void dw3_small_plane(const int8_t *xc, const int8_t *wk, int32_t bias, int32_t q,
                                  int32_t sh, int8_t *out, const dw3_small_call *k,
                                  const tinyc_qconv_params *p) {
  const dw3_small_shape g = k->g;
  const tinyc_dsp_clamp cl = k->cl;
  const tinyc_dsp_mult mul = tinyc_dsp_mult_make(q, sh);
  const int32_t S = g.stride, row = g.row;
  /* work: a band's sums (band * row words, or all rows' when fewer), then the plane */
  int32_t *const acc = k->acc;
  int32_t *const plane_words = k->plane_words;
  const int8_t *plane = (const int8_t *)plane_words;
  int32_t u[3], v01, v2, sumw = 0, r, oy, b, rs, round, tflite; /* u[r] = (w[r][0], w[r][2]) */
  int fast;
  for (r = 0; r < 3; ++r) {
    u[r] = tinyc_pack16(wk[3 * r], wk[3 * r + 2]);
    sumw += wk[3 * r] + wk[3 * r + 1] + wk[3 * r + 2];
  }
  v01 = tinyc_pack16(wk[1], wk[4]);
  v2 = wk[7];
  /* a zero-point byte contributes (zp + input_offset) * w = 0: padding is the zero point,
   * and input_offset * sum(w) joins the bias */
  bias += p->input_offset * sumw;
#ifdef TINYC_TFLITE
  tflite = mul.shift > 30 ? tinyc_tflite_rs(mul.shift) : 0;
#else
  tflite = 0;
#endif
  rs = tflite ? tflite : mul.rs;
  fast = (mul.shift <= -2 || tflite) && rs <= 20 && p->act_min <= -128 && p->act_max >= 127;
  round = (int32_t)((1u << (rs - 1)) + ((uint32_t)p->output_offset << rs)); /* as in _row */
  dw3_small_fill(xc, plane_words, &g, p);
  for (oy = 0; oy < p->oh; oy += g.band) {
    const int32_t rows = p->oh - oy < g.band ? p->oh - oy : g.band;
    for (b = 0; b < rows; ++b) {
      const int8_t *x0 = plane + (size_t)(oy + b) * p->stride_h * S;
      if (p->stride_w == 1) {
        dw3_small_row(x0, S, acc + b * row, g.pairs, u, v01, v2);
      } else {
        dw3_small_row_s2(x0, S, acc + b * row, p->ow, u, v01, v2);
      }
    }
    if (fast) { /* the common short form, its constants set up once per plane */
      for (b = 0; b < rows; ++b) {
        const int32_t *a = acc + b * row;
        int8_t *o = out + (size_t)(oy + b) * p->ow, *const end = o + p->ow;
#ifdef TINYC_TFLITE
        if (tflite) {
          while (o < end) *o++ = (int8_t)tinyc_ssat8(tinyc_tflite_top(*a++ + bias, q, round) >> rs);
          continue;
        }
#endif
        while (o < end) *o++ = (int8_t)tinyc_ssat8((tinyc_smmul(*a++ + bias, q) + round) >> rs);
      }
      continue;
    }
    for (b = 0; b < rows; ++b) {
      tinyc_dsp_requant_row_bias(acc + b * row, bias, out + (size_t)(oy + b) * p->ow, p->ow,
                                 &mul, &cl);
    }
  }
}

/* Every plane of a call (tinyc_depthwise_conv2d_s8, and the in-place form: each plane is
 * copied before its outputs are stored), in one frame: the call's shared values and the
 * plane's own do not stack up. */
static TINYC_DSP_NOINLINE void dw3_small_planes(const int8_t *X, const int8_t *W,
                                                const int32_t *B, int8_t *Y, int32_t *work,
                                                const tinyc_qconv_params *p) {
  const int32_t mult_per_channel = p->m / p->c;
  const size_t in_plane = (size_t)p->h * p->w, out_plane = (size_t)p->oh * p->ow;
  dw3_small_call k;
  int32_t n, m;
  dw3_small_begin(&k, work, p);
  for (n = 0; n < p->n; ++n) {
    for (m = 0; m < p->m; ++m) {
      dw3_small_plane(X + ((size_t)n * p->c + m / mult_per_channel) * in_plane,
                      W + (size_t)m * 9, B ? B[m] : 0, p->multiplier[m], p->shift[m],
                      Y + ((size_t)n * p->m + m) * out_plane, &k, p);
    }
  }
}

void tinyc_depthwise_conv2d_s8(const int8_t *restrict X, const int8_t *restrict W,
                               const int32_t *restrict B, int8_t *restrict Y,
                               int32_t *restrict work, const tinyc_qconv_params *p) {
  const int32_t mult_per_channel = p->m / p->c;
  const size_t in_plane = (size_t)p->h * p->w, out_plane = (size_t)p->oh * p->ow;
  /* the plane kernel, chosen once per call (a band calls this for every few rows) */
  void (*const plane)(const int8_t *, const int8_t *, int32_t, int32_t, int32_t, int8_t *,
                      int32_t *, const tinyc_qconv_params *) =
      dw3_fits(p) ? dw3_plane : dw_plane;
  int32_t n, m;
  if (dw3_small_fits(p)) {
    (dw3_walk_fits(p) ? dw3_walk_planes : dw3_small_planes)(X, W, B, Y, work, p);
    return;
  }
  for (n = 0; n < p->n; ++n) {
    for (m = 0; m < p->m; ++m) {
      plane(
          X + ((size_t)n * p->c + m / mult_per_channel) * in_plane,
          W + (size_t)m * p->kh * p->kw, B ? B[m] : 0, p->multiplier[m], p->shift[m],
          Y + ((size_t)n * p->m + m) * out_plane, work, p);
    }
  }
}

void tinyc_dwconv2d_stream_s8(const int8_t *X, const int8_t *restrict W,
                              const int32_t *restrict B, int8_t *Y, int8_t *restrict scratch,
                              int32_t *restrict work, const tinyc_qconv_params *p) {
  const size_t in_plane = (size_t)p->h * p->w, out_plane = (size_t)p->oh * p->ow;
  int32_t n, k;
  TINYC_DCHECK(p->group == p->c && p->m == p->c);
  if (dw3_small_fits(p)) { /* copies input plane k before storing output plane k */
    (dw3_walk_fits(p) ? dw3_walk_planes : dw3_small_planes)(X, W, B, Y, work, p);
    return;
  }
  for (n = 0; n < p->n; ++n) {
    for (k = 0; k < p->c; ++k) {
      const size_t plane = (size_t)n * p->c + k;
      (dw3_fits(p) ? dw3_plane : dw_plane)(X + plane * in_plane,
                                           W + (size_t)k * p->kh * p->kw, B ? B[k] : 0,
                                           p->multiplier[k], p->shift[k], scratch, work, p);
      /* input channel k is no longer needed: its bytes (and those below) may be written */
      memcpy(Y + plane * out_plane, scratch, out_plane);
    }
  }
}

int32_t tinyc_dwconv2d_halo_s8(int8_t *X, int8_t *H, int32_t halos, const int8_t *restrict W,
                               const int32_t *restrict B, const int32_t *restrict K,
                               int32_t *restrict work, const tinyc_qconv_params *p) {
  const int32_t halo_in = halos & 0xFFFF, halo_out = halos >> 16;
  const int32_t rows = p->h - halo_in; /* each channel's rows at X */
  dw3_halo hl;
  hl.H = H;
  hl.K = K;
  hl.in = halo_in;
  hl.out = halo_out;
  hl.down = p->oh * p->ow > rows * p->w;
  /* a channel's halo is written after its own rows are read, so it may only reach
   * channels already read: those before it (out <= in), or after it when `down` */
  if (p->n != 1 || p->m != p->c || p->group != p->c || halo_in < 0 || halo_out < 0 ||
      halo_out > rows || (halo_in && halo_out && (hl.down ? halo_out < halo_in
                                                          : halo_out > halo_in)) ||
      !dw3_small_fits(p) || !dw3_walk_fits(p)) {
    return 0;
  }
  dw3_walk_halo(X, W, B, work, p, &hl);
  return 1;
}
