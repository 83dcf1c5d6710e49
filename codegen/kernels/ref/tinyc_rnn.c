/* Portable recurrent layers. One time loop for the three cells; each hidden unit's gates
 * are dot products computed when the unit is updated, so nothing but Y holds state. */
#include "tinyc_rnn.h"

#include <math.h>
#include <string.h>

#include "tinyc_f16.h"

static float activate(float v, int32_t kind, float alpha, float beta) {
  switch (kind) {
    case TINYC_RNN_SIGMOID: return 1.0f / (1.0f + expf(-v));
    case TINYC_RNN_TANH: return tanhf(v);
    case TINYC_RNN_RELU: return v > 0.0f ? v : 0.0f;
    case TINYC_RNN_HARD_SIGMOID: {
      const float t = alpha * v + beta;
      return t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);
    }
    case TINYC_RNN_LEAKY_RELU: return v < 0.0f ? alpha * v : v;
    case TINYC_RNN_THRESHOLDED_RELU: return v > alpha ? v : 0.0f;
    case TINYC_RNN_SCALED_TANH: return alpha * tanhf(beta * v);
    case TINYC_RNN_AFFINE: return alpha * v + beta;
    case TINYC_RNN_ELU: return v < 0.0f ? alpha * (expf(v) - 1.0f) : v;
    case TINYC_RNN_SOFTSIGN: return v / (1.0f + fabsf(v));
    default: return logf(1.0f + expf(v)); /* softplus */
  }
}

