/* Scalar semantics of the elementwise kernel families, as macros that a family's .c file
 * instantiates for its element types (tinyc_elementwise*.c, tinyc_logic.c, tinyc_reduce.c).
 *
 * Element types and suffixes: f32 (float), f64 (double), f16 (uint16_t holding IEEE half
 * bits, computed in float, see tinyc_f16.h), i8/u8 ... i64/u64 (int8_t ... uint64_t); bool
 * tensors are u8 holding 0 or 1.
 *
 * Per type suffix: TINYC_CT_ is the compute type, TINYC_LD_/TINYC_ST_ load an element into
 * it and store it back, TINYC_SC_ names the suffix of its scalar functions (f16 computes
 * with the float32 ones). TINYC_SFN(op, sfx) is the scalar function of `op` for a type.
 *
 * Integer semantics follow numpy without C undefined behaviour: add, sub, mul and neg wrap
 * (computed in a wide unsigned type); x / 0, x % 0 and x % -1 give 0; INT_MIN / -1 wraps to
 * INT_MIN. Float min/max propagate NaN. Defining the float scalars needs <math.h>. */
#ifndef TINYC_SCALAR_H
#define TINYC_SCALAR_H

#include "tinyc_bcast.h"
#include "tinyc_f16.h"
#include "tinyc_rt.h"

/* -- type lists: X(arg, C type, suffix) -------------------------------------------------- */
#define TINYC_SINT_TYPES(X, arg) \
  X(arg, int8_t, i8) X(arg, int16_t, i16) X(arg, int32_t, i32) X(arg, int64_t, i64)
#define TINYC_UINT_TYPES(X, arg) \
  X(arg, uint8_t, u8) X(arg, uint16_t, u16) X(arg, uint32_t, u32) X(arg, uint64_t, u64)
#define TINYC_INT_TYPES(X, arg) TINYC_SINT_TYPES(X, arg) TINYC_UINT_TYPES(X, arg)
#define TINYC_FLOAT_TYPES(X, arg) X(arg, float, f32) X(arg, double, f64) X(arg, uint16_t, f16)
#define TINYC_NUM_TYPES(X, arg) TINYC_FLOAT_TYPES(X, arg) TINYC_INT_TYPES(X, arg)

/* -- op lists: X(op, C type, suffix) ----------------------------------------------------- */
/* unary float math, Y[i] = op(X[i]) */
#define TINYC_UNARY_FLOAT_OPS(X, T, sfx)                                                \
  X(tanh, T, sfx) X(exp, T, sfx) X(log, T, sfx) X(sqrt, T, sfx) X(reciprocal, T, sfx)  \
  X(floor, T, sfx) X(ceil, T, sfx) X(round, T, sfx) X(erf, T, sfx) X(sin, T, sfx)      \
  X(cos, T, sfx) X(tan, T, sfx) X(asin, T, sfx) X(acos, T, sfx) X(atan, T, sfx)        \
  X(sinh, T, sfx) X(cosh, T, sfx) X(asinh, T, sfx) X(acosh, T, sfx) X(atanh, T, sfx)   \
  X(softplus, T, sfx) X(softsign, T, sfx) X(gelu, T, sfx) X(gelu_tanh, T, sfx)         \
  X(mish, T, sfx) X(sigmoid, T, sfx) X(relu, T, sfx)
/* unary on every numeric type */
#define TINYC_UNARY_NUM_OPS(X, T, sfx) X(neg, T, sfx) X(abs, T, sfx) X(sign, T, sfx)
/* unary float ops with two constants (a, b):
 *   elu (alpha), selu (alpha, gamma), celu (alpha), thresholded_relu (alpha),
 *   shrink (bias, lambd), swish (alpha), leaky_relu (alpha), hard_sigmoid (alpha, beta),
 *   hard_swish, clip (min, max) */
#define TINYC_UNARY_PARAM_OPS(X, T, sfx)                                            \
  X(elu, T, sfx) X(selu, T, sfx) X(celu, T, sfx) X(thresholded_relu, T, sfx)       \
  X(shrink, T, sfx) X(swish, T, sfx) X(leaky_relu, T, sfx) X(hard_sigmoid, T, sfx) \
  X(hard_swish, T, sfx) X(clip, T, sfx)
