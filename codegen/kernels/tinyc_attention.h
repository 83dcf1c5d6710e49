/* Scaled dot-product attention (ONNX Attention, opsets 23-25), float32: 3-D and 4-D
 * inputs, grouped-query heads, a key/value cache (past -> present), float or boolean
 * masks with broadcasting, causal and sliding-window masks, per-batch valid key lengths,
 * softcap, and the optional qk_matmul_output in its four modes. */
#ifndef TINYC_ATTENTION_H
#define TINYC_ATTENTION_H

#include "tinyc_rt.h"

enum { TINYC_MASK_NONE = 0, TINYC_MASK_FLOAT = 1, TINYC_MASK_BOOL = 2 };

typedef struct {
  int32_t batch, q_heads, kv_heads;
  int32_t q_len, kv_len, past_len;  /* keys: past_len cached + kv_len new ones */
  int32_t head, v_head;             /* per-head sizes of Q/K and of V */
  int32_t q_3d, kv_3d;              /* [batch, seq, heads * size] instead of 4-D */
  float scale, softcap;             /* softcap 0: none */
  int32_t causal;
  int32_t left_window, right_window;  /* -1: unbounded */
  int32_t mask_kind;                /* TINYC_MASK_* */
  int32_t mask_len;                 /* keys the mask covers (the rest are masked) */
  int32_t mask_strides[4];          /* element strides over (batch, head, query, key) */
  int32_t qk_mode;                  /* what qk_matmul_output holds: 0/1 scores (after
                                       softcap), 2 plus the mask, 3 the probabilities */
} tinyc_attention_params;

/* Y = softmax(Q K^T * scale (softcapped) + mask) V per (batch, head, query). The softmax
 * runs online (one pass with a running maximum), accumulating straight into Y, so no
 * scratch is needed; a query row with every key masked gives zeros. present_key/value
 * (may be NULL) receive past ++ new keys/values; qk_out (may be NULL) the selected scores.
 * nonpad (NULL or [batch]) limits the valid keys per batch entry: returns -1 if a value
 * lies outside [0, keys], 0 otherwise. */
int tinyc_attention_f32(const float *Q, const float *K, const float *V, const void *mask,
                        const float *past_key, const float *past_value, const int64_t *nonpad,
                        float *Y, float *present_key, float *present_value, float *qk_out,
                        float *work, const tinyc_attention_params *p);

/* The same on float16 tensors (IEEE half bits; a float16 mask too), computed in float and
 * rounded once per output: a query's output accumulates in `work` (v_head floats of the
 * node's planned workspace; the float32 form needs none: NULL). */
int tinyc_attention_f16(const uint16_t *Q, const uint16_t *K, const uint16_t *V,
                        const void *mask, const uint16_t *past_key, const uint16_t *past_value,
                        const int64_t *nonpad, uint16_t *Y, uint16_t *present_key,
                        uint16_t *present_value, uint16_t *qk_out, float *work,
                        const tinyc_attention_params *p);

/* RotaryEmbedding: rotates the first `rot` (even) elements of each head vector of X by the
 * angles whose cosines and sines are cos/sin [max_pos, rot/2] rows picked by position_ids
 * [batch, seq] (run-time; -1 returned for one out of range), or, when position_ids is
 * NULL, cos/sin [batch, seq, rot/2]. Pairs are (i, i + rot/2), or (2i, 2i + 1) when
 * interleaved. X and Y are [batch, heads, seq, head] or, with is_3d, [batch, seq,
 * heads * head]. Y may equal X. */
typedef struct {
  int32_t batch, heads, seq, head, rot, max_pos;
  int32_t interleaved, is_3d;
} tinyc_rotary_params;

int tinyc_rotary_embedding_f32(const float *X, const float *cos_cache, const float *sin_cache,
                               const int64_t *position_ids, float *Y,
                               const tinyc_rotary_params *p);

/* LinearAttention (recurrent form): per (batch, kv head) a state S [dk, dv], kept in
 * `present` (initialized from `past`, or zeros when NULL). At each step: S *= exp(decay)
 * row-wise (gated rules), v <- beta * (v - S^T k) (delta rules), S += k v^T, then every query
 * head of the group reads scale * q^T S. Q [b, t, hq * dk], K [b, t, hkv * dk],
 * V [b, t, hkv * dv], decay [b, t, hkv * dk] or [b, t, hkv], beta [b, t, hkv] or
 * [b, t, 1], Y [b, t, hq * dv]. */
typedef struct {
  int32_t batch, steps, q_heads, kv_heads, dk, dv;
  int32_t gating, delta;
  int32_t decay_per_dim;   /* decay holds dk values per kv head (else one) */
  int32_t beta_heads;      /* beta values per step: kv_heads or 1 */
  float scale;
} tinyc_linear_attention_params;

void tinyc_linear_attention_f32(const float *Q, const float *K, const float *V, const float *past,
                                const float *decay, const float *beta, float *Y, float *present,
                                const tinyc_linear_attention_params *p);

#endif /* TINYC_ATTENTION_H */
