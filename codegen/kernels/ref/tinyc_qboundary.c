/* Float-boundary int8 layers (see tinyc_qboundary.h): the quantize / dequantize steps
 * around calls of the public int8 kernels, so target variants of those serve here too. */
#include "tinyc_qboundary.h"

#include "tinyc_fixedpoint.h"
#include "tinyc_quantize_one.h"

/* the compiler reserves TINYC_QB_CONV_PARAMS bytes for a band's parameters */
typedef char tinyc_qb_conv_params_fit[sizeof(tinyc_qconv_params) <= TINYC_QB_CONV_PARAMS ? 1 : -1];

/* DequantizeLinear of int8, as tinyc_dequantize_s8_f32 */
TINYC_INLINE float qb_dequantize(int8_t q, float scale, int32_t zp) {
  return (float)((int32_t)q - zp) * scale;
}

/* The int8 kernel's workspace: the first `kernel_work` bytes of work (NULL when none). */
TINYC_INLINE int32_t *kernel_work(int8_t *work, int32_t kernel_work) {
  return kernel_work ? (int32_t *)(void *)work : NULL;
}

/* The staging after it. */
TINYC_INLINE int8_t *staging(int8_t *work, int32_t kernel_work) {
  return kernel_work ? work + kernel_work : work;
}

static TINYC_NOINLINE void quantize_rows(const float *x, int8_t *q, size_t n, float scale, int32_t zp) {
  size_t i;
  for (i = 0; i < n; ++i) q[i] = (int8_t)tinyc_quantize_one(x[i], scale, zp, -128, 127);
}

/* ---- convolution ---------------------------------------------------------------------- */

static void conv_call(const int8_t *X, const int8_t *W, const int32_t *B, int8_t *Y,
                      int32_t *kw, const tinyc_qconv_params *c, int32_t depthwise) {
  if (depthwise) {
    tinyc_depthwise_conv2d_s8(X, W, B, Y, kw, c);
  } else {
    tinyc_conv2d_s8(X, W, B, Y, kw, c);
  }
}

/* input rows a band of `tile` output rows can need (the workspace's band height) */
static int32_t band_rows(const tinyc_qconv_params *c, int32_t tile) {
  const int32_t span = (tile - 1) * c->stride_h + (c->kh - 1) * c->dil_h + 1;
  return span < c->h ? span : c->h;
}

/* Y[oy0 .. oy0 + rows) of every channel from the band out[m][rows][ow]: an int8 copy
 * (yq) or a dequantization (yf). */
static TINYC_NOINLINE void store_band(const int8_t *out, int8_t *yq, float *yf, const tinyc_qbconv_params *p,
                       int32_t oy0, int32_t rows) {
  const tinyc_qconv_params *c = &p->conv;
  const size_t plane = (size_t)c->oh * c->ow, band = (size_t)rows * c->ow;
  const size_t at = (size_t)oy0 * c->ow;
  int32_t m;
  size_t i;
  for (m = 0; m < c->m; ++m) {
    const int8_t *src = out + (size_t)m * band;
    if (yq) {
      int8_t *dst = yq + (size_t)m * plane + at;
      for (i = 0; i < band; ++i) dst[i] = src[i];
    } else {
      float *dst = yf + (size_t)m * plane + at;
      for (i = 0; i < band; ++i) dst[i] = qb_dequantize(src[i], p->y_scale, p->y_zero_point);
    }
  }
}

/* The band of output rows [oy0, oy0 + rows) of image x: the real input rows its windows
 * read, quantized into the staging, and its parameters into bp (in the workspace, not on
 * the stack under the kernel's). */
static TINYC_NOINLINE void band_prepare(const float *x, int8_t *stage, tinyc_qconv_params *bp,
                                        const tinyc_qbconv_params *p, int32_t oy0,
                                        int32_t rows) {
  const tinyc_qconv_params *c = &p->conv;
  const int32_t top = oy0 * c->stride_h - c->pad_top; /* the band's first window row */
  const int32_t end = top + (rows - 1) * c->stride_h + (c->kh - 1) * c->dil_h + 1;
  /* the real input rows the band reads: [lo, hi), at least one row */
  const int32_t lo = top < 0 ? 0 : (top < c->h ? top : c->h - 1);
  const int32_t hi = end <= lo ? lo + 1 : (end < c->h ? end : c->h);
  int32_t ch;
  for (ch = 0; ch < c->c; ++ch) {
    quantize_rows(x + ((size_t)ch * c->h + lo) * c->w, stage + (size_t)ch * (hi - lo) * c->w,
                  (size_t)(hi - lo) * c->w, p->x_scale, p->x_zero_point);
  }
  *bp = *c;
  bp->n = 1;
  bp->h = hi - lo;
  bp->oh = rows;
  bp->pad_top = lo - top; /* negative only when the band's windows miss every row */
}