/* broadcasting binary ops on every numeric type:
 *   add sub mul div: numpy arithmetic (integer division truncates toward zero, as C does);
 *   mod: numpy mod, the sign of B (ONNX Mod fmod=0); fmod: C fmod, the sign of A;
 *   min max */
#define TINYC_BINARY_OPS(X, T, sfx)                                                    \
  X(add, T, sfx) X(sub, T, sfx) X(mul, T, sfx) X(div, T, sfx) X(mod, T, sfx)          \
  X(fmod, T, sfx) X(min, T, sfx) X(max, T, sfx)
/* comparisons, output bool (greater and greater_equal swap the operands) */
#define TINYC_COMPARE_OPS(X, T, sfx) X(equal, T, sfx) X(less, T, sfx) X(less_equal, T, sfx)

/* -- per type suffix: compute type, load, store, scalar-function suffix ------------------ */
#define TINYC_IDENTITY(x) (x)
#define TINYC_CT_f32 float
#define TINYC_LD_f32 TINYC_IDENTITY
#define TINYC_ST_f32 TINYC_IDENTITY
#define TINYC_SC_f32 f32
#define TINYC_CT_f64 double
#define TINYC_LD_f64 TINYC_IDENTITY
#define TINYC_ST_f64 TINYC_IDENTITY
#define TINYC_SC_f64 f64
#define TINYC_CT_f16 float
#define TINYC_LD_f16(x) tinyc_f16_to_f32(x)
#define TINYC_ST_f16(x) tinyc_f32_to_f16(x)
#define TINYC_SC_f16 f32
#define TINYC_CT_i8 int8_t
#define TINYC_CT_u8 uint8_t
#define TINYC_CT_i16 int16_t
#define TINYC_CT_u16 uint16_t
#define TINYC_CT_i32 int32_t
#define TINYC_CT_u32 uint32_t
#define TINYC_CT_i64 int64_t
#define TINYC_CT_u64 uint64_t
#define TINYC_LD_i8 TINYC_IDENTITY
#define TINYC_LD_u8 TINYC_IDENTITY
#define TINYC_LD_i16 TINYC_IDENTITY
#define TINYC_LD_u16 TINYC_IDENTITY
#define TINYC_LD_i32 TINYC_IDENTITY
#define TINYC_LD_u32 TINYC_IDENTITY
#define TINYC_LD_i64 TINYC_IDENTITY
#define TINYC_LD_u64 TINYC_IDENTITY
#define TINYC_ST_i8 TINYC_IDENTITY
#define TINYC_ST_u8 TINYC_IDENTITY
#define TINYC_ST_i16 TINYC_IDENTITY
#define TINYC_ST_u16 TINYC_IDENTITY
#define TINYC_ST_i32 TINYC_IDENTITY
#define TINYC_ST_u32 TINYC_IDENTITY
#define TINYC_ST_i64 TINYC_IDENTITY
#define TINYC_ST_u64 TINYC_IDENTITY
#define TINYC_SC_i8 i8
#define TINYC_SC_u8 u8
#define TINYC_SC_i16 i16
#define TINYC_SC_u16 u16
#define TINYC_SC_i32 i32
#define TINYC_SC_u32 u32
#define TINYC_SC_i64 i64
#define TINYC_SC_u64 u64
/* the wide unsigned type in which integer arithmetic wraps */
#define TINYC_W_i8 uint32_t
#define TINYC_W_u8 uint32_t
#define TINYC_W_i16 uint32_t
#define TINYC_W_u16 uint32_t
#define TINYC_W_i32 uint32_t
#define TINYC_W_u32 uint32_t
#define TINYC_W_i64 uint64_t
#define TINYC_W_u64 uint64_t

#define TINYC_CAT3(a, b, c) a##b##c
#define TINYC_XCAT3(a, b, c) TINYC_CAT3(a, b, c)
#define TINYC_SFN(op, sfx) TINYC_XCAT3(tinyc_s_##op, _, TINYC_SC_##sfx)

