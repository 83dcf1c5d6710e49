/* Sparse weights: Conv and Gemm whose weight is stored compressed, float32 and int8.
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

/* ---- int8 (the conventions of tinyc_qconv.h / tinyc_qfc.h) ------------------------------
 *
 * V holds the int8 weights (symmetric, zero point 0), B int32 biases or NULL. Every output
 * value is exactly the dense kernel's: acc = B[m] + sum over the stored weights of
 * (X + input_offset) * W, then Y = clamp(mbqm(acc, multiplier[m], shift[m]) + output_offset,
 * act_min, act_max); integer sums do not depend on the order, and a zero weight adds 0. */

typedef struct {
  int32_t n, c, h, w;
  int32_t m, oh, ow;
  int32_t kh, kw, group;
  int32_t stride_h, stride_w, dil_h, dil_w;
  int32_t pad_top, pad_left;
  int32_t index_bits;
  int32_t input_offset;  /* -zp_x */
  int32_t output_offset; /* zp_y */
  int32_t act_min, act_max;
  const int32_t *multiplier; /* [m] */
  const int32_t *shift;      /* [m] */
} tinyc_sparse_qconv_params;

/* Output pixels are computed in blocks of at most TINYC_SPARSE_BLOCK int32 accumulators
 * (whole rows when they fit) in `work`, the node's planned arena workspace (one block:
 * tinyc/ops/sparse.py sizes it); the stored taps of the channel are decoded once per
 * block. X [n,c,h,w] int8, Y [n,m,oh,ow] int8, Y must not alias X. */
#define TINYC_SPARSE_BLOCK 64
void tinyc_sparse_conv2d_s8(const int8_t *restrict X, const int8_t *restrict V,
                            const void *restrict D, const uint16_t *restrict row_nnz,
                            const int32_t *restrict B, int8_t *restrict Y,
                            int32_t *restrict work,
                            const tinyc_sparse_qconv_params *p);

typedef struct {
  int32_t rows, k, n;        /* X [rows, k], weight [n, k], Y [rows, n] */
  int32_t index_bits;
  int32_t input_offset, output_offset, act_min, act_max;
  const int32_t *multiplier; /* [n] */
  const int32_t *shift;      /* [n] */
} tinyc_sparse_qfc_params;

void tinyc_sparse_fully_connected_s8(const int8_t *restrict X, const int8_t *restrict V,
                                     const void *restrict D, const uint16_t *restrict row_nnz,
                                     const int32_t *restrict B, int8_t *restrict Y,
                                     const tinyc_sparse_qfc_params *p);

#endif /* TINYC_SPARSE_H */