/* float input, band by band; one of yq (int8 output) and yf (float output) is set. Each
 * band is three calls (band_prepare, the kernel, store_band), so this loop's few locals
 * are all that sits above the kernel's frame; inlined into the entry points, whose frame
 * it then is. */
TINYC_INLINE void conv_float_input(const float *X, const int8_t *W, const int32_t *B, int8_t *yq,
                                   float *yf, int8_t *all_work, const tinyc_qbconv_params *p) {
  const tinyc_qconv_params *c = &p->conv;
  int32_t *const kw = kernel_work(all_work, p->kernel_work);
  tinyc_qconv_params *const bp = (tinyc_qconv_params *)(void *)(all_work + p->kernel_work);
  int8_t *const stage = all_work + p->kernel_work + TINYC_QB_CONV_PARAMS;
  const int32_t tile = p->tile < c->oh ? p->tile : c->oh;
  int32_t n, oy0;
  for (n = 0; n < c->n; ++n) {
    const size_t out_at = (size_t)n * c->m * c->oh * c->ow;
    for (oy0 = 0; oy0 < c->oh; oy0 += tile) {
      const int32_t rows = c->oh - oy0 < tile ? c->oh - oy0 : tile;
      band_prepare(X + (size_t)n * c->c * c->h * c->w, stage, bp, p, oy0, rows);
      if (yq != NULL && tile == c->oh) { /* one band: straight into Y */
        conv_call(stage, W, B, yq + out_at, kw, bp, p->depthwise);
      } else {
        int8_t *const out = stage + (size_t)c->c * band_rows(c, tile) * c->w;
        conv_call(stage, W, B, out, kw, bp, p->depthwise);
        store_band(out, yq ? yq + out_at : NULL, yf ? yf + out_at : NULL, p, oy0, rows);
      }
    }
  }
}

void tinyc_qb_conv2d_f32_s8(const float *restrict X, const int8_t *restrict W,
                            const int32_t *restrict B, int8_t *restrict Y,
                            int8_t *restrict work, const tinyc_qbconv_params *p) {
  conv_float_input(X, W, B, Y, NULL, work, p);
}

void tinyc_qb_conv2d_f32_f32(const float *restrict X, const int8_t *restrict W,
                             const int32_t *restrict B, float *restrict Y,
                             int8_t *restrict work, const tinyc_qbconv_params *p) {
  conv_float_input(X, W, B, NULL, Y, work, p);
}

void tinyc_qb_conv2d_s8_f32(const int8_t *restrict X, const int8_t *restrict W,
                            const int32_t *restrict B, float *restrict Y,
                            int8_t *restrict all_work, const tinyc_qbconv_params *p) {
  const tinyc_qconv_params *c = &p->conv;
  int32_t *const kw = kernel_work(all_work, p->kernel_work);
  int8_t *const work = staging(all_work, p->kernel_work);
  const int32_t cg = c->c / c->group, mg = c->m / c->group;
  const size_t plane = (size_t)c->oh * c->ow, in_plane = (size_t)c->h * c->w;
  const size_t filter = (size_t)cg * c->kh * c->kw;
  int32_t n, m0;
  size_t i;
  for (n = 0; n < c->n; ++n) {
    /* chunks of whole groups: `tile` is a multiple of mg */
    for (m0 = 0; m0 < c->m; m0 += p->tile) {
      const int32_t mc = c->m - m0 < p->tile ? c->m - m0 : p->tile;
      const int32_t g0 = m0 / mg;
      tinyc_qconv_params chunk = *c;
      float *y = Y + ((size_t)n * c->m + m0) * plane;
      chunk.n = 1;
      chunk.m = mc;
      chunk.group = mc / mg;
      chunk.c = chunk.group * cg;
      chunk.multiplier = c->multiplier + m0;
      chunk.shift = c->shift + m0;
      /* the chunk's own records, when it starts on a channel pair (else the int8 paths) */
      chunk.packed = c->packed && !(m0 & 1) && !(mc & 1)
                         ? c->packed + (size_t)(m0 >> 1) * (filter + TINYC_QCONV_PACK_EXTRA)
                         : NULL;
      conv_call(X + ((size_t)n * c->c + (size_t)g0 * cg) * in_plane, W + (size_t)m0 * filter,
                B ? B + m0 : NULL, work, kw, &chunk, p->depthwise);
      for (i = 0; i < (size_t)mc * plane; ++i) {
        y[i] = qb_dequantize(work[i], p->y_scale, p->y_zero_point);
      }
    }
  }
}

/* ---- fully connected ------------------------------------------------------------------ */

/* One row from float x, each element quantized on the fly by the int8 kernel's float-input
 * form (tinyc_qfc.h); a float output goes TINYC_QB_ROWS features at a time through a
 * small stack chunk, then dequantized. */