/* -- float scalar functions (instantiate for f32 and f64 in a .c that includes math.h) --- */
#define TINYC_M_f32(fn) fn##f
#define TINYC_M_f64(fn) fn

#define TINYC_FLOAT_SCALARS(T, sfx)                                                           \
  TINYC_INLINE T tinyc_s_tanh_##sfx(T x) { return TINYC_M_##sfx(tanh)(x); }                  \
  TINYC_INLINE T tinyc_s_exp_##sfx(T x) { return TINYC_M_##sfx(exp)(x); }                    \
  TINYC_INLINE T tinyc_s_log_##sfx(T x) { return TINYC_M_##sfx(log)(x); }                    \
  TINYC_INLINE T tinyc_s_sqrt_##sfx(T x) { return TINYC_M_##sfx(sqrt)(x); }                  \
  TINYC_INLINE T tinyc_s_reciprocal_##sfx(T x) { return (T)1 / x; }                          \
  TINYC_INLINE T tinyc_s_floor_##sfx(T x) { return TINYC_M_##sfx(floor)(x); }                \
  TINYC_INLINE T tinyc_s_ceil_##sfx(T x) { return TINYC_M_##sfx(ceil)(x); }                  \
  /* ONNX Round is half to even: rint in the default rounding mode */                        \
  TINYC_INLINE T tinyc_s_round_##sfx(T x) { return TINYC_M_##sfx(rint)(x); }                 \
  TINYC_INLINE T tinyc_s_erf_##sfx(T x) { return TINYC_M_##sfx(erf)(x); }                    \
  TINYC_INLINE T tinyc_s_sin_##sfx(T x) { return TINYC_M_##sfx(sin)(x); }                    \
  TINYC_INLINE T tinyc_s_cos_##sfx(T x) { return TINYC_M_##sfx(cos)(x); }                    \
  TINYC_INLINE T tinyc_s_tan_##sfx(T x) { return TINYC_M_##sfx(tan)(x); }                    \
  TINYC_INLINE T tinyc_s_asin_##sfx(T x) { return TINYC_M_##sfx(asin)(x); }                  \
  TINYC_INLINE T tinyc_s_acos_##sfx(T x) { return TINYC_M_##sfx(acos)(x); }                  \
  TINYC_INLINE T tinyc_s_atan_##sfx(T x) { return TINYC_M_##sfx(atan)(x); }                  \
  TINYC_INLINE T tinyc_s_sinh_##sfx(T x) { return TINYC_M_##sfx(sinh)(x); }                  \
  TINYC_INLINE T tinyc_s_cosh_##sfx(T x) { return TINYC_M_##sfx(cosh)(x); }                  \
  TINYC_INLINE T tinyc_s_asinh_##sfx(T x) { return TINYC_M_##sfx(asinh)(x); }                \
  TINYC_INLINE T tinyc_s_acosh_##sfx(T x) { return TINYC_M_##sfx(acosh)(x); }                \
  TINYC_INLINE T tinyc_s_atanh_##sfx(T x) { return TINYC_M_##sfx(atanh)(x); }                \
  /* log(1 + exp(x)) without overflow */                                                     \
  TINYC_INLINE T tinyc_s_softplus_##sfx(T x) {                                               \
    return x > 0 ? x + TINYC_M_##sfx(log1p)(TINYC_M_##sfx(exp)(-x))                          \
                 : TINYC_M_##sfx(log1p)(TINYC_M_##sfx(exp)(x));                              \
  }                                                                                          \
  TINYC_INLINE T tinyc_s_softsign_##sfx(T x) { return x / ((T)1 + TINYC_M_##sfx(fabs)(x)); } \
  TINYC_INLINE T tinyc_s_gelu_##sfx(T x) {                                                   \
    return (T)0.5 * x * ((T)1 + TINYC_M_##sfx(erf)(x * (T)0.70710678118654752440));          \
  }                                                                                          \
  TINYC_INLINE T tinyc_s_gelu_tanh_##sfx(T x) {                                              \
    const T inner = (T)0.79788456080286535588 * (x + (T)0.044715 * x * x * x);               \
    return (T)0.5 * x * ((T)1 + TINYC_M_##sfx(tanh)(inner));                                 \
  }                                                                                          \
  TINYC_INLINE T tinyc_s_mish_##sfx(T x) {                                                   \
    return x * TINYC_M_##sfx(tanh)(tinyc_s_softplus_##sfx(x));                               \
  }                                                                                          \
  TINYC_INLINE T tinyc_s_sigmoid_##sfx(T x) {                                                \
    if (x >= 0) return (T)1 / ((T)1 + TINYC_M_##sfx(exp)(-x));                               \
    return TINYC_M_##sfx(exp)(x) / ((T)1 + TINYC_M_##sfx(exp)(x));                           \
  }                                                                                          \
  TINYC_INLINE T tinyc_s_relu_##sfx(T x) { return x < 0 ? (T)0 : x; }                        \
  TINYC_INLINE T tinyc_s_neg_##sfx(T x) { return -x; }                                       \
  TINYC_INLINE T tinyc_s_abs_##sfx(T x) { return TINYC_M_##sfx(fabs)(x); }                   \
  TINYC_INLINE T tinyc_s_sign_##sfx(T x) { return x > 0 ? (T)1 : (x < 0 ? (T)-1 : x); }      \
  TINYC_INLINE T tinyc_s_elu_##sfx(T x, T a, T b) {                                          \
    (void)b;                                                                                 \
    return x < 0 ? a * TINYC_M_##sfx(expm1)(x) : x;                                          \
  }                                                                                          \
  TINYC_INLINE T tinyc_s_selu_##sfx(T x, T a, T b) {                                         \
    return x <= 0 ? b * (a * TINYC_M_##sfx(exp)(x) - a) : b * x;                             \
  }                                                                                          \
  TINYC_INLINE T tinyc_s_celu_##sfx(T x, T a, T b) {                                         \
    const T neg = a * TINYC_M_##sfx(expm1)(x / a);                                           \
    (void)b;                                                                                 \
    return (x > 0 ? x : (T)0) + (neg < 0 ? neg : (T)0);                                      \
  }                                                                                          \
  TINYC_INLINE T tinyc_s_thresholded_relu_##sfx(T x, T a, T b) {                             \
    (void)b;                                                                                 \
    return x > a ? x : (T)0;                                                                 \
  }                                                                                          \
  TINYC_INLINE T tinyc_s_shrink_##sfx(T x, T a, T b) {                                       \
    return x < -b ? x + a : (x > b ? x - a : (T)0);                                          \
  }                                                                                          \
  TINYC_INLINE T tinyc_s_swish_##sfx(T x, T a, T b) {                                        \
    (void)b;                                                                                 \
    return x * tinyc_s_sigmoid_##sfx(a * x);                                                 \
  }                                                                                          \
  TINYC_INLINE T tinyc_s_leaky_relu_##sfx(T x, T a, T b) {                                   \
    (void)b;                                                                                 \
    return x < 0 ? a * x : x;                                                                \
  }                                                                                          \
  TINYC_INLINE T tinyc_s_hard_sigmoid_##sfx(T x, T a, T b) {                                 \
    const T v = a * x + b;                                                                   \
    return v < 0 ? (T)0 : (v > 1 ? (T)1 : v);                                                \
  }                                                                                          \
  TINYC_INLINE T tinyc_s_hard_swish_##sfx(T x, T a, T b) {                                   \
    (void)a;                                                                                 \
    (void)b;                                                                                 \
    return x * tinyc_s_hard_sigmoid_##sfx(x, (T)(1.0 / 6.0), (T)0.5);                        \
  }                                                                                          \
  TINYC_INLINE T tinyc_s_clip_##sfx(T x, T a, T b) { return x < a ? a : (x > b ? b : x); }   \
  TINYC_INLINE T tinyc_s_add_##sfx(T a, T b) { return a + b; }                               \
  TINYC_INLINE T tinyc_s_sub_##sfx(T a, T b) { return a - b; }                               \
  TINYC_INLINE T tinyc_s_mul_##sfx(T a, T b) { return a * b; }                               \
  TINYC_INLINE T tinyc_s_div_##sfx(T a, T b) { return a / b; }                               \
  TINYC_INLINE T tinyc_s_fmod_##sfx(T a, T b) { return TINYC_M_##sfx(fmod)(a, b); }          \
  /* numpy's floating mod: the sign of b, +-0 when exact */                                  \
  TINYC_INLINE T tinyc_s_mod_##sfx(T a, T b) {                                               \
    T r = TINYC_M_##sfx(fmod)(a, b);                                                         \
    if (b == 0) return r;                                                                    \
    if (r != 0) {                                                                            \
      if ((b < 0) != (r < 0)) r += b;                                                        \
    } else {                                                                                 \
      r = TINYC_M_##sfx(copysign)((T)0, b);                                                  \
    }                                                                                        \
    return r;                                                                                \
  }                                                                                          \
  TINYC_INLINE T tinyc_s_min_##sfx(T a, T b) { return (a < b || a != a) ? a : b; }           \
  TINYC_INLINE T tinyc_s_max_##sfx(T a, T b) { return (a > b || a != a) ? a : b; }           \
  TINYC_INLINE T tinyc_s_prelu_##sfx(T a, T b) { return a < 0 ? b * a : a; }

