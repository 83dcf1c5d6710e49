/* int8 elementwise kernels for the Cortex-M4/M7/M33: the portable kernels' arithmetic and
 * bits (tinyc_qelementwise.h), with the fixed-point multiplies in their short forms.
 *
 * Add rescales each input by mbqm((v + offset) << left_shift, q, s) with s <= 0. Since
 * the shifted value has left_shift zero low bits, scaling the numerator and denominator
 * of that rounding division by 2^(s + 1) is exact whenever left_shift + s + 1 >= 0, and
 * turns it into SMMULR((v + offset) << (left_shift + s + 1), q): the rounded top word of
 * one 32x32 product. The sum then takes the usual short form of the output multiply
 * (tinyc_dsp_requant); Add costs about 20 instructions per element instead of three
 * 64-bit multiply-shifts. When one input's multiplier is exactly 1/2 (the usual case: the
 * larger input scale's) that input needs no multiply at all (add_exact_make): about 11
 * cycles an element, four from a word of each input. Other shifts keep the general path. */
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

/* Add where one input's multiplier is exactly 1/2 (q = 2^30, shift 0): the input of the
 * larger scale, as tinyc's multipliers always make it (tinyc/ops/qinteger.py
 * add_multipliers). With left_shift 20 its rescaled value mbqm((v + offset) << 20, 2^30, 0)
 * is (v + offset) << 19 exactly, so it joins the other input's SMMULR form as an ADD with a
 * shifted operand, its offset in the SMMLAR's accumulator. Per output: SXTB, MLA, SMMLAR,
 * SXTB, ADD, then the output's SMMLA, ASR, SSAT and a store; four outputs from two word
 * loads (about 11 cycles an output instead of 28). The exact input is b (the kernel's
 * operands swapped when it is a: Add commutes). */
typedef struct {
  int32_t fa, ca, qa, cb; /* a's SMMULR form, cb = b_offset << 19 */
  int32_t q, rs, round;   /* the output multiply, the zero point in its round term */
  int32_t lo, hi;         /* the activation's bounds */
} add_exact_form;

/* Whether the exact form applies (unit strides are the caller's test); fills it, *swap set
 * when a is the exact input. */
static int add_exact_make(const tinyc_qbinary_params *p, add_exact_form *f, int *swap) {
  const int32_t half = (int32_t)1 << 30;
  const int b_exact = p->b_multiplier == half && p->b_shift == 0;
  int32_t qa, sa, oa;
  if (p->left_shift != 20 || !add_is_short(p) ||
      !(b_exact || (p->a_multiplier == half && p->a_shift == 0))) {
    return 0;
  }
  *swap = !b_exact;
  qa = b_exact ? p->a_multiplier : p->b_multiplier;
  sa = b_exact ? p->a_shift : p->b_shift;
  oa = b_exact ? p->a_offset : p->b_offset;
  f->fa = (int32_t)1 << (p->left_shift + sa + 1);
  f->ca = oa * f->fa;
  f->qa = qa;
  f->cb = (b_exact ? p->b_offset : p->a_offset) * ((int32_t)1 << 19);
  f->q = p->output_multiplier;
  f->rs = -1 - p->output_shift;
  f->round = (int32_t)((1u << (f->rs - 1)) + ((uint32_t)p->output_offset << f->rs));
  f->lo = p->act_min;
  f->hi = p->act_max;
  return 1;
}

/* one output of the exact form: a the scaled input's value, b the exact one's */
TINYC_INLINE int8_t add_exact_one(int32_t a, int32_t b, const add_exact_form *f, int clamp) {
  const int32_t sum = tinyc_smmlar(a * f->fa + f->ca, f->qa, f->cb) + b * ((int32_t)1 << 19);
  int32_t v = tinyc_ssat8(tinyc_smmla(sum, f->q, f->round) >> f->rs);
  if (clamp) {
    v = v < f->lo ? f->lo : v;
    v = v > f->hi ? f->hi : v;
  }
  return (int8_t)v;
}

/* four outputs of the exact form from a word of each input; both are loaded before the
 * stores (y may be a or b) */
