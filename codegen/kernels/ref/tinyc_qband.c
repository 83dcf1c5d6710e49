/* Row-band execution of int8 layer chains (see tinyc_qband.h): gathers, scatters and the
 * calls of the public int8 kernels; every target uses this file. */
#include "tinyc_qband.h"

#include <string.h>

#include "tinyc_fixedpoint.h"
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#endif

/* the compiler reserves TINYC_QBAND_CONV_PARAMS bytes for the band's parameters */
typedef char tinyc_qband_conv_params_fit[sizeof(tinyc_qconv_params) <= TINYC_QBAND_CONV_PARAMS
                                         ? 1 : -1];

/* row r, channel ch of tensor t at base */
static const int8_t *row_at(const tinyc_qband_tensor *t, const int8_t *base, int32_t ch,
                           int32_t r) {
  if (t->ring) return base + ((size_t)(r % t->ring) * t->c + ch) * t->w;
  return base + ((size_t)ch * t->h + r) * t->w;
}

/* n >= 4 bytes in 4-byte pieces (a fixed-size memcpy is one load and one store), four a
 * round with the loads first, the last piece overlapping the one before when n is no
 * multiple of 4: the rows a band moves are 5 to a few hundred bytes, where a library call
 * or a byte loop costs more than the copy (ResNet-8's gathers: 3.3 cycles a byte before) */
static void copy_pieces(int8_t *dst, const int8_t *src, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    uint32_t a, b, c, d;
    memcpy(&a, src + i, 4);
    memcpy(&b, src + i + 4, 4);
    memcpy(&c, src + i + 8, 4);
    memcpy(&d, src + i + 12, 4);
    memcpy(dst + i, &a, 4);
    memcpy(dst + i + 4, &b, 4);
    memcpy(dst + i + 8, &c, 4);
    memcpy(dst + i + 12, &d, 4);
  }
  for (; i + 4 <= n; i += 4) {
    uint32_t a;
    memcpy(&a, src + i, 4);
    memcpy(dst + i, &a, 4);
  }
  if (i < n) {
    uint32_t a;
    memcpy(&a, src + n - 4, 4);
    memcpy(dst + n - 4, &a, 4);
  }
}

/* n bytes, dst and src apart */
static void copy_row(int8_t *dst, const int8_t *src, size_t n) {
  if (n > 256) {
    memcpy(dst, src, n);
  } else if (n > 32) {
    copy_pieces(dst, src, n);
  } else {
    tinyc_copy_short(dst, src, n);
  }
}

/* 8 (`two`: 16) bytes, the loads first */
TINYC_INLINE void copy8(int8_t *dst, const int8_t *src, int two) {
  uint32_t a, b, c = 0, d = 0;
  memcpy(&a, src, 4);
  memcpy(&b, src + 4, 4);
  if (two) {
    memcpy(&c, src + 8, 4);
    memcpy(&d, src + 12, 4);
  }
  memcpy(dst, &a, 4);
  memcpy(dst + 4, &b, 4);
  if (two) {
    memcpy(dst + 8, &c, 4);
    memcpy(dst + 12, &d, 4);
  }
}

/* count blocks of N bytes (N a multiple of 8, a constant where inlined: the copy unrolled),
 * src_step and dst_step apart */
TINYC_INLINE void copy_blocks_of(int8_t *dst, size_t dst_step, const int8_t *src,
                                 size_t src_step, size_t N, int32_t count) {
  for (; count > 0; --count, dst += dst_step, src += src_step) {
    size_t i;
    for (i = 0; i + 16 <= N; i += 16) copy8(dst + i, src + i, 1);
    if (N & 8) copy8(dst + i, src + i, 0);
  }
}

/* count blocks of n bytes, src_step and dst_step apart (one call for a row's channels);
 * the common row widths 8, 16, 32 and 64 each with its own unrolled loop */
