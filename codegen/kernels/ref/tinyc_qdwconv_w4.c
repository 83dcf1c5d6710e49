/* int8 depthwise convolution with packed int4 weights (see tinyc_qdwconv_w4.h), for every
 * target: the channel loop around the target's int8 depthwise kernel. */
#include "tinyc_qdwconv_w4.h"

/* bytes of `work` the unpacked weights of one input channel take (the int8 kernel's
 * workspace follows, 8-byte aligned) */
#define TINYC_QDW_W4_HEAD(count) ((((size_t)(count) + 7u) / 8u) * 8u)

void tinyc_depthwise_conv2d_s8_w4(const int8_t *restrict X, const uint8_t *restrict W,
                                  const int32_t *restrict B, int8_t *restrict Y,
                                  int32_t *restrict work, const tinyc_qconv_params *p) {
  const int32_t dm = p->m / p->c, count = dm * p->kh * p->kw;
  const size_t in_plane = (size_t)p->h * p->w, out_plane = (size_t)p->oh * p->ow;
  int8_t *w = (int8_t *)work;
  int32_t *rest = (int32_t *)(void *)(w + TINYC_QDW_W4_HEAD(count));
  tinyc_qconv_params one = *p;
  int32_t n, c, i;
  one.n = 1;
  one.c = 1;
  one.group = 1;
  one.m = dm;
  for (c = 0; c < p->c; ++c) {
    const size_t first = (size_t)c * (size_t)count; /* nibble index of the channel's weights */
    for (i = 0; i < count; ++i) {
      const size_t at = first + (size_t)i;
      const uint32_t byte = W[at >> 1];
      const uint32_t nib = (at & 1u) ? byte >> 4 : byte & 0xFu;
      w[i] = (int8_t)((int32_t)nib - (int32_t)((nib & 8u) << 1));
    }
    one.multiplier = p->multiplier + (size_t)c * dm;
    one.shift = p->shift + (size_t)c * dm;
    for (n = 0; n < p->n; ++n) {
      tinyc_depthwise_conv2d_s8(X + ((size_t)n * p->c + c) * in_plane, w,
                                B ? B + (size_t)c * dm : NULL,
                                Y + ((size_t)n * p->m + (size_t)c * dm) * out_plane, rest, &one);
    }
  }
}
