/* int8 fully connected layer with the DSP extension's SIMD multiply-accumulate, for the
 * Cortex-M4/M7/M33: the portable kernel's bits (tinyc_qfc.h). Each input row is widened
 * once to int16 with the input offset added, in SXTB16's halfword order, into the node's
 * arena workspace (`work`, about 2 * in_features bytes: nothing on the stack); two outputs
 * then share every input word: per 4 inputs two weight loads, four sign extensions, two
 * input loads and four SMLADs. Rows longer than TINYC_QFC_ROW get no workspace (its 2 bytes
 * per input would be the arena peak of small models such as the anomaly autoencoder's
 * 640-input layer): they are widened in registers, four inputs per load, shared by the same
 * two outputs (two more SXTAB16 per 8 MACs). A float input row is quantized straight into the widened buffer, so the
 * float-input form costs one quantization per input, not per input and output. */
#include "tinyc_qfc.h"

#include "tinyc_dsp.h"
#include "tinyc_quantize_one.h"

/* longest row widened into the workspace (tinyc/ops/qwork.py's QFC_ROW) */
#define TINYC_QFC_ROW 512
/* longest float row quantized into the workspace (qwork.py's QFC_FLOAT_ROW): without the
 * buffer each input is quantized once per output, not once */
#define TINYC_QFC_FLOAT_ROW 1024

/* xw[2q], xw[2q+1] = (x[4q], x[4q+2]) and (x[4q+1], x[4q+3]) plus the offset; the last
 * n % 4 inputs follow as plain int32 values. Reads x fully before anything is written. */
static void widen_row(const int8_t *x, int32_t n, int32_t off, int32_t *xw) {
  const int32_t off2 = tinyc_pack16(off, off);
  int32_t q;
  for (q = n >> 2; q > 0; --q, x += 4, xw += 2) {
    const int32_t t = tinyc_load4(x);
    xw[0] = tinyc_sxtab16(off2, t);
    xw[1] = tinyc_sxtab16_hi(off2, t);
  }
  for (q = n & 3; q > 0; --q) *xw++ = *x++ + off;
}

/* acc0/acc1 += rows w0, w1 of W . the widened input */
TINYC_INLINE void dot2(const int8_t *w0, const int8_t *w1, const int32_t *xw, int32_t n,
                       int32_t *acc0, int32_t *acc1) {
  int32_t a0 = *acc0, a1 = *acc1, q = n >> 2;
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__thumb2__) && \
    defined(__OPTIMIZE__) && !defined(TINYC_NO_DSP_ASM)
  /* 13 instructions per 8 MACs in 10 registers (LDRD: both widened input words at once) */
  if (q > 0) {
    int32_t u, v, t, x02, x13;
    __asm__ volatile(
        "1:\n\t"
        "ldr    %[u], [%[w0]], #4\n\t"
        "ldr    %[v], [%[w1]], #4\n\t"
        "ldrd   %[x02], %[x13], [%[xw]], #8\n\t"
        "sxtb16 %[t], %[u]\n\t"
        "smlad  %[a0], %[t], %[x02], %[a0]\n\t"
        "sxtb16 %[u], %[u], ror #8\n\t"
        "smlad  %[a0], %[u], %[x13], %[a0]\n\t"
        "sxtb16 %[t], %[v]\n\t"
        "smlad  %[a1], %[t], %[x02], %[a1]\n\t"
        "sxtb16 %[v], %[v], ror #8\n\t"
        "smlad  %[a1], %[v], %[x13], %[a1]\n\t"
        "subs   %[q], %[q], #1\n\t"
        "bne    1b"
        : [a0] "+r"(a0), [a1] "+r"(a1), [w0] "+r"(w0), [w1] "+r"(w1), [xw] "+r"(xw),
          [q] "+r"(q), [u] "=&r"(u), [v] "=&r"(v), [t] "=&r"(t), [x02] "=&r"(x02),
          [x13] "=&r"(x13)
        :
        : "cc", "memory");
  }
#else
  for (; q > 0; --q, w0 += 4, w1 += 4, xw += 2) {
    const int32_t u = tinyc_load4(w0), v = tinyc_load4(w1), x02 = xw[0], x13 = xw[1];
    a0 = tinyc_smlad(tinyc_sxtb16(u), x02, a0);
    a0 = tinyc_smlad(tinyc_sxtb16_hi(u), x13, a0);
    a1 = tinyc_smlad(tinyc_sxtb16(v), x02, a1);
    a1 = tinyc_smlad(tinyc_sxtb16_hi(v), x13, a1);
  }
#endif
  for (q = n & 3; q > 0; --q, ++xw) {
    a0 += *w0++ * *xw;
    a1 += *w1++ * *xw;
  }
  *acc0 = a0;
  *acc1 = a1;
}

/* dot2 on the int8 row itself, widened in registers with the offset (no workspace) */
TINYC_INLINE void dot2_s8(const int8_t *w0, const int8_t *w1, const int8_t *x, int32_t off,
                          int32_t n, int32_t *acc0, int32_t *acc1) {
  const int32_t off2 = tinyc_pack16(off, off);
  int32_t a0 = *acc0, a1 = *acc1, q;
  for (q = n >> 2; q > 0; --q, w0 += 4, w1 += 4, x += 4) {
    const int32_t t = tinyc_load4(x), u = tinyc_load4(w0), v = tinyc_load4(w1);
    const int32_t x02 = tinyc_sxtab16(off2, t), x13 = tinyc_sxtab16_hi(off2, t);
    a0 = tinyc_smlad(tinyc_sxtb16(u), x02, a0);
    a0 = tinyc_smlad(tinyc_sxtb16_hi(u), x13, a0);
    a1 = tinyc_smlad(tinyc_sxtb16(v), x02, a1);
    a1 = tinyc_smlad(tinyc_sxtb16_hi(v), x13, a1);
  }
  for (q = n & 3; q > 0; --q) {
    const int32_t xi = *x++ + off;
    a0 += *w0++ * xi;
    a1 += *w1++ * xi;
  }
  *acc0 = a0;
  *acc1 = a1;
}

