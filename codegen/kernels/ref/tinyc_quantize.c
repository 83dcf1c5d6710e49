/* Portable reference quantize / dequantize kernels (float32 <-> 2/4/8/16-bit integers and
 * the float8 / float4 types). */
#include "tinyc_quantize.h"

#include "tinyc_lowp.h"
#include "tinyc_quantize_one.h"

#define TINYC_DEFINE_QUANTIZE(T, sfx, QMIN, QMAX)                                                \
  void tinyc_quantize_f32_##sfx(const float *X, const float *scale, const T *zero_point, T *Y,   \
                                int32_t outer, int32_t axis_len, int32_t inner) {                \
    int32_t o, a, i;                                                                             \
    size_t k = 0;                                                                                \
    for (o = 0; o < outer; ++o) {                                                                \
      for (a = 0; a < axis_len; ++a) {                                                           \
        const float s = scale[a];                                                                \
        const int32_t zp = zero_point ? (int32_t)zero_point[a] : 0;                              \
        for (i = 0; i < inner; ++i, ++k) {                                                       \
          Y[k] = (T)tinyc_quantize_one(X[k], s, zp, QMIN, QMAX);                                 \
        }                                                                                        \
      }                                                                                          \
    }                                                                                            \
  }
TINYC_DEFINE_QUANTIZE(int8_t, s8, -128, 127)
TINYC_DEFINE_QUANTIZE(uint8_t, u8, 0, 255)
TINYC_DEFINE_QUANTIZE(int16_t, s16, -32768, 32767)
TINYC_DEFINE_QUANTIZE(uint16_t, u16, 0, 65535)
TINYC_DEFINE_QUANTIZE(int8_t, s4, -8, 7)
TINYC_DEFINE_QUANTIZE(uint8_t, u4, 0, 15)
TINYC_DEFINE_QUANTIZE(int8_t, s2, -2, 1)
TINYC_DEFINE_QUANTIZE(uint8_t, u2, 0, 3)

#define TINYC_DEFINE_DEQUANTIZE(T, sfx)                                                          \
  void tinyc_dequantize_##sfx##_f32(const T *X, const float *scale, const T *zero_point,         \
                                    float *Y, int32_t outer, int32_t axis_len, int32_t inner) {  \
    int32_t o, a, i;                                                                             \
    size_t k = 0;                                                                                \
    for (o = 0; o < outer; ++o) {                                                                \
      for (a = 0; a < axis_len; ++a) {                                                           \
        const float s = scale[a];                                                                \
        const int64_t zp = zero_point ? (int64_t)zero_point[a] : 0;                              \
        for (i = 0; i < inner; ++i, ++k) Y[k] = (float)((int64_t)X[k] - zp) * s;                 \
      }                                                                                          \
    }                                                                                            \
  }
TINYC_DEQUANTIZE_TYPES(TINYC_DEFINE_DEQUANTIZE)

/* index of the parameter of element (o, a, i) in a blocked scale / zero point */
static size_t block_index(int32_t o, int32_t a, int32_t i, int32_t axis_len, int32_t inner,
                          int32_t block) {
  const size_t nblk = (size_t)((axis_len + block - 1) / block);
  return ((size_t)o * nblk + (size_t)(a / block)) * (size_t)inner + (size_t)i;
}

#define TINYC_DEFINE_QUANTIZE_BLOCKED(T, sfx, QMIN, QMAX)                                        \
  void tinyc_quantize_blocked_f32_##sfx(const float *X, const float *scale,                      \
                                        const T *zero_point, T *Y, int32_t outer,                \
                                        int32_t axis_len, int32_t inner, int32_t block) {        \
    int32_t o, a, i;                                                                             \
    size_t k = 0;                                                                                \
    for (o = 0; o < outer; ++o) {                                                                \
      for (a = 0; a < axis_len; ++a) {                                                           \
        for (i = 0; i < inner; ++i, ++k) {                                                       \
          const size_t j = block_index(o, a, i, axis_len, inner, block);                         \
          const int32_t zp = zero_point ? (int32_t)zero_point[j] : 0;                            \
          Y[k] = (T)tinyc_quantize_one(X[k], scale[j], zp, QMIN, QMAX);                          \
        }                                                                                        \
      }                                                                                          \
    }                                                                                            \
  }
TINYC_DEFINE_QUANTIZE_BLOCKED(int8_t, s8, -128, 127)
TINYC_DEFINE_QUANTIZE_BLOCKED(uint8_t, u8, 0, 255)
TINYC_DEFINE_QUANTIZE_BLOCKED(int16_t, s16, -32768, 32767)
TINYC_DEFINE_QUANTIZE_BLOCKED(uint16_t, u16, 0, 65535)
TINYC_DEFINE_QUANTIZE_BLOCKED(int8_t, s4, -8, 7)
TINYC_DEFINE_QUANTIZE_BLOCKED(uint8_t, u4, 0, 15)
TINYC_DEFINE_QUANTIZE_BLOCKED(int8_t, s2, -2, 1)
TINYC_DEFINE_QUANTIZE_BLOCKED(uint8_t, u2, 0, 3)

#define TINYC_DEFINE_DEQUANTIZE_BLOCKED(T, sfx)                                                  \
  void tinyc_dequantize_blocked_##sfx##_f32(const T *X, const float *scale,                      \
                                            const T *zero_point, float *Y, int32_t outer,        \
                                            int32_t axis_len, int32_t inner, int32_t block) {    \
    int32_t o, a, i;                                                                             \
    size_t k = 0;                                                                                \
    for (o = 0; o < outer; ++o) {                                                                \
      for (a = 0; a < axis_len; ++a) {                                                           \
        for (i = 0; i < inner; ++i, ++k) {                                                       \
          const size_t j = block_index(o, a, i, axis_len, inner, block);                         \
          const int64_t zp = zero_point ? (int64_t)zero_point[j] : 0;                            \
          Y[k] = (float)((int64_t)X[k] - zp) * scale[j];                                         \
        }                                                                                        \
      }                                                                                          \
    }                                                                                            \
  }
