/* Convolution building blocks of the Cortex-M55 float kernels (private to them), shared by
 * tinyc_conv2d_f32 and its in-place forms: one depthwise channel plane and one output row
 * of a dense or grouped convolution, with output pixels in the lanes (tinyc_mve_f32.h);
 * what they do not cover goes to the Cortex-M4 FPU blocks (tinyc_fpu_conv.h). */
#ifndef TINYC_MVE_CONV_H
#define TINYC_MVE_CONV_H

#include <string.h>

#include "tinyc_fpu_conv.h"
#include "tinyc_mve_f32.h"

/* ---- pointwise (1x1) ---------------------------------------------------------------- */

/* 4 output channels x n (1..4) adjacent pixels: input channel c's pixels at x + c sx,
 * one vector per input channel against one scalar weight per output channel (w: the
 * first channel's C weights, the others C floats apart). FULL (a constant, n == 4): two
 * input channels a round (tinyc_v4_fma4_pairs); else one, the lanes past n loaded as
 * zeros and not stored. Output channel j's pixels go to y + j sy. */
TINYC_INLINE void tinyc_mve_pw_block4(const float *restrict x, size_t sx,
                                      const float *restrict w, int32_t C, const float *b,
                                      float *restrict y, size_t sy, int32_t n, const int FULL,
                                      const tinyc_act *act) {
  const float *u0 = w, *u1 = w + C, *u2 = u1 + C, *u3 = u2 + C;
  tinyc_v4 a0 = tinyc_v4_dup(b[0]), a1 = tinyc_v4_dup(b[1]), a2 = tinyc_v4_dup(b[2]),
           a3 = tinyc_v4_dup(b[3]);
  int32_t c = 0;
  if (FULL) {
    tinyc_v4_fma4_pairs(&a0, &a1, &a2, &a3, x, sx, u0, u1, u2, u3, C >> 1);
    c = C & ~1;
  }
  for (; c < C; ++c) {
    const tinyc_v4 x0 = tinyc_v4_load(x + (size_t)c * sx, FULL ? 4 : n);
    a0 = tinyc_v4_fma(a0, x0, u0[c]);
    a1 = tinyc_v4_fma(a1, x0, u1[c]);
    a2 = tinyc_v4_fma(a2, x0, u2[c]);
    a3 = tinyc_v4_fma(a3, x0, u3[c]);
  }
  tinyc_v4_store(y, a0, n, act);
  tinyc_v4_store(y + sy, a1, n, act);
  tinyc_v4_store(y + 2 * sy, a2, n, act);
  tinyc_v4_store(y + 3 * sy, a3, n, act);
}

/* The last output channels (nm of 1..3) of tinyc_mve_pw_tile4 x n (1..4) pixels, one
 * input channel a round, the lanes past n loaded as zeros and not stored. */
TINYC_INLINE void tinyc_mve_pw_block_tail(const float *restrict x, size_t sx,
                                          const float *restrict w, int32_t C, const float *b,
                                          float *restrict y, size_t sy, int32_t nm, int32_t n,
                                          const tinyc_act *act) {
  tinyc_v4 a[4];
  int32_t c, j;
  for (j = 0; j < nm; ++j) a[j] = tinyc_v4_dup(b[j]);
  for (c = 0; c < C; ++c) {
    const tinyc_v4 x0 = tinyc_v4_load(x + (size_t)c * sx, n);
    for (j = 0; j < nm; ++j) a[j] = tinyc_v4_fma(a[j], x0, w[(size_t)j * C + c]);
  }
  for (j = 0; j < nm; ++j) tinyc_v4_store(y + (size_t)j * sy, a[j], n, act);
}

/* Y[m] = W[m] . X (+ bias) for the P adjacent pixels at x, every output channel m (the
 * Cortex-M4's tinyc_fpu_pw_tile4 contract: input channel c's pixels at x + c sx, output
 * channel m's at y + m sy): 4 output channels x 4 pixels a block, each loaded input
 * vector feeding 4 channels; the last pixels under a lane predicate, the last channels
 * 1 to 3 at a time. Out of line: one frame, whoever calls it. */
