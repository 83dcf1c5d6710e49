/* Bitwise kernels on the integer types i8/u8 ... i64/u64 (tinyc_scalar.h suffixes):
 *   tinyc_bitwise_and/or/xor_<sfx>(A, B, Y, bc), tinyc_bitwise_not_<sfx>(X, Y, n);
 *   tinyc_shift_left/right_<sfx>(A, B, Y, bc): A shifted by B bits. A shift that is negative
 *     or not below the bit width gives 0 (right shift of a negative signed value: -1);
 *     signed right shifts are arithmetic, signed left shifts wrap (ONNX BitShift, numpy). */
#ifndef TINYC_BITWISE_H
#define TINYC_BITWISE_H

#include "tinyc_bcast.h"
#include "tinyc_rt.h"
#include "tinyc_scalar.h"

#define TINYC_BITWISE_OPS(X, T, sfx)                                                \
  X(bitwise_and, T, sfx) X(bitwise_or, T, sfx) X(bitwise_xor, T, sfx)              \
  X(shift_left, T, sfx) X(shift_right, T, sfx)
#define TINYC_DECLARE_BITWISE(arg, T, sfx)                    \
  TINYC_BITWISE_OPS(TINYC_DECLARE_BINARY, T, sfx)             \
  void tinyc_bitwise_not_##sfx(const T *X, T *Y, size_t n);
TINYC_INT_TYPES(TINYC_DECLARE_BITWISE, _)

#endif /* TINYC_BITWISE_H */
