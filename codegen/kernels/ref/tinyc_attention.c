/* Portable attention, float32 and float16. For each (batch, head, query) row: the bias of
 * every key (mask, causal frontier, window, padding) decides whether it is attended;
 * attended keys go through an online softmax (running max m, running sum l, output
 * accumulated in Y and rescaled when m grows), so memory stays at the output itself. One
 * core serves both element types: loads and stores go through ld/st with a `half` flag
 * (float16 tensors are IEEE half bits, computed in float as numpy does). */
#include "tinyc_attention.h"

#include <math.h>
#include <string.h>

#include "tinyc_f16.h"

TINYC_INLINE float ld(const void *p, size_t i, int half) {
  return half ? tinyc_f16_to_f32(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}

TINYC_INLINE void st(void *p, size_t i, float v, int half) {
  if (half)
    ((uint16_t *)p)[i] = tinyc_f32_to_f16(v);
  else
    ((float *)p)[i] = v;
}

/* Element offset of key/value j of (b, kv head g) in its tensor, and which tensor: the
 * cache for j < past_len, else the input. */
static size_t kv_row(const tinyc_attention_params *p, int32_t b, int32_t g, int32_t j,
                     int32_t size, int *from_past) {
  *from_past = j < p->past_len;
  if (*from_past) return (((size_t)b * p->kv_heads + g) * p->past_len + j) * size;
  j -= p->past_len;
  if (p->kv_3d) return ((size_t)b * p->kv_len + j) * p->kv_heads * size + (size_t)g * size;
  return (((size_t)b * p->kv_heads + g) * p->kv_len + j) * size;
}

/* Additive bias of key j for query i: 0, a mask value, or -INFINITY (masked). */
static float bias(const tinyc_attention_params *p, const void *mask, int half, int64_t offset,
                  int64_t valid, int32_t b, int32_t h, int32_t i, int32_t j) {
  float v = 0.0f;
  const int64_t d = (int64_t)i + offset - j;
  if (p->mask_kind != TINYC_MASK_NONE) {
    if (j >= p->mask_len) return -INFINITY;
    {
      const size_t at = (size_t)b * p->mask_strides[0] + (size_t)h * p->mask_strides[1] +
                        (size_t)i * p->mask_strides[2] + (size_t)j * p->mask_strides[3];
      if (p->mask_kind == TINYC_MASK_BOOL) {
        if (!((const uint8_t *)mask)[at]) return -INFINITY;
      } else {
        v = ld(mask, at, half);
      }
    }
  }
  if (p->causal && d < 0) return -INFINITY;
  if (p->left_window >= 0 && d > p->left_window) return -INFINITY;
  if (p->right_window >= 0 && -d > p->right_window) return -INFINITY;
  if (j >= valid) return -INFINITY;
  return v;
}

/* q . k_j * scale, softcapped. */
static float score(const tinyc_attention_params *p, const void *Q, size_t q_at, const void *K,
                   const void *past_key, int32_t b, int32_t g, int32_t j, int half) {
  int from_past;
  const size_t k_at = kv_row(p, b, g, j, p->head, &from_past);
  const void *k = from_past ? past_key : K;
  float s = 0.0f;
  int32_t e;
  for (e = 0; e < p->head; ++e) s += ld(Q, q_at + (size_t)e, half) * ld(k, k_at + (size_t)e, half);
  s *= p->scale;
  if (p->softcap > 0.0f) s = p->softcap * tanhf(s / p->softcap);
  return s;
}

static int attention(const void *Q, const void *K, const void *V, const void *mask,
                     const void *past_key, const void *past_value, const int64_t *nonpad,
                     void *Y, void *present_key, void *present_value, void *qk_out,
                     float *acc16, const tinyc_attention_params *p, int half) {
  const int32_t keys = p->past_len + p->kv_len, group = p->q_heads / p->kv_heads;
  const size_t elem = half ? sizeof(uint16_t) : sizeof(float);
  int32_t b, h, i, j, e;
  if (nonpad)
    for (b = 0; b < p->batch; ++b)
      if (nonpad[b] < 0 || nonpad[b] > keys) return -1;
  for (b = 0; b < p->batch; ++b) {
    for (h = 0; h < p->kv_heads; ++h) {
      for (j = 0; j < keys; ++j) {
        const size_t row = ((size_t)b * p->kv_heads + h) * keys + j;
        int from_past;
        size_t at;
        if (present_key) {
          at = kv_row(p, b, h, j, p->head, &from_past);
          memcpy((unsigned char *)present_key + row * p->head * elem,
                 (const unsigned char *)(from_past ? past_key : K) + at * elem,
                 (size_t)p->head * elem);
        }
        if (present_value) {
          at = kv_row(p, b, h, j, p->v_head, &from_past);
          memcpy((unsigned char *)present_value + row * p->v_head * elem,
                 (const unsigned char *)(from_past ? past_value : V) + at * elem,
                 (size_t)p->v_head * elem);
        }
      }
    }
  }
  for (b = 0; b < p->batch; ++b) {
    /* the causal / window frontier: keys before this block of queries */
    const int64_t offset = p->past_len ? p->past_len : (nonpad ? nonpad[b] - p->q_len : 0);
    const int64_t valid = nonpad ? nonpad[b] : keys;
    for (h = 0; h < p->q_heads; ++h) {
      const int32_t g = h / group;
      for (i = 0; i < p->q_len; ++i) {
        const size_t q_at = p->q_3d ? ((size_t)b * p->q_len + i) * p->q_heads * p->head +
                                          (size_t)h * p->head
                                    : (((size_t)b * p->q_heads + h) * p->q_len + i) * p->head;
        const size_t y_at = p->q_3d ? ((size_t)b * p->q_len + i) * p->q_heads * p->v_head +
                                          (size_t)h * p->v_head
                                    : (((size_t)b * p->q_heads + h) * p->q_len + i) * p->v_head;
        const size_t qk_at = (((size_t)b * p->q_heads + h) * p->q_len + i) * keys;
        float m = -INFINITY, l = 0.0f;
        /* the output accumulates in float: in Y itself for float32, in the workspace for
         * float16 (then rounded once) */
        float *y = half ? acc16 : (float *)Y + y_at;
        for (e = 0; e < p->v_head; ++e) y[e] = 0.0f;
        for (j = 0; j < keys; ++j) {
          int from_past;
          const size_t v_at = kv_row(p, b, g, j, p->v_head, &from_past);
          const void *v = from_past ? past_value : V;
          const float bj = bias(p, mask, half, offset, valid, b, h, i, j);
          float s = score(p, Q, q_at, K, past_key, b, g, j, half), w;
          if (qk_out && p->qk_mode < 3) st(qk_out, qk_at + (size_t)j, p->qk_mode == 2 ? s + bj : s, half);
          if (bj == -INFINITY) continue;
          s += bj;
          if (s > m) {
            /* a new maximum: rescale what has been accumulated so far */
            const float r = m == -INFINITY ? 0.0f : expf(m - s);
            for (e = 0; e < p->v_head; ++e) y[e] *= r;
            l *= r;
            m = s;
          }
          w = s == -INFINITY ? 0.0f : expf(s - m);
          if (s != s) w = s; /* NaN scores propagate, as in a plain softmax */
          l += w;
          for (e = 0; e < p->v_head; ++e) y[e] += w * ld(v, v_at + (size_t)e, half);
        }
        for (e = 0; e < p->v_head; ++e) {
          const float out = l != 0.0f ? y[e] / l : y[e];
          if (half) st(Y, y_at + (size_t)e, out, 1); else y[e] = out;
        }
        if (qk_out && p->qk_mode == 3) {
          for (j = 0; j < keys; ++j) {
            const float bj = bias(p, mask, half, offset, valid, b, h, i, j);
            const float s = score(p, Q, q_at, K, past_key, b, g, j, half);
            st(qk_out, qk_at + (size_t)j,
               (bj == -INFINITY || l == 0.0f) ? 0.0f : expf(s + bj - m) / l, half);
          }
        }
      }
    }
  }
  return 0;
}

int tinyc_attention_f32(const float *Q, const float *K, const float *V, const void *mask,
                        const float *past_key, const float *past_value, const int64_t *nonpad,
                        float *Y, float *present_key, float *present_value, float *qk_out,
                        float *work, const tinyc_attention_params *p) {
  (void)work;
  return attention(Q, K, V, mask, past_key, past_value, nonpad, Y, present_key, present_value,
                   qk_out, NULL, p, 0);
}

int tinyc_attention_f16(const uint16_t *Q, const uint16_t *K, const uint16_t *V,
                        const void *mask, const uint16_t *past_key, const uint16_t *past_value,
                        const int64_t *nonpad, uint16_t *Y, uint16_t *present_key,
                        uint16_t *present_value, uint16_t *qk_out, float *work,
                        const tinyc_attention_params *p) {
  return attention(Q, K, V, mask, past_key, past_value, nonpad, Y, present_key, present_value,
                   qk_out, work, p, 1);
}

int tinyc_rotary_embedding_f32(const float *X, const float *cos_cache, const float *sin_cache,
                               const int64_t *position_ids, float *Y,
                               const tinyc_rotary_params *p) {
  const int32_t half = p->rot / 2;
  int32_t b, h, s, i;
  if (position_ids)
    for (i = 0; i < p->batch * p->seq; ++i)
      if (position_ids[i] < 0 || position_ids[i] >= p->max_pos) return -1;
  for (b = 0; b < p->batch; ++b) {
    for (s = 0; s < p->seq; ++s) {
      const size_t row = position_ids ? (size_t)position_ids[(size_t)b * p->seq + s]
                                      : (size_t)b * p->seq + s;
      const float *c = cos_cache + row * half, *sn = sin_cache + row * half;
      for (h = 0; h < p->heads; ++h) {
        const size_t at = p->is_3d ? ((size_t)b * p->seq + s) * p->heads * p->head +
                                         (size_t)h * p->head
                                   : (((size_t)b * p->heads + h) * p->seq + s) * p->head;
        const float *x = X + at;
        float *y = Y + at;
        for (i = 0; i < half; ++i) {
          const int32_t i1 = p->interleaved ? 2 * i : i;
          const int32_t i2 = p->interleaved ? 2 * i + 1 : i + half;
          const float x1 = x[i1], x2 = x[i2];
          y[i1] = c[i] * x1 - sn[i] * x2;
          y[i2] = sn[i] * x1 + c[i] * x2;
        }
        if (X != Y)
          for (i = p->rot; i < p->head; ++i) y[i] = x[i];
      }
    }
  }
  return 0;
}

void tinyc_linear_attention_f32(const float *Q, const float *K, const float *V, const float *past,
                                const float *decay, const float *beta, float *Y, float *present,
                                const tinyc_linear_attention_params *p) {
  const size_t state = (size_t)p->dk * p->dv;
  const int32_t group = p->q_heads / p->kv_heads;
  int32_t b, t, h, g, d, m;
  for (b = 0; b < p->batch; ++b)
    for (h = 0; h < p->kv_heads; ++h) {
      float *s = present + ((size_t)b * p->kv_heads + h) * state;
      if (past)
        memcpy(s, past + ((size_t)b * p->kv_heads + h) * state, state * sizeof(float));
      else
        memset(s, 0, state * sizeof(float));
    }
  for (t = 0; t < p->steps; ++t) {
    for (b = 0; b < p->batch; ++b) {
      const size_t row = (size_t)b * p->steps + t;
      for (h = 0; h < p->kv_heads; ++h) {
        float *s = present + ((size_t)b * p->kv_heads + h) * state;
        const float *k = K + (row * p->kv_heads + h) * p->dk;
        const float *v = V + (row * p->kv_heads + h) * p->dv;
        if (p->gating) {
          for (d = 0; d < p->dk; ++d) {
            const float gate = expf(p->decay_per_dim ? decay[(row * p->kv_heads + h) * p->dk + d]
                                                     : decay[row * p->kv_heads + h]);
            for (m = 0; m < p->dv; ++m) s[(size_t)d * p->dv + m] *= gate;
          }
        }
        for (m = 0; m < p->dv; ++m) {
          /* column m only depends on itself: correct it, then write it */
          float vm = v[m];
          if (p->delta) {
            float retrieved = 0.0f;
            for (d = 0; d < p->dk; ++d) retrieved += s[(size_t)d * p->dv + m] * k[d];
            vm = beta[row * p->beta_heads + (p->beta_heads > 1 ? h : 0)] * (vm - retrieved);
          }
          for (d = 0; d < p->dk; ++d) s[(size_t)d * p->dv + m] += k[d] * vm;
        }
        for (g = 0; g < group; ++g) {
          const int32_t hq = h * group + g;
          const float *q = Q + (row * p->q_heads + hq) * p->dk;
          float *y = Y + (row * p->q_heads + hq) * p->dv;
          for (m = 0; m < p->dv; ++m) {
            float acc = 0.0f;
            for (d = 0; d < p->dk; ++d) acc += q[d] * s[(size_t)d * p->dv + m];
            y[m] = p->scale * acc;
          }
        }
      }
    }
  }
}
