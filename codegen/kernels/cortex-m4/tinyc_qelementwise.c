/* int8 elementwise kernels for the Cortex-M4/M7/M33: the portable kernels' arithmetic and
 * bits (tinyc_qelementwise.h), with the fixed-point multiplies in their short forms.
 *
 * Add rescales each input by mbqm((v + offset) << left_shift, q, s) with s <= 0. Since
 * the shifted value has left_shift zero low bits, scaling the numerator and denominator
 * of that rounding division by 2^(s + 1) is exact whenever left_shift + s + 1 >= 0, and
 * turns it into SMMULR((v + offset) << (left_shift + s + 1), q): the rounded top word of
 * one 32x32 product. The sum then takes the usual short form of the output multiply
 * (tinyc_dsp_requant); Add costs about 20 instructions per element instead of three
 * 64-bit multiply-shifts. Other shifts keep the general path. */
#include "tinyc_qelementwise.h"

#include "tinyc_dsp.h"
#include "tinyc_onnxruntime.h"
#include "tinyc_qbinary_loop.h"

TINYC_INLINE int8_t clamp_out(int32_t v, const tinyc_qbinary_params *p) {
  const int32_t lo = p->act_min - p->output_offset, hi = p->act_max - p->output_offset;
  v = v < lo ? lo : (v > hi ? hi : v);
  return (int8_t)(v + p->output_offset);
}

/* a value that already includes the zero point (onnxruntime semantics), clamped */
TINYC_INLINE int8_t clamp_act(int32_t v, const tinyc_qbinary_params *p) {
  return (int8_t)(v < p->act_min ? p->act_min : (v > p->act_max ? p->act_max : v));
}

TINYC_INLINE int8_t add_one(int32_t a, int32_t b, const tinyc_qbinary_params *p) {
  int32_t sa, sb, ra, rb;
  if (p->output_shift == TINYC_FLOAT_SHIFT) {
    const int32_t off = p->left_shift; /* 128: onnxruntime adds the uint8 codes */
    return clamp_act(tinyc_add_onnxruntime(a + off, b + off, p->a_multiplier, p->b_multiplier,
                                           p->output_multiplier) - off, p);
  }
  /* |a + a_offset| <= 255, so the scaled value stays below 2^28: no overflow */
  sa = (a + p->a_offset) * ((int32_t)1 << p->left_shift);
  sb = (b + p->b_offset) * ((int32_t)1 << p->left_shift);
  ra = tinyc_dsp_mbqm(sa, p->a_multiplier, p->a_shift);
  rb = tinyc_dsp_mbqm(sb, p->b_multiplier, p->b_shift);
  return clamp_out(tinyc_dsp_mbqm(ra + rb, p->output_multiplier, p->output_shift), p);
}

/* Sub (TFLite semantics only), the general path */
TINYC_INLINE int8_t sub_one(int32_t a, int32_t b, const tinyc_qbinary_params *p) {
  const int32_t sa = (a + p->a_offset) * ((int32_t)1 << p->left_shift);
  const int32_t sb = (b + p->b_offset) * ((int32_t)1 << p->left_shift);
  const int32_t ra = tinyc_dsp_mbqm(sa, p->a_multiplier, p->a_shift);
  const int32_t rb = tinyc_dsp_mbqm(sb, p->b_multiplier, p->b_shift);
  return clamp_out(tinyc_dsp_mbqm(ra - rb, p->output_multiplier, p->output_shift), p);
}

TINYC_INLINE int8_t mul_one(int32_t a, int32_t b, const tinyc_qbinary_params *p) {
  if (p->output_shift == TINYC_FLOAT_SHIFT) {
    const int32_t off = p->left_shift;
    return clamp_act(tinyc_mul_onnxruntime((a + p->a_offset) * (b + p->b_offset),
                                           p->output_multiplier, p->output_offset + off) - off,
                     p);
  }
  return clamp_out(tinyc_dsp_mbqm((a + p->a_offset) * (b + p->b_offset), p->output_multiplier,
                                  p->output_shift),
                   p);
}

