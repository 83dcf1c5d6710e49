/* Overlapping ("in place") forms of kernels whose access pattern lets the output share
 * bytes with an input that dies at the node. The compiler places the tensors; each kernel
 * states here exactly which overlap it tolerates, and tinyc's plan verifier checks every
 * placement against the same rule (tinyc/ops/registry.py BlockStream, PlaneStream).
 *
 * X and Y are deliberately not `restrict`: they may overlap. `scratch` never overlaps
 * anything else, and is planned in the arena like a tensor. Parameters are the records of
 * the ordinary kernels, so these are drop-in replacements chosen at generation time. */
#ifndef TINYC_INPLACE_H
#define TINYC_INPLACE_H

#include "tinyc_conv.h"
#include "tinyc_gemm.h"
#include "tinyc_rt.h"

/* Depthwise convolution (group == c == m), one channel at a time: output channel k is
 * computed into scratch[oh*ow], then stored, after input channel k is fully read.
 * Safe when Y - X <= (h*w - oh*ow) floats (BlockStream over n*c channel planes). `work`
 * as tinyc_conv2d_f32's. */
void tinyc_dwconv2d_stream_f32(const float *X, const float *restrict W, const float *restrict B,
                               float *Y, float *restrict scratch, float *restrict work,
                               const tinyc_conv2d_params *p);

/* 1x1 convolution, stride 1, no padding, group 1, n == 1, 4 pixels at a time: every input
 * channel at those pixels is read (into scratch[4 * min(c, m)]) before any output channel at
 * them is written. Safe when Y - X is a whole number of pixel planes (PlaneStream). */
void tinyc_conv1x1_stream_f32(const float *X, const float *restrict W, const float *restrict B,
                              float *Y, float *restrict scratch, const tinyc_conv2d_params *p);

/* Dense convolution, group 1, n == 1, stride 1, output the size of the input (`same`
 * padding), row by row: output row r is kept in scratch[(pad_top + 1) * m * ow] until no
 * later output row needs input row r, then stored. Safe when Y - X is a whole number of
 * channel planes (PlaneStream). */
void tinyc_conv2d_rows_stream_f32(const float *X, const float *restrict W,
                                  const float *restrict B, float *Y, float *restrict scratch,
                                  const tinyc_conv2d_params *p);

/* Gemm without trans_a, row by row through scratch[min(k, n)]: row i of A is fully read
 * before row i of Y is written. Safe when Y - A <= the BlockStream bound over m rows. */
void tinyc_gemm_rows_stream_f32(const float *A, const float *restrict B, const float *restrict C,
                                float *Y, float *restrict scratch, const tinyc_gemm_params *p);

#endif /* TINYC_INPLACE_H */