static TINYC_NOINLINE void tinyc_mve_pw_tile4(const float *restrict x, size_t sx,
                                              const float *restrict W,
                                              const float *restrict B, float *restrict y,
                                              size_t sy, int32_t C, int32_t M, int32_t P,
                                              const tinyc_act *act) {
  int32_t m, p, i;
  for (m = 0; m < M; m += 4) {
    const int32_t nm = M - m < 4 ? M - m : 4;
    const float *w = W + (size_t)m * C;
    float *ym = y + (size_t)m * sy;
    float b[4];
    for (i = 0; i < 4; ++i) b[i] = B && i < nm ? B[m + i] : 0.0f;
    for (p = 0; p < P; p += 4) {
      const int32_t n = P - p < 4 ? P - p : 4;
      if (nm == 4 && n == 4) {
        tinyc_mve_pw_block4(x + p, sx, w, C, b, ym + p, sy, 4, 1, act);
      } else if (nm == 4) {
        tinyc_mve_pw_block4(x + p, sx, w, C, b, ym + p, sy, n, 0, act);
      } else {
        tinyc_mve_pw_block_tail(x + p, sx, w, C, b, ym + p, sy, nm, n, act);
      }
    }
  }
}

/* ---- depthwise (one input and one output channel per group) ------------------------ */

/* 4 (or, at the end, n) outputs of a 3x3 window whose rows start at a, b, c: bias + the
 * 9 taps in order. */
TINYC_INLINE tinyc_v4 tinyc_mve_dw3_vec(const float *a, const float *b, const float *c,
                                        const float *k, float bias, int32_t n) {
  tinyc_v4 acc = tinyc_v4_dup(bias);
  acc = tinyc_v4_fma(acc, tinyc_v4_load(a, n), k[0]);
  acc = tinyc_v4_fma(acc, tinyc_v4_load(a + 1, n), k[1]);
  acc = tinyc_v4_fma(acc, tinyc_v4_load(a + 2, n), k[2]);
  acc = tinyc_v4_fma(acc, tinyc_v4_load(b, n), k[3]);
  acc = tinyc_v4_fma(acc, tinyc_v4_load(b + 1, n), k[4]);
  acc = tinyc_v4_fma(acc, tinyc_v4_load(b + 2, n), k[5]);
  acc = tinyc_v4_fma(acc, tinyc_v4_load(c, n), k[6]);
  acc = tinyc_v4_fma(acc, tinyc_v4_load(c + 1, n), k[7]);
  return tinyc_v4_fma(acc, tinyc_v4_load(c + 2, n), k[8]);
}

/* `steps` times: 8 outputs of a 3x3 window on rows of S floats, bias + the 9 taps k in
 * order, the first at q, stored over q clamped (tinyc_v4_store_clamp: another activation
 * is the caller's), then q advances 8. Both
 * vectors are computed before either is stored, so no input a later output reads is
 * overwritten. The Helium form is assembly (gcc): 56 instructions a step, the weights
 * reloaded two at a time by LDRD (gcc keeps them on the stack and recomputes every tap's
 * address, about 100 a step). */