/* -- integer scalar functions ------------------------------------------------------------ */
#define TINYC_INT_COMMON_SCALARS(T, sfx)                                                     \
  TINYC_INLINE T tinyc_s_add_##sfx(T a, T b) {                                              \
    return (T)((TINYC_W_##sfx)a + (TINYC_W_##sfx)b);                                        \
  }                                                                                         \
  TINYC_INLINE T tinyc_s_sub_##sfx(T a, T b) {                                              \
    return (T)((TINYC_W_##sfx)a - (TINYC_W_##sfx)b);                                        \
  }                                                                                         \
  TINYC_INLINE T tinyc_s_mul_##sfx(T a, T b) {                                              \
    return (T)((TINYC_W_##sfx)a * (TINYC_W_##sfx)b);                                        \
  }                                                                                         \
  TINYC_INLINE T tinyc_s_neg_##sfx(T a) { return (T)((TINYC_W_##sfx)0 - (TINYC_W_##sfx)a); } \
  TINYC_INLINE T tinyc_s_min_##sfx(T a, T b) { return a < b ? a : b; }                      \
  TINYC_INLINE T tinyc_s_max_##sfx(T a, T b) { return a > b ? a : b; }

#define TINYC_SINT_SCALARS(arg, T, sfx)                                               \
  TINYC_INT_COMMON_SCALARS(T, sfx)                                                   \
  TINYC_INLINE T tinyc_s_div_##sfx(T a, T b) {                                       \
    if (b == 0) return 0;                                                            \
    if (b == -1) return tinyc_s_neg_##sfx(a); /* INT_MIN / -1 wraps */               \
    return (T)(a / b);                                                               \
  }                                                                                  \
  TINYC_INLINE T tinyc_s_fmod_##sfx(T a, T b) {                                      \
    if (b == 0 || b == -1) return 0;                                                 \
    return (T)(a % b);                                                               \
  }                                                                                  \
  TINYC_INLINE T tinyc_s_mod_##sfx(T a, T b) {                                       \
    T r;                                                                             \
    if (b == 0 || b == -1) return 0;                                                 \
    r = (T)(a % b);                                                                  \
    if (r != 0 && ((r < 0) != (b < 0))) r = (T)(r + b);                              \
    return r;                                                                        \
  }                                                                                  \
  TINYC_INLINE T tinyc_s_abs_##sfx(T a) { return a < 0 ? tinyc_s_neg_##sfx(a) : a; } \
  TINYC_INLINE T tinyc_s_sign_##sfx(T a) { return (T)((a > 0) - (a < 0)); }

