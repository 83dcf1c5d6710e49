/* int8 fully connected layer with Helium (MVE) dot products, for the Cortex-M55: the
 * portable kernel's bits (tinyc_qfc.h). Two outputs share each 16-byte input load (two
 * VMLADAVA.S8, 32 MACs); the input offset enters once per output as input_offset * sum(w)
 * (tinyc_mve.h), so the int8 input row is used as it is. The float-input form quantizes
 * its row once into the node's workspace (tinyc/ops/qwork.py sizes it for the Cortex-M4
 * kernel: at least in_features bytes up to TINYC_QFC_ROW inputs), the in-place form copies
 * the row there (or into scratch) before writing. */
#include "tinyc_qfc.h"

#include "tinyc_mve.h"
#include "tinyc_quantize_one.h"

/* longest row the workspace holds (tinyc/ops/qwork.py's QFC_ROW) */
#define TINYC_QFC_ROW 1024

/* One row of outputs from the int8 input row x. */
static void row(const int8_t *x, const int8_t *W, const int32_t *B, int8_t *y,
                const tinyc_qfc_params *p) {
  const int32_t n = p->in_features;
  int32_t o = 0;
  for (; o + 2 <= p->out_features; o += 2) {
    const int8_t *w = W + (size_t)o * n;
    int32_t s[2];
    s[0] = (B ? B[o] : 0) + p->input_offset * tinyc_mve_sum_s8(w, n);
    s[1] = (B ? B[o + 1] : 0) + p->input_offset * tinyc_mve_sum_s8(w + n, n);
    tinyc_mve_dot2x1(w, x, n, s);
    y[o] = tinyc_requantize_one(s[0], p->multiplier[o], p->shift[o], p->output_offset,
                                p->act_min, p->act_max);
    y[o + 1] = tinyc_requantize_one(s[1], p->multiplier[o + 1], p->shift[o + 1],
                                    p->output_offset, p->act_min, p->act_max);
  }
  if (o < p->out_features) {
    const int8_t *w = W + (size_t)o * n;
    const int32_t acc = tinyc_mve_dot(w, x, n, B ? B[o] : 0) +
                        p->input_offset * tinyc_mve_sum_s8(w, n);
    y[o] = tinyc_requantize_one(acc, p->multiplier[o], p->shift[o], p->output_offset,
                                p->act_min, p->act_max);
  }
}

void tinyc_fully_connected_s8(const int8_t *restrict X, const int8_t *restrict W,
                              const int32_t *restrict B, int8_t *restrict Y,
                              int32_t *restrict work, const tinyc_qfc_params *p) {
  int32_t b;
  (void)work;
  for (b = 0; b < p->batch; ++b) {
    row(X + (size_t)b * p->in_features, W, B, Y + (size_t)b * p->out_features, p);
  }
}

void tinyc_fully_connected_rows_stream_s8(const int8_t *X, const int8_t *restrict W,
                                          const int32_t *restrict B, int8_t *Y,
                                          int8_t *restrict scratch, int32_t *restrict work,
                                          const tinyc_qfc_params *p) {
  int32_t b, i, o;
  for (b = 0; b < p->batch; ++b) {
    const int8_t *x = X + (size_t)b * p->in_features;
    int8_t *y = Y + (size_t)b * p->out_features;
    if (p->in_features <= TINYC_QFC_ROW || p->in_features <= p->out_features) {
      /* row b is fully read (into the workspace or scratch) before any write */
      int8_t *copy = p->in_features <= TINYC_QFC_ROW ? (int8_t *)work : scratch;
      for (i = 0; i < p->in_features; ++i) copy[i] = x[i];
      row(copy, W, B, y, p);
    } else {
      tinyc_qfc_params one = *p;
      one.batch = 1;
      row(x, W, B, scratch, &one);
      for (o = 0; o < p->out_features; ++o) y[o] = scratch[o];
    }
  }
}

void tinyc_fully_connected_f32_s8(const float *restrict X, float x_scale,
                                  const int8_t *restrict W, const int32_t *restrict B,
                                  int8_t *restrict Y, int32_t *restrict work,
                                  const tinyc_qfc_params *p) {
  const int32_t zp = -p->input_offset;
  int32_t b, o, i;
  for (b = 0; b < p->batch; ++b) {
    const float *x = X + (size_t)b * p->in_features;
    int8_t *y = Y + (size_t)b * p->out_features;
    if (p->in_features <= TINYC_QFC_ROW) {
      int8_t *xq = (int8_t *)work;
      for (i = 0; i < p->in_features; ++i) {
        xq[i] = (int8_t)tinyc_quantize_one(x[i], x_scale, zp, -128, 127);
      }
      row(xq, W, B, y, p);
      continue;
    }
    for (o = 0; o < p->out_features; ++o) { /* too long to buffer: quantize per use */
      const int8_t *w = W + (size_t)o * p->in_features;
      int32_t acc = B ? B[o] : 0;
      for (i = 0; i < p->in_features; ++i) {
        acc += (tinyc_quantize_one(x[i], x_scale, zp, -128, 127) - zp) * (int32_t)w[i];
      }
      y[o] = tinyc_requantize_one(acc, p->multiplier[o], p->shift[o], p->output_offset,
                                  p->act_min, p->act_max);
    }
  }
}