TINYC_INLINE float *tinyc_mve_dw3_run8(float *q, int32_t S, const float *k, float bias,
                                       const tinyc_act *act, int32_t steps) {
#if TINYC_MVE_F32_ASM
  /* no clamp: -inf and inf, which change no value and keep a NaN */
  const int clip = act->kind == TINYC_ACT_CLIP;
  const float *b = q + S, *c = q + 2 * S;
  const tinyc_v4 vb = tinyc_v4_dup(bias), vlo = tinyc_v4_dup(clip ? act->a : -__builtin_inff()),
                 vhi = tinyc_v4_dup(clip ? act->b : __builtin_inff());
  tinyc_v4 a0, a1, t0, t1;
  tinyc_p4 vpr;
  uint32_t w0, w1;
  if (steps <= 0) return q;
  __asm__("dls lr, %[n]\n"
          "1:\n\t"
          "vmov %q[a0], %q[vb]\n\t"
          "vmov %q[a1], %q[vb]\n\t"
          "ldrd %[w0], %[w1], [%[k]]\n\t"
          "vldrw.32 %q[t0], [%[q]]\n\t"
          "vldrw.32 %q[t1], [%[q], #16]\n\t"
          "vfma.f32 %q[a0], %q[t0], %[w0]\n\t"
          "vfma.f32 %q[a1], %q[t1], %[w0]\n\t"
          "vldrw.32 %q[t0], [%[q], #4]\n\t"
          "vldrw.32 %q[t1], [%[q], #20]\n\t"
          "vfma.f32 %q[a0], %q[t0], %[w1]\n\t"
          "vfma.f32 %q[a1], %q[t1], %[w1]\n\t"
          "ldrd %[w0], %[w1], [%[k], #8]\n\t"
          "vldrw.32 %q[t0], [%[q], #8]\n\t"
          "vldrw.32 %q[t1], [%[q], #24]\n\t"
          "vfma.f32 %q[a0], %q[t0], %[w0]\n\t"
          "vfma.f32 %q[a1], %q[t1], %[w0]\n\t"
          "vldrw.32 %q[t0], [%[b]]\n\t"
          "vldrw.32 %q[t1], [%[b], #16]\n\t"
          "vfma.f32 %q[a0], %q[t0], %[w1]\n\t"
          "vfma.f32 %q[a1], %q[t1], %[w1]\n\t"
          "ldrd %[w0], %[w1], [%[k], #16]\n\t"
          "vldrw.32 %q[t0], [%[b], #4]\n\t"
          "vldrw.32 %q[t1], [%[b], #20]\n\t"
          "vfma.f32 %q[a0], %q[t0], %[w0]\n\t"
          "vfma.f32 %q[a1], %q[t1], %[w0]\n\t"
          "vldrw.32 %q[t0], [%[b], #8]\n\t"
          "vldrw.32 %q[t1], [%[b], #24]\n\t"
          "vfma.f32 %q[a0], %q[t0], %[w1]\n\t"
          "vfma.f32 %q[a1], %q[t1], %[w1]\n\t"
          "ldrd %[w0], %[w1], [%[k], #24]\n\t"
          "vldrw.32 %q[t0], [%[c]]\n\t"
          "vldrw.32 %q[t1], [%[c], #16]\n\t"
          "vfma.f32 %q[a0], %q[t0], %[w0]\n\t"
          "vfma.f32 %q[a1], %q[t1], %[w0]\n\t"
          "vldrw.32 %q[t0], [%[c], #4]\n\t"
          "vldrw.32 %q[t1], [%[c], #20]\n\t"
          "vfma.f32 %q[a0], %q[t0], %[w1]\n\t"
          "vfma.f32 %q[a1], %q[t1], %[w1]\n\t"
          "ldr %[w0], [%[k], #32]\n\t"
          "vldrw.32 %q[t0], [%[c], #8]\n\t"
          "vldrw.32 %q[t1], [%[c], #24]\n\t"
          "vfma.f32 %q[a0], %q[t0], %[w0]\n\t"
          "vfma.f32 %q[a1], %q[t1], %[w0]\n\t"
          "add %[b], %[b], #32\n\t"
          "add %[c], %[c], #32\n\t"
          "vcmp.f32 lt, %q[a0], %q[vlo]\n\t"
          "vpsel %q[a0], %q[vlo], %q[a0]\n\t"
          "vcmp.f32 gt, %q[a0], %q[vhi]\n\t"
          "vpsel %q[a0], %q[vhi], %q[a0]\n\t"
          "vcmp.f32 lt, %q[a1], %q[vlo]\n\t"
          "vpsel %q[a1], %q[vlo], %q[a1]\n\t"
          "vcmp.f32 gt, %q[a1], %q[vhi]\n\t"
          "vpsel %q[a1], %q[vhi], %q[a1]\n\t"
          "vstrw.32 %q[a1], [%[q], #16]\n\t"
          "vstrw.32 %q[a0], [%[q]], #32\n\t"
          "le lr, 1b\n"
          : [q] "+r"(q), [b] "+r"(b), [c] "+r"(c), [w0] "=&r"(w0), [w1] "=&r"(w1),
            [a0] "=&w"(a0), [a1] "=&w"(a1), [t0] "=&w"(t0), [t1] "=&w"(t1), [vpr] "=&Up"(vpr)
          : [n] "r"(steps), [k] "r"(k), [vb] "w"(vb), [vlo] "w"(vlo), [vhi] "w"(vhi)
          : "lr", "memory");
  (void)vpr;
  return q;
#else
  for (; steps > 0; --steps, q += 8) {
    const tinyc_v4 a0 = tinyc_mve_dw3_vec(q, q + S, q + 2 * S, k, bias, 4);
    const tinyc_v4 a1 = tinyc_mve_dw3_vec(q + 4, q + 4 + S, q + 4 + 2 * S, k, bias, 4);
    tinyc_v4_store_clamp(q, a0, 4, act);
    tinyc_v4_store_clamp(q + 4, a1, 4, act);
  }
  return q;
#endif
}