static void fc_rows_on_the_fly(const float *x, const int8_t *W, const int32_t *B, int8_t *yq,
                               float *yf, int32_t *kw, const tinyc_qbfc_params *p) {
  const tinyc_qfc_params *f = &p->fc;
  tinyc_qfc_params part = *f;
  int8_t chunk[TINYC_QB_ROWS];
  int32_t o0, r, count;
  part.batch = 1;
  if (yq) {
    tinyc_fully_connected_f32_s8(x, p->x_scale, W, B, yq, kw, &part);
    return;
  }
  for (o0 = 0; o0 < f->out_features; o0 += TINYC_QB_ROWS) {
    count = f->out_features - o0 < TINYC_QB_ROWS ? f->out_features - o0 : TINYC_QB_ROWS;
    part.out_features = count;
    part.multiplier = f->multiplier + o0;
    part.shift = f->shift + o0;
    tinyc_fully_connected_f32_s8(x, p->x_scale, W + (size_t)o0 * f->in_features,
                                 B ? B + o0 : NULL, chunk, kw, &part);
    for (r = 0; r < count; ++r) yf[o0 + r] = qb_dequantize(chunk[r], p->y_scale, p->y_zero_point);
  }
}

/* One row of int8 input xq into float yf, `tile` features at a time through chunk. */
static void fc_row_dequantized(const int8_t *xq, const int8_t *W, const int32_t *B, float *yf,
                               int8_t *chunk, int32_t *kw, const tinyc_qbfc_params *p) {
  const tinyc_qfc_params *f = &p->fc;
  int32_t o0, count, r;
  for (o0 = 0; o0 < f->out_features; o0 += p->tile) {
    tinyc_qfc_params part = *f;
    count = f->out_features - o0 < p->tile ? f->out_features - o0 : p->tile;
    part.batch = 1;
    part.out_features = count;
    part.multiplier = f->multiplier + o0;
    part.shift = f->shift + o0;
    tinyc_fully_connected_s8(xq, W + (size_t)o0 * f->in_features, B ? B + o0 : NULL, chunk, kw,
                             &part);
    for (r = 0; r < count; ++r) yf[o0 + r] = qb_dequantize(chunk[r], p->y_scale, p->y_zero_point);
  }
}

static void fc_float_input(const float *X, const int8_t *W, const int32_t *B, int8_t *yq,
                           float *yf, int8_t *all_work, const tinyc_qbfc_params *p) {
  const tinyc_qfc_params *f = &p->fc;
  int32_t *const kw = kernel_work(all_work, p->kernel_work);
  int8_t *const work = staging(all_work, p->kernel_work);
  const size_t in = (size_t)f->in_features, out = (size_t)f->out_features;
  int32_t b;
  for (b = 0; b < f->batch; ++b) {
    const float *x = X + (size_t)b * in;
    int8_t *rq = yq ? yq + (size_t)b * out : NULL;
    float *rf = yf ? yf + (size_t)b * out : NULL;
    if (!p->stage) {
      fc_rows_on_the_fly(x, W, B, rq, rf, kw, p);
    } else {
      quantize_rows(x, work, in, p->x_scale, p->x_zero_point);
      if (rq) {
        tinyc_qfc_params row = *f;
        row.batch = 1;
        tinyc_fully_connected_s8(work, W, B, rq, kw, &row);
      } else {
        fc_row_dequantized(work, W, B, rf, work + in, kw, p);
      }
    }
  }
}

void tinyc_qb_fully_connected_f32_s8(const float *restrict X, const int8_t *restrict W,
                                     const int32_t *restrict B, int8_t *restrict Y,
                                     int8_t *restrict work, const tinyc_qbfc_params *p) {
  fc_float_input(X, W, B, Y, NULL, work, p);
}

void tinyc_qb_fully_connected_f32_f32(const float *restrict X, const int8_t *restrict W,
                                      const int32_t *restrict B, float *restrict Y,
                                      int8_t *restrict work, const tinyc_qbfc_params *p) {
  fc_float_input(X, W, B, NULL, Y, work, p);
}

void tinyc_qb_fully_connected_s8_f32(const int8_t *restrict X, const int8_t *restrict W,
                                     const int32_t *restrict B, float *restrict Y,
                                     int8_t *restrict all_work, const tinyc_qbfc_params *p) {
  const tinyc_qfc_params *f = &p->fc;
  int32_t *const kw = kernel_work(all_work, p->kernel_work);
  int8_t *const work = staging(all_work, p->kernel_work);
  int32_t b;
  for (b = 0; b < f->batch; ++b) {
    fc_row_dequantized(X + (size_t)b * f->in_features, W, B, Y + (size_t)b * f->out_features,
                       work, kw, p);
  }
}
