/* Fixed-point requantization of a 64-bit accumulator (int16x8 layers).
 *
 * tinyc_mbqm64(x, q, shift) is tinyc_mbqm's rule, saturate_int32((x * q + 2^(30 - shift))
 * >> (31 - shift)), for an int64 accumulator |x| < 2^47 and shift <= 15, computed exactly
 * in int64 by splitting x = hi * 2^16 + lo (0 <= lo < 2^16):
 *
 *   floor((x q + r) / 2^t) = floor((hi q + floor((lo q + r) / 2^16)) / 2^(t - 16))
 *
 * |hi q| < 2^62 and lo q + r < 2^62, so nothing overflows. This is bit-for-bit
 * tinyc/quant/fixedpoint.py's `multiply_by_quantized_multiplier` on such an accumulator;
 * the compiler proves |x| < 2^47 per layer (tinyc/ops/qinteger.py, `wide_acc_bound`). */
#ifndef TINYC_FIXEDPOINT64_H
#define TINYC_FIXEDPOINT64_H

#include <stdint.h>

#include "tinyc_fixedpoint.h"

TINYC_INLINE int32_t tinyc_mbqm64(int64_t x, int32_t q, int32_t shift) {
  const int32_t total = 31 - shift;
  const int64_t hi = x >> 16;
  const int64_t lo = x - hi * 65536;
  int64_t r;
  TINYC_DCHECK(q >= 0 && shift >= -31 && shift <= 15);
  r = hi * q + ((lo * q + ((int64_t)1 << (total - 1))) >> 16);
  r >>= total - 16;
  if (r > INT32_MAX) r = INT32_MAX;
  if (r < INT32_MIN) r = INT32_MIN;
  return (int32_t)r;
}

/* int64 accumulator -> int16: clamp(tinyc_mbqm64(acc) + zp, act_min, act_max). */
TINYC_INLINE int16_t tinyc_requantize64_one_s16(int64_t acc, int32_t q, int32_t shift, int32_t zp,
                                            int32_t act_min, int32_t act_max) {
  int32_t v = tinyc_mbqm64(acc, q, shift);
  const int32_t lo = act_min - zp, hi = act_max - zp;
  v = v < lo ? lo : (v > hi ? hi : v);
  return (int16_t)(v + zp);
}

/* int32 accumulator -> int16: tinyc_mbqm's rule, then the clamp. */
TINYC_INLINE int16_t tinyc_requantize_one_s16(int32_t acc, int32_t q, int32_t shift, int32_t zp,
                                          int32_t act_min, int32_t act_max) {
  int32_t v = tinyc_mbqm(acc, q, shift);
  const int32_t lo = act_min - zp, hi = act_max - zp;
  v = v < lo ? lo : (v > hi ? hi : v);
  return (int16_t)(v + zp);
}

#endif /* TINYC_FIXEDPOINT64_H */