/* One channel plane of a small 3x3 stride-1 depthwise convolution (tinyc_fpu_dw3_small_fits,
 * the Cortex-M4's workspace): x copied with its zero padding into `plane` (rows of
 * S = ow + 2 floats). Output (oy, ox) is the window at plane index q = oy S + ox, so the
 * outputs go 8 consecutive q a step (tinyc_mve_dw3_run8) over the whole plane as one row
 * (the 2 columns past each row computed and dropped): no row tails on narrow maps like
 * KWS's 25x5. The result
 * at q overwrites plane[q], which no later q reads (its taps are at q and past), and the
 * rows are then compacted into y. x is read only before y is written (the streamed
 * depthwise writes its output plane here directly). */
static TINYC_NOINLINE void tinyc_mve_dw3_small_plane(const float *x, const float *w9,
                                                     float bias, float *y,
                                                     float *restrict plane,
                                                     const tinyc_conv2d_params *p) {
  const tinyc_act act = p->act;
  const int32_t S = p->ow + 2, pl = p->pad_left, ow = p->ow;
  const int32_t inner = p->w < S - pl ? p->w : S - pl;
  const int32_t total = (p->oh + 2) * S, last = (p->oh - 1) * S + ow; /* outputs: q < last */
  const tinyc_v4 zero = tinyc_v4_dup(0.0f);
  float k[9];
  float *q;
  int32_t i, rows;
  for (i = 0; i < 9; ++i) k[i] = w9[i];
  for (i = 0; i + 4 <= total; i += 4) tinyc_v4_put(plane + i, zero);
  for (; i < total; ++i) plane[i] = 0.0f;
  rows = p->oh + 2 - p->pad_top < p->h ? p->oh + 2 - p->pad_top : p->h; /* inside the plane */
  tinyc_v4_copy_rows(plane + (size_t)p->pad_top * S + pl, (size_t)S, x, (size_t)p->w, inner,
                     rows);
  q = tinyc_mve_dw3_run8(plane, S, k, bias, &act, last >> 3);
  if (act.kind != TINYC_ACT_NONE && act.kind != TINYC_ACT_CLIP) { /* a sigmoid's expf */
    for (i = 0; i < (last & ~7); ++i) plane[i] = tinyc_fpu_act_other(plane[i], &act);
  }
  for (i = last & 7; i > 0; i -= 4, q += 4) {
    const int32_t n = i < 4 ? i : 4;
    tinyc_v4_store(q, tinyc_mve_dw3_vec(q, q + S, q + 2 * S, k, bias, n), n, &act);
  }
  tinyc_v4_copy_rows(y, (size_t)ow, plane, (size_t)S, ow, p->oh);
}

/* The other depthwise windows: the Cortex-M4 FPU plane, out of line (its frame apart
 * from the small plane's). */
static TINYC_NOINLINE TINYC_FPU_SCALAR void tinyc_mve_dw_other_plane(
    const float *x, const float *wk, float bias, float *y, float *restrict work,
    const tinyc_conv2d_params *p) {
  tinyc_fpu_dw_any_plane(x, wk, bias, y, work, p, 0);
}

/* One depthwise channel plane, whichever window (as tinyc_fpu_dw_any_plane). */
static inline void tinyc_mve_dw_plane(const float *x, const float *wk, float bias, float *y,
                                      float *restrict work, const tinyc_conv2d_params *p) {
  if (work != NULL && tinyc_fpu_dw3_small_fits(p)) {
    tinyc_mve_dw3_small_plane(x, wk, bias, y, work, p);
  } else {
    tinyc_mve_dw_other_plane(x, wk, bias, y, work, p);
  }
}

/* ---- general direct convolution ------------------------------------------------------ */

/* One output row of nm (1..4) output channels, as the row functions below read it: one
 * pointer instead of eight arguments, so that their callers keep little live across the
 * calls (each of these frames is on NAME_run's deepest stack chain, issue #16). */
typedef struct {
  tinyc_fpu_row r;              /* the input rows, the first channel's weights */
  const tinyc_conv2d_params *p;
  float *y;                     /* the first channel's output row */
  size_t ystride;               /* floats from one channel's output row to the next */
  int32_t ox_lo, ox_hi;         /* the interior output columns */
  int32_t nm;                   /* channels, 1..4 */
  float b[4];                   /* their biases, the last one repeated past nm */
} tinyc_mve_row_job;