/* outputs o, o + 1 (w1 == w0 for a lone last one) from the widened row xw, or from the int8
 * row x when xw is NULL */
TINYC_INLINE void pair(const int32_t *xw, const int8_t *x, const int8_t *w0, const int8_t *w1,
                       const tinyc_qfc_params *p, int32_t *a0, int32_t *a1) {
  if (xw) {
    dot2(w0, w1, xw, p->in_features, a0, a1);
  } else {
    dot2_s8(w0, w1, x, p->input_offset, p->in_features, a0, a1);
  }
}

/* One row of outputs from a widened input row xw, or from the int8 row x (xw NULL). */
static void row(const int32_t *xw, const int8_t *x, const int8_t *W, const int32_t *B,
                int8_t *y, const tinyc_qfc_params *p) {
  const tinyc_dsp_clamp cl = tinyc_dsp_clamp_make(p->output_offset, p->act_min, p->act_max);
  const int32_t n = p->in_features;
  int32_t o = 0;
  for (; o + 2 <= p->out_features; o += 2) {
    int32_t a0 = B ? B[o] : 0, a1 = B ? B[o + 1] : 0;
    pair(xw, x, W + (size_t)o * n, W + (size_t)(o + 1) * n, p, &a0, &a1);
    y[o] = tinyc_dsp_requant1(a0, p->multiplier[o], p->shift[o], &cl);
    y[o + 1] = tinyc_dsp_requant1(a1, p->multiplier[o + 1], p->shift[o + 1], &cl);
  }
  if (o < p->out_features) {
    int32_t a0 = B ? B[o] : 0, a1 = 0;
    pair(xw, x, W + (size_t)o * n, W + (size_t)o * n, p, &a0, &a1);
    y[o] = tinyc_dsp_requant1(a0, p->multiplier[o], p->shift[o], &cl);
  }
}

void tinyc_fully_connected_s8(const int8_t *restrict X, const int8_t *restrict W,
                              const int32_t *restrict B, int8_t *restrict Y,
                              int32_t *restrict work, const tinyc_qfc_params *p) {
  int32_t *const xw = work;
  int32_t b;
  for (b = 0; b < p->batch; ++b) {
    const int8_t *x = X + (size_t)b * p->in_features;
    int8_t *y = Y + (size_t)b * p->out_features;
    if (p->in_features <= TINYC_QFC_ROW) {
      widen_row(x, p->in_features, p->input_offset, xw);
      row(xw, x, W, B, y, p);
    } else {
      row(NULL, x, W, B, y, p);
    }
  }
}

void tinyc_fully_connected_rows_stream_s8(const int8_t *X, const int8_t *restrict W,
                                          const int32_t *restrict B, int8_t *Y,
                                          int8_t *restrict scratch, int32_t *restrict work,
                                          const tinyc_qfc_params *p) {
  int32_t *const xw = work;
  int32_t b, o, i;
  for (b = 0; b < p->batch; ++b) {
    const int8_t *x = X + (size_t)b * p->in_features;
    int8_t *y = Y + (size_t)b * p->out_features;
    if (p->in_features <= TINYC_QFC_ROW) {
      widen_row(x, p->in_features, p->input_offset, xw); /* row b read before any write */
      row(xw, x, W, B, y, p);
    } else if (p->in_features <= p->out_features) {
      for (i = 0; i < p->in_features; ++i) scratch[i] = x[i];
      row(NULL, scratch, W, B, y, p);
    } else {
      row(NULL, x, W, B, scratch, p);
      for (o = 0; o < p->out_features; ++o) y[o] = scratch[o];
    }
  }
}

/* widen_row's layout from float inputs quantized on the fly */
static void quantize_widen_row(const float *x, int32_t n, float scale, int32_t off,
                               int32_t *xw) {
  const int32_t zp = -off;
  int32_t q;
  for (q = n >> 2; q > 0; --q, x += 4, xw += 2) {
    const int32_t q0 = tinyc_quantize_one(x[0], scale, zp, -128, 127) + off;
    const int32_t q1 = tinyc_quantize_one(x[1], scale, zp, -128, 127) + off;
    const int32_t q2 = tinyc_quantize_one(x[2], scale, zp, -128, 127) + off;
    const int32_t q3 = tinyc_quantize_one(x[3], scale, zp, -128, 127) + off;
    xw[0] = tinyc_pack16(q0, q2);
    xw[1] = tinyc_pack16(q1, q3);
  }
  for (q = n & 3; q > 0; --q) *xw++ = tinyc_quantize_one(*x++, scale, zp, -128, 127) + off;
}

void tinyc_fully_connected_f32_s8(const float *restrict X, float x_scale,
                                  const int8_t *restrict W, const int32_t *restrict B,
                                  int8_t *restrict Y, int32_t *restrict work,
                                  const tinyc_qfc_params *p) {
  int32_t *const xw = work;
  const int32_t zp = -p->input_offset;
  int32_t b, o, i;
  for (b = 0; b < p->batch; ++b) {
    const float *x = X + (size_t)b * p->in_features;
    int8_t *y = Y + (size_t)b * p->out_features;
    if (p->in_features <= TINYC_QFC_FLOAT_ROW) {
      quantize_widen_row(x, p->in_features, x_scale, p->input_offset, xw);
      row(xw, NULL, W, B, y, p);
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
