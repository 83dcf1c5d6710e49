/* int8 depthwise convolution with packed int4 weights (see tinyc_qdwconv_w4.h), for every
 * target: the channel loop around the target's int8 depthwise kernels. */
#include "tinyc_qdwconv_w4.h"

#include "tinyc_w4.h"

/* bytes of `work` the unpacked weights of one input channel take (the int8 kernel's
 * workspace follows, 8-byte aligned) */
#define TINYC_QDW_W4_HEAD(count) ((((size_t)(count) + 7u) / 8u) * 8u)

/* weights [first, first + count) of the stream layout, as int8 */
static void unpack(const uint8_t *restrict W, size_t first, int32_t count, int8_t *restrict w) {
  int32_t i;
  for (i = 0; i < count; ++i) {
    const size_t at = first + (size_t)i;
    const uint32_t byte = W[at >> 1];
    w[i] = (int8_t)tinyc_w4_nibble((at & 1u) ? byte >> 4 : byte);
  }
}

/* p restricted to input channel c (its depth_multiplier output channels), one image */
static tinyc_qconv_params channel(const tinyc_qconv_params *p, int32_t c) {
  tinyc_qconv_params one = *p;
  const int32_t dm = p->m / p->c;
  one.n = 1;
  one.c = 1;
  one.group = 1;
  one.m = dm;
  one.multiplier = p->multiplier + (size_t)c * dm;
  one.shift = p->shift + (size_t)c * dm;
  return one;
}

void tinyc_depthwise_conv2d_s8_w4(const int8_t *restrict X, const uint8_t *restrict W,
                                  const int32_t *restrict B, int8_t *restrict Y,
                                  int32_t *restrict work, const tinyc_qconv_params *p) {
  const int32_t dm = p->m / p->c, count = dm * p->kh * p->kw;
  const size_t in_plane = (size_t)p->h * p->w, out_plane = (size_t)p->oh * p->ow;
  int8_t *w = (int8_t *)work;
  int32_t *rest = (int32_t *)(void *)(w + TINYC_QDW_W4_HEAD(count));
  int32_t n, c;
  for (c = 0; c < p->c; ++c) {
    const tinyc_qconv_params one = channel(p, c);
    unpack(W, (size_t)c * (size_t)count, count, w);
    for (n = 0; n < p->n; ++n) {
      tinyc_depthwise_conv2d_s8(X + ((size_t)n * p->c + c) * in_plane, w,
                                B ? B + (size_t)c * dm : NULL,
                                Y + ((size_t)n * p->m + (size_t)c * dm) * out_plane, rest, &one);
    }
  }
}

void tinyc_dwconv2d_stream_s8_w4(const int8_t *X, const uint8_t *restrict W,
                                 const int32_t *restrict B, int8_t *Y, int8_t *restrict scratch,
                                 int32_t *restrict work, const tinyc_qconv_params *p) {
  const int32_t count = p->kh * p->kw;
  const size_t in_plane = (size_t)p->h * p->w, out_plane = (size_t)p->oh * p->ow;
  int8_t *w = (int8_t *)work;
  int32_t *rest = (int32_t *)(void *)(w + TINYC_QDW_W4_HEAD(count));
  int32_t n, c;
  TINYC_DCHECK(p->group == p->c && p->m == p->c);
  /* image-major, then channel: the int8 kernel's order, so the same bytes are read before
   * they are overwritten */
  for (n = 0; n < p->n; ++n) {
    for (c = 0; c < p->c; ++c) {
      const tinyc_qconv_params one = channel(p, c);
      const size_t plane = (size_t)n * p->c + c;
      unpack(W, (size_t)c * (size_t)count, count, w);
      tinyc_dwconv2d_stream_s8(X + plane * in_plane, w, B ? B + c : NULL, Y + plane * out_plane,
                               scratch, rest, &one);
    }
  }
}