TINYC_INLINE void add_exact_four(const int8_t *a, const int8_t *b, int8_t *y,
                                 const add_exact_form *f, int clamp) {
  const int32_t wa = tinyc_load4(a), wb = tinyc_load4(b);
  y[0] = add_exact_one((int8_t)wa, (int8_t)wb, f, clamp);
  y[1] = add_exact_one((int8_t)(wa >> 8), (int8_t)(wb >> 8), f, clamp);
  y[2] = add_exact_one((int8_t)(wa >> 16), (int8_t)(wb >> 16), f, clamp);
  y[3] = add_exact_one(wa >> 24, wb >> 24, f, clamp);
}

/* n outputs of the exact form, unit strides, eight an iteration (the loop's compare and
 * branch over more outputs); `clamp`: the activation's bounds are tighter than SSAT's */
TINYC_INLINE void add_row_exact_with(const int8_t *a, const int8_t *b, int8_t *y, int32_t n,
                                     const add_exact_form *form, int clamp) {
  const add_exact_form f = *form; /* a local: the int8 stores cannot alias it */
  int8_t *const stop = y + (n & ~7);
  for (; y < stop; a += 8, b += 8, y += 8) {
    add_exact_four(a, b, y, &f, clamp);
    add_exact_four(a + 4, b + 4, y + 4, &f, clamp);
  }
  for (n &= 7; n > 0; --n) *y++ = add_exact_one(*a++, *b++, &f, clamp);
}

static TINYC_DSP_NOINLINE void add_row_exact(const int8_t *a, const int8_t *b, int8_t *y,
                                             int32_t n, const add_exact_form *f) {
  add_row_exact_with(a, b, y, n, f, 0);
}

