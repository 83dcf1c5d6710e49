/* Portable data movement. The n-d copy advances an index counter over the outer dimensions
 * and runs a typed strided loop over the innermost one (element sizes 1, 2, 4, 8 get a typed
 * loop, anything else falls back to memcpy per element). Offsets are signed (ptrdiff_t), so
 * negative strides never form an out-of-range pointer. */
#include "tinyc_data.h"

#include <string.h>

#define TINYC_COPY_ROW(T)                                                   \
  do {                                                                      \
    T *d = (T *)dst + od;                                                   \
    const T *s = (const T *)src + os;                                       \
    for (j = 0; j < n; ++j) d[(ptrdiff_t)j * dsd] = s[(ptrdiff_t)j * ssd];  \
  } while (0)

void tinyc_copy_nd(void *dst, const void *src, size_t elem_size, const tinyc_copy_params *p) {
  int32_t idx[TINYC_MAX_RANK] = {0};
  const int32_t last = p->rank - 1, n = p->dims[last];
  const ptrdiff_t dsd = p->dst_strides[last], ssd = p->src_strides[last];
  ptrdiff_t od = 0, os = 0;
  size_t outer = 1, t;
  int32_t j, d;
  for (d = 0; d < last; ++d) outer *= (size_t)p->dims[d];
  for (t = 0; t < outer; ++t) {
    switch (elem_size) {
      case 1: TINYC_COPY_ROW(uint8_t); break;
      case 2: TINYC_COPY_ROW(uint16_t); break;
      case 4: TINYC_COPY_ROW(uint32_t); break;
      case 8: TINYC_COPY_ROW(uint64_t); break;
      default:
        for (j = 0; j < n; ++j)
          memcpy((unsigned char *)dst + (od + (ptrdiff_t)j * dsd) * (ptrdiff_t)elem_size,
                 (const unsigned char *)src + (os + (ptrdiff_t)j * ssd) * (ptrdiff_t)elem_size,
                 elem_size);
        break;
    }
    for (d = last - 1; d >= 0; --d) {
      od += p->dst_strides[d];
      os += p->src_strides[d];
      if (++idx[d] < p->dims[d]) break;
      od -= (ptrdiff_t)p->dst_strides[d] * p->dims[d];
      os -= (ptrdiff_t)p->src_strides[d] * p->dims[d];
      idx[d] = 0;
    }
  }
}

void tinyc_fill(void *dst, const void *value, size_t elem_size, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i) memcpy((unsigned char *)dst + i * elem_size, value, elem_size);
}

#define TINYC_DEFINE_GATHER(sfx, TI)                                                          \
  int tinyc_gather_##sfx(const void *X, const TI *idx, void *Y, size_t elem_size,             \
                         int32_t outer, int32_t axis_len, int32_t inner, int32_t n_idx) {     \
    const size_t row = (size_t)inner * elem_size;                                             \
    int32_t o, j;                                                                             \
    for (o = 0; o < outer; ++o) {                                                             \
      for (j = 0; j < n_idx; ++j) {                                                           \
        int64_t k = (int64_t)idx[j];                                                          \
        if (k < 0) k += axis_len;                                                             \
        if (k < 0 || k >= axis_len) return -1;                                                \
        memcpy((unsigned char *)Y + ((size_t)o * n_idx + j) * row,                            \
               (const unsigned char *)X + ((size_t)o * axis_len + (size_t)k) * row, row);     \
      }                                                                                       \
    }                                                                                         \
    return 0;                                                                                 \
  }
TINYC_DEFINE_GATHER(i64, int64_t)
TINYC_DEFINE_GATHER(i32, int32_t)

/* -- Slice -------------------------------------------------------------------------------- */

/* ONNX clamping of one axis; returns the element count, or -1 for a zero step. */
static int64_t slice_axis(int64_t start, int64_t end, int64_t step, int64_t dim, int64_t *first,
                          int64_t *stride) {
  int64_t count;
  if (step == 0) return -1;
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (step > 0) {
    start = start < 0 ? 0 : (start > dim ? dim : start);
    end = end < 0 ? 0 : (end > dim ? dim : end);
    /* a step longer than the axis takes at most one element: clamp it before dividing */
    if (step > dim) step = dim + 1;
    count = end > start ? (end - start + step - 1) / step : 0;
  } else {
    start = start < 0 ? 0 : (start > dim - 1 ? dim - 1 : start);
    end = end < -1 ? -1 : (end > dim - 1 ? dim - 1 : end);
    if (step < -dim) step = -dim - 1;
    count = start > end ? (start - end - step - 1) / -step : 0;
  }
  *first = start;
  *stride = step;
  return count;
}