static void copy_blocks(int8_t *dst, size_t dst_step, const int8_t *src, size_t src_step,
                        size_t n, int32_t count) {
  switch (n) {
    case 8: copy_blocks_of(dst, dst_step, src, src_step, 8, count); return;
    case 16: copy_blocks_of(dst, dst_step, src, src_step, 16, count); return;
    case 32: copy_blocks_of(dst, dst_step, src, src_step, 32, count); return;
    case 64: copy_blocks_of(dst, dst_step, src, src_step, 64, count); return;
    default: break;
  }
  if ((n & 7) == 0) {
    copy_blocks_of(dst, dst_step, src, src_step, n, count);
  } else if (n <= 32) {
    for (; count > 0; --count, dst += dst_step, src += src_step) tinyc_copy_short(dst, src, n);
  } else {
    for (; count > 0; --count, dst += dst_step, src += src_step) copy_row(dst, src, n);
  }
}

/* rows [lo, hi) of every channel into band [c][hi - lo][w]: row by row, so a ring's slot
 * is found once a row, its channels w bytes apart */
static void gather(const tinyc_qband_tensor *t, const int8_t *base, int32_t lo, int32_t hi,
                   int8_t *band) {
  const size_t w = (size_t)t->w, rows = (size_t)(hi - lo);
  const size_t step = t->ring ? w : (size_t)t->h * w; /* channel to channel in the source */
  int32_t r;
  for (r = lo; r < hi; ++r) {
    copy_blocks(band + (size_t)(r - lo) * w, rows * w, row_at(t, base, 0, r), step, w, t->c);
  }
}

/* row r of t as one [c][w] block: a ring's slot itself, else gathered into buf */
static const int8_t *row_block(const tinyc_qband_tensor *t, const int8_t *base, int32_t r,
                               int8_t *buf) {
  if (t->ring) return row_at(t, base, 0, r);
  gather(t, base, r, r + 1, buf);
  return buf;
}

/* [lo, hi): the rows of the input a conv's output row r reads: the window's real rows, at
 * least one (tinyc/ops/bands.py BandLayer.reads) */
static void window_rows(const tinyc_qconv_params *c, int32_t r, int32_t *lo, int32_t *hi) {
  const int32_t top = r * c->stride_h - c->pad_top;
  const int32_t end = top + (c->kh - 1) * c->dil_h + 1;
  *lo = top < 0 ? 0 : (top < c->h ? top : c->h - 1);
  *hi = end < c->h ? (end > *lo ? end : *lo + 1) : c->h;
}

/* the band's parameters (bp) for output rows [r, r + n) of a conv layer from its input
 * rows [lo, lo + rows) */
static void band_params(const tinyc_qconv_params *c, int32_t lo, int32_t rows, int32_t r,
                        int32_t n, tinyc_qconv_params *bp) {
  *bp = *c;
  bp->n = 1;
  bp->h = rows;
  bp->oh = n;
  bp->pad_top = lo - (r * c->stride_h - c->pad_top); /* negative: the window starts inside */
}

/* A conv layer's kernel on the band x with the band's parameters (at conv_params); a
 * layer with `stream` set writes over x when out == x (its overlapping form, with the
 * scratch at row_b). A function of its own with few locals and arguments: its frame is
 * the band's only one above the kernel's. */
static TINYC_NOINLINE void conv_call(const tinyc_qband_layer *l, const int8_t *x, int8_t *out,
                                     int8_t *work, const tinyc_qband_params *p) {
  int32_t *const kw = p->kernel_work ? (int32_t *)(void *)work : NULL;
  int8_t *const scratch = work + p->row_b;
  const tinyc_qconv_params *const bp = (const tinyc_qconv_params *)(void *)(work + p->conv_params);
  if (out == x && l->stream == TINYC_QBAND_STREAM_DW) {
    tinyc_dwconv2d_stream_s8(x, l->w, l->b, out, scratch, kw, bp);
  } else if (out == x) {
    tinyc_conv1x1_stream_s8(x, l->w, l->b, out, scratch, kw, bp);
  } else if (l->kind == TINYC_QBAND_DEPTHWISE) {
    tinyc_depthwise_conv2d_s8(x, l->w, l->b, out, kw, bp);
  } else {
    tinyc_conv2d_s8(x, l->w, l->b, out, kw, bp);
  }
}

/* the band of a conv layer's output row r and its parameters: a window of one row of a
 * ring (or of a one-channel tensor) is that row itself ([c][1][w] is a slot's [c][w]: the
 * 1x1 layers), another is gathered from its source */
