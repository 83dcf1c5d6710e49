/* Row-band execution of int8 layer chains (see tinyc_qband.h): gathers, scatters and the
 * calls of the public int8 kernels; every target uses this file. */
#include "tinyc_qband.h"

#include <string.h>

#include "tinyc_fixedpoint.h"

/* the compiler reserves TINYC_QBAND_CONV_PARAMS bytes for the band's parameters */
typedef char tinyc_qband_conv_params_fit[sizeof(tinyc_qconv_params) <= TINYC_QBAND_CONV_PARAMS
                                         ? 1 : -1];

/* row r, channel ch of tensor t at base */
static const int8_t *row_at(const tinyc_qband_tensor *t, const int8_t *base, int32_t ch,
                           int32_t r) {
  if (t->ring) return base + ((size_t)(r % t->ring) * t->c + ch) * t->w;
  return base + ((size_t)ch * t->h + r) * t->w;
}

/* n bytes; short rows without a library call (tinyc_copy_short) */
static void copy_row(int8_t *dst, const int8_t *src, size_t n) {
  if (n > 32) {
    memcpy(dst, src, n);
  } else {
    tinyc_copy_short(dst, src, n);
  }
}

/* rows [lo, hi) of every channel into band [c][hi - lo][w] */
static void gather(const tinyc_qband_tensor *t, const int8_t *base, int32_t lo, int32_t hi,
                   int8_t *band) {
  const size_t w = (size_t)t->w;
  int32_t ch, r;
  for (ch = 0; ch < t->c; ++ch) {
    for (r = lo; r < hi; ++r) {
      copy_row(band + ((size_t)ch * (hi - lo) + (r - lo)) * w, row_at(t, base, ch, r), w);
    }
  }
}

/* row r of t as one [c][w] block: a ring's slot itself, else gathered into buf */
static const int8_t *row_block(const tinyc_qband_tensor *t, const int8_t *base, int32_t r,
                               int8_t *buf) {
  if (t->ring) return row_at(t, base, 0, r);
  gather(t, base, r, r + 1, buf);
  return buf;
}

static void conv_row(const tinyc_qband_layer *l, const tinyc_qband_tensor *src,
                     const int8_t *src_base, int32_t r, int8_t *out, int8_t *band, int32_t *kw,
                     tinyc_qconv_params *bp) {
  const tinyc_qconv_params *c = l->conv;
  const int32_t top = r * c->stride_h - c->pad_top;
  const int32_t end = top + (c->kh - 1) * c->dil_h + 1;
  const int32_t lo = top < 0 ? 0 : (top < c->h ? top : c->h - 1);
  const int32_t hi = end < c->h ? (end > lo ? end : lo + 1) : c->h;
  gather(src, src_base, lo, hi, band);
  *bp = *c;
  bp->n = 1;
  bp->h = hi - lo;
  bp->oh = 1;
  bp->pad_top = lo - top; /* negative when the window starts inside the band */
  if (l->kind == TINYC_QBAND_DEPTHWISE) {
    tinyc_depthwise_conv2d_s8(band, l->w, l->b, out, kw, bp);
  } else {
    tinyc_conv2d_s8(band, l->w, l->b, out, kw, bp);
  }
}

/* one input row into the sums; after the last one, the pooled output */
static void pool_row(const tinyc_qband_pool *q, const tinyc_qband_tensor *x, const int8_t *row,
                     int32_t r, int32_t *sums, int8_t *Y) {
  int32_t ch, i;
  for (ch = 0; ch < x->c; ++ch) {
    int32_t acc = r ? sums[ch] : 0;
    for (i = 0; i < x->w; ++i) acc += (int32_t)row[(size_t)ch * x->w + i] + q->input_offset;
    sums[ch] = acc;
    if (r == x->h - 1 && q->divisor > 0) {
      const int32_t d = q->divisor;
      const int32_t v = acc > 0 ? (acc + d / 2) / d : (acc - d / 2) / d;
      Y[ch] = (int8_t)(v < q->act_min ? q->act_min : v > q->act_max ? q->act_max : v);
    } else if (r == x->h - 1) {
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

void tinyc_qband_s8(const int8_t *const *inputs, int8_t *Y, int8_t *work,
                    const tinyc_qband_params *p) {
  int32_t *const kw = p->kernel_work ? (int32_t *)(void *)work : NULL;
  int8_t *const band = work + p->band;
  int8_t *const row_a = work + p->row_a, *const row_b = work + p->row_b;
  int8_t *const row_y = work + p->row_y;
  int32_t *const sums = (int32_t *)(void *)(work + p->sums);
  tinyc_qconv_params *const bp = (tinyc_qconv_params *)(void *)(work + p->conv_params);
  int32_t s, ch;
  for (s = 0; s < p->n_steps; ++s) {
    const int32_t j = p->steps[2 * s], r = p->steps[2 * s + 1];
    const tinyc_qband_layer *l = &p->layers[j];
    const int32_t dst = p->n_inputs + j;
    const tinyc_qband_tensor *t = &p->tensors[dst];
    int8_t *const out = t->ring ? work + t->offset + (size_t)(r % t->ring) * t->c * t->w : row_y;
    const tinyc_qband_tensor *a = &p->tensors[l->src0];
    const int8_t *const a_base = source(p, inputs, work, l->src0);
    if (l->kind == TINYC_QBAND_ADD) {
      const tinyc_qband_tensor *b = &p->tensors[l->src1];
      const int8_t *const b_base = source(p, inputs, work, l->src1);
      tinyc_add_s8(row_block(a, a_base, r, row_a), row_block(b, b_base, r, row_b), out, l->add);
    } else if (l->kind == TINYC_QBAND_POOL) {
      pool_row(l->pool, a, row_block(a, a_base, r, row_a), r, sums, Y);
      continue; /* the pool writes Y itself */
    } else {
      conv_row(l, a, a_base, r, out, band, kw, bp);
    }
    if (!t->ring) { /* the output: scatter the row into place */
      for (ch = 0; ch < t->c; ++ch) {
        copy_row(Y + ((size_t)ch * t->h + r) * t->w, row_y + (size_t)ch * t->w, (size_t)t->w);
      }
    }
  }
}
