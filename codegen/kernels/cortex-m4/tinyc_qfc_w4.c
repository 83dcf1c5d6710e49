/* int8 fully connected layer with packed int4 weights for the Cortex-M4/M7/M33 (same
 * contract and bits as the portable kernel, tinyc_qfc_w4.h).
 *
 * Each input row (up to TINYC_QFC_W4_ROW inputs) is widened once into the workspace as the
 * int16 words (x0, x2), (x1, x3), (x4, x6), (x5, x7) per block of 8, input offset added
 * (SXTAB16). Per block of 8 weights one word load, two masks and four sign extensions give
 * 16 * (w0, w2), 16 * (w1, w3), 16 * (w4, w6), 16 * (w5, w7) -- the nibble order of the
 * packed rows -- and four SMLADs, two outputs at a time so each column word is loaded once
 * for both. The sums are 16x the true ones and divide exactly. Longer rows take the plain
 * loop. */
#include "tinyc_qfc_w4.h"

#include "tinyc_dsp.h"

/* longest input row widened into the workspace (tinyc/ops/qint4.py QFC_W4_ROW) */
#define TINYC_QFC_W4_ROW 1024

/* x + offset for the `in` inputs as int16 pairs in block order, zeros past the end */
static void widen_row(const int8_t *x, int32_t in, int32_t off, int32_t *restrict col) {
  const int32_t off2 = tinyc_pack16(off, off);
  int32_t i;
  for (i = 0; i + 8 <= in; i += 8, col += 4) {
    const int32_t a = tinyc_load4(x + i), b = tinyc_load4(x + i + 4);
    col[0] = tinyc_sxtab16(off2, a);
    col[1] = tinyc_sxtab16_hi(off2, a);
    col[2] = tinyc_sxtab16(off2, b);
    col[3] = tinyc_sxtab16_hi(off2, b);
  }
  if (i < in) {
    int32_t v[8], j;
    for (j = 0; j < 8; ++j) v[j] = i + j < in ? (int32_t)x[i + j] + off : 0;
    col[0] = tinyc_pack16(v[0], v[2]);
    col[1] = tinyc_pack16(v[1], v[3]);
    col[2] = tinyc_pack16(v[4], v[6]);
    col[3] = tinyc_pack16(v[5], v[7]);
  }
}

/* 16 * the dot products of rows w0 and w1 (`blocks` blocks each) with the column */
TINYC_INLINE void dot2(const uint8_t *w0, const uint8_t *w1, const int32_t *col, int32_t blocks,
                       int32_t *s0, int32_t *s1) {
  int32_t a0 = 0, a1 = 0;
  for (; blocks > 0; --blocks, w0 += 4, w1 += 4, col += 4) {
    const uint32_t u = (uint32_t)tinyc_load4((const int8_t *)w0);
    const uint32_t v = (uint32_t)tinyc_load4((const int8_t *)w1);
    const int32_t ul = (int32_t)((u << 4) & 0xF0F0F0F0u), uh = (int32_t)(u & 0xF0F0F0F0u);
    const int32_t vl = (int32_t)((v << 4) & 0xF0F0F0F0u), vh = (int32_t)(v & 0xF0F0F0F0u);
    const int32_t c0 = col[0], c1 = col[1], c2 = col[2], c3 = col[3];
    a0 = tinyc_smlad(tinyc_sxtb16(ul), c0, a0);
    a1 = tinyc_smlad(tinyc_sxtb16(vl), c0, a1);
    a0 = tinyc_smlad(tinyc_sxtb16_hi(ul), c1, a0);
    a1 = tinyc_smlad(tinyc_sxtb16_hi(vl), c1, a1);
    a0 = tinyc_smlad(tinyc_sxtb16(uh), c2, a0);
    a1 = tinyc_smlad(tinyc_sxtb16(vh), c2, a1);
    a0 = tinyc_smlad(tinyc_sxtb16_hi(uh), c3, a0);
    a1 = tinyc_smlad(tinyc_sxtb16_hi(vh), c3, a1);
  }
  *s0 = a0;
  *s1 = a1;
}

void tinyc_fully_connected_s8_w4(const int8_t *restrict X, const uint8_t *restrict W,
                                 const int32_t *restrict B, int8_t *restrict Y,
                                 int32_t *restrict work, const tinyc_qfc_params *p) {
  const int32_t in = p->in_features, out = p->out_features, blocks = (in + 7) / 8;
  const size_t row_bytes = (size_t)blocks * 4u;
  const int widened = in <= TINYC_QFC_W4_ROW;
  const tinyc_dsp_clamp clamp = tinyc_dsp_clamp_make(p->output_offset, p->act_min, p->act_max);
  int32_t b, o;
  for (b = 0; b < p->batch; ++b) {
    const int8_t *x = X + (size_t)b * in;
    int8_t *y = Y + (size_t)b * out;
    if (widened) widen_row(x, in, p->input_offset, work);
    for (o = 0; o < out; o += 2) {
      const int32_t o1 = o + 1 < out ? o + 1 : o; /* an odd last row is computed twice */
      int32_t s0, s1;
      if (widened) {
        dot2(W + (size_t)o * row_bytes, W + (size_t)o1 * row_bytes, work, blocks, &s0, &s1);
        s0 /= 16; /* exact: every product was 16 * w * x */
        s1 /= 16;
      } else {
        s0 = tinyc_w4_dot(W + (size_t)o * row_bytes, x, in, p->input_offset);
        s1 = tinyc_w4_dot(W + (size_t)o1 * row_bytes, x, in, p->input_offset);
      }
      y[o] = tinyc_dsp_requant1(s0 + (B ? B[o] : 0), p->multiplier[o], p->shift[o], &clamp);
      y[o1] = tinyc_dsp_requant1(s1 + (B ? B[o1] : 0), p->multiplier[o1], p->shift[o1], &clamp);
    }
  }
}