static const int8_t *conv_row_band(const tinyc_qband_layer *l, const tinyc_qband_tensor *src,
                                   const int8_t *src_base, int32_t r, int8_t *work,
                                   const tinyc_qband_params *p) {
  const int8_t *x = work + p->band;
  int32_t lo, hi;
  window_rows(l->conv, r, &lo, &hi);
  if (hi - lo == 1 && (src->ring || src->c == 1)) {
    x = row_at(src, src_base, 0, lo);
  } else {
    gather(src, src_base, lo, hi, work + p->band);
  }
  band_params(l->conv, lo, hi - lo, r, 1, (tinyc_qconv_params *)(void *)(work + p->conv_params));
  return x;
}

/* The sum of `words` words of int8 values (at most 128): each byte made unsigned (+128, an
 * XOR) and the 128s taken back. With the DSP extension USADA8 adds a word's four bytes in
 * one instruction, two words a round (KWS's pool steps: 37.3 K -> 27.8 K est. cycles);
 * else bytes 0 and 2 and bytes 1 and 3 are added in two 16-bit lanes (128 words fit),
 * about 2 instructions a byte instead of 3. */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
TINYC_INLINE int32_t sum_lanes(const int8_t *x, int32_t words) {
  uint32_t acc = 0, v, u;
  int32_t k;
  for (k = 0; k + 2 <= words; k += 2, x += 8) {
    memcpy(&v, x, 4);
    memcpy(&u, x + 4, 4);
    acc = __usada8(v ^ 0x80808080u, 0u, acc);
    acc = __usada8(u ^ 0x80808080u, 0u, acc);
  }
  if (k < words) {
    memcpy(&v, x, 4);
    acc = __usada8(v ^ 0x80808080u, 0u, acc);
  }
  return (int32_t)acc - 512 * words;
}
#else
TINYC_INLINE int32_t sum_lanes(const int8_t *x, int32_t words) {
  uint32_t lanes = 0;
  int32_t k;
  for (k = 0; k < words; ++k, x += 4) {
    uint32_t v;
    memcpy(&v, x, 4);
    v ^= 0x80808080u;
    lanes += (v & 0x00FF00FFu) + ((v >> 8) & 0x00FF00FFu);
  }
  return (int32_t)((lanes & 0xFFFFu) + (lanes >> 16)) - 512 * words;
}
#endif

/* n input rows ([c][n][w], the first is row r) into the sums; after the last row, the
 * pooled output (out of line: its locals stay off the steps' frames) */
static TINYC_NOINLINE void pool_rows(const tinyc_qband_pool *q, const tinyc_qband_tensor *x,
                      const int8_t *rows, int32_t r, int32_t n, int32_t *sums, int8_t *Y) {
  const int32_t count = n * x->w;
  int32_t ch, i;
  /* words: a channel's bytes as words, summed in two 16-bit lanes (sum_lanes) */
  const int32_t words = count <= 512 ? count / 4 : 0;
  for (ch = 0; ch < x->c; ++ch) {
    const int8_t *row = rows + (size_t)ch * count;
    int32_t acc = (r ? sums[ch] : 0) + count * q->input_offset + sum_lanes(row, words);
    for (i = 4 * words; i < count; ++i) acc += row[i];
    sums[ch] = acc;
    if (r + n == x->h && q->divisor > 0) {
      const int32_t d = q->divisor;
      const int32_t v = acc > 0 ? (acc + d / 2) / d : (acc - d / 2) / d;
      Y[ch] = (int8_t)(v < q->act_min ? q->act_min : v > q->act_max ? q->act_max : v);
    } else if (r + n == x->h) {
      Y[ch] = tinyc_requantize_one(acc, q->multiplier, q->shift, q->output_offset, q->act_min,
                                   q->act_max);
    }
  }
}

/* where tensor t's bytes start: a node input, or its ring in work */
static const int8_t *source(const tinyc_qband_params *p, const int8_t *const *inputs,
                            const int8_t *work, int32_t t) {
  return t < p->n_inputs ? inputs[t] : work + p->tensors[t].offset;
}

/* n rows [c][n][w] of the node's output, row r first, into Y [c][h][w] */
TINYC_INLINE void scatter(const tinyc_qband_tensor *t, const int8_t *rows, int32_t r,
                          int32_t n, int8_t *Y) {
  const size_t block = (size_t)n * t->w;
  copy_blocks(Y + (size_t)r * t->w, (size_t)t->h * t->w, rows, block, block, t->c);
}

