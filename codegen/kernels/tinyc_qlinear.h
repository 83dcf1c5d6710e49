/* Generic integer products for the ONNX operator forms whose scales and zero points may be
 * run-time tensors: QLinearConv, ConvInteger, QLinearMatMul, MatMulInteger.
 *
 * Operand types are chosen at run time (TINYC_QT_*), accumulation is exact in 64 bits, and
 * an 8-bit result is requantized in floating point as the ONNX reference does:
 * saturate(round_half_even(acc * (float)(x_scale * w_scale / y_scale)) + y_zero_point), the
 * multiply in double. These kernels favour generality over speed: models whose scales are
 * constants are rewritten by tinyc into the fixed-point int8 kernels instead. */
#ifndef TINYC_QLINEAR_H
#define TINYC_QLINEAR_H

#include "tinyc_rt.h"

enum { TINYC_QT_S8 = 0, TINYC_QT_U8 = 1, TINYC_QT_S32 = 2 };

typedef struct {
  int32_t n, c, h, w;
  int32_t m, oh, ow;
  int32_t kh, kw, group;
  int32_t stride_h, stride_w, dil_h, dil_w;
  int32_t pad_top, pad_left;
  int32_t x_type, w_type, y_type; /* y_type TINYC_QT_S32: raw accumulators (ConvInteger) */
  int32_t x_zp_len;               /* 0 (no zero point) or 1 */
  int32_t w_zp_len, w_scale_len;  /* 0, 1 or m (per output channel) */
} tinyc_qlinear_conv_params;

/* X [n,c,h,w], W [m,c/group,kh,kw], B [m] int32 or NULL, Y [n,m,oh,ow]. Scales are NULL for
 * ConvInteger. Padding contributes zero (it stands for the zero point). */
void tinyc_qlinear_conv(const void *X, const float *x_scale, const void *x_zero_point,
                        const void *W, const float *w_scale, const void *w_zero_point,
                        const float *y_scale, const void *y_zero_point, const int32_t *B, void *Y,
                        const tinyc_qlinear_conv_params *p);

typedef struct {
  int32_t batch, m, k, n;
  int32_t a_stride, b_stride; /* elements between batch matrices, 0 broadcasts */
  int32_t a_type, b_type, y_type;
  int32_t a_zp_len, b_zp_len;       /* 0, 1, or m (per row of A) / n (per column of B) */
  int32_t a_scale_len, b_scale_len; /* 0 for MatMulInteger; 1 or m / n */
} tinyc_qlinear_matmul_params;

/* batch x ([m,k] @ [k,n]) -> Y [batch,m,n]. */
void tinyc_qlinear_matmul(const void *A, const float *a_scale, const void *a_zero_point,
                          const void *B, const float *b_scale, const void *b_zero_point,
                          const float *y_scale, const void *y_zero_point, void *Y,
                          const tinyc_qlinear_matmul_params *p);

#endif /* TINYC_QLINEAR_H */