/* Channel ch's (0..3) weights: a channel past nm repeats the last one (its results are
 * computed and not stored), so the remainder channels take the same vector blocks. */
TINYC_INLINE const float *tinyc_mve_job_w(const tinyc_mve_row_job *j, int32_t ch) {
  return j->r.w + (size_t)(ch < j->nm ? ch : j->nm - 1) * (size_t)j->r.ws;
}

/* The 4 results of each of the job's channels (v_i: channel i's) at y + i ystride, clamped
 * (tinyc_v4_store_clamp: an activation other than the clamp is applied to the whole row
 * after, tinyc_mve_act_other_rows); the channels past nm are not stored. */
TINYC_INLINE void tinyc_mve_job_store4(const tinyc_mve_row_job *j, float *y, tinyc_v4 v0,
                                       tinyc_v4 v1, tinyc_v4 v2, tinyc_v4 v3) {
  const tinyc_act *act = &j->p->act;
  tinyc_v4_store_clamp(y, v0, 4, act);
  if (j->nm > 1) tinyc_v4_store_clamp(y + j->ystride, v1, 4, act);
  if (j->nm > 2) tinyc_v4_store_clamp(y + 2 * j->ystride, v2, 4, act);
  if (j->nm > 3) tinyc_v4_store_clamp(y + 3 * j->ystride, v3, 4, act);
}

/* An activation other than the clamp (tinyc_mve_job_store4 left it) on the job's rows: its
 * call into libm (expf, tanhf) is made from the row's frame, not from the deeper block
 * and border-pixel frames. */
TINYC_INLINE void tinyc_mve_act_other_rows(const tinyc_mve_row_job *j) {
  const tinyc_act *act = &j->p->act;
  int32_t i, ox;
  if (act->kind == TINYC_ACT_NONE || act->kind == TINYC_ACT_CLIP) return;
  for (i = 0; i < j->nm; ++i) {
    float *y = j->y + (size_t)i * j->ystride;
    for (ox = 0; ox < j->p->ow; ++ox) y[ox] = tinyc_fpu_act_other(y[ox], act);
  }
}

/* The job's channels x 4 interior output columns starting at input column ix0: a vector
 * of the 4 columns' inputs per tap (contiguous when UNIT, a constant, says the column
 * stride is 1; `offs` gathers them otherwise) times one weight of each channel; K3 (a
 * constant): a 3-wide window of unit dilation, its taps unrolled; EDGE (a constant, with
 * a window of at most 4 columns and unit dilation): some of the columns fall outside the
 * row (padding), loaded as zeros under a lane predicate. */