/* The SMMULR form of Add applies: both input shifts in [-left_shift - 1, 0], and the output
 * multiply in tinyc_dsp_requant's short form with the zero point folded into its rounding
 * term (adding zp << rs before the shift by rs is adding zp after it), which must fit:
 * with rs <= 23, |2^(rs-1) + zp << rs| <= 2^22 + 2^30 and the top word of the scaled sum
 * stays below 2^27, so their sum is below 2^31. */
static int add_is_short(const tinyc_qbinary_params *p) {
  const int32_t rs = -1 - p->output_shift;
  return p->a_shift <= 0 && p->left_shift + p->a_shift + 1 >= 0 && p->b_shift <= 0 &&
         p->left_shift + p->b_shift + 1 >= 0 && p->output_shift <= -2 && rs <= 23 &&
         p->output_offset >= -128 && p->output_offset <= 127;
}

/* n outputs of Add in the SMMULR form, inputs sa / sb elements apart; `upper` says whether
 * act_max needs a clamp beyond int8's. Inlined into callers that pass constants, so each
 * common case is its own tight loop. */
TINYC_INLINE void add_row_short(const int8_t *a, int32_t sa, const int8_t *b, int32_t sb,
                                int8_t *y, int32_t n, const tinyc_qbinary_params *p,
                                int upper) {
  const int32_t fa = (int32_t)1 << (p->left_shift + p->a_shift + 1); /* one MLA each */
  const int32_t fb = (int32_t)1 << (p->left_shift + p->b_shift + 1);
  const int32_t qa = p->a_multiplier, qb = p->b_multiplier, q = p->output_multiplier;
  const int32_t ca = p->a_offset * fa, cb = p->b_offset * fb;
  const int32_t rs = -1 - p->output_shift;
  /* rs <= 23 (add_is_short): this and the top word below cannot overflow their sum */
  const int32_t round = (int32_t)((1u << (rs - 1)) + ((uint32_t)p->output_offset << rs));
  const int32_t lo = p->act_min, hi = p->act_max;
  int8_t *const stop = y + n;
  for (; y < stop; a += sa, b += sb) {
    const int32_t ra = tinyc_smmulr((int32_t)*a * fa + ca, qa);
    const int32_t rb = tinyc_smmulr((int32_t)*b * fb + cb, qb);
    int32_t v = tinyc_ssat8((tinyc_smmul(ra + rb, q) + round) >> rs);
    v = v < lo ? lo : v;
    if (upper) v = v > hi ? hi : v;
    *y++ = (int8_t)v;
  }
}

static TINYC_DSP_NOINLINE void add_row_unit(const int8_t *a, const int8_t *b, int8_t *y,
                                            int32_t n, const tinyc_qbinary_params *p) {
  add_row_short(a, 1, b, 1, y, n, p, 0);
}

static TINYC_DSP_NOINLINE void add_row_strided(const int8_t *a, int32_t sa, const int8_t *b,
                                               int32_t sb, int8_t *y, int32_t n,
                                               const tinyc_qbinary_params *p) {
  add_row_short(a, sa, b, sb, y, n, p, 1);
}

#ifdef TINYC_TFLITE
/* TFLite semantics (shifts biased by TINYC_TFLITE_SHIFT_BIAS): each input's doubling high
 * multiply of x = (v + offset) << left_shift is SMMULR(2x, q) (|2x| < 2^30), its rounding
 * divide by 2^r is (H + 2^(r-1) + (x >> 31)) >> r (tinyc_dsp.h tinyc_tflite_top says why the
 * sign of x will do), and an input with r = 0 (multiplier 1/2: q = 2^30, exact) is taken as
 * r = 1 on 4x; the sum's multiply is tinyc_tflite_top. Applies with input shifts in
 * [-31, 0], an output shift <= -2 whose rs is at most 20 (the zero point in its round term)
 * and left_shift <= 20. */
typedef struct {
  int32_t fa, ca, qa, ha, ra, fb, cb, qb, hb, rb, q, rs, round;
} add_tflite_form;