TINYC_DEQUANTIZE_TYPES(TINYC_DEFINE_DEQUANTIZE_BLOCKED)

/* float8 / float4: whether QuantizeLinear adds the zero point (float4 only, see the header);
 * DequantizeLinear never reads it */
#define TINYC_QZP_f8e4m3fn 0
#define TINYC_QZP_f8e4m3fnuz 0
#define TINYC_QZP_f8e5m2 0
#define TINYC_QZP_f8e5m2fnuz 0
#define TINYC_QZP_f4e2m1 1

#define TINYC_DEFINE_QUANTIZE_FLOAT(sfx)                                                         \
  static float zp_##sfx(const uint8_t *zero_point, size_t j) {                                   \
    return (TINYC_QZP_##sfx && zero_point) ? tinyc_##sfx##_to_f32(zero_point[j]) : 0.0f;         \
  }                                                                                              \
  static uint8_t q_##sfx(float x, float s, float zp, int saturate) {                             \
    float v = x / s;                                                                             \
    if (TINYC_QZP_##sfx) v += zp;                                                                \
    return tinyc_f32_to_##sfx(v, saturate);                                                      \
  }                                                                                              \
  static float dq_##sfx(uint8_t x, float s) { return tinyc_##sfx##_to_f32(x) * s; }            \
  void tinyc_quantize_f32_##sfx(const float *X, const float *scale, const uint8_t *zero_point,   \
                                uint8_t *Y, int32_t outer, int32_t axis_len, int32_t inner,      \
                                int saturate) {                                                  \
    int32_t o, a, i;                                                                             \
    size_t k = 0;                                                                                \
    for (o = 0; o < outer; ++o) {                                                                \
      for (a = 0; a < axis_len; ++a) {                                                           \
        const float zp = zp_##sfx(zero_point, (size_t)a);                                        \
        for (i = 0; i < inner; ++i, ++k) Y[k] = q_##sfx(X[k], scale[a], zp, saturate);           \
      }                                                                                          \
    }                                                                                            \
  }                                                                                              \
  void tinyc_quantize_blocked_f32_##sfx(const float *X, const float *scale,                      \
                                        const uint8_t *zero_point, uint8_t *Y, int32_t outer,    \
                                        int32_t axis_len, int32_t inner, int32_t block,          \
                                        int saturate) {                                          \
    int32_t o, a, i;                                                                             \
    size_t k = 0;                                                                                \
    for (o = 0; o < outer; ++o) {                                                                \
      for (a = 0; a < axis_len; ++a) {                                                           \
        for (i = 0; i < inner; ++i, ++k) {                                                       \
          const size_t j = block_index(o, a, i, axis_len, inner, block);                         \
          Y[k] = q_##sfx(X[k], scale[j], zp_##sfx(zero_point, j), saturate);                     \
        }                                                                                        \
      }                                                                                          \
    }                                                                                            \
  }                                                                                              \
  void tinyc_dequantize_##sfx##_f32(const uint8_t *X, const float *scale,                        \
                                    const uint8_t *zero_point, float *Y, int32_t outer,          \
                                    int32_t axis_len, int32_t inner) {                           \
    int32_t o, a, i;                                                                             \
    size_t k = 0;                                                                                \
    (void)zero_point;                                                                            \
    for (o = 0; o < outer; ++o) {                                                                \
      for (a = 0; a < axis_len; ++a) {                                                           \
        for (i = 0; i < inner; ++i, ++k) Y[k] = dq_##sfx(X[k], scale[a]);                        \
      }                                                                                          \
    }                                                                                            \
  }                                                                                              \
  void tinyc_dequantize_blocked_##sfx##_f32(const uint8_t *X, const float *scale,                \
                                            const uint8_t *zero_point, float *Y, int32_t outer,  \
                                            int32_t axis_len, int32_t inner, int32_t block) {    \
    int32_t o, a, i;                                                                             \
    size_t k = 0;                                                                                \
    (void)zero_point;                                                                            \
    for (o = 0; o < outer; ++o) {                                                                \
      for (a = 0; a < axis_len; ++a) {                                                           \
        for (i = 0; i < inner; ++i, ++k) {                                                       \
          const size_t j = block_index(o, a, i, axis_len, inner, block);                         \
          Y[k] = dq_##sfx(X[k], scale[j]);                                                       \
        }                                                                                        \
      }                                                                                          \
    }                                                                                            \
  }
TINYC_QUANTIZE_FLOAT_TYPES(TINYC_DEFINE_QUANTIZE_FLOAT)

void tinyc_dynamic_quantize_f32_u8(const float *X, uint8_t *Y, float *scale,
                                   uint8_t *zero_point, size_t n) {
  float lo = 0.0f, hi = 0.0f, s, izp;
  int32_t zp;
  size_t i;
  for (i = 0; i < n; ++i) {
    if (X[i] < lo) lo = X[i];
    if (X[i] > hi) hi = X[i];
  }
  s = (hi == lo ? 1.0f : hi - lo) / 255.0f;
  izp = 0.0f - lo / s;
  izp = izp < 0.0f ? 0.0f : (izp > 255.0f ? 255.0f : izp);
  zp = tinyc_quantize_one(izp, 1.0f, 0, 0, 255);
  *scale = s;
  *zero_point = (uint8_t)zp;
  for (i = 0; i < n; ++i) Y[i] = (uint8_t)tinyc_quantize_one(X[i], s, zp, 0, 255);
}
