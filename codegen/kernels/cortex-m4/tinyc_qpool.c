/* int8 pooling (NCHW) for the Cortex-M4/M7/M33: the portable kernels' arithmetic and bits
 * (tinyc_qpool.h), restructured around the plane's rows.
 *
 * Row path (dilation 1, padded rows up to TINYC_QPOOL_ROW bytes): for each output row the
 * window's input rows are first combined column by column into a padded row buffer, four
 * columns a word (max: SSUB8 + SEL; sum: SXTAB16 into halfwords), so every input byte is
 * read once per output row; then each output takes its kw columns from that buffer. A max
 * pool also combines the kw columns four outputs at a time, and one that keeps its
 * input's parameters with stride 1 clamps and stores four outputs a word. Padding is
 * -128 (max) or 0 (sum) in the buffer, the counts of the average come from the window's
 * rectangle, and each output goes through the same requantization as the portable kernel.
 * Average pools whose windows do not overlap (nothing to share between outputs), dilated
 * pools and wider planes: the windows wholly inside the input are summed or maxed by a
 * plain row loop (four bytes per USADA8; whole-row windows as one run), border windows
 * take the portable path. The buffers assume a little-endian core, as every target is. */
#include "tinyc_qpool.h"

#include "tinyc_dsp.h"
#include "tinyc_fixedpoint.h"
#include "tinyc_onnxruntime.h"

/* tinyc_requantize_one with the pool's constants; a multiplier of exactly 1 (q = 2^30,
 * shift 1: max pooling keeps its input's scale) is just the zero point and the clamp. */
static int8_t requant(int32_t v, const tinyc_qpool2d_params *p) {
  if (p->multiplier == (int32_t)1 << 30 && p->shift == 1) {
    v += p->output_offset;
    return (int8_t)(v < p->act_min ? p->act_min : (v > p->act_max ? p->act_max : v));
  }
  return tinyc_requantize_one(v, p->multiplier, p->shift, p->output_offset, p->act_min,
                              p->act_max);
}

/* The portable kernel's window, for windows that touch the padding. */
static int8_t border(const int8_t *x, const tinyc_qpool2d_params *p, int32_t oy, int32_t ox,
                     int is_max) {
  int32_t acc = is_max ? -128 : 0, count = 0, ky, kx;
  for (ky = 0; ky < p->kh; ++ky) {
    const int32_t iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
    for (kx = 0; kx < p->kw; ++kx) {
      const int32_t ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;
      const int inside = iy >= 0 && iy < p->h && ix >= 0 && ix < p->w;
      if (p->count_include_pad) {
        count += iy < p->h + p->pad_bottom && ix < p->w + p->pad_right;
      } else {
        count += inside;
      }
      if (!inside) continue;
      if (is_max) {
        const int32_t v = x[(size_t)iy * p->w + ix];
        acc = v > acc ? v : acc;
      } else {
        acc += (int32_t)x[(size_t)iy * p->w + ix] + p->input_offset;
      }
    }
  }
  if (is_max) return requant(acc + p->input_offset, p);
  return requant(p->divisor > 0 ? acc : tinyc_div_round(acc, count > 0 ? count : 1), p);
}

/* The max or sum of one window wholly inside the input (dilation 1): kh rows of kw bytes,
 * rows w apart. Out of line, so the plane loop keeps its registers. */
static TINYC_DSP_NOINLINE int32_t window_max(const int8_t *x, int32_t w, int32_t kh,
                                             int32_t kw) {
  int32_t m = -128, kx;
  for (; kh > 0; --kh, x += w) {
    for (kx = 0; kx < kw; ++kx) m = x[kx] > m ? x[kx] : m;
  }
  return m;
}

static TINYC_DSP_NOINLINE int32_t window_sum(const int8_t *x, int32_t w, int32_t kh,
                                             int32_t kw) {
  int32_t acc = 0;
  if (kw == w) return tinyc_sum_s8(x, kh * kw); /* whole rows: one contiguous run */
  for (; kh > 0; --kh, x += w) acc += tinyc_sum_s8(x, kw);
  return acc;
}

