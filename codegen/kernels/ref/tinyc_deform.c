/* Portable DeformConv: one output at a time, every tap sampled on the fly (no column
 * buffer, so no scratch memory). */
#include "tinyc_deform.h"

#include <math.h>

/* X plane [h, w] at (y, x), bilinear, zero outside */
static float sample(const float *plane, int32_t h, int32_t w, float y, float x) {
  const float fy = floorf(y), fx = floorf(x);
  const float ly = y - fy, lx = x - fx;
  float v = 0.0f;
  int32_t y0, x0, dy, dx;
  /* far outside (or NaN): no corner inside, and the int conversion below stays defined */
  if (!(fy >= -1.0f && fy <= (float)h && fx >= -1.0f && fx <= (float)w)) return 0.0f;
  y0 = (int32_t)fy;
  x0 = (int32_t)fx;
  for (dy = 0; dy < 2; ++dy) {
    const int32_t yy = y0 + dy;
    const float wy = dy ? ly : 1.0f - ly;
    if (yy < 0 || yy >= h) continue;
    for (dx = 0; dx < 2; ++dx) {
      const int32_t xx = x0 + dx;
      const float wx = dx ? lx : 1.0f - lx;
      if (xx < 0 || xx >= w) continue;
      v += wy * wx * plane[(size_t)yy * w + xx];
    }
  }
  return v;
}

void tinyc_deform_conv2d_f32(const float *X, const float *W, const float *offset,
                             const float *B, const float *mask, float *Y,
                             const tinyc_deform_params *p) {
  const int32_t icg = p->c / p->group, ocg = p->oc / p->group;
  const int32_t per_og = p->c / p->offset_group, taps = p->kh * p->kw;
  const size_t plane = (size_t)p->oh * p->ow;
  int32_t b, o, i, j, ic, ki, kj;
  for (b = 0; b < p->n; ++b) {
    for (o = 0; o < p->oc; ++o) {
      const int32_t gr = o / ocg;
      for (i = 0; i < p->oh; ++i) {
        for (j = 0; j < p->ow; ++j) {
          const size_t at = (size_t)i * p->ow + j;
          float acc = B != NULL ? B[o] : 0.0f;
          for (ic = gr * icg; ic < (gr + 1) * icg; ++ic) {
            const int32_t og = ic / per_og;
            const float *x = X + ((size_t)b * p->c + ic) * p->ih * p->iw;
            const float *w = W + ((size_t)o * icg + (ic - gr * icg)) * taps;
            const size_t base = ((size_t)b * p->offset_group + og) * taps;
            for (ki = 0; ki < p->kh; ++ki) {
              for (kj = 0; kj < p->kw; ++kj) {
                const size_t tap = base + (size_t)ki * p->kw + kj;
                const float dy = offset[(tap * 2) * plane + at];
                const float dx = offset[(tap * 2 + 1) * plane + at];
                const float y = (float)(i * p->stride_h - p->pad_t + ki * p->dil_h) + dy;
                const float xx = (float)(j * p->stride_w - p->pad_l + kj * p->dil_w) + dx;
                float v = sample(x, p->ih, p->iw, y, xx) * w[ki * p->kw + kj];
                if (mask != NULL) v *= mask[tap * plane + at];
                acc += v;
              }
            }
          }
          Y[((size_t)b * p->oc + o) * plane + at] = acc;
        }
      }
    }
  }
}
