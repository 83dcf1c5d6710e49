/* Portable N-d (transposed) convolution, float32. Direct loops: an odometer over output
 * positions, and for each an odometer over kernel taps with per-tap bounds checks. Clear
 * rather than fast; the 2-D fast path lives in tinyc_conv.c. */
#include "tinyc_convnd.h"

#include <math.h>

#include "tinyc_act.h"
#include "tinyc_f16.h"

/* Element i of a float32 or (half != 0) float16 tensor, as float; and the reverse. */
TINYC_INLINE float ld(const void *p, size_t i, int half) {
  return half ? tinyc_f16_to_f32(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}

TINYC_INLINE void st(void *p, size_t i, float v, int half) {
  if (half)
    ((uint16_t *)p)[i] = tinyc_f32_to_f16(v);
  else
    ((float *)p)[i] = v;
}

/* Increment a row-major counter over dims; 0 once it wraps to all zeros. */
static int next_index(int32_t *idx, const int32_t *dims, int32_t rank) {
  int32_t d;
  for (d = rank - 1; d >= 0; --d) {
    if (++idx[d] < dims[d]) return 1;
    idx[d] = 0;
  }
  return 0;
}

static size_t volume(const int32_t *dims, int32_t rank) {
  size_t v = 1;
  int32_t d;
  for (d = 0; d < rank; ++d) v *= (size_t)dims[d];
  return v;
}

/* Offset of the input element a tap reads, or -1 when it falls in the padding. For the
 * transposed form, the tap's input position must also be a whole number of strides. */
static ptrdiff_t tap_offset(const tinyc_convnd_params *p, const int32_t *o, const int32_t *t,
                            int transposed) {
  ptrdiff_t off = 0;
  int32_t d;
  for (d = 0; d < p->nsp; ++d) {
    int32_t i;
    if (transposed) {
      const int32_t q = o[d] + p->pad[d] - t[d] * p->dil[d];
      if (q < 0 || q % p->stride[d] != 0) return -1;
      i = q / p->stride[d];
    } else {
      i = o[d] * p->stride[d] - p->pad[d] + t[d] * p->dil[d];
    }
    if (i < 0 || i >= p->in[d]) return -1;
    off = off * p->in[d] + i;
  }
  return off;
}

static void conv_any(const void *X, const void *W, const void *B, void *Y,
                     const tinyc_convnd_params *p, int transposed, int half) {
  const int32_t cg = p->c / p->group, mg = p->m / p->group;
  const size_t in_plane = volume(p->in, p->nsp), out_plane = volume(p->out, p->nsp);
  const size_t taps = volume(p->k, p->nsp);
  int32_t o[TINYC_MAX_RANK], t[TINYC_MAX_RANK];
  int32_t n, m, c, d;
  size_t at, tap;
  if (out_plane == 0) return;
  for (n = 0; n < p->n; ++n) {
    for (m = 0; m < p->m; ++m) {
      const int32_t g = m / mg, ml = m % mg;
      const size_t ym = ((size_t)n * p->m + m) * out_plane;
      for (d = 0; d < p->nsp; ++d) o[d] = 0;
      for (at = 0; at < out_plane; ++at) {
        float acc = B ? ld(B, (size_t)m, half) : 0.0f;
        for (d = 0; d < p->nsp; ++d) t[d] = 0;
        for (tap = 0; tap < taps; ++tap) {
          const ptrdiff_t off = tap_offset(p, o, t, transposed);
          if (off >= 0) {
            for (c = 0; c < cg; ++c) {
              const int32_t ci = g * cg + c;
              /* Conv weights are [m, c/group, k...], transposed ones [c, m/group, k...] */
              const size_t wi = transposed ? ((size_t)ci * mg + ml) * taps + tap
                                           : ((size_t)m * cg + c) * taps + tap;
              acc += ld(X, ((size_t)n * p->c + ci) * in_plane + (size_t)off, half) *
                     ld(W, wi, half);
            }
          }
          next_index(t, p->k, p->nsp);
        }
        st(Y, ym + at, tinyc_act_f32(acc, &p->act), half);
        next_index(o, p->out, p->nsp);
      }
    }
  }
}

void tinyc_conv_nd_f32(const float *restrict X, const float *restrict W,
                       const float *restrict B, float *restrict Y,
                       const tinyc_convnd_params *p) {
  conv_any(X, W, B, Y, p, 0, 0);
}

void tinyc_conv_nd_f16(const uint16_t *X, const uint16_t *W, const uint16_t *B, uint16_t *Y,
                       const tinyc_convnd_params *p) {
  conv_any(X, W, B, Y, p, 0, 1);
}

void tinyc_conv_transpose_nd_f32(const float *restrict X, const float *restrict W,
                                 const float *restrict B, float *restrict Y,
                                 const tinyc_convnd_params *p) {
  conv_any(X, W, B, Y, p, 1, 0);
}

/* Element p of the padded sequence of (b, ch): the past state first, then X. */
static float padded_at(const void *X, const void *past, int32_t b, int32_t ch, int32_t c,
                       int32_t len, int32_t k, int32_t p, int half) {
  if (p < k - 1) return past ? ld(past, ((size_t)b * c + ch) * (size_t)(k - 1) + p, half) : 0.0f;
  return ld(X, ((size_t)b * c + ch) * len + (p - (k - 1)), half);
}

static void causal_conv(const void *X, const void *W, const void *B, const void *past, void *Y,
                        void *present, int32_t batch, int32_t c, int32_t len, int32_t k,
                        int32_t silu, int half) {
  int32_t b, ch, t, j;
  for (b = 0; b < batch; ++b) {
    for (ch = 0; ch < c; ++ch) {
      for (t = 0; t < len; ++t) {
        float acc = B ? ld(B, (size_t)ch, half) : 0.0f;
        for (j = 0; j < k; ++j)
          acc += padded_at(X, past, b, ch, c, len, k, t + j, half) *
                 ld(W, (size_t)ch * k + j, half);
        st(Y, ((size_t)b * c + ch) * len + t, silu ? acc / (1.0f + expf(-acc)) : acc, half);
      }
      if (present)
        for (j = 0; j < k - 1; ++j)
          st(present, ((size_t)b * c + ch) * (size_t)(k - 1) + j,
             padded_at(X, past, b, ch, c, len, k, len + j, half), half);
    }
  }
}

void tinyc_causal_conv_state_f32(const float *restrict X, const float *restrict W,
                                 const float *restrict B, const float *restrict past,
                                 float *restrict Y, float *restrict present, int32_t batch,
                                 int32_t c, int32_t len, int32_t k, int32_t silu) {
  causal_conv(X, W, B, past, Y, present, batch, c, len, k, silu, 0);
}

void tinyc_causal_conv_state_f16(const uint16_t *X, const uint16_t *W, const uint16_t *B,
                                 const uint16_t *past, uint16_t *Y, uint16_t *present,
                                 int32_t batch, int32_t c, int32_t len, int32_t k,
                                 int32_t silu) {
  causal_conv(X, W, B, past, Y, present, batch, c, len, k, silu, 1);
}
