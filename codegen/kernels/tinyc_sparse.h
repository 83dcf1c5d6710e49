/* Sparse weights: Conv and Gemm whose weight is stored compressed, float32.
 *
 * Storage (CSR with delta-coded column indices, built by tinyc/prune/sparse.py): the weight
 * is a matrix of `rows` x `cols` (Conv: rows = output channels, cols = C/group * kh * kw
 * in (c, ky, kx) order; Gemm: rows = outputs N, cols = K). Row r owns the next
 * row_nnz[r] entries of V (values) and D (deltas). A cursor starts at column 0 of the row
 * and moves by D[e] before entry e, so the first delta may be 0 and later ones are >= 1.
 * D is uint8_t (index_bits 8) or uint16_t (index_bits 16); a gap larger than the index
 * type holds is bridged by filler entries whose value is 0.
 *
 * Numerics: every output element sums the same products in the same order as the dense
 * kernels (tinyc_conv2d_f32, tinyc_gemm_f32) minus the zero-weight terms, so results are
 * equal to the dense kernels' on the same weights (up to the sign of an exact zero). */
#ifndef TINYC_SPARSE_H
#define TINYC_SPARSE_H

#include "tinyc_rt.h"

typedef struct {
  int32_t n, c, h, w;       /* input */
  int32_t m, oh, ow;        /* output channels (rows) and spatial size */
  int32_t kh, kw, group;
  int32_t stride_h, stride_w, dil_h, dil_w;
  int32_t pad_top, pad_left;
  int32_t index_bits;       /* 8 or 16: the type of D */
  tinyc_act act;
} tinyc_sparse_conv2d_params;

/* X [n,c,h,w], B [m] or NULL, Y [n,m,oh,ow]; Y must not alias X. Each output plane is
 * initialized with the bias, then every stored tap adds w * (shifted input plane) over the
 * output pixels where the tap lands inside the input, then the activation is applied. */
void tinyc_sparse_conv2d_f32(const float *restrict X, const float *restrict V,
                             const void *restrict D, const uint16_t *restrict row_nnz,
                             const float *restrict B, float *restrict Y,
                             const tinyc_sparse_conv2d_params *p);

typedef struct {
  int32_t m, n, k;          /* Y [m,n] = A [m,k] times the [n,k] sparse weight, transposed */
  float alpha;
  int32_t index_bits;       /* 8 or 16: the type of D */
  tinyc_act act;
} tinyc_sparse_gemm_params;

/* Y[i,j] = act(alpha * sum_e A[i, col_e] * V[e] + B[j]); B [n] (already beta * C) or NULL.
 * Y must not alias A. */
void tinyc_sparse_gemm_f32(const float *restrict A, const float *restrict V,
                           const void *restrict D, const uint16_t *restrict row_nnz,
                           const float *restrict B, float *restrict Y,
                           const tinyc_sparse_gemm_params *p);

#endif /* TINYC_SPARSE_H */