/* n bytes from src to dst >= src (they may overlap), last piece first: each piece is
 * loaded before a store can reach it (16 bytes a round, then words: the blocks moved are
 * a few rows of a few bytes) */
static void move_up(int8_t *dst, const int8_t *src, size_t n) {
  while (n >= 16) {
    uint32_t a, b, c, d;
    n -= 16;
    memcpy(&a, src + n, 4);
    memcpy(&b, src + n + 4, 4);
    memcpy(&c, src + n + 8, 4);
    memcpy(&d, src + n + 12, 4);
    memcpy(dst + n + 12, &d, 4);
    memcpy(dst + n + 8, &c, 4);
    memcpy(dst + n + 4, &b, 4);
    memcpy(dst + n, &a, 4);
  }
  while (n >= 4) {
    uint32_t v;
    n -= 4;
    memcpy(&v, src + n, 4);
    memcpy(dst + n, &v, 4);
  }
  while (n > 0) {
    --n;
    dst[n] = src[n];
  }
}

/* Each channel's `rows` rows of buf ([c][rows][w]) moved to row `at` of a [c][stride][w]
 * layout in place (stride >= at + rows): last channel first, so no row is overwritten
 * before it is moved. */
static void spread(int8_t *buf, int32_t c, int32_t w, int32_t rows, int32_t stride, int32_t at) {
  const size_t n = (size_t)rows * w;
  int32_t ch;
  if (stride == rows) return;
  for (ch = c - 1; ch >= 0; --ch) move_up(buf + ((size_t)ch * stride + at) * w, buf + ch * n, n);
}

/* rows [at, at + rows) of each channel of dst ([c][stride][w]) from src ([c][rows][w]) */
static void place(int8_t *dst, int32_t stride, int32_t at, const int8_t *src, int32_t rows,
                  int32_t c, int32_t w) {
  const size_t n = (size_t)rows * w;
  copy_blocks(dst + (size_t)at * w, (size_t)stride * w, src, n, n, c);
}

/* the last `keep` of the `rows` rows of x ([c][rows][w]) into halo [c][keep][w], for the
 * next step that reads the same tensor */
static void keep_rows(const int8_t *x, int32_t rows, int32_t keep, const tinyc_qband_tensor *t,
                      int8_t *halo) {
  const size_t w = (size_t)t->w;
  copy_blocks(halo, keep * w, x + (size_t)(rows - keep) * w, (size_t)rows * w, keep * w,
              t->c);
}

/* The window a conv step reads ([c][hi - lo][w], its source rows [lo, hi)), assembled in the
 * buffer at `band` unless it is the step before's rows or the node's one-channel input. */
static TINYC_NOINLINE const int8_t *chain_window(const int8_t *x0, int8_t *work,
                                                 const tinyc_qband_params *p, const int16_t *st,
                                                 const int8_t *cur, int32_t lo, int32_t hi) {
  const int32_t halo_in = st[3], new_in = st[4], halo_out = st[5];
  const tinyc_qband_tensor *src = &p->tensors[p->layers[st[0]].src0];
  int8_t *const a = work + p->band, *const halo = work + src->offset;
  const int8_t *x = cur;
  if (st[0] == 0 && src->c == 1) return x0 + (size_t)lo * src->w; /* rows in one block */
  if (st[0] == 0) {
    gather(src, x0, lo, hi, a);
    x = a;
  } else if (halo_in && cur == a) { /* kept rows, then the new ones, in place */
    spread(a, src->c, src->w, new_in, halo_in + new_in, halo_in);
    place(a, halo_in + new_in, 0, halo, halo_in, src->c, src->w);
    x = a;
  } else if (halo_in) {
    place(a, halo_in + new_in, 0, halo, halo_in, src->c, src->w);
    place(a, halo_in + new_in, halo_in, cur, new_in, src->c, src->w);
    x = a;
  }
  if (halo_out) keep_rows(x, hi - lo, halo_out, src, halo);
  return x;
}

/* A conv step of the multi-row form, up to its kernel call: its window assembled (*x:
 * given the rows the step before wrote, set to the window), the band's parameters set;
 * the buffer its rows go to. */