#define TINYC_DEFINE_SLICE(sfx, TI)                                                           \
  int tinyc_slice_##sfx(const void *X, void *Y, size_t elem_size, const tinyc_io_shape *p,    \
                        const TI *starts, const TI *ends, const TI *axes, const TI *steps,    \
                        int32_t n) {                                                          \
    int64_t first[TINYC_MAX_RANK], step[TINYC_MAX_RANK];                                      \
    uint8_t seen[TINYC_MAX_RANK] = {0};                                                       \
    tinyc_copy_params cp;                                                                     \
    ptrdiff_t offset = 0, in_stride = 1, out_stride = 1;                                      \
    int32_t i, d;                                                                             \
    for (d = 0; d < p->rank; ++d) {                                                           \
      first[d] = 0;                                                                           \
      step[d] = 1;                                                                            \
    }                                                                                         \
    for (i = 0; i < n; ++i) {                                                                 \
      int64_t a = axes ? (int64_t)axes[i] : i, count;                                         \
      if (a < 0) a += p->rank;                                                                \
      if (a < 0 || a >= p->rank || seen[a]) return -1;                                        \
      seen[a] = 1;                                                                            \
      count = slice_axis((int64_t)starts[i], (int64_t)ends[i], steps ? (int64_t)steps[i] : 1, \
                         p->in_dims[a], &first[a], &step[a]);                                 \
      if (count != p->out_dims[a]) return -1;                                                 \
    }                                                                                         \
    for (d = 0; d < p->rank; ++d)                                                             \
      if (!seen[d] && p->in_dims[d] != p->out_dims[d]) return -1;                             \
    cp.rank = p->rank;                                                                        \
    for (d = p->rank - 1; d >= 0; --d) {                                                      \
      if (p->out_dims[d] == 0) return 0;                                                      \
      cp.dims[d] = p->out_dims[d];                                                            \
      cp.dst_strides[d] = (int32_t)out_stride;                                                \
      cp.src_strides[d] = (int32_t)(in_stride * step[d]);                                     \
      offset += (ptrdiff_t)first[d] * in_stride;                                              \
      out_stride *= p->out_dims[d];                                                           \
      in_stride *= p->in_dims[d];                                                             \
    }                                                                                         \
    if (p->rank == 0) {                                                                       \
      memcpy(Y, X, elem_size);                                                                \
      return 0;                                                                               \
    }                                                                                         \
    tinyc_copy_nd(Y, (const unsigned char *)X + offset * (ptrdiff_t)elem_size, elem_size,     \
                  &cp);                                                                       \
    return 0;                                                                                 \
  }
TINYC_DEFINE_SLICE(i64, int64_t)
TINYC_DEFINE_SLICE(i32, int32_t)

/* -- Pad ---------------------------------------------------------------------------------- */

/* Input index that output index o reads on an axis of n elements padded by `begin`,
 * or -1 for the constant value. */
static int64_t pad_source(int64_t o, int64_t begin, int64_t n, int32_t mode) {
  int64_t i = o - begin, period;
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case TINYC_PAD_EDGE:
      return i < 0 ? 0 : n - 1;
    case TINYC_PAD_WRAP:
      i %= n;
      return i < 0 ? i + n : i;
    case TINYC_PAD_REFLECT:
      if (n == 1) return 0;
      period = 2 * (n - 1);
      i %= period;
      if (i < 0) i += period;
      return i >= n ? period - i : i;
    default:
      return -1;
  }
}