TINYC_INLINE void tinyc_mve_block4x4(const tinyc_mve_row_job *j, int32_t ix0, const int UNIT,
                                     const int K3, const int EDGE, tinyc_u4 offs) {
  const tinyc_fpu_row *r = &j->r;
  const tinyc_conv2d_params *p = j->p;
  const int32_t kw = p->kw, dw = p->dil_w;
  const int32_t sw = p->stride_w;
  tinyc_p4 q[4];
  int32_t t;
  tinyc_v4 a0 = tinyc_v4_dup(j->b[0]), a1 = tinyc_v4_dup(j->b[1]), a2 = tinyc_v4_dup(j->b[2]),
           a3 = tinyc_v4_dup(j->b[3]);
  const float *xr = r->x + ix0;
  const float *u0 = tinyc_mve_job_w(j, 0), *u1 = tinyc_mve_job_w(j, 1),
              *u2 = tinyc_mve_job_w(j, 2), *u3 = tinyc_mve_job_w(j, 3);
  int32_t c, ky, kx;
  if (EDGE) {
    for (t = 0; t < 4; ++t) q[t] = tinyc_p4_inside(ix0 + t, sw, p->w);
  }
  for (c = r->cg; c > 0; --c) {
    for (ky = r->rows; ky > 0; --ky) {
      const float *xp = xr;
      if (EDGE && K3) { /* 3 taps, the columns outside the row loaded as zeros */
        const tinyc_v4 x0 = UNIT ? tinyc_v4_load_p(xp, q[0]) : tinyc_v4_gather_p(xp, offs, q[0]);
        const tinyc_v4 x1 =
            UNIT ? tinyc_v4_load_p(xp + 1, q[1]) : tinyc_v4_gather_p(xp + 1, offs, q[1]);
        const tinyc_v4 x2 =
            UNIT ? tinyc_v4_load_p(xp + 2, q[2]) : tinyc_v4_gather_p(xp + 2, offs, q[2]);
        a0 = tinyc_v4_fma(tinyc_v4_fma(tinyc_v4_fma(a0, x0, u0[0]), x1, u0[1]), x2, u0[2]);
        a1 = tinyc_v4_fma(tinyc_v4_fma(tinyc_v4_fma(a1, x0, u1[0]), x1, u1[1]), x2, u1[2]);
        a2 = tinyc_v4_fma(tinyc_v4_fma(tinyc_v4_fma(a2, x0, u2[0]), x1, u2[1]), x2, u2[2]);
        a3 = tinyc_v4_fma(tinyc_v4_fma(tinyc_v4_fma(a3, x0, u3[0]), x1, u3[1]), x2, u3[2]);
        u0 += 3;
        u1 += 3;
        u2 += 3;
        u3 += 3;
        xr += r->xrow;
        continue;
      }
      if (K3) { /* 3 taps unrolled */
        const tinyc_v4 x0 = UNIT ? tinyc_v4_load(xp, 4) : tinyc_v4_gather(xp, offs);
        const tinyc_v4 x1 = UNIT ? tinyc_v4_load(xp + 1, 4) : tinyc_v4_gather(xp + 1, offs);
        const tinyc_v4 x2 = UNIT ? tinyc_v4_load(xp + 2, 4) : tinyc_v4_gather(xp + 2, offs);
        a0 = tinyc_v4_fma(tinyc_v4_fma(tinyc_v4_fma(a0, x0, u0[0]), x1, u0[1]), x2, u0[2]);
        a1 = tinyc_v4_fma(tinyc_v4_fma(tinyc_v4_fma(a1, x0, u1[0]), x1, u1[1]), x2, u1[2]);
        a2 = tinyc_v4_fma(tinyc_v4_fma(tinyc_v4_fma(a2, x0, u2[0]), x1, u2[1]), x2, u2[2]);
        a3 = tinyc_v4_fma(tinyc_v4_fma(tinyc_v4_fma(a3, x0, u3[0]), x1, u3[1]), x2, u3[2]);
        u0 += 3;
        u1 += 3;
        u2 += 3;
        u3 += 3;
        xr += r->xrow;
        continue;
      }
      if (EDGE) { /* kw <= 4 taps, unit dilation, as above */
        for (kx = 0; kx < kw; ++kx) {
          const tinyc_v4 x = UNIT ? tinyc_v4_load_p(xp + kx, q[kx])
                                  : tinyc_v4_gather_p(xp + kx, offs, q[kx]);
          a0 = tinyc_v4_fma(a0, x, *u0++);
          a1 = tinyc_v4_fma(a1, x, *u1++);
          a2 = tinyc_v4_fma(a2, x, *u2++);
          a3 = tinyc_v4_fma(a3, x, *u3++);
        }
        xr += r->xrow;
        continue;
      }
      for (kx = kw; kx > 0; --kx) {
        const tinyc_v4 x = UNIT ? tinyc_v4_load(xp, 4) : tinyc_v4_gather(xp, offs);
        xp += dw;
        a0 = tinyc_v4_fma(a0, x, *u0++);
        a1 = tinyc_v4_fma(a1, x, *u1++);
        a2 = tinyc_v4_fma(a2, x, *u2++);
        a3 = tinyc_v4_fma(a3, x, *u3++);
      }
      xr += r->xrow;
    }
    xr += r->xnext;
    u0 += r->wnext;
    u1 += r->wnext;
    u2 += r->wnext;
    u3 += r->wnext;
  }
  tinyc_mve_job_store4(j, j->y + (size_t)(ix0 + p->pad_left) / (size_t)p->stride_w, a0, a1, a2,
                       a3);
}

/* The job's channels x the output column ox, tap columns clipped to the input (any
 * dilation): one channel a lane, bias + each tap's input (a scalar) times the channels'
 * weights (one gather, ws floats apart), taps in order. For border columns and rows too
 * narrow for tinyc_mve_block4x4: few pixels, so a small frame matters more here than the
 * instructions per tap (no lane sums to add across, no spilled accumulators). */