static TINYC_NOINLINE int8_t *chain_prepare(const int8_t *x0, int8_t *work,
                                            const tinyc_qband_params *p, const int16_t *st,
                                            const int8_t **x) {
  const int8_t *const cur = *x; /* the step before's rows: band or row_a */
  const int32_t r = st[1], n = st[2];
  const tinyc_qband_layer *l = &p->layers[st[0]];
  const tinyc_qband_tensor *src = &p->tensors[l->src0], *dst = &p->tensors[p->n_inputs + st[0]];
  int8_t *const a = work + p->band, *const b = work + p->row_a;
  int32_t lo, hi, unused;
  window_rows(l->conv, r, &lo, &unused);
  window_rows(l->conv, r + n - 1, &unused, &hi);
  *x = chain_window(x0, work, p, st, cur, lo, hi);
  band_params(l->conv, lo, hi - lo, r, n, (tinyc_qconv_params *)(void *)(work + p->conv_params));
  /* a layer with an overlapping form writes over its window (not over the node's input)
   * when its output planes are no larger than its input planes; another into the other
   * buffer */
  if (*x != a && *x != b) return a;
  if (l->stream && (size_t)n * dst->w <= (size_t)(hi - lo) * src->w) return *x == a ? a : b;
  return *x == a ? b : a;
}

/* A conv step's rows (out) after its kernel: stashed for a later reader, or, from the
 * last layer, into Y. */
static TINYC_NOINLINE void chain_finish(int8_t *Y, int8_t *work, const tinyc_qband_params *p,
                                        const int16_t *st, const int8_t *out) {
  const int32_t j = st[0], r = st[1], n = st[2], stash = st[6];
  const tinyc_qband_tensor *dst = &p->tensors[p->n_inputs + j];
  if (stash >= 0) { /* its reader steps later: append the rows to the reader's halo */
    spread(work + dst->offset, dst->c, dst->w, stash, stash + n, 0);
    place(work + dst->offset, stash + n, stash, out, n, dst->c, dst->w);
  }
  if (j == p->n_layers - 1) scatter(dst, out, r, n, Y);
}

/* a pool step of the multi-row form: the rows the step before wrote into its sums */
static TINYC_NOINLINE void chain_pool(int8_t *Y, int8_t *work, const tinyc_qband_params *p,
                                      const int16_t *st, const int8_t *rows) {
  const tinyc_qband_layer *l = &p->layers[st[0]];
  pool_rows(l->pool, &p->tensors[l->src0], rows, st[1], st[2],
            (int32_t *)(void *)(work + p->sums), Y);
}

/* The band's parameters of a conv step of the multi-row form (as chain_prepare sets them) */
static TINYC_NOINLINE void step_params(int8_t *work, const tinyc_qband_params *p,
                                       const int16_t *st) {
  const tinyc_qconv_params *const c = p->layers[st[0]].conv;
  int32_t lo, hi, unused;
  window_rows(c, st[1], &lo, &unused);
  window_rows(c, st[1] + st[2] - 1, &unused, &hi);
  band_params(c, lo, hi - lo, st[1], st[2], (tinyc_qconv_params *)(void *)(work + p->conv_params));
}

/* A depthwise step by its layer's halo form (tinyc_qband.h) on the rows the step before
 * wrote at `band`, its parameters set: 0 when that form does not take it (nothing is done
 * then). Inlined into run_chain: a frame of its own (the kernel's eight arguments) would sit
 * on the deepest chain of the stack bound. */
TINYC_INLINE int32_t halo_call(const tinyc_qband_layer *l, int8_t *work,
                                        const tinyc_qband_params *p, const int16_t *st) {
#ifdef TINYC_QBAND_HALO
  return tinyc_dwconv2d_halo_s8(work + p->band, work + p->tensors[l->src0].offset,
                                st[3] | st[5] << 16, l->w, l->b, l->halo_k,
                                p->kernel_work ? (int32_t *)(void *)work : NULL,
                                (const tinyc_qconv_params *)(void *)(work + p->conv_params));
#else
  (void)l;
  (void)work;
  (void)p;
  (void)st;
  return 0;
#endif
}

/* the multi-row chain form (tinyc_qband.h); its own frame, off the one-row form's. Each
 * conv step is three calls, so only conv_call's small frame sits above the kernel's. */