static TINYC_DSP_NOINLINE void add_row_exact_clamped(const int8_t *a, const int8_t *b,
                                                     int8_t *y, int32_t n,
                                                     const add_exact_form *f) {
  add_row_exact_with(a, b, y, n, f, 1);
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


/* The exact form (add_exact_make) in TFLite's rounding: the exact input is again
 * (v + offset) << 19 (TFLite's doubling high multiply by 2^30 of (v + offset) << 20 rounds
 * nothing off, and its divide by 2^0 is none), the other takes add_row_tflite_with's form
 * and the sum tinyc_tflite_top. The offsets ride in SXTAB (a byte sign-extended and
 * added), so an output is SXTAB, LSL, SMMLAR, ADD, ASR, SXTAB, ADD, the four of
 * tinyc_tflite_top, ASR, SSAT and a store. */
typedef struct {
  int32_t oa, ja, qa, ha, ra; /* ((a + oa) << ja) through SMMLAR, then >> ra */
  int32_t ob;                 /* the exact input's offset */
  int32_t q, rs, round;       /* the output multiply, the zero point in its round term */
  int32_t lo, hi;             /* the activation's bounds */
} add_tflite_exact_form;

static int add_tflite_exact_make(const tinyc_qbinary_params *p, add_tflite_exact_form *f,
                                 int *swap) {
  const int32_t half = (int32_t)1 << 30, zero = TINYC_TFLITE_SHIFT_BIAS;
  const int b_exact = p->b_multiplier == half && p->b_shift == zero;
  add_tflite_form t;
  if (p->left_shift != 20 || !add_tflite_short(p, &t) ||
      !(b_exact || (p->a_multiplier == half && p->a_shift == zero))) {
    return 0;
  }
  *swap = !b_exact;
  f->oa = b_exact ? p->a_offset : p->b_offset;
  f->qa = b_exact ? t.qa : t.qb;
  f->ha = b_exact ? t.ha : t.hb;
  f->ra = b_exact ? t.ra : t.rb;
  /* add_tflite_input's factor 2^(left_shift + 1), twice that for a multiplier of 1/2 */
  f->ja = p->left_shift + 1 + ((b_exact ? p->a_shift : p->b_shift) == zero);
  f->ob = b_exact ? p->b_offset : p->a_offset;
  f->q = t.q;
  f->rs = t.rs;
  f->round = t.round;
  f->lo = p->act_min;
  f->hi = p->act_max;
  return 1;
}

/* one output of the TFLite exact form: wa / wb the words whose low bytes are the inputs */
TINYC_INLINE int8_t add_tflite_exact_one(int32_t wa, int32_t wb,
                                         const add_tflite_exact_form *f, int clamp) {
  const int32_t xa = (f->oa + (int8_t)wa) * ((int32_t)1 << f->ja);
  const int32_t ra = (tinyc_smmlar(xa, f->qa, f->ha) + (xa >> 31)) >> f->ra;
  const int32_t sum = ra + (f->ob + (int8_t)wb) * ((int32_t)1 << 19);
  int32_t v = tinyc_ssat8(tinyc_tflite_top(sum, f->q, f->round) >> f->rs);
  if (clamp) {
    v = v < f->lo ? f->lo : v;
    v = v > f->hi ? f->hi : v;
  }
  return (int8_t)v;
}

/* n outputs of the TFLite exact form, unit strides, four from a word of each input (both
 * loaded before the stores: y may be a or b) */
TINYC_INLINE void add_row_tflite_exact_with(const int8_t *a, const int8_t *b, int8_t *y,
                                            int32_t n, const add_tflite_exact_form *form,
                                            int clamp) {
  const add_tflite_exact_form f = *form; /* a local: the int8 stores cannot alias it */
  int8_t *const stop = y + (n & ~3);
  for (; y < stop; a += 4, b += 4, y += 4) {
    const int32_t wa = tinyc_load4(a), wb = tinyc_load4(b);
    y[0] = add_tflite_exact_one(wa, wb, &f, clamp);
    y[1] = add_tflite_exact_one(wa >> 8, wb >> 8, &f, clamp);
    y[2] = add_tflite_exact_one(wa >> 16, wb >> 16, &f, clamp);
    y[3] = add_tflite_exact_one(wa >> 24, wb >> 24, &f, clamp);
  }
  for (n &= 3; n > 0; --n) *y++ = add_tflite_exact_one(*a++, *b++, &f, clamp);
}

static TINYC_DSP_NOINLINE void add_row_tflite_exact(const int8_t *a, const int8_t *b, int8_t *y,
                                                    int32_t n,
                                                    const add_tflite_exact_form *f) {
  add_row_tflite_exact_with(a, b, y, n, f, 0);
}

static TINYC_DSP_NOINLINE void add_row_tflite_exact_clamped(const int8_t *a, const int8_t *b,
                                                            int8_t *y, int32_t n,
                                                            const add_tflite_exact_form *f) {
  add_row_tflite_exact_with(a, b, y, n, f, 1);
}
#endif

static void add_row(const int8_t *a, int32_t sa, const int8_t *b, int32_t sb, int8_t *y,
                    int32_t n, const tinyc_qbinary_params *p) {
  int32_t j;
#ifdef TINYC_TFLITE
  add_tflite_form t;
  if (sa == 1 && sb == 1) {
    add_tflite_exact_form f;
    int swap;
    if (add_tflite_exact_make(p, &f, &swap)) {
      const int8_t *const x = swap ? b : a, *const e = swap ? a : b;
      if (f.lo <= -128 && f.hi >= 127) {
        add_row_tflite_exact(x, e, y, n, &f);
      } else {
        add_row_tflite_exact_clamped(x, e, y, n, &f);
      }
      return;
    }
  }
  if (add_tflite_short(p, &t)) {
    if (sa == 1 && sb == 1 && p->act_min <= -128 && p->act_max >= 127) {
      add_row_tflite_unit(a, b, y, n, p, &t);
    } else {
      add_row_tflite(a, sa, b, sb, y, n, p, &t);
    }
    return;
  }
#endif
  if (sa == 1 && sb == 1) {
    add_exact_form f;
    int swap;
    if (add_exact_make(p, &f, &swap)) {
      const int8_t *const x = swap ? b : a, *const e = swap ? a : b;
      if (f.lo <= -128 && f.hi >= 127) {
        add_row_exact(x, e, y, n, &f);
      } else {
        add_row_exact_clamped(x, e, y, n, &f);
      }
      return;
    }
  }
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
