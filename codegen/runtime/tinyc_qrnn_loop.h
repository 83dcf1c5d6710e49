/* The body of tinyc_qrnn_s8, shared by the portable and the Cortex-M4 kernels (private to
 * them). The including file first defines the two operations that differ:
 *
 *   static void qrnn_widen(int16_t *dst, const int8_t *src, int32_t n, int32_t zp);
 *       dst = src - zp, in the order qrnn_dots reads it;
 *   static void qrnn_dots(const int8_t *w, size_t stride, const int16_t *v, int32_t n,
 *                         int32_t gates, int32_t *acc);
 *       acc[g] = sum_k w[g * stride + k] * (the k-th widened value), g < gates (1 to 4):
 *       one unit's gate rows against one widened row, exact in int32;
 *   static void qrnn_order(int16_t *v, int32_t n);
 *       puts n int16 values, in order, into the order qrnn_dots reads (in place);
 *   static int32_t qrnn_mbqm(int32_t x, int32_t q, int32_t shift);
 *       tinyc_mbqm of tinyc_fixedpoint.h, bit for bit.
 *
 * Everything else (gates, tables, cell update, time loop) is here once, bit-exact with
 * tinyc/ops/qrnn.py. */
#ifndef TINYC_QRNN_LOOP_H
#define TINYC_QRNN_LOOP_H

#include <string.h>

#include "tinyc_fixedpoint.h"
#include "tinyc_qrnn.h"