int tinyc_pad(const void *X, void *Y, size_t elem_size, const tinyc_io_shape *p,
              const int64_t *pads, const int64_t *axes, int32_t n_axes, const void *value) {
  int64_t begin[TINYC_MAX_RANK] = {0}, end[TINYC_MAX_RANK] = {0};
  int32_t idx[TINYC_MAX_RANK] = {0};
  const unsigned char *x = (const unsigned char *)X;
  unsigned char *y = (unsigned char *)Y;
  const int32_t last = p->rank - 1;
  size_t rows = 1, r;
  int32_t i, d, j;
  if (p->rank == 0) {
    memcpy(Y, X, elem_size);
    return 0;
  }
  for (i = 0; i < n_axes; ++i) {
    int64_t a = axes ? axes[i] : i;
    if (a < 0) a += p->rank;
    if (a < 0 || a >= p->rank) return -1;
    /* pads beyond any real tensor would overflow below: refuse them */
    if (pads[i] < -INT32_MAX || pads[i] > INT32_MAX) return -1;
    if (pads[i + n_axes] < -INT32_MAX || pads[i + n_axes] > INT32_MAX) return -1;
    begin[a] = pads[i];
    end[a] = pads[i + n_axes];
  }
  for (d = 0; d < p->rank; ++d) {
    if (p->in_dims[d] + begin[d] + end[d] != p->out_dims[d]) return -1;
    if (p->out_dims[d] == 0) return 0;
    if (p->mode != TINYC_PAD_CONSTANT && p->in_dims[d] == 0) return -1;
  }
  for (d = 0; d < last; ++d) rows *= (size_t)p->out_dims[d];
  for (r = 0; r < rows; ++r) {
    ptrdiff_t src_row = 0;
    int fill_row = 0;
    for (d = 0; d < last; ++d) {
      const int64_t s = pad_source(idx[d], begin[d], p->in_dims[d], p->mode);
      if (s < 0) fill_row = 1;
      src_row = src_row * p->in_dims[d] + (fill_row ? 0 : (ptrdiff_t)s);
    }
    src_row *= p->in_dims[last];
    for (j = 0; j < p->out_dims[last]; ++j) {
      const int64_t s = fill_row ? -1 : pad_source(j, begin[last], p->in_dims[last], p->mode);
      unsigned char *dst = y + (r * (size_t)p->out_dims[last] + (size_t)j) * elem_size;
      if (s < 0)
        memcpy(dst, value, elem_size);
      else
        memcpy(dst, x + (size_t)(src_row + (ptrdiff_t)s) * elem_size, elem_size);
    }
    for (d = last - 1; d >= 0; --d) {
      if (++idx[d] < p->out_dims[d]) break;
      idx[d] = 0;
    }
  }
  return 0;
}

/* -- ReverseSequence, Trilu ----------------------------------------------------------------- */

int tinyc_reverse_sequence(const void *X, const int64_t *lens, void *Y, size_t elem_size,
                           int32_t d0, int32_t d1, int32_t inner, int32_t time_axis) {
  const int32_t batch = time_axis ? d0 : d1, steps = time_axis ? d1 : d0;
  const size_t row = (size_t)inner * elem_size;
  int32_t b, t;
  for (b = 0; b < batch; ++b)
    if (lens[b] < 0 || lens[b] > steps) return -1;
  for (b = 0; b < batch; ++b) {
    const int32_t len = (int32_t)lens[b];
    for (t = 0; t < steps; ++t) {
      const int32_t s = t < len ? len - 1 - t : t;
      const size_t dst = time_axis ? (size_t)b * d1 + t : (size_t)t * d1 + b;
      const size_t src = time_axis ? (size_t)b * d1 + s : (size_t)s * d1 + b;
      memcpy((unsigned char *)Y + dst * row, (const unsigned char *)X + src * row, row);
    }
  }
  return 0;
}

void tinyc_trilu(const void *X, void *Y, size_t elem_size, int32_t batch, int32_t n, int32_t m,
                 const int64_t *k, int32_t upper) {
  const int64_t kk = k ? *k : 0;
  int32_t b, i, j;
  for (b = 0; b < batch; ++b) {
    for (i = 0; i < n; ++i) {
      for (j = 0; j < m; ++j) {
        const size_t at = (((size_t)b * n + i) * m + j) * elem_size;
        const int keep = upper ? (int64_t)j - i >= kk : (int64_t)j - i <= kk;
        if (keep) {
          if (X != Y) memcpy((unsigned char *)Y + at, (const unsigned char *)X + at, elem_size);
        } else {
          memset((unsigned char *)Y + at, 0, elem_size);
        }
      }
    }
  }
}
