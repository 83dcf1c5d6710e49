/* onnxruntime's float32 arithmetic for its quantized kernels (tinyc/quant/semantics.py,
 * `onnxruntime` semantics): the rules the integer kernels follow for models whose
 * quantization comes from an ONNX file. Header-only C99; float32 without excess precision
 * (FLT_EVAL_METHOD 0). The plain requantization (acc times a float32 scale) is
 * tinyc_mbqm's TINYC_FLOAT_SHIFT form in tinyc_fixedpoint.h. */
#ifndef TINYC_ONNXRUNTIME_H
#define TINYC_ONNXRUNTIME_H
#include <stdint.h>
#include "tinyc_rt.h"
#include "tinyc_fixedpoint.h"

/* float32 x*y + z rounded once. The Cortex-M4's FPU has VFMA; elsewhere x*y is exact in
 * double, s = x*y + z is computed with its exact error e (TwoSum), and only a double s lying
 * exactly halfway between two floats with e != 0 rounds the wrong way: then e decides. */
TINYC_INLINE float tinyc_fmaf(float x, float y, float z) {
#if defined(__ARM_FEATURE_FMA) && defined(__ARM_FP)
  return __builtin_fmaf(x, y, z);
#else
  const double p = (double)x * (double)y, zz = (double)z, s = p + zz, bb = s - p;
  const double e = (p - (s - bb)) + (zz - bb);
  float r = (float)s;
  if (e != 0.0 && (double)r != s && r != 0.0f) {
    union { float f; int32_t i; } o;
    o.f = r;
    o.i += (s > (double)r) == (r > 0.0f) ? 1 : -1; /* the neighbour on s's side */
    if (s == ((double)r + (double)o.f) * 0.5 && (e > 0.0) == ((double)o.f > (double)r)) r = o.f;
  }
  return r;
#endif
}

/* onnxruntime's QLinearAdd on raw codes a (its first operand), b: rint(fma(a, r_a,
 * fma(b, r_b, k))), k = zp_y - (r_a zp_a + r_b zp_b) folded at compile time; zero point
 * included. The constants arrive as float32 bits. */
TINYC_INLINE int32_t tinyc_add_onnxruntime(int32_t a, int32_t b, int32_t ra, int32_t rb,
                                           int32_t k) {
  const float t = tinyc_fmaf((float)b, tinyc_float_of_bits(rb), tinyc_float_of_bits(k));
  return tinyc_rint_clamped(tinyc_fmaf((float)a, tinyc_float_of_bits(ra), t));
}

/* onnxruntime's QLinearMul: rint(float(prod) * scale + zp), prod = (a - zp_a)(b - zp_b)
 * (two float32 roundings, no FMA); zero point included. */
TINYC_INLINE int32_t tinyc_mul_onnxruntime(int32_t prod, int32_t scale, int32_t zp) {
  const float v = (float)prod * tinyc_float_of_bits(scale);
  return tinyc_rint_clamped(v + (float)zp);
}

/* QLinearAveragePool: each tap dequantized in float32, s_x * (x - zp_x), summed in window
 * order (rows, then columns; padding skipped), divided by the count, by s_y, plus zp_y,
 * rounded to nearest even; clamped to [lo, hi]. zp_y is onnxruntime's (off = 128 more than
 * tinyc's for a uint8 model, and taken off again). One plane per n*c, no dilation. */
TINYC_INLINE void tinyc_avgpool2d_onnxruntime(const int8_t *X, int8_t *Y, int32_t nc,
                                              int32_t h, int32_t w, int32_t oh, int32_t ow,
                                              int32_t kh, int32_t kw, int32_t stride_h,
                                              int32_t stride_w, int32_t pad_top,
                                              int32_t pad_left, int32_t count_include_pad,
                                              int32_t zx, float sx, float sy, int32_t zy,
                                              int32_t off, int32_t lo, int32_t hi) {
  int32_t t, oy, ox, iy, ix;
  for (t = 0; t < nc; ++t) {
    const int8_t *x = X + (size_t)t * h * w;
    int8_t *y = Y + (size_t)t * oh * ow;
    for (oy = 0; oy < oh; ++oy) {
      const int32_t y0 = oy * stride_h - pad_top, y1 = y0 + kh < h ? y0 + kh : h;
      for (ox = 0; ox < ow; ++ox) {
        const int32_t x0 = ox * stride_w - pad_left, x1 = x0 + kw < w ? x0 + kw : w;
        float sum = 0.0f;
        int32_t count, v;
        for (iy = y0 > 0 ? y0 : 0; iy < y1; ++iy) {
          for (ix = x0 > 0 ? x0 : 0; ix < x1; ++ix) {
            sum += sx * (float)((int32_t)x[(size_t)iy * w + ix] - zx);
          }
        }
        count = count_include_pad ? kh * kw : (y1 - (y0 > 0 ? y0 : 0)) * (x1 - (x0 > 0 ? x0 : 0));
        v = tinyc_rint_clamped(sum / (float)count / sy + (float)zy) - off;
        y[(size_t)oy * ow + ox] = (int8_t)(v < lo ? lo : (v > hi ? hi : v));
      }
    }
  }
}

/* QLinearSoftmax's output before the zero point: rint(e * factor / sum) with e and sum
 * float32 (the table entry and the row's float32 sum) and the quotient in double, which
 * 2^52 + 2^51 added and taken away rounds to nearest even (|value| <= factor <= 2^31). */
TINYC_INLINE int32_t tinyc_softmax_onnxruntime(float e, float sum, float factor) {
  const double big = 6755399441055744.0;
  const double v = (double)e * (double)factor / (double)sum;
  return (int32_t)((v + big) - big);
}

#endif /* TINYC_ONNXRUNTIME_H */
