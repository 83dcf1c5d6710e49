/* Portable generic kernels for the ONNX integer operator forms (see tinyc_qlinear.h). */
#include "tinyc_qlinear.h"

static int64_t load(const void *p, size_t i, int32_t type) {
  if (type == TINYC_QT_U8) return (int64_t)((const uint8_t *)p)[i];
  if (type == TINYC_QT_S8) return (int64_t)((const int8_t *)p)[i];
  return (int64_t)((const int32_t *)p)[i];
}

static int64_t zero_point(const void *zp, int32_t len, size_t i, int32_t type) {
  if (!zp || len == 0) return 0;
  return load(zp, len == 1 ? 0 : i, type);
}

/* round half to even of a double of magnitude < 2^52, without <math.h> */
static int64_t round_even(double r) {
  int64_t i = (int64_t)r;
  const double f = r - (double)i;
  if (f > 0.5 || (f == 0.5 && i % 2 != 0)) {
    ++i;
  } else if (f < -0.5 || (f == -0.5 && i % 2 != 0)) {
    --i;
  }
  return i;
}

static void store(void *Y, size_t i, int32_t type, int64_t acc, float mult, int64_t zp) {
  int64_t q, lo, hi;
  double r;
  if (type == TINYC_QT_S32) {
    ((int32_t *)Y)[i] = (int32_t)acc;
    return;
  }
  lo = type == TINYC_QT_U8 ? 0 : -128;
  hi = type == TINYC_QT_U8 ? 255 : 127;
  r = (double)acc * (double)mult;
  if (r < -1e12) r = -1e12;
  if (r > 1e12) r = 1e12;
  q = round_even(r) + zp;
  q = q < lo ? lo : (q > hi ? hi : q);
  if (type == TINYC_QT_U8) {
    ((uint8_t *)Y)[i] = (uint8_t)q;
  } else {
    ((int8_t *)Y)[i] = (int8_t)q;
  }
}

void tinyc_qlinear_conv(const void *X, const float *x_scale, const void *x_zero_point,
                        const void *W, const float *w_scale, const void *w_zero_point,
                        const float *y_scale, const void *y_zero_point, const int32_t *B, void *Y,
                        const tinyc_qlinear_conv_params *p) {
  const int32_t cg = p->c / p->group, mg = p->m / p->group;
  const int64_t xz = zero_point(x_zero_point, p->x_zp_len, 0, p->x_type);
  const int64_t yz = zero_point(y_zero_point, 1, 0, p->y_type == TINYC_QT_S32 ? TINYC_QT_S8 : p->y_type);
  int32_t n, g, m, oy, ox, c, ky, kx;
  for (n = 0; n < p->n; ++n) {
    for (g = 0; g < p->group; ++g) {
      for (m = g * mg; m < (g + 1) * mg; ++m) {
        const int64_t wz = zero_point(w_zero_point, p->w_zp_len, (size_t)m, p->w_type);
        float mult = 0.0f;
        if (x_scale && w_scale && y_scale) {
          mult = x_scale[0] * w_scale[p->w_scale_len > 1 ? m : 0];
          mult = mult / y_scale[0];
        }
        for (oy = 0; oy < p->oh; ++oy) {
          for (ox = 0; ox < p->ow; ++ox) {
            int64_t acc = B ? (int64_t)B[m] : 0;
            for (c = 0; c < cg; ++c) {
              for (ky = 0; ky < p->kh; ++ky) {
                const int32_t iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
                if (iy < 0 || iy >= p->h) continue;
                for (kx = 0; kx < p->kw; ++kx) {
                  const int32_t ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;
                  size_t xi, wi;
                  if (ix < 0 || ix >= p->w) continue;
                  xi = (((size_t)n * p->c + (size_t)g * cg + c) * p->h + iy) * p->w + ix;
                  wi = (((size_t)m * cg + c) * p->kh + ky) * p->kw + kx;
                  acc += (load(X, xi, p->x_type) - xz) * (load(W, wi, p->w_type) - wz);
                }
              }
            }
            store(Y, (((size_t)n * p->m + m) * p->oh + oy) * p->ow + ox, p->y_type, acc, mult, yz);
          }
        }
      }
    }
  }
}

void tinyc_qlinear_matmul(const void *A, const float *a_scale, const void *a_zero_point,
                          const void *B, const float *b_scale, const void *b_zero_point,
                          const float *y_scale, const void *y_zero_point, void *Y,
                          const tinyc_qlinear_matmul_params *p) {
  const int64_t yz = zero_point(y_zero_point, 1, 0, p->y_type == TINYC_QT_S32 ? TINYC_QT_S8 : p->y_type);
  int32_t t, i, j, l;
  for (t = 0; t < p->batch; ++t) {
    const size_t a0 = (size_t)t * (size_t)p->a_stride, b0 = (size_t)t * (size_t)p->b_stride;
    for (i = 0; i < p->m; ++i) {
      const int64_t az = zero_point(a_zero_point, p->a_zp_len, (size_t)i, p->a_type);
      for (j = 0; j < p->n; ++j) {
        const int64_t bz = zero_point(b_zero_point, p->b_zp_len, (size_t)j, p->b_type);
        int64_t acc = 0;
        float mult = 0.0f;
        for (l = 0; l < p->k; ++l) {
          acc += (load(A, a0 + (size_t)i * p->k + l, p->a_type) - az) *
                 (load(B, b0 + (size_t)l * p->n + j, p->b_type) - bz);
        }
        if (a_scale && b_scale && y_scale) {
          mult = a_scale[p->a_scale_len > 1 ? i : 0] * b_scale[p->b_scale_len > 1 ? j : 0];
          mult = mult / y_scale[0];
        }
        store(Y, ((size_t)t * p->m + i) * p->n + j, p->y_type, acc, mult, yz);
      }
    }
  }
}