static int add_tflite_input(int32_t offset, int32_t q, int32_t shift, int32_t left,
                            int32_t *f, int32_t *c, int32_t *qq, int32_t *h, int32_t *r) {
  const int32_t s = shift - TINYC_TFLITE_SHIFT_BIAS;
  if (s > 0 || s < -31 || left > 20 || (s == 0 && q != (int32_t)1 << 30)) return 0;
  *r = s == 0 ? 1 : -s;
  *f = (int32_t)1 << (left + 1 + (s == 0));
  *c = offset * *f;
  *qq = q;
  *h = (int32_t)(1u << (*r - 1));
  return 1;
}

static int add_tflite_short(const tinyc_qbinary_params *p, add_tflite_form *t) {
  const int32_t s = p->output_shift - TINYC_TFLITE_SHIFT_BIAS;
  if (p->output_shift < TINYC_TFLITE_SHIFT_BIAS - 31 || s > -2 || -1 - s > 20 ||
      p->output_offset < -128 || p->output_offset > 127) {
    return 0;
  }
  t->q = p->output_multiplier;
  t->rs = -1 - s;
  t->round = (int32_t)((1u << (t->rs - 1)) + ((uint32_t)p->output_offset << t->rs));
  return add_tflite_input(p->a_offset, p->a_multiplier, p->a_shift, p->left_shift, &t->fa,
                          &t->ca, &t->qa, &t->ha, &t->ra) &&
         add_tflite_input(p->b_offset, p->b_multiplier, p->b_shift, p->left_shift, &t->fb,
                          &t->cb, &t->qb, &t->hb, &t->rb);
}

/* n outputs of Add in TFLite's short form; `clamp` says whether the activation bounds need
 * more than SSAT's int8 ones. Inlined into callers that pass constants (as add_row_short). */
TINYC_INLINE void add_row_tflite_with(const int8_t *a, int32_t sa, const int8_t *b, int32_t sb,
                                      int8_t *y, int32_t n, const tinyc_qbinary_params *p,
                                      const add_tflite_form *t, int clamp) {
  /* locals: the int8 stores could otherwise alias the form and force reloads */
  const int32_t fa = t->fa, ca = t->ca, qa = t->qa, ha = t->ha, ra_ = t->ra;
  const int32_t fb = t->fb, cb = t->cb, qb = t->qb, hb = t->hb, rb_ = t->rb;
  const int32_t q = t->q, rs = t->rs, round = t->round;
  int8_t *const stop = y + n;
  for (; y < stop; a += sa, b += sb) {
    const int32_t xa = (int32_t)*a * fa + ca, xb = (int32_t)*b * fb + cb;
    const int32_t ra = (tinyc_smmulr(xa, qa) + ha + (xa >> 31)) >> ra_;
    const int32_t rb = (tinyc_smmulr(xb, qb) + hb + (xb >> 31)) >> rb_;
    int32_t v = tinyc_ssat8(tinyc_tflite_top(ra + rb, q, round) >> rs);
    if (clamp) {
      v = v < p->act_min ? p->act_min : v;
      v = v > p->act_max ? p->act_max : v;
    }
    *y++ = (int8_t)v;
  }
}

static TINYC_DSP_NOINLINE void add_row_tflite_unit(const int8_t *a, const int8_t *b, int8_t *y,
                                                   int32_t n, const tinyc_qbinary_params *p,
                                                   const add_tflite_form *t) {
  add_row_tflite_with(a, 1, b, 1, y, n, p, t, 0);
}

static TINYC_DSP_NOINLINE void add_row_tflite(const int8_t *a, int32_t sa, const int8_t *b,
                                              int32_t sb, int8_t *y, int32_t n,
                                              const tinyc_qbinary_params *p,
                                              const add_tflite_form *t) {
  add_row_tflite_with(a, sa, b, sb, y, n, p, t, 1);
}

#endif

