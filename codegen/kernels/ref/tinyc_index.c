/* Portable index-driven kernels. Elements move with memcpy (any element size); only the
 * scatter reductions and index loads look at values, through a switch on the ONNX type
 * code, which keeps one copy of each kernel instead of one per type. */
#include "tinyc_index.h"

#include <string.h>

/* Load element i of an index-like tensor as int64; 0 when a float is NaN or out of the
 * int64 range (it cannot be a valid index then), 1 otherwise. */
static int load_i64(const void *p, size_t i, int32_t dtype, int64_t *out) {
  double f;
  switch (dtype) {
    case 1: f = ((const float *)p)[i]; break;
    case 11: f = ((const double *)p)[i]; break;
    case 2: *out = ((const uint8_t *)p)[i]; return 1;
    case 3: *out = ((const int8_t *)p)[i]; return 1;
    case 4: *out = ((const uint16_t *)p)[i]; return 1;
    case 5: *out = ((const int16_t *)p)[i]; return 1;
    case 6: *out = ((const int32_t *)p)[i]; return 1;
    case 7: *out = ((const int64_t *)p)[i]; return 1;
    case 9: *out = ((const uint8_t *)p)[i] != 0; return 1;
    case 12: *out = ((const uint32_t *)p)[i]; return 1;
    case 13:
      if (((const uint64_t *)p)[i] > (uint64_t)INT64_MAX) return 0;
      *out = (int64_t)((const uint64_t *)p)[i];
      return 1;
    default: return 0;
  }
  if (!(f > -9.2e18 && f < 9.2e18)) return 0;
  *out = (int64_t)f;
  return 1;
}

#define TINYC_COMBINE(T)                                       \
  do {                                                         \
    T *d = (T *)dst;                                           \
    const T s = *(const T *)src;                               \
    switch (reduction) {                                       \
      case TINYC_SCATTER_ADD: *d = (T)(*d + s); break;         \
      case TINYC_SCATTER_MUL: *d = (T)(*d * s); break;         \
      case TINYC_SCATTER_MAX: if (s > *d) *d = s; break;       \
      case TINYC_SCATTER_MIN: if (s < *d) *d = s; break;       \
      default: *d = s; break;                                  \
    }                                                          \
  } while (0)

/* Integer add/mul wrap (computed unsigned) rather than overflow. */
#define TINYC_COMBINE_INT(T, U)                                          \
  do {                                                                   \
    T *d = (T *)dst;                                                     \
    const T s = *(const T *)src;                                         \
    switch (reduction) {                                                 \
      case TINYC_SCATTER_ADD: *d = (T)((U)*d + (U)s); break;             \
      case TINYC_SCATTER_MUL: *d = (T)((U)*d * (U)s); break;             \
      case TINYC_SCATTER_MAX: if (s > *d) *d = s; break;                 \
      case TINYC_SCATTER_MIN: if (s < *d) *d = s; break;                 \
      default: *d = s; break;                                            \
    }                                                                    \
  } while (0)

static void combine(void *dst, const void *src, size_t elem_size, int32_t reduction,
                    int32_t dtype) {
  if (reduction == TINYC_SCATTER_NONE) {
    memcpy(dst, src, elem_size);
    return;
  }
  switch (dtype) {
    case 1: TINYC_COMBINE(float); break;
    case 11: TINYC_COMBINE(double); break;
    case 6: TINYC_COMBINE_INT(int32_t, uint32_t); break;
    case 7: TINYC_COMBINE_INT(int64_t, uint64_t); break;
    default: memcpy(dst, src, elem_size); break;
  }
}

/* Offset into X of the element the index at counter `idx` names, given its value k. */
static ptrdiff_t elements_offset(const int32_t *idx, int64_t k, const tinyc_elements_params *p) {
  ptrdiff_t off = 0;
  int32_t d;
  for (d = 0; d < p->rank; ++d)
    off += (ptrdiff_t)(d == p->axis ? k : idx[d]) * p->x_strides[d];
  return off;
}

static void advance(int32_t *idx, const int32_t *dims, int32_t rank) {
  int32_t d;
  for (d = rank - 1; d >= 0; --d) {
    if (++idx[d] < dims[d]) return;
    idx[d] = 0;
  }
}

#define TINYC_DEFINE_ELEMENTS(sfx, TI)                                                          \
  int tinyc_gather_elements_##sfx(const void *X, const TI *idx, void *Y, size_t elem_size,      \
                                  const tinyc_elements_params *p) {                            \
    int32_t counter[TINYC_MAX_RANK] = {0};                                                      \
    size_t n = 1, i;                                                                            \
    int32_t d;                                                                                  \
    for (d = 0; d < p->rank; ++d) n *= (size_t)p->dims[d];                                      \
    for (i = 0; i < n; ++i) {                                                                   \
      int64_t k = (int64_t)idx[i];                                                              \
      if (k < 0) k += p->axis_len;                                                              \
      if (k < 0 || k >= p->axis_len) return -1;                                                 \
      memcpy((unsigned char *)Y + i * elem_size,                                                \
             (const unsigned char *)X + elements_offset(counter, k, p) * (ptrdiff_t)elem_size,  \
             elem_size);                                                                        \
      advance(counter, p->dims, p->rank);                                                       \
    }                                                                                           \
    return 0;                                                                                   \
  }                                                                                             \
  int tinyc_scatter_elements_##sfx(void *Y, const TI *idx, const void *U, size_t elem_size,     \
                                   const tinyc_elements_params *p, int32_t reduction,          \
                                   int32_t dtype) {                                             \
    int32_t counter[TINYC_MAX_RANK] = {0};                                                      \
    size_t n = 1, i;                                                                            \
    int32_t d;                                                                                  \
    for (d = 0; d < p->rank; ++d) n *= (size_t)p->dims[d];                                      \
    for (i = 0; i < n; ++i) {                                                                   \
      int64_t k = (int64_t)idx[i];                                                              \
      if (k < 0) k += p->axis_len;                                                              \
      if (k < 0 || k >= p->axis_len) return -1;                                                 \
      combine((unsigned char *)Y + elements_offset(counter, k, p) * (ptrdiff_t)elem_size,       \
              (const unsigned char *)U + i * elem_size, elem_size, reduction, dtype);           \
      advance(counter, p->dims, p->rank);                                                       \
    }                                                                                           \
    return 0;                                                                                   \
  }
