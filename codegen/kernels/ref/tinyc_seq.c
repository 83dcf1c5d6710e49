/* Portable Range and CumSum. Integer arithmetic runs in the unsigned type of the same width,
 * so wrapping is defined; the conversion back is the usual two's complement one. */
#include "tinyc_seq.h"

#include "tinyc_f16.h"

/* ONNX Range length in exact int64 arithmetic; -1 when it cannot be represented. */
static int64_t range_count_int(int64_t start, int64_t limit, int64_t delta) {
  const int64_t big = INT64_C(1) << 61;
  int64_t span;
  if (delta == 0 || start > big || start < -big || limit > big || limit < -big) return -1;
  span = limit - start;
  if (delta > 0) return span > 0 ? (span + delta - 1) / delta : 0;
  if (delta < -big) return span < 0 ? 1 : 0;
  return span < 0 ? (-span - delta - 1) / -delta : 0;
}

static int64_t range_count_float(double start, double limit, double delta) {
  double q;
  int64_t n;
  if (!(delta != 0.0)) return -1;
  q = (limit - start) / delta;
  if (!(q < 2147483647.0)) return -1; /* also NaN */
  if (q <= 0.0) return 0;
  n = (int64_t)q;
  return (double)n < q ? n + 1 : n;
}

#define TINYC_DEFINE_RANGE_FLOAT(sfx, T)                                                   \
  int tinyc_range_##sfx(const T *start, const T *limit, const T *delta, T *Y, int32_t n) { \
    int32_t i;                                                                             \
    if (range_count_float(*start, *limit, *delta) != n) return -1;                         \
    for (i = 0; i < n; ++i) Y[i] = *start + (T)i * *delta;                                 \
    return 0;                                                                              \
  }
#define TINYC_DEFINE_RANGE_INT(sfx, T, U)                                                  \
  int tinyc_range_##sfx(const T *start, const T *limit, const T *delta, T *Y, int32_t n) { \
    int32_t i;                                                                             \
    if (range_count_int(*start, *limit, *delta) != n) return -1;                           \
    for (i = 0; i < n; ++i) Y[i] = (T)((U)*start + (U)i * (U)*delta);                      \
    return 0;                                                                              \
  }
TINYC_DEFINE_RANGE_FLOAT(f32, float)
TINYC_DEFINE_RANGE_FLOAT(f64, double)
TINYC_DEFINE_RANGE_INT(i16, int16_t, uint32_t)
TINYC_DEFINE_RANGE_INT(i32, int32_t, uint32_t)
TINYC_DEFINE_RANGE_INT(i64, int64_t, uint64_t)

int tinyc_range_f16(const uint16_t *start, const uint16_t *limit, const uint16_t *delta,
                    uint16_t *Y, int32_t n) {
  const float s = tinyc_f16_to_f32(*start), d = tinyc_f16_to_f32(*delta);
  int32_t i;
  if (range_count_float(s, tinyc_f16_to_f32(*limit), d) != n) return -1;
  for (i = 0; i < n; ++i) Y[i] = tinyc_f32_to_f16(s + (float)i * d);
  return 0;
}

/* Running sum or product: `init` is the identity, `combine` updates acc with v. */
#define TINYC_DEFINE_CUMULATIVE(op, sfx, T, A, init, combine)                               \
  int tinyc_##op##_##sfx(const T *X, T *Y, const int32_t *dims, int32_t rank, int64_t axis, \
                         int32_t exclusive, int32_t reverse) {                              \
    size_t outer = 1, inner = 1, o, i;                                                      \
    int32_t len, k, d;                                                                      \
    if (axis < 0) axis += rank;                                                             \
    if (axis < 0 || axis >= rank) return -1;                                                \
    for (d = 0; d < axis; ++d) outer *= (size_t)dims[d];                                    \
    for (d = (int32_t)axis + 1; d < rank; ++d) inner *= (size_t)dims[d];                    \
    len = dims[axis];                                                                       \
    for (o = 0; o < outer; ++o) {                                                           \
      for (i = 0; i < inner; ++i) {                                                         \
        const size_t base = o * (size_t)len * inner + i;                                    \
        A acc = init;                                                                       \
        for (k = 0; k < len; ++k) {                                                         \
          const size_t at = base + (size_t)(reverse ? len - 1 - k : k) * inner;             \
          const A v = (A)X[at];                                                             \
          if (exclusive) {                                                                  \
            Y[at] = (T)acc;                                                                 \
            combine;                                                                        \
          } else {                                                                          \
            combine;                                                                        \
            Y[at] = (T)acc;                                                                 \
          }                                                                                 \
        }                                                                                   \
      }                                                                                     \
    }                                                                                       \
    return 0;                                                                               \
  }
#define TINYC_DEFINE_CUMSUM(op, sfx, T, A) TINYC_DEFINE_CUMULATIVE(op, sfx, T, A, 0, acc += v)
#define TINYC_DEFINE_CUMPROD(op, sfx, T, A) TINYC_DEFINE_CUMULATIVE(op, sfx, T, A, 1, acc *= v)
TINYC_CUMULATIVE_TYPES(TINYC_DEFINE_CUMSUM, cumsum)
TINYC_CUMULATIVE_TYPES(TINYC_DEFINE_CUMPROD, cumprod)