static TINYC_NOINLINE void tinyc_mve_pixel4(const tinyc_mve_row_job *j, int32_t ox) {
  const tinyc_fpu_row *r = &j->r;
  const tinyc_conv2d_params *p = j->p;
  const int32_t ix0 = ox * p->stride_w - p->pad_left, dw = p->dil_w, kw = p->kw;
  const int32_t kx0 = tinyc_window_first(ix0, dw);
  const int32_t n_kx = tinyc_window_end(ix0, dw, kw, p->w) - kx0;
  const tinyc_u4 offs = tinyc_u4_steps_upto(r->ws, j->nm);
  const float *xr = r->x + ix0 + kx0 * dw;
  const float *u = r->w + kx0;
  tinyc_v4 acc = tinyc_v4_load(j->b, 4);
  float v[4];
  int32_t c, ky, kx;
  for (c = r->cg; c > 0; --c) {
    for (ky = r->rows; ky > 0; --ky) {
      for (kx = 0; kx < n_kx; ++kx) {
        acc = tinyc_v4_fma(acc, tinyc_v4_gather(u + kx, offs), xr[kx * dw]);
      }
      xr += r->xrow;
      u += kw;
    }
    xr += r->xnext;
    u += r->wnext;
  }
  tinyc_v4_store_clamp(v, acc, 4, &p->act); /* as tinyc_mve_job_store4 */
  for (kx = 0; kx < j->nm; ++kx) j->y[(size_t)kx * j->ystride + ox] = v[kx];
}

/* A window of at most 4 columns (unit dilation) on a row of at least 4 outputs: the
 * whole row goes in blocks of 4 (tinyc_mve_block4x4 loads the padding as zeros), no
 * border column on its own. */
TINYC_INLINE int tinyc_mve_whole_row_blocks(const tinyc_conv2d_params *p) {
  return p->ow >= 4 && p->kw <= 4 && p->dil_w == 1;
}

/* The block columns of the job's row: the whole row when tinyc_mve_whole_row_blocks (the
 * last block shifted left to end at the row's end), else the interior [ox_lo, ox_hi) in
 * blocks of 4, the last one shifted left to end at the interior's edge (the border
 * columns are the caller's: tinyc_mve_pixel4). */
TINYC_INLINE void tinyc_mve_row4(const tinyc_mve_row_job *j, const int UNIT, const int K3) {
  const tinyc_conv2d_params *p = j->p;
  const tinyc_u4 offs = tinyc_u4_steps(p->stride_w);
  const int32_t ox_lo = j->ox_lo, ox_hi = j->ox_hi;
  int32_t ox;
  if (tinyc_mve_whole_row_blocks(p)) {
    for (ox = 0; ox < p->ow; ox += 4) {
      const int32_t o = ox + 4 <= p->ow ? ox : p->ow - 4;
      if (o >= ox_lo && o + 4 <= ox_hi) {
        tinyc_mve_block4x4(j, o * p->stride_w - p->pad_left, UNIT, K3, 0, offs);
      } else {
        tinyc_mve_block4x4(j, o * p->stride_w - p->pad_left, UNIT, K3, 1, offs);
      }
    }
    return;
  }
  if (ox_hi - ox_lo < 4) return;
  for (ox = ox_lo; ox + 4 <= ox_hi; ox += 4) {
    tinyc_mve_block4x4(j, ox * p->stride_w - p->pad_left, UNIT, K3, 0, offs);
  }
  if (ox < ox_hi) tinyc_mve_block4x4(j, (ox_hi - 4) * p->stride_w - p->pad_left, UNIT, K3, 0, offs);
}

/* tinyc_mve_row4 for each (UNIT, K3), out of line: one frame each, none of them above
 * another kernel's (the border columns run from the caller). */
static TINYC_NOINLINE void tinyc_mve_row4_unit_k3(const tinyc_mve_row_job *j) {
  tinyc_mve_row4(j, 1, 1);
}

static TINYC_NOINLINE void tinyc_mve_row4_gather_k3(const tinyc_mve_row_job *j) {
  tinyc_mve_row4(j, 0, 1);
}

static TINYC_NOINLINE void tinyc_mve_row4_unit(const tinyc_mve_row_job *j) {
  tinyc_mve_row4(j, 1, 0);
}

static TINYC_NOINLINE void tinyc_mve_row4_gather(const tinyc_mve_row_job *j) {
  tinyc_mve_row4(j, 0, 0);
}