#define TINYC_UINT_SCALARS(arg, T, sfx)                                              \
  TINYC_INT_COMMON_SCALARS(T, sfx)                                                  \
  TINYC_INLINE T tinyc_s_div_##sfx(T a, T b) { return b == 0 ? (T)0 : (T)(a / b); }  \
  TINYC_INLINE T tinyc_s_fmod_##sfx(T a, T b) { return b == 0 ? (T)0 : (T)(a % b); } \
  TINYC_INLINE T tinyc_s_mod_##sfx(T a, T b) { return b == 0 ? (T)0 : (T)(a % b); }  \
  TINYC_INLINE T tinyc_s_abs_##sfx(T a) { return a; }                                \
  TINYC_INLINE T tinyc_s_sign_##sfx(T a) { return (T)(a > 0); }

#define TINYC_INT_SCALARS() \
  TINYC_SINT_TYPES(TINYC_SINT_SCALARS, _) TINYC_UINT_TYPES(TINYC_UINT_SCALARS, _)

/* double -> integer without undefined behaviour: NaN gives 0, out of range saturates */
#define TINYC_SAT_FROM_DOUBLE(T, lo, hi)                                  \
  TINYC_INLINE T tinyc_sat_##T(double v) {                                \
    if (v != v) return 0;                                                 \
    if (v <= (double)(lo)) return (T)(lo);                                \
    if (v >= (double)(hi)) return (T)(hi);                                \
    return (T)v;                                                          \
  }