static void pool(const int8_t *restrict X, int8_t *restrict Y, const tinyc_qpool2d_params *p,
                 int is_max) {
  const int32_t taps = p->kh * p->kw;
  const int plain = p->dil_h == 1 && p->dil_w == 1;
  int32_t t, oy, ox, ky, kx;
  for (t = 0; t < p->nc; ++t) {
    const int8_t *x = X + (size_t)t * p->h * p->w;
    int8_t *y = Y + (size_t)t * p->oh * p->ow;
    for (oy = 0; oy < p->oh; ++oy) {
      const int32_t iy0 = oy * p->stride_h - p->pad_top;
      const int rows_in = iy0 >= 0 && iy0 + (p->kh - 1) * p->dil_h < p->h;
      for (ox = 0; ox < p->ow; ++ox) {
        const int32_t ix0 = ox * p->stride_w - p->pad_left;
        int32_t acc;
        if (!rows_in || ix0 < 0 || ix0 + (p->kw - 1) * p->dil_w >= p->w) {
          y[(size_t)oy * p->ow + ox] = border(x, p, oy, ox, is_max);
          continue;
        }
        if (plain) {
          const int8_t *xr = x + (size_t)iy0 * p->w + ix0;
          acc = is_max ? window_max(xr, p->w, p->kh, p->kw) : window_sum(xr, p->w, p->kh, p->kw);
        } else {
          const int8_t *xr = x + (size_t)iy0 * p->w + ix0;
          acc = is_max ? -128 : 0;
          for (ky = p->kh; ky > 0; --ky, xr += (size_t)p->dil_h * p->w) {
            const int8_t *xp = xr;
            for (kx = p->kw; kx > 0; --kx, xp += p->dil_w) {
              acc = is_max ? (*xp > acc ? *xp : acc) : acc + *xp;
            }
          }
        }
        /* inside, every tap counts (with or without count_include_pad) */
        if (is_max) {
          y[(size_t)oy * p->ow + ox] = requant(acc + p->input_offset, p);
        } else {
          acc += taps * p->input_offset;
          y[(size_t)oy * p->ow + ox] =
              requant(p->divisor > 0 ? acc : tinyc_div_round(acc, taps), p);
        }
      }
    }
  }
}

/* Longest padded row the row path takes; its buffer is the node's planned workspace
 * (max: span + 3 bytes, average: span int16 sums; tinyc/ops/qwork.py qpool_work_bytes),
 * and without one (work == NULL) every window takes the window path. */
#define TINYC_QPOOL_ROW 256

/* The buffer columns the row path needs: the first window's first tap (input column
 * -pad_left) to the last window's last tap. */
static int32_t row_span(const tinyc_qpool2d_params *p) {
  return (p->ow - 1) * p->stride_w + p->kw;
}

static int row_path(const tinyc_qpool2d_params *p) {
  /* kh <= 255: a column's sum of kh int8 values fits its int16 halfword */
  return p->dil_h == 1 && p->dil_w == 1 && p->kh <= 255 && row_span(p) <= TINYC_QPOOL_ROW &&
         p->pad_left < row_span(p);
}