TINYC_DEFINE_ELEMENTS(i64, int64_t)
TINYC_DEFINE_ELEMENTS(i32, int32_t)

/* Element offset of the slice named by tuple t (k indices) into dims, or -1. */
static ptrdiff_t nd_offset(const int64_t *t, const int32_t *dims, int32_t k, int32_t slice) {
  ptrdiff_t off = 0;
  int32_t j;
  for (j = 0; j < k; ++j) {
    int64_t v = t[j];
    if (v < 0) v += dims[j];
    if (v < 0 || v >= dims[j]) return -1;
    off = off * dims[j] + (ptrdiff_t)v;
  }
  return off * slice;
}

int tinyc_gather_nd(const void *X, const int64_t *idx, void *Y, size_t elem_size,
                    const int32_t *x_dims, int32_t batch_dims, int32_t k, int32_t batch,
                    int32_t n_idx, int32_t slice) {
  const size_t row = (size_t)slice * elem_size;
  size_t batch_size = (size_t)slice;
  int32_t b, i, j;
  for (j = 0; j < k; ++j) batch_size *= (size_t)x_dims[batch_dims + j];
  for (b = 0; b < batch; ++b) {
    for (i = 0; i < n_idx; ++i) {
      const size_t t = (size_t)b * n_idx + i;
      const ptrdiff_t off = nd_offset(idx + t * (size_t)k, x_dims + batch_dims, k, slice);
      if (off < 0) return -1;
      memcpy((unsigned char *)Y + t * row,
             (const unsigned char *)X + ((size_t)b * batch_size + (size_t)off) * elem_size, row);
    }
  }
  return 0;
}

int tinyc_scatter_nd(void *Y, const int64_t *idx, const void *U, size_t elem_size,
                     const int32_t *y_dims, int32_t k, int32_t n_idx, int32_t slice,
                     int32_t reduction, int32_t dtype) {
  int32_t i, e;
  for (i = 0; i < n_idx; ++i) {
    const ptrdiff_t off = nd_offset(idx + (size_t)i * (size_t)k, y_dims, k, slice);
    if (off < 0) return -1;
    for (e = 0; e < slice; ++e)
      combine((unsigned char *)Y + ((size_t)off + (size_t)e) * elem_size,
              (const unsigned char *)U + ((size_t)i * slice + (size_t)e) * elem_size, elem_size,
              reduction, dtype);
  }
  return 0;
}

void tinyc_onehot(const void *indices, int32_t idx_dtype, void *Y, const void *values,
                  size_t elem_size, int32_t outer, int32_t depth, int32_t inner) {
  const unsigned char *off = (const unsigned char *)values;
  const unsigned char *on = off + elem_size;
  int32_t o, d, i;
  for (o = 0; o < outer; ++o) {
    for (i = 0; i < inner; ++i) {
      int64_t k;
      if (!load_i64(indices, (size_t)o * inner + i, idx_dtype, &k)) k = -1 - (int64_t)depth;
      if (k < 0) k += depth;
      for (d = 0; d < depth; ++d)
        memcpy((unsigned char *)Y + (((size_t)o * depth + d) * inner + i) * elem_size,
               d == k ? on : off, elem_size);
    }
  }
}

int tinyc_check_scalar(const void *v, int32_t dtype, int64_t expect) {
  int64_t got;
  return load_i64(v, 0, dtype, &got) && got == expect ? 0 : -1;
}

int tinyc_tensor_scatter(void *Y, const void *U, const int64_t *write_idx, size_t elem_size,
                         int32_t batch, int32_t rows, int32_t max_len, int32_t seq,
                         int32_t inner, int32_t circular) {
  const size_t row = (size_t)inner * elem_size;
  int32_t b, r, s;
  for (b = 0; b < batch; ++b) {
    const int64_t start = write_idx ? write_idx[b] : 0;
    if (!circular && (start < 0 || start + seq > max_len)) return -1;
    if (circular && max_len == 0 && seq > 0) return -1;
  }
  for (b = 0; b < batch; ++b) {
    const int64_t start = write_idx ? write_idx[b] : 0;
    for (r = 0; r < rows; ++r) {
      const size_t block = (size_t)b * rows + r;
      for (s = 0; s < seq; ++s) {
        int64_t at = start + s;
        if (circular) {
          at %= max_len;
          if (at < 0) at += max_len;
        }
        memcpy((unsigned char *)Y + (block * (size_t)max_len + (size_t)at) * row,
               (const unsigned char *)U + (block * (size_t)seq + (size_t)s) * row, row);
      }
    }
  }
  return 0;
}