static int32_t qrnn_sat(int32_t v, int32_t lo, int32_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

static int32_t qrnn_sat16(int32_t v) { return qrnn_sat(v, -32768, 32767); }

/* v / 2^n rounded half up (n >= 0) */
static int32_t qrnn_rshift_round(int32_t v, int32_t n) {
  return n == 0 ? v : (v + ((int32_t)1 << (n - 1))) >> n;
}

/* Q3.12 -> Q0.15 */
static int32_t qrnn_tanh(const int16_t *table, int32_t x) {
  const int32_t u = x + 32768, i = u >> 8, frac = u & 255;
  const int32_t lo = table[i], hi = table[i + 1];
  return lo + (((hi - lo) * frac + 128) >> 8);
}

static int32_t qrnn_sigmoid(const int16_t *table, int32_t x) {
  return (qrnn_tanh(table, x >> 1) + 32768) >> 1;
}

static int32_t qrnn_pad4(int32_t n) { return (n + 3) & ~3; }

static size_t qrnn_y_at(const tinyc_qrnn_params *p, int32_t dirs, int32_t t, int32_t dir,
                        int32_t b) {
  return p->layout ? (((size_t)b * p->seq + t) * dirs + dir) * p->hidden
                   : (((size_t)t * dirs + dir) * p->batch + b) * p->hidden;
}

static size_t qrnn_state_at(const tinyc_qrnn_params *p, int32_t dirs, int32_t dir, int32_t b) {
  return p->layout ? ((size_t)b * dirs + dir) * p->hidden
                   : ((size_t)dir * p->batch + b) * p->hidden;
}

typedef struct {
  const tinyc_qrnn_params *p;
  const int8_t *W, *R;            /* this direction's blocks */
  const int32_t *B;
  const int32_t *xm, *xs, *rm, *rs;
  const int16_t *xv, *hv;         /* widened x and h of this step */
} qrnn_dir;

/* One unit's gate terms, each requantized to Q3.12 and saturated: px[g] from the input
 * accumulator (with the gate's bias), pr[g] from the recurrent one (a GRU's h gate also
 * adds its recurrent bias there). */
static void qrnn_unit(const qrnn_dir *d, int32_t gates, int32_t j, int32_t *px, int32_t *pr) {
  const tinyc_qrnn_params *p = d->p;
  const size_t hs = (size_t)p->hidden;
  int32_t ax[4], ar[4], g;
  qrnn_dots(d->W + (size_t)j * p->input, hs * p->input, d->xv, p->input, gates, ax);
  qrnn_dots(d->R + (size_t)j * hs, hs * hs, d->hv, p->hidden, gates, ar);
  if (gates == 3) ar[2] += d->B[3 * hs + j];
  for (g = 0; g < gates; ++g) {
    px[g] = qrnn_sat16(qrnn_mbqm(ax[g] + d->B[g * hs + j], d->xm[g], d->xs[g]));
    pr[g] = qrnn_sat16(qrnn_mbqm(ar[g], d->rm[g], d->rs[g]));
  }
}

static TINYC_NOINLINE void qrnn_lstm_step(const qrnn_dir *d, int16_t *cells, int8_t *y) {
  const tinyc_qrnn_params *p = d->p;
  const int16_t *table = p->tanh_table;
  const int32_t cf = p->cell_frac;
  int32_t j, g;
  for (j = 0; j < p->hidden; ++j) {
    int32_t px[4], pr[4], pre[4], c, tc, h;
    qrnn_unit(d, 4, j, px, pr);
    for (g = 0; g < 4; ++g) pre[g] = qrnn_sat16(px[g] + pr[g]);
    c = cells[j];
    c = qrnn_sat16(qrnn_rshift_round(qrnn_sigmoid(table, pre[2]) * c, 15) +
                   qrnn_rshift_round(qrnn_sigmoid(table, pre[0]) * qrnn_tanh(table, pre[3]),
                                     30 - cf));
    cells[j] = (int16_t)c;
    tc = cf >= 12 ? qrnn_rshift_round(c, cf - 12) : qrnn_sat16(c * ((int32_t)1 << (12 - cf)));
    h = qrnn_mbqm(qrnn_sigmoid(table, pre[1]) * qrnn_tanh(table, tc), p->h_mult, p->h_shift);
    y[j] = (int8_t)qrnn_sat(h + p->h_zero_point, -128, 127);
  }
}

/* h = (1 - z) n + z h_prev, to the int8 hidden state */
static int8_t qrnn_gru_out(const tinyc_qrnn_params *p, int32_t z, int32_t n, int32_t hp) {
  const int32_t zh = p->h_zero_point;
  const int32_t kept = qrnn_rshift_round(z * (hp - zh), 15);
  const int32_t h = qrnn_mbqm((32768 - z) * n, p->h_mult, p->h_shift);
  return (int8_t)qrnn_sat(h + kept + zh, -128, 127);
}

/* linear_before_reset = 0: the h gate's recurrent product reads r (h - zp_h), so every
 * unit's z and r come first; `extra` holds that row (padded, in qrnn_dots' order), then z
 * and the h gate's input term per unit. */
static TINYC_NOINLINE void qrnn_gru_step_reset_first(const qrnn_dir *d, const int8_t *h_prev, int8_t *y,
                                      int16_t *extra) {
  const tinyc_qrnn_params *p = d->p;
  const int16_t *table = p->tanh_table;
  const int32_t zh = p->h_zero_point;
  const size_t hs = (size_t)p->hidden;
  int16_t *rh = extra, *zs = extra + qrnn_pad4(p->hidden), *xn = zs + hs;
  int32_t j, g;
  for (j = 0; j < p->hidden; ++j) {
    int32_t ax[4], ar[4], pre[2];
    const int32_t hp = h_prev ? h_prev[j] : zh;
    qrnn_dots(d->W + (size_t)j * p->input, hs * p->input, d->xv, p->input, 3, ax);
    qrnn_dots(d->R + (size_t)j * hs, hs * hs, d->hv, p->hidden, 2, ar);
    for (g = 0; g < 2; ++g)
      pre[g] = qrnn_sat16(qrnn_sat16(qrnn_mbqm(ax[g] + d->B[g * hs + j], d->xm[g], d->xs[g])) +
                          qrnn_sat16(qrnn_mbqm(ar[g], d->rm[g], d->rs[g])));
    zs[j] = (int16_t)qrnn_sigmoid(table, pre[0]);
    xn[j] = (int16_t)qrnn_sat16(qrnn_mbqm(ax[2] + d->B[2 * hs + j], d->xm[2], d->xs[2]));
    rh[j] = (int16_t)qrnn_rshift_round(qrnn_sigmoid(table, pre[1]) * (hp - zh), 15);
  }
  qrnn_order(rh, p->hidden);
  for (j = 0; j < p->hidden; ++j) {
    int32_t ar, n;
    qrnn_dots(d->R + (2 * hs + (size_t)j) * hs, hs * hs, rh, p->hidden, 1, &ar);
    n = qrnn_tanh(table, qrnn_sat16(xn[j] + qrnn_sat16(qrnn_mbqm(ar + d->B[3 * hs + j],
                                                                   d->rm[2], d->rs[2]))));
    y[j] = qrnn_gru_out(p, zs[j], n, h_prev ? h_prev[j] : zh);
  }
}

static TINYC_NOINLINE void qrnn_gru_step(const qrnn_dir *d, const int8_t *h_prev, int8_t *y) {
  const tinyc_qrnn_params *p = d->p;
  const int16_t *table = p->tanh_table;
  const int32_t zh = p->h_zero_point;
  int32_t j;
  for (j = 0; j < p->hidden; ++j) {
    int32_t px[4], pr[4], z, r, n;
    qrnn_unit(d, 3, j, px, pr);
    z = qrnn_sigmoid(table, qrnn_sat16(px[0] + pr[0]));
    r = qrnn_sigmoid(table, qrnn_sat16(px[1] + pr[1]));
    n = qrnn_tanh(table, qrnn_sat16(px[2] + qrnn_rshift_round(r * pr[2], 15)));
    y[j] = qrnn_gru_out(p, z, n, h_prev ? h_prev[j] : zh);
  }
}

int tinyc_qrnn_s8(const int8_t *X, const int8_t *W, const int8_t *R, const int32_t *B,
                  const int32_t *seq_lens, const int8_t *init_h, const int16_t *init_c,
                  const int8_t *init_c8, int8_t *Y, int8_t *Y_h, int8_t *Y_c, int16_t *work,
                  const tinyc_qrnn_params *p) {
  const int32_t gates = p->cell == 2 ? 4 : 3, dirs = p->direction == 2 ? 2 : 1;
  const int32_t brows = 4; /* LSTM: 4 gates; GRU: 3 gates and its h gate's recurrent bias */
  const size_t row = (size_t)p->hidden;
  int16_t *xv = work, *hv = work + qrnn_pad4(p->input), *cells = hv + qrnn_pad4(p->hidden); /* or a GRU's rows */
  qrnn_dir d;
  int32_t dir, s, b;
  if (seq_lens)
    for (b = 0; b < p->batch; ++b)
      if (seq_lens[b] < 0 || seq_lens[b] > p->seq) return -1;
  d.p = p;
  d.xv = xv;
  d.hv = hv;
  for (dir = 0; dir < dirs; ++dir) {
    const int reverse = p->direction == 1 || dir == 1;
    d.W = W + (size_t)dir * gates * p->hidden * p->input;
    d.R = R + (size_t)dir * gates * p->hidden * p->hidden;
    d.B = B + (size_t)dir * brows * p->hidden;
    d.xm = p->x_mult + dir * gates;
    d.xs = p->x_shift + dir * gates;
    d.rm = p->r_mult + dir * gates;
    d.rs = p->r_shift + dir * gates;
    if (p->cell == 2)
      for (b = 0; b < p->batch; ++b) {
        int16_t *cb = cells + (size_t)b * row;
        const size_t at = qrnn_state_at(p, dirs, dir, b);
        size_t j;
        if (init_c)
          memcpy(cb, init_c + at, row * sizeof(int16_t));
        else if (init_c8)
          for (j = 0; j < row; ++j)
            cb[j] = (int16_t)qrnn_sat16(qrnn_mbqm(init_c8[at + j] - p->c_in_zero_point,
                                                  p->c_in_mult, p->c_in_shift));
        else
          memset(cb, 0, row * sizeof(int16_t));
      }
    for (s = 0; s < p->seq; ++s) {
      const int32_t t = reverse ? p->seq - 1 - s : s;
      for (b = 0; b < p->batch; ++b) {
        const int32_t len = seq_lens ? seq_lens[b] : p->seq;
        const int8_t *x = X + (p->layout ? (size_t)b * p->seq + t : (size_t)t * p->batch + b) *
                                  (size_t)p->input;
        int8_t *y = Y + qrnn_y_at(p, dirs, t, dir, b);
        const int first = reverse ? t == len - 1 : t == 0, last = reverse ? t == 0 : t == len - 1;
        const int8_t *h_prev;
        if (t >= len) {
          memset(y, p->h_zero_point, row);
          continue;
        }
        h_prev = first ? (init_h ? init_h + qrnn_state_at(p, dirs, dir, b) : NULL)
                       : Y + qrnn_y_at(p, dirs, reverse ? t + 1 : t - 1, dir, b);
        qrnn_widen(xv, x, p->input, p->x_zero_point);
        if (h_prev)
          qrnn_widen(hv, h_prev, p->hidden, p->h_zero_point);
        else
          memset(hv, 0, (size_t)qrnn_pad4(p->hidden) * sizeof(int16_t));
        if (p->cell == 2)
          qrnn_lstm_step(&d, cells + (size_t)b * row, y);
        else if (p->linear_before_reset)
          qrnn_gru_step(&d, h_prev, y);
        else
          qrnn_gru_step_reset_first(&d, h_prev, y, cells);
        if (last && Y_h) memcpy(Y_h + qrnn_state_at(p, dirs, dir, b), y, row);
      }
    }
    if (Y_c)
      for (b = 0; b < p->batch; ++b) {
        const int16_t *cb = cells + (size_t)b * row;
        int8_t *out = Y_c + qrnn_state_at(p, dirs, dir, b);
        size_t j;
        for (j = 0; j < row; ++j)
          out[j] = (int8_t)qrnn_sat(qrnn_mbqm(cb[j], p->c_out_mult, p->c_out_shift) +
                                        p->c_out_zero_point, -128, 127);
      }
    /* empty sequences keep their initial state */
    for (b = 0; b < p->batch; ++b) {
      const size_t at = qrnn_state_at(p, dirs, dir, b);
      if ((seq_lens ? seq_lens[b] : p->seq) != 0 || !Y_h) continue;
      if (init_h) memcpy(Y_h + at, init_h + at, row); else memset(Y_h + at, p->h_zero_point, row);
    }
  }
  return 0;
}

#endif /* TINYC_QRNN_LOOP_H */