/* -- kernel definitions ------------------------------------------------------------------ */
#define TINYC_DEFINE_UNARY(op, T, sfx)                                                    \
  void tinyc_##op##_##sfx(const T *X, T *Y, size_t n) {                                   \
    size_t i;                                                                             \
    for (i = 0; i < n; ++i) Y[i] = TINYC_ST_##sfx(TINYC_SFN(op, sfx)(TINYC_LD_##sfx(X[i]))); \
  }
#define TINYC_DEFINE_UNARY_PARAM(op, T, sfx)                                   \
  void tinyc_##op##_##sfx(const T *X, T *Y, size_t n, float a, float b) {      \
    const TINYC_CT_##sfx ca = (TINYC_CT_##sfx)a, cb = (TINYC_CT_##sfx)b;       \
    size_t i;                                                                  \
    for (i = 0; i < n; ++i)                                                    \
      Y[i] = TINYC_ST_##sfx(TINYC_SFN(op, sfx)(TINYC_LD_##sfx(X[i]), ca, cb)); \
  }
#define TINYC_DEFINE_BINARY(op, T, sfx)           \
  TINYC_BCAST2_DEFINE(tinyc_##op##_##sfx, T, T, T, \
                      TINYC_ST_##sfx(TINYC_SFN(op, sfx)(TINYC_LD_##sfx(a), TINYC_LD_##sfx(b))))

#define TINYC_DECLARE_UNARY(op, T, sfx) void tinyc_##op##_##sfx(const T *X, T *Y, size_t n);
#define TINYC_DECLARE_UNARY_PARAM(op, T, sfx) \
  void tinyc_##op##_##sfx(const T *X, T *Y, size_t n, float a, float b);
#define TINYC_DECLARE_BINARY(op, T, sfx) \
  void tinyc_##op##_##sfx(const T *A, const T *B, T *Y, const tinyc_bcast *bc);

/* The float family of one type: unary math, parameterized unary, binary ops and PRelu. */
#define TINYC_DECLARE_FLOAT_FAMILY(T, sfx)               \
  TINYC_UNARY_FLOAT_OPS(TINYC_DECLARE_UNARY, T, sfx)     \
  TINYC_UNARY_NUM_OPS(TINYC_DECLARE_UNARY, T, sfx)       \
  TINYC_UNARY_PARAM_OPS(TINYC_DECLARE_UNARY_PARAM, T, sfx) \
  TINYC_BINARY_OPS(TINYC_DECLARE_BINARY, T, sfx)         \
  TINYC_DECLARE_BINARY(prelu, T, sfx)
#define TINYC_DEFINE_FLOAT_FAMILY(T, sfx)               \
  TINYC_UNARY_FLOAT_OPS(TINYC_DEFINE_UNARY, T, sfx)     \
  TINYC_UNARY_NUM_OPS(TINYC_DEFINE_UNARY, T, sfx)       \
  TINYC_UNARY_PARAM_OPS(TINYC_DEFINE_UNARY_PARAM, T, sfx) \
  TINYC_BINARY_OPS(TINYC_DEFINE_BINARY, T, sfx)         \
  TINYC_DEFINE_BINARY(prelu, T, sfx)

#endif /* TINYC_SCALAR_H */