static void add_row(const int8_t *a, int32_t sa, const int8_t *b, int32_t sb, int8_t *y,
                    int32_t n, const tinyc_qbinary_params *p) {
  int32_t j;
#ifdef TINYC_TFLITE
  add_tflite_form t;
  if (add_tflite_short(p, &t)) {
    if (sa == 1 && sb == 1 && p->act_min <= -128 && p->act_max >= 127) {
      add_row_tflite_unit(a, b, y, n, p, &t);
    } else {
      add_row_tflite(a, sa, b, sb, y, n, p, &t);
    }
    return;
  }
#endif
  if (add_is_short(p)) {
    if (sa == 1 && sb == 1 && p->act_max >= 127) {
      add_row_unit(a, b, y, n, p);
    } else {
      add_row_strided(a, sa, b, sb, y, n, p);
    }
    return;
  }
  for (j = 0; j < n; ++j) y[j] = add_one(a[(size_t)j * sa], b[(size_t)j * sb], p);
}

TINYC_QBINARY_ROW_DEFINE(sub, int8_t)

static void mul_row(const int8_t *a, int32_t sa, const int8_t *b, int32_t sb, int8_t *y,
                    int32_t n, const tinyc_qbinary_params *p) {
  int32_t j;
  if (sa == 1 && sb == 1) {
    for (j = 0; j < n; ++j) y[j] = mul_one(a[j], b[j], p);
  } else {
    for (j = 0; j < n; ++j) y[j] = mul_one(a[(size_t)j * sa], b[(size_t)j * sb], p);
  }
}

TINYC_QBINARY_DEFINE(tinyc_add_s8, int8_t, add_row)
TINYC_QBINARY_DEFINE(tinyc_sub_s8, int8_t, sub_row)
TINYC_QBINARY_DEFINE(tinyc_mul_s8, int8_t, mul_row)

/* With a table (the compiler's: from REQUANT_TABLE_MIN elements on it holds the 256
 * possible results, in flash, and in onnxruntime semantics the model's own) every element
 * is looked up, four a word: about four instructions an element instead of 10 to 60 (a
 * multiplier near 1 takes the 64-bit form). QConcat of inputs with different scales is the
 * common caller. */
void tinyc_requantize_s8(const int8_t *X, int8_t *Y, const tinyc_requant_params *p) {
  const tinyc_dsp_clamp cl = tinyc_dsp_clamp_make(p->output_offset, p->act_min, p->act_max);
  const tinyc_dsp_mult m = tinyc_dsp_mult_make(p->multiplier, p->shift);
  const int8_t *table = p->table;
  int32_t o, i;
  if (table != NULL) {
    for (o = 0; o < p->outer; ++o) {
      const int8_t *x = X + (size_t)o * p->x_stride;
      int8_t *y = Y + (size_t)o * p->y_stride;
      for (i = 0; i + 4 <= p->inner; i += 4) { /* four bytes a word, each +128 by XOR */
        const uint32_t v = (uint32_t)tinyc_load4(x + i) ^ 0x80808080u;
        tinyc_store4(y + i, (int32_t)((uint32_t)(uint8_t)table[v & 0xFFu] |
                                      (uint32_t)(uint8_t)table[(v >> 8) & 0xFFu] << 8 |
                                      (uint32_t)(uint8_t)table[(v >> 16) & 0xFFu] << 16 |
                                      (uint32_t)(uint8_t)table[v >> 24] << 24));
      }
      for (; i < p->inner; ++i) y[i] = table[(int32_t)x[i] + 128];
    }
    return;
  }
  for (o = 0; o < p->outer; ++o) {
    const int8_t *x = X + (size_t)o * p->x_stride;
    int8_t *y = Y + (size_t)o * p->y_stride;
    for (i = 0; i < p->inner; ++i) {
      y[i] = tinyc_dsp_requant((int32_t)x[i] + p->input_offset, &m, &cl);
    }
  }
}

void tinyc_lut_s8(const int8_t *X, const int8_t *table, int8_t *Y, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i) Y[i] = table[(int32_t)X[i] + 128];
}
