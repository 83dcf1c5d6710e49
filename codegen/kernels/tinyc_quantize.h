/* Float <-> quantized boundaries: ONNX QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear.
 *
 * Tensors are viewed as [outer, axis_len, inner]; parameter j applies to axis index j
 * (per-tensor parameters: outer = axis_len = 1). Scales and zero points are pointers because
 * ONNX allows them to be run-time tensors; a NULL zero point means 0.
 *
 * Quantize: Y = saturate(round_half_even(X / scale) + zero_point), computed in float32
 * (`X / scale` is one IEEE division), NaN quantizes to the zero point. Dequantize:
 * Y = (float)(X - zero_point) * scale. Both match tinyc/quant/params.py bit for bit.
 *
 * The 4- and 2-bit integers (s4, u4, s2, u2) are held one value per byte (tinyc_lowp.h) and
 * use the integer forms with their own ranges. The float8 and float4 quantized types
 * (f8e4m3fn, f8e4m3fnuz, f8e5m2, f8e5m2fnuz, f4e2m1, bits in uint8_t) take
 * Y = cast(X / scale) with Cast's rounding and `saturate`, and dequantize as
 * Y = (float)X * scale. As in the ONNX reference, the float8 zero point (which must be 0) is
 * not read; the float4 one is added after the division by QuantizeLinear only. The
 * dequantize forms keep the zero point parameter for a uniform signature and ignore it. */
#ifndef TINYC_QUANTIZE_H
#define TINYC_QUANTIZE_H

#include "tinyc_rt.h"

#define TINYC_QUANTIZE_TYPES(X)                                                        \
  X(int8_t, s8) X(uint8_t, u8) X(int16_t, s16) X(uint16_t, u16) X(int8_t, s4) X(uint8_t, u4) \
  X(int8_t, s2) X(uint8_t, u2)

#define TINYC_DECLARE_QUANTIZE(T, sfx)                                                        \
  void tinyc_quantize_f32_##sfx(const float *X, const float *scale, const T *zero_point, T *Y, \
                                int32_t outer, int32_t axis_len, int32_t inner);
TINYC_QUANTIZE_TYPES(TINYC_DECLARE_QUANTIZE)

#define TINYC_DEQUANTIZE_TYPES(X) TINYC_QUANTIZE_TYPES(X) X(int32_t, s32)
#define TINYC_DECLARE_DEQUANTIZE(T, sfx)                                                        \
  void tinyc_dequantize_##sfx##_f32(const T *X, const float *scale, const T *zero_point, float *Y, \
                                    int32_t outer, int32_t axis_len, int32_t inner);
TINYC_DEQUANTIZE_TYPES(TINYC_DECLARE_DEQUANTIZE)

/* Blocked quantization (opset 21): scale and zero_point are [outer, ceil(axis_len / block),
 * inner] and element (o, a, i) uses entry (o, a / block, i). */
#define TINYC_DECLARE_QUANTIZE_BLOCKED(T, sfx)                                              \
  void tinyc_quantize_blocked_f32_##sfx(const float *X, const float *scale,                \
                                        const T *zero_point, T *Y, int32_t outer,          \
                                        int32_t axis_len, int32_t inner, int32_t block);
TINYC_QUANTIZE_TYPES(TINYC_DECLARE_QUANTIZE_BLOCKED)
#define TINYC_DECLARE_DEQUANTIZE_BLOCKED(T, sfx)                                            \
  void tinyc_dequantize_blocked_##sfx##_f32(const T *X, const float *scale,                \
                                            const T *zero_point, float *Y, int32_t outer,  \
                                            int32_t axis_len, int32_t inner, int32_t block);
TINYC_DEQUANTIZE_TYPES(TINYC_DECLARE_DEQUANTIZE_BLOCKED)

#define TINYC_QUANTIZE_FLOAT_TYPES(X) \
  X(f8e4m3fn) X(f8e4m3fnuz) X(f8e5m2) X(f8e5m2fnuz) X(f4e2m1)
#define TINYC_DECLARE_QUANTIZE_FLOAT(sfx)                                                      \
  void tinyc_quantize_f32_##sfx(const float *X, const float *scale, const uint8_t *zero_point,  \
                                uint8_t *Y, int32_t outer, int32_t axis_len, int32_t inner,     \
                                int saturate);                                                 \
  void tinyc_quantize_blocked_f32_##sfx(const float *X, const float *scale,                    \
                                        const uint8_t *zero_point, uint8_t *Y, int32_t outer,  \
                                        int32_t axis_len, int32_t inner, int32_t block,        \
                                        int saturate);                                         \
  void tinyc_dequantize_##sfx##_f32(const uint8_t *X, const float *scale,                      \
                                    const uint8_t *zero_point, float *Y, int32_t outer,        \
                                    int32_t axis_len, int32_t inner);                          \
  void tinyc_dequantize_blocked_##sfx##_f32(const uint8_t *X, const float *scale,              \
                                            const uint8_t *zero_point, float *Y, int32_t outer, \
                                            int32_t axis_len, int32_t inner, int32_t block);
TINYC_QUANTIZE_FLOAT_TYPES(TINYC_DECLARE_QUANTIZE_FLOAT)

/* ONNX DynamicQuantizeLinear: uint8 over [min(X, 0), max(X, 0)]; writes Y[n], *scale and
 * *zero_point. */
void tinyc_dynamic_quantize_f32_u8(const float *X, uint8_t *Y, float *scale,
                                   uint8_t *zero_point, size_t n);

#endif /* TINYC_QUANTIZE_H */
