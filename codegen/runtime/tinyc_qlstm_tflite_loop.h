/* The body of tinyc_qlstm_tflite_s8, shared by the portable and the Cortex-M4 kernels
 * (private to them). The including file first defines the operations that differ:
 *
 *   static void qlstm_widen(int16_t *dst, const int8_t *src, int32_t n, int32_t zp);
 *       dst = src - zp, in the order qlstm_dot reads it;
 *   static void qlstm_order(int16_t *v, int32_t n);
 *       puts n int16 values, in order, into that order (in place);
 *   static int32_t qlstm_dot(const int8_t *w, const int16_t *v, int32_t n);
 *       sum_k w[k] * (the k-th widened value), exact in int32.
 *
 * Everything else (gates, tables, cell update, time loop) is here once, bit-exact with
 * tinyc/ops/qlstm_tflite.py. */
#ifndef TINYC_QLSTM_TFLITE_LOOP_H
#define TINYC_QLSTM_TFLITE_LOOP_H

#include <stddef.h>

#include "tinyc_fixedpoint.h"
#include "tinyc_qlstm_tflite.h"

#define QLSTM_PAD4(n) (((n) + 3) & ~3)

enum { QLSTM_I, QLSTM_O, QLSTM_F, QLSTM_C };

static int32_t qlstm_clamp(int32_t v, int32_t lo, int32_t hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

static int32_t qlstm_sat16(int32_t v) { return qlstm_clamp(v, -32768, 32767); }

/* reference_integer_ops::Logistic, int16 Q3.12 -> Q0.15, the power-of-two case (x * 3) */
static int16_t qlstm_logistic(const uint16_t *table, int32_t x) {
  const int32_t t = x * 3;
  const uint32_t a = (uint32_t)(t < 0 ? -t : t), hi = a >> 9;
  uint32_t r;
  if (hi >= 255) {
    r = (uint32_t)0x7FFF << 10;
  } else {
    r = ((uint32_t)table[hi] << 9) + (a & 0x1FFu) * (uint32_t)(table[hi + 1] - table[hi]);
  }
  r = t >= 0 ? r + (1u << 9) : (1u << 25) - r + (1u << 9) - 1u;
  return (int16_t)(r >> 10);
}

/* reference_integer_ops::Tanh with (multiplier, left shift): int16 -> Q0.15 */
static int16_t qlstm_tanh(const uint16_t *table, int32_t x, int32_t mult, int32_t shift) {
  int32_t t, r;
  uint32_t a, hi;
  if (mult == 0) {
    mult = 3 * ((int32_t)1 << shift);
    shift = 0;
  }
  t = (x * mult + (shift > 0 ? (int32_t)1 << (shift - 1) : 0)) >> shift;
  a = (uint32_t)(t < 0 ? -t : t);
  hi = a >> 8;
  if (hi >= 255) {
    r = (int32_t)0xFFFF << 8;
  } else {
    r = (int32_t)(((uint32_t)table[hi] << 8) + (a & 0xFFu) * (uint32_t)(table[hi + 1] - table[hi]));
  }
  r = t >= 0 ? r - (1 << 23) + (1 << 7) : -r + (1 << 23) + (1 << 7) - 1;
  return (int16_t)(r >> 8);
}

void tinyc_qlstm_tflite_s8(const int8_t *X, const int8_t *W, const int8_t *R, const int32_t *B,
                           int8_t *Y, int16_t *work, const tinyc_qlstm_tflite_params *p) {
  const int32_t H = p->hidden, I = p->input;
  int16_t *c = work, *h = work + H, *gate = work + 2 * H;
  int16_t *x_wide = work + 6 * H, *h_wide = x_wide + QLSTM_PAD4(I);
  int32_t n, t, u, g;
  for (n = 0; n < p->batch; ++n) {
    for (u = 0; u < H; ++u) {
      c[u] = 0;
      h[u] = (int16_t)p->h_zero_point;
    }
    for (t = 0; t < p->seq; ++t) {
      const size_t row = p->layout ? (size_t)n * p->seq + t : (size_t)t * p->batch + n;
      int8_t *y = Y + row * H;
      qlstm_widen(x_wide, X + row * I, I, p->x_zero_point);
      for (u = 0; u < H; ++u) h_wide[u] = (int16_t)(h[u] - p->h_zero_point);
      qlstm_order(h_wide, H);
      for (g = 0; g < 4; ++g) {
        for (u = 0; u < H; ++u) {
          const size_t w_row = (size_t)g * H + u;
          const int32_t acc_x = qlstm_dot(W + w_row * I, x_wide, I) + B[w_row];
          const int32_t acc_r = qlstm_dot(R + w_row * H, h_wide, H);
          const int32_t pre = qlstm_sat16(
              qlstm_sat16(tinyc_tflite_mbqm(acc_x, p->x_mult[g], p->x_shift[g])) +
              qlstm_sat16(tinyc_tflite_mbqm(acc_r, p->r_mult[g], p->r_shift[g])));
          gate[w_row] = g == QLSTM_C ? qlstm_tanh(p->sigmoid_table, pre, 0, 0)
                                     : qlstm_logistic(p->sigmoid_table, pre);
        }
      }
      for (u = 0; u < H; ++u) {
        const int32_t f = gate[QLSTM_F * H + u], i = gate[QLSTM_I * H + u];
        const int32_t o = gate[QLSTM_O * H + u], gg = gate[QLSTM_C * H + u];
        int32_t cell = qlstm_sat16(
            qlstm_sat16(tinyc_tflite_mbqm(f * c[u], p->forget_mult, p->forget_shift)) +
            qlstm_sat16(tinyc_tflite_mbqm(i * gg, p->input_mult, p->input_shift)));
        int32_t tc;
        if (p->cell_clip) cell = qlstm_clamp(cell, -p->cell_clip, p->cell_clip);
        c[u] = (int16_t)cell;
        tc = qlstm_tanh(p->sigmoid_table, cell, p->tanh_mult, p->tanh_shift);
        h[u] = (int16_t)qlstm_clamp(
            p->h_zero_point + tinyc_tflite_mbqm(tc * o, p->hidden_mult, p->hidden_shift), -128, 127);
      }
      for (u = 0; u < H; ++u) y[u] = (int8_t)h[u];
    }
  }
}

#endif /* TINYC_QLSTM_TFLITE_LOOP_H */