static TINYC_NOINLINE void run_chain(const int8_t *x0, int8_t *Y, int8_t *work,
                                     const tinyc_qband_params *p) {
  int8_t *cur = work + p->band; /* the rows the step before wrote */
  const int16_t *st = p->steps, *const end = p->steps + 7 * p->n_steps;
  for (; st < end; st += 7) {
    const tinyc_qband_layer *l = &p->layers[st[0]];
    const int8_t *x = cur;
    int8_t *out;
    if (l->kind == TINYC_QBAND_POOL) {
      chain_pool(Y, work, p, st, cur);
      continue;
    }
    if (l->halo_k && st[0] && cur == work + p->band) step_params(work, p, st);
    if (l->halo_k && st[0] && cur == work + p->band && halo_call(l, work, p, st)) {
      out = cur; /* written over the new rows */
    } else {
      out = chain_prepare(x0, work, p, st, &x);
      conv_call(l, x, out, work, p);
    }
    chain_finish(Y, work, p, st, out);
    cur = out;
  }
}

/* where step s's row goes in the one-row form: its ring's slot, or the output row */
static int8_t *row_out(int8_t *work, const tinyc_qband_params *p, int32_t s) {
  const int32_t r = p->steps[2 * s + 1];
  const tinyc_qband_tensor *t = &p->tensors[p->n_inputs + p->steps[2 * s]];
  return t->ring ? work + t->offset + (size_t)(r % t->ring) * t->c * t->w : work + p->row_y;
}

/* the output's row of step s into place (a ring's row stays) */
static TINYC_NOINLINE void row_done(int8_t *Y, int8_t *work, const tinyc_qband_params *p,
                                    int32_t s) {
  const tinyc_qband_tensor *t = &p->tensors[p->n_inputs + p->steps[2 * s]];
  if (!t->ring) scatter(t, work + p->row_y, p->steps[2 * s + 1], 1, Y);
}

/* Step s of the one-row form but a conv row's kernel call: an add or pool row run, a conv
 * row's band gathered and its parameters set. Returns the conv row's band (its output goes
 * to row_out), else NULL (the step is done). */
static TINYC_NOINLINE const int8_t *row_step(const int8_t *const *inputs, int8_t *Y,
                                             int8_t *work, const tinyc_qband_params *p,
                                             int32_t s) {
  const int32_t r = p->steps[2 * s + 1];
  const tinyc_qband_layer *l = &p->layers[p->steps[2 * s]];
  const tinyc_qband_tensor *a = &p->tensors[l->src0];
  const int8_t *const a_base = source(p, inputs, work, l->src0);
  if (l->kind == TINYC_QBAND_ADD) {
    const tinyc_qband_tensor *b = &p->tensors[l->src1];
    const int8_t *const b_base = source(p, inputs, work, l->src1);
    tinyc_add_s8(row_block(a, a_base, r, work + p->row_a), row_block(b, b_base, r, work + p->row_b),
                 row_out(work, p, s), l->add);
    row_done(Y, work, p, s);
  } else if (l->kind == TINYC_QBAND_POOL) { /* the pool writes Y itself */
    pool_rows(l->pool, a, row_block(a, a_base, r, work + p->row_a), r, 1,
              (int32_t *)(void *)(work + p->sums), Y);
  } else {
    return conv_row_band(l, a, a_base, r, work, p);
  }
  return NULL;
}

/* the one-row form: a ring per intermediate; its own frame, as the multi-row form's. A conv
 * step is three calls, as there, so only conv_call's frame sits above the kernel's. */
static TINYC_NOINLINE void run_rows(const int8_t *const *inputs, int8_t *Y, int8_t *work,
                                    const tinyc_qband_params *p) {
  int32_t s;
  for (s = 0; s < p->n_steps; ++s) {
    const int8_t *const x = row_step(inputs, Y, work, p, s);
    if (x) {
      conv_call(&p->layers[p->steps[2 * s]], x, row_out(work, p, s), work, p);
      row_done(Y, work, p, s);
    }
  }
}

void tinyc_qband_s8(const int8_t *const *inputs, int8_t *Y, int8_t *work,
                    const tinyc_qband_params *p) {
  if (p->band_rows > 1) {
    run_chain(inputs[0], Y, work, p);
  } else {
    run_rows(inputs, Y, work, p);
  }
}