static float dot(const float *a, const float *b, int32_t n) {
  float acc = 0.0f;
  int32_t i;
  for (i = 0; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

/* The same dot product with IEEE half weights (--quantize float16). */
static float dot_half(const uint16_t *w, const float *b, int32_t n) {
  float acc = 0.0f;
  int32_t i;
  for (i = 0; i < n; ++i) acc += tinyc_f16w_to_f32(w[i]) * b[i];
  return acc;
}

typedef struct {
  const tinyc_rnn_params *p;
  const float *W, *R, *B, *P;
  const uint16_t *W16, *R16, *B16; /* halves instead of W, R, B (tinyc_rnn_f32_f16w) */
  float *rh; /* GRU, linear_before_reset = 0: r * h_prev (hidden floats of workspace) */
  int32_t dirs, gates;
} cell_ctx;

/* Bias i of direction dir's [2*gates*hidden] row of B or B16 (0 without a bias). */
static float bias(const cell_ctx *c, int32_t dir, size_t i) {
  const size_t at = (size_t)dir * 2 * c->gates * c->p->hidden + i;
  if (c->B16) return tinyc_f16w_to_f32(c->B16[at]);
  return c->B ? c->B[at] : 0.0f;
}

/* Pre-activation of gate g for unit j: W x + R h + Wb + Rb (h may be NULL: zeros). The
 * recurrent half alone, with its bias, when `recurrent_only`. */
static float gate(const cell_ctx *c, int32_t dir, int32_t g, int32_t j, const float *x,
                  const float *h, int recurrent_only) {
  const tinyc_rnn_params *p = c->p;
  const size_t row = (size_t)dir * c->gates * p->hidden + (size_t)g * p->hidden + j;
  float v = 0.0f;
  if (!recurrent_only) {
    v += c->W16 ? dot_half(c->W16 + row * p->input, x, p->input)
                : dot(c->W + row * p->input, x, p->input);
    v += bias(c, dir, (size_t)g * p->hidden + j);
  }
  if (h) {
    v += c->R16 ? dot_half(c->R16 + row * p->hidden, h, p->hidden)
                : dot(c->R + row * p->hidden, h, p->hidden);
  }
  return v + bias(c, dir, (size_t)(c->gates + g) * p->hidden + j);
}

static float clipped(const tinyc_rnn_params *p, float v) {
  if (!p->has_clip) return v;
  return v < -p->clip ? -p->clip : (v > p->clip ? p->clip : v);
}

static float act(const tinyc_rnn_params *p, int32_t dir, int32_t which, float v) {
  const int32_t k = dir * (p->cell == TINYC_CELL_LSTM ? 3 : (p->cell == TINYC_CELL_GRU ? 2 : 1))
                    + which;
  return activate(v, p->act[k], p->alpha[k], p->beta[k]);
}

/* Offset of the [hidden] vector of (step t, dir, batch b) in Y, and of (dir, b) in a state
 * tensor, for the layout. */
static size_t y_at(const tinyc_rnn_params *p, int32_t dirs, int32_t t, int32_t dir, int32_t b) {
  return p->layout ? (((size_t)b * p->seq + t) * dirs + dir) * p->hidden
                   : (((size_t)t * dirs + dir) * p->batch + b) * p->hidden;
}

static size_t state_at(const tinyc_rnn_params *p, int32_t dirs, int32_t dir, int32_t b) {
  return p->layout ? ((size_t)b * dirs + dir) * p->hidden : ((size_t)dir * p->batch + b) * p->hidden;
}

/* One step of one (direction, batch) sequence: h_prev / c_prev in, h into y, the cell
 * state into c_out (may be NULL on the last step). */
static void step(const cell_ctx *c, int32_t dir, const float *x, const float *h_prev,
                 const float *c_prev, float *y, float *c_out) {
  const tinyc_rnn_params *p = c->p;
  int32_t j;
  if (p->cell == TINYC_CELL_RNN) {
    for (j = 0; j < p->hidden; ++j) y[j] = act(p, dir, 0, clipped(p, gate(c, dir, 0, j, x, h_prev, 0)));
    return;
  }
  if (p->cell == TINYC_CELL_GRU) {
    float *const rh = c->rh;
    if (!p->linear_before_reset) {
      for (j = 0; j < p->hidden; ++j) {
        const float r = act(p, dir, 0, clipped(p, gate(c, dir, 1, j, x, h_prev, 0)));
        rh[j] = h_prev ? r * h_prev[j] : 0.0f;
      }
    }
    for (j = 0; j < p->hidden; ++j) {
      const float z = act(p, dir, 0, clipped(p, gate(c, dir, 0, j, x, h_prev, 0)));
      const float hp = h_prev ? h_prev[j] : 0.0f;
      float n;
      if (p->linear_before_reset) {
        const float r = act(p, dir, 0, clipped(p, gate(c, dir, 1, j, x, h_prev, 0)));
        n = gate(c, dir, 2, j, x, NULL, 0) + r * gate(c, dir, 2, j, x, h_prev, 1);
        /* gate(.., NULL, 0) added the recurrent bias too: take it back out */
        n -= bias(c, dir, (size_t)5 * p->hidden + j);
      } else {
        n = gate(c, dir, 2, j, x, rh, 0);
      }
      n = act(p, dir, 1, clipped(p, n));
      y[j] = (1.0f - z) * n + z * hp;
    }
    return;
  }
  for (j = 0; j < p->hidden; ++j) {
    const float cp = c_prev ? c_prev[j] : 0.0f;
    const float *pp = c->P ? c->P + (size_t)dir * 3 * p->hidden : NULL;
    float i = gate(c, dir, 0, j, x, h_prev, 0), o = gate(c, dir, 1, j, x, h_prev, 0);
    float f = gate(c, dir, 2, j, x, h_prev, 0), g = gate(c, dir, 3, j, x, h_prev, 0), cn;
    if (pp) {
      i += pp[j] * cp;
      f += pp[2 * p->hidden + j] * cp;
    }
    i = act(p, dir, 0, clipped(p, i));
    f = p->input_forget ? 1.0f - i : act(p, dir, 0, clipped(p, f));
    g = act(p, dir, 1, clipped(p, g));
    cn = f * cp + i * g;
    if (pp) o += pp[p->hidden + j] * cn;
    o = act(p, dir, 0, clipped(p, o));
    y[j] = o * act(p, dir, 2, cn);
    if (c_out) c_out[j] = cn;
  }
}

/* Both entry points: float32 weights W/R/B, or half ones W16/R16/B16. */
static int run_layer(const float *X, const float *W, const float *R, const uint16_t *W16,
                     const uint16_t *R16, const float *B, const uint16_t *B16,
                     const int32_t *seq_lens,
                     const float *init_h, const float *init_c, const float *P, float *Y,
                     float *Y_h, float *Y_c, float *work, const tinyc_rnn_params *p) {
  cell_ctx c;
  const size_t row = (size_t)p->hidden * sizeof(float);
  int32_t dir, s, b;
  c.p = p;
  c.W = W;
  c.R = R;
  c.W16 = W16;
  c.R16 = R16;
  c.B = B;
  c.B16 = B16;
  c.P = P;
  c.rh = work;
  c.dirs = p->direction == TINYC_RNN_BIDIRECTIONAL ? 2 : 1;
  c.gates = p->cell == TINYC_CELL_LSTM ? 4 : (p->cell == TINYC_CELL_GRU ? 3 : 1);
  if (seq_lens)
    for (b = 0; b < p->batch; ++b)
      if (seq_lens[b] < 0 || seq_lens[b] > p->seq) return -1;
  for (dir = 0; dir < c.dirs; ++dir) {
    const int reverse = p->direction == TINYC_RNN_REVERSE || dir == 1;
    for (s = 0; s < p->seq; ++s) {
      const int32_t t = reverse ? p->seq - 1 - s : s;
      for (b = 0; b < p->batch; ++b) {
        const int32_t len = seq_lens ? seq_lens[b] : p->seq;
        const float *x = X + (p->layout ? (size_t)b * p->seq + t : (size_t)t * p->batch + b) *
                                 (size_t)p->input;
        float *y = Y + y_at(p, c.dirs, t, dir, b);
        const int first = reverse ? t == len - 1 : t == 0, last = reverse ? t == 0 : t == len - 1;
        const float *h_prev, *c_prev;
        float *c_out;
        if (t >= len) {
          memset(y, 0, row);
          continue;
        }
        if (first) {
          h_prev = init_h ? init_h + state_at(p, c.dirs, dir, b) : NULL;
          c_prev = init_c ? init_c + state_at(p, c.dirs, dir, b) : NULL;
        } else {
          h_prev = Y + y_at(p, c.dirs, reverse ? t + 1 : t - 1, dir, b);
          c_prev = y; /* the previous step parked the cell state in this step's slot */
        }
        c_out = last ? (Y_c ? Y_c + state_at(p, c.dirs, dir, b) : NULL)
                     : Y + y_at(p, c.dirs, reverse ? t - 1 : t + 1, dir, b);
        step(&c, dir, x, h_prev, c_prev, y, c_out);
        if (last && Y_h) memcpy(Y_h + state_at(p, c.dirs, dir, b), y, row);
      }
    }
    /* empty sequences keep their initial state */
    for (b = 0; b < p->batch; ++b) {
      const size_t at = state_at(p, c.dirs, dir, b);
      if ((seq_lens ? seq_lens[b] : p->seq) != 0) continue;
      if (Y_h) {
        if (init_h) memcpy(Y_h + at, init_h + at, row); else memset(Y_h + at, 0, row);
      }
      if (Y_c) {
        if (init_c) memcpy(Y_c + at, init_c + at, row); else memset(Y_c + at, 0, row);
      }
    }
  }
  return 0;
}

int tinyc_rnn_f32(const float *X, const float *W, const float *R, const float *B,
                  const int32_t *seq_lens, const float *init_h, const float *init_c,
                  const float *P, float *Y, float *Y_h, float *Y_c, float *work,
                  const tinyc_rnn_params *p) {
  return run_layer(X, W, R, NULL, NULL, B, NULL, seq_lens, init_h, init_c, P, Y, Y_h, Y_c,
                   work, p);
}

int tinyc_rnn_f32_f16w(const float *X, const uint16_t *W, const uint16_t *R, const uint16_t *B,
                       const int32_t *seq_lens, const float *init_h, const float *init_c,
                       const float *P, float *Y, float *Y_h, float *Y_c, float *work,
                       const tinyc_rnn_params *p) {
  return run_layer(X, NULL, NULL, W, R, NULL, B, seq_lens, init_h, init_c, P, Y, Y_h, Y_c,
                   work, p);
}