static int32_t clip(int32_t v, int32_t lo, int32_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* Input columns in the buffer: [pad_left, pad_left + row_inputs), the rest is padding. */
static int32_t row_inputs(const tinyc_qpool2d_params *p) {
  return clip(row_span(p) - p->pad_left, 0, p->w);
}

/* row[pad_left + i] = the max of column i over input rows [r0, r1) (r0 < r1). */
static void column_max(const int8_t *x, int32_t w, int32_t r0, int32_t r1, int8_t *row,
                       int32_t n) {
  const int8_t *top = x + (size_t)r0 * w;
  int32_t i, r;
  for (i = 0; i + 4 <= n; i += 4) {
    const int8_t *xp = top + i;
    int32_t m = tinyc_load4(xp);
    for (r = r0 + 1; r < r1; ++r) m = tinyc_max_s8x4(m, tinyc_load4(xp += w));
    tinyc_store4(row + i, m);
  }
  for (; i < n; ++i) {
    const int8_t *xp = top + i;
    int32_t m = *xp;
    for (r = r0 + 1; r < r1; ++r) m = *(xp += w) > m ? *xp : m;
    row[i] = (int8_t)m;
  }
}

/* y[ox] = row[ox * sw] clamped to [act_min, act_max]: a max pool that keeps its input's
 * parameters. Strides 1 and 2 clamp and store four outputs a word (stride 2 gathers bytes
 * 0 and 2 of two words). */
static void max_out_same(const int8_t *row, int8_t *y, int32_t ow, int32_t sw, int32_t act_min,
                         int32_t act_max) {
  const int32_t lo = tinyc_splat_s8x4(act_min), hi = tinyc_splat_s8x4(act_max);
  int32_t ox = 0;
  if (sw == 1) {
    for (; ox + 4 <= ow; ox += 4) {
      tinyc_store4(y + ox, tinyc_min_s8x4(tinyc_max_s8x4(tinyc_load4(row + ox), lo), hi));
    }
  } else if (sw == 2) {
    for (; ox + 4 <= ow; ox += 4) {
      const uint32_t a = (uint32_t)tinyc_load4(row + 2 * ox);
      const uint32_t b = (uint32_t)tinyc_load4(row + 2 * ox + 4);
      const uint32_t v = (a & 0xFFu) | ((a >> 8) & 0xFF00u) | ((b & 0xFFu) << 16) |
                         ((b << 8) & 0xFF000000u);
      tinyc_store4(y + ox, tinyc_min_s8x4(tinyc_max_s8x4((int32_t)v, lo), hi));
    }
  }
  for (; ox < ow; ++ox) {
    const int32_t v = row[ox * sw];
    y[ox] = (int8_t)(v < act_min ? act_min : (v > act_max ? act_max : v));
  }
}

/* `work`: span + 3 bytes (3: the last word loads' slack) */
static void max_plane(const int8_t *x, int8_t *y, int8_t *restrict row,
                      const tinyc_qpool2d_params *p) {
  const int32_t span = row_span(p), pl = p->pad_left, n = row_inputs(p);
  const int32_t ow = p->ow, sw = p->stride_w, act_min = p->act_min, act_max = p->act_max;
  /* requant(m + input_offset) == the clamp of m */
  const int same = p->multiplier == (int32_t)1 << 30 && p->shift == 1 &&
                   p->input_offset + p->output_offset == 0;
  int32_t oy, ox, j, k;
  for (oy = 0; oy < p->oh; ++oy, y += p->ow) {
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    const int32_t r0 = clip(iy0, 0, p->h), r1 = clip(iy0 + p->kh, 0, p->h);
    memset(row, -128, (size_t)pl);
    memset(row + pl + n, -128, (size_t)(span + 3 - pl - n));
    if (r1 > r0) {
      column_max(x, p->w, r0, r1, row + pl, n);
    } else {
      memset(row + pl, -128, (size_t)n);
    }
    /* row[j] = max(row[j .. j + kw)), in place: word j is stored after its last read */
    for (j = 0; p->kw > 1 && j <= span - p->kw; j += 4) {
      int32_t m = tinyc_load4(row + j);
      for (k = 1; k < p->kw; ++k) m = tinyc_max_s8x4(m, tinyc_load4(row + j + k));
      tinyc_store4(row + j, m);
    }
    if (same) {
      max_out_same(row, y, ow, sw, act_min, act_max);
    } else {
      for (ox = 0; ox < ow; ++ox) y[ox] = requant(row[ox * sw] + p->input_offset, p);
    }
  }
}

/* row[pad_left + i] = the sum of column i over input rows [r0, r1) (r0 < r1), four
 * columns a word: SXTAB16 sums bytes 0 and 2 and (rotated) 1 and 3 into halfword pairs. */
static void column_sum(const int8_t *x, int32_t w, int32_t r0, int32_t r1, int16_t *row,
                       int32_t n) {
  const int8_t *top = x + (size_t)r0 * w;
  int32_t i, r;
  for (i = 0; i + 4 <= n; i += 4) {
    const int8_t *xp = top + i;
    int32_t even = 0, odd = 0;
    uint32_t pair[2];
    for (r = r0; r < r1; ++r, xp += w) {
      const int32_t v = tinyc_load4(xp);
      even = tinyc_sxtab16(even, v);
      odd = tinyc_sxtab16_hi(odd, v);
    }
    pair[0] = ((uint32_t)even & 0xFFFFu) | ((uint32_t)odd << 16);
    pair[1] = ((uint32_t)even >> 16) | ((uint32_t)odd & 0xFFFF0000u);
    memcpy(row + i, pair, sizeof pair);
  }
  for (; i < n; ++i) {
    const int8_t *xp = top + i;
    int32_t acc = 0;
    for (r = r0; r < r1; ++r, xp += w) acc += *xp;
    row[i] = (int16_t)acc;
  }
}

/* `row`: span halfwords */
static void avg_plane(const int8_t *x, int8_t *y, int16_t *restrict row,
                      const tinyc_qpool2d_params *p) {
  const int32_t span = row_span(p), pl = p->pad_left, n = row_inputs(p);
  const int32_t ow = p->ow, w = p->w, kw = p->kw, sw = p->stride_w;
  const int32_t input_offset = p->input_offset;
  int32_t oy, ox, k;
  for (oy = 0; oy < p->oh; ++oy, y += p->ow) {
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    const int32_t r0 = clip(iy0, 0, p->h), r1 = clip(iy0 + p->kh, 0, p->h);
    /* the window's rows that hold input, and those its count includes */
    const int32_t rows_in = r1 > r0 ? r1 - r0 : 0;
    const int32_t rows_counted =
        p->count_include_pad ? clip(p->h + p->pad_bottom - iy0, 0, p->kh) : rows_in;
    memset(row, 0, (size_t)pl * sizeof *row);
    memset(row + pl + n, 0, (size_t)(span - pl - n) * sizeof *row);
    if (rows_in > 0) {
      column_sum(x, p->w, r0, r1, row + pl, n);
    } else {
      memset(row + pl, 0, (size_t)n * sizeof *row);
    }
    for (ox = 0; ox < ow; ++ox) {
      const int16_t *r = row + ox * sw;
      const int32_t ix0 = ox * sw - pl;
      int32_t cols_in = kw, cols_counted = kw, count, acc = 0;
      if (ix0 < 0 || ix0 + kw > w) { /* a window over the left or right padding */
        cols_in = clip(ix0 + kw, 0, w) - clip(ix0, 0, w);
        cols_counted = p->count_include_pad ? clip(w + p->pad_right - ix0, 0, kw) : cols_in;
      }
      count = rows_counted * cols_counted;
      for (k = 0; k < kw; ++k) acc += r[k];
      acc += rows_in * cols_in * input_offset;
      y[ox] = requant(p->divisor > 0 ? acc : tinyc_div_round(acc, count > 0 ? count : 1), p);
    }
  }
}

void tinyc_maxpool2d_s8(const int8_t *restrict X, int8_t *restrict Y, int32_t *restrict work,
                        const tinyc_qpool2d_params *p) {
  int32_t t;
  if (work == NULL || !row_path(p)) {
    pool(X, Y, p, 1);
    return;
  }
  for (t = 0; t < p->nc; ++t) {
    max_plane(X + (size_t)t * p->h * p->w, Y + (size_t)t * p->oh * p->ow, (int8_t *)work, p);
  }
}

void tinyc_avgpool2d_s8(const int8_t *restrict X, int8_t *restrict Y, int32_t *restrict work,
                        const tinyc_qpool2d_params *p) {
  int32_t t;
  if (p->y_scale_bits != 0) {
    tinyc_avgpool2d_onnxruntime(X, Y, p->nc, p->h, p->w, p->oh, p->ow, p->kh, p->kw,
                                p->stride_h, p->stride_w, p->pad_top, p->pad_left,
                                p->count_include_pad, -p->input_offset,
                                tinyc_float_of_bits(p->x_scale_bits),
                                tinyc_float_of_bits(p->y_scale_bits),
                                p->output_offset + p->code_offset, p->code_offset, p->act_min,
                                p->act_max);
    return;
  }
  /* windows that do not overlap gain nothing from the column sums: the window path sums
   * each one's rows four bytes per USADA8 */
  if (work == NULL || !row_path(p) || (p->stride_h >= p->kh && p->stride_w >= p->kw)) {
    pool(X, Y, p, 0);
    return;
  }
  for (t = 0; t < p->nc; ++t) {
    avg_plane(X + (size_t)t * p->h * p->w, Y + (size_t)t * p->oh * p->ow, (int16_t *)work, p);
  }
}

void tinyc_global_avgpool_s8(const int8_t *restrict X, int8_t *restrict Y,
                             const tinyc_qpool2d_params *p) {
  const size_t size = (size_t)p->h * (size_t)p->w;
  int32_t t;
  for (t = 0; t < p->nc; ++t) {
    const int8_t *x = X + (size_t)t * size;
    const int32_t acc = tinyc_sum_s8(x, (int32_t)size);
    Y[t] = requant(acc + (int32_t)size * p->input_offset, p);
  }
}
