/* tinyc runtime helpers: types, alignment, fused activations, debug checks.
 *
 * Header-only and C99. Every generated model and every kernel includes it; nothing here
 * allocates, prints or keeps state. */
#ifndef TINYC_RT_H
#define TINYC_RT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Model switches: the compiler defines TINYC_TFLITE here, in the copy an OUT gets, when the
 * model has integer ops in TFLite semantics (backend/generate.py `_model_switches`); the
 * kernels compile TFLite's rounding forms only then. TINYC_QCONV_SHORT_ONLY (every dense
 * int8 conv takes the column path's short form) leaves out the paths the model never
 * takes, and their frames from its stack bound. */

/* TINYC_NOINLINE keeps a kernel's alternative paths in their own frames, so the stack of
 * a call is the deepest path's, not the sum of every path inlined into one frame. */
#if defined(__GNUC__) || defined(__clang__)
#define TINYC_ALIGN(n) __attribute__((aligned(n)))
#define TINYC_INLINE static inline __attribute__((always_inline))
#define TINYC_NOINLINE __attribute__((noinline))
#else
#define TINYC_ALIGN(n)
#define TINYC_INLINE static inline
#define TINYC_NOINLINE
#endif

#ifdef TINYC_DEBUG
#define TINYC_DCHECK(cond) do { if (!(cond)) { for (;;) {} } } while (0)
#else
#define TINYC_DCHECK(cond) ((void)0)
#endif

/* Activation fused into a producing kernel (Conv, Gemm, MatMul, elementwise Add, ...).
 * The compiler picks the kind and its two constants; kernels call tinyc_act_f32 on each
 * result before storing it. */
enum {
  TINYC_ACT_NONE = 0,
  TINYC_ACT_CLIP = 1,       /* min(max(v, a), b): Relu (a=0, b=+inf), Relu6, Clip */
  TINYC_ACT_LEAKY_RELU = 2, /* v < 0 ? a * v : v */
  TINYC_ACT_HARD_SIGMOID = 3, /* max(0, min(1, a * v + b)) */
  TINYC_ACT_HARD_SWISH = 4, /* v * max(0, min(1, v / 6 + 0.5)) */
  TINYC_ACT_SIGMOID = 5     /* 1 / (1 + exp(-v)), needs <math.h> in the kernel */
};

typedef struct {
  int kind;
  float a;
  float b;
} tinyc_act;

TINYC_INLINE float tinyc_clampf(float v, float lo, float hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

/* Valid taps of a dilated window (conv, pool): for taps k = 0 .. kmax-1 at input index
 * start + k*dil, tinyc_window_first is the smallest k with index >= 0 and tinyc_window_end
 * one past the largest k < kmax with index < size, so inner loops need no bounds checks.
 * Contract: dil >= 1 and every argument fits int32 without overflow. */
TINYC_INLINE int32_t tinyc_window_first(int32_t start, int32_t dil) {
  return start >= 0 ? 0 : (-start + dil - 1) / dil;
}

TINYC_INLINE int32_t tinyc_window_end(int32_t start, int32_t dil, int32_t kmax, int32_t size) {
  int32_t e;
  if (start >= size) return 0;
  e = (size - 1 - start) / dil + 1;
  return e < kmax ? e : kmax;
}

/* Maximum tensor rank the generic (broadcasting, transposing) kernels handle after the
 * compiler has merged contiguous dimensions. */
#define TINYC_MAX_RANK 8

/* Copies n <= 32 bytes without a library call: a copy loop this short would become a
 * memcpy call costing more than the copy, so it is written out -- 4-byte pieces (a
 * fixed-size memcpy is one load and one store) and then the last n % 4 bytes. */
TINYC_INLINE void tinyc_copy_short(void *dst, const void *src, size_t n) {
  unsigned char *d = (unsigned char *)dst;
  const unsigned char *s = (const unsigned char *)src;
  const size_t words = n >> 2;
  TINYC_DCHECK(n <= 32);
  switch (words) {
    case 8: memcpy(d + 28, s + 28, 4); /* fall through */
    case 7: memcpy(d + 24, s + 24, 4); /* fall through */
    case 6: memcpy(d + 20, s + 20, 4); /* fall through */
    case 5: memcpy(d + 16, s + 16, 4); /* fall through */
    case 4: memcpy(d + 12, s + 12, 4); /* fall through */
    case 3: memcpy(d + 8, s + 8, 4); /* fall through */
    case 2: memcpy(d + 4, s + 4, 4); /* fall through */
    case 1: memcpy(d, s, 4); /* fall through */
    default: break;
  }
  d += words * 4;
  s += words * 4;
  switch (n & 3) {
    case 3: d[2] = s[2]; /* fall through */
    case 2: d[1] = s[1]; /* fall through */
    case 1: d[0] = s[0]; /* fall through */
    default: break;
  }
}

#endif /* TINYC_RT_H */