/* Output row y of the output channels [m0, m1) when the whole window is padding: the
 * bias through the activation (out of line: a cold path off the row's frame). */
static TINYC_NOINLINE TINYC_FPU_SCALAR void tinyc_mve_bias_row(const float *restrict B,
                                                               float *y, size_t ch_stride,
                                                               int32_t m0, int32_t m1,
                                                               const tinyc_conv2d_params *p) {
  int32_t m, ox;
  for (m = m0; m < m1; ++m, y += ch_stride) {
    for (ox = 0; ox < p->ow; ++ox) y[ox] = tinyc_fpu_act1(B ? B[m] : 0.0f, &p->act);
  }
}

/* Output row oy of the output channels [m0, m1) of one group, whose input channels start
 * at xg (as tinyc_fpu_conv_row): 4 channels at a time in vectors, the last 1 to 3 in the
 * same blocks (tinyc_mve_job_w). The job lives in memory and its callees read it there,
 * so this frame keeps little else across the calls. */
static TINYC_NOINLINE TINYC_FPU_SCALAR void tinyc_mve_conv_row(
    const float *xg, const float *restrict W, const float *restrict B, float *y,
    size_t ch_stride, int32_t m0, int32_t m1, int32_t oy, const tinyc_conv2d_params *p) {
  const int32_t cg = p->c / p->group;
  const int32_t sw = p->stride_w, span = (p->kw - 1) * p->dil_w;
  const int32_t ox_lo0 = (p->pad_left + sw - 1) / sw, last = p->w - 1 - span + p->pad_left;
  const int32_t iy0 = oy * p->stride_h - p->pad_top;
  const int32_t ky0 = tinyc_window_first(iy0, p->dil_h);
  const int32_t ky1 = tinyc_window_end(iy0, p->dil_h, p->kh, p->h);
  int32_t m, ox, i;
  tinyc_mve_row_job j;
  if (ky1 <= ky0) {
    tinyc_mve_bias_row(B, y, ch_stride, m0, m1, p);
    return;
  }
  j.p = p;
  j.ystride = ch_stride;
  j.ox_lo = ox_lo0 < p->ow ? ox_lo0 : p->ow;
  j.ox_hi = last < 0 ? 0 : last / sw + 1;
  if (j.ox_hi > p->ow) j.ox_hi = p->ow;
  if (j.ox_hi < j.ox_lo) j.ox_hi = j.ox_lo;
  j.r.cg = cg;
  j.r.rows = ky1 - ky0;
  j.r.xrow = p->w * p->dil_h;
  j.r.x = xg + (size_t)(iy0 + ky0 * p->dil_h) * p->w;
  j.r.xnext = p->h * p->w - j.r.rows * j.r.xrow;
  j.r.wnext = (p->kh - j.r.rows) * p->kw;
  j.r.ws = cg * p->kh * p->kw;
  j.r.w = W + (size_t)m0 * j.r.ws + (size_t)ky0 * p->kw;
  j.y = y;
  for (m = m0; m < m1; m += 4, j.y += 4 * j.ystride, j.r.w += 4 * j.r.ws) {
    j.nm = m1 - m < 4 ? m1 - m : 4;
    for (i = 0; i < 4; ++i) j.b[i] = B ? B[m + (i < j.nm ? i : j.nm - 1)] : 0.0f;
    if (p->kw == 3 && p->dil_w == 1) { /* the common 3x3 windows get their own unrolled copies */
      if (p->stride_w == 1) {
        tinyc_mve_row4_unit_k3(&j);
      } else {
        tinyc_mve_row4_gather_k3(&j);
      }
    } else if (p->stride_w == 1) {
      tinyc_mve_row4_unit(&j);
    } else {
      tinyc_mve_row4_gather(&j);
    }
    if (!tinyc_mve_whole_row_blocks(p)) { /* the border columns (all, on too narrow a row) */
      const int32_t lo = j.ox_hi - j.ox_lo >= 4 ? j.ox_lo : p->ow;
      for (ox = 0; ox < lo; ++ox) tinyc_mve_pixel4(&j, ox);
      for (ox = j.ox_hi - j.ox_lo >= 4 ? j.ox_hi : p->ow; ox < p->ow; ++ox) {
        tinyc_mve_pixel4(&j, ox);
      }
    }
    tinyc_mve_act_other_rows(&j);
  }
}

#endif /* TINYC_MVE_CONV_H */
