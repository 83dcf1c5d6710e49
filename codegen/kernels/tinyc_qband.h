/* Row-band execution of a chain of int8 layers (convolutions, same-shape adds; NCHW, batch
 * 1), so that only a few rows of each intermediate tensor are ever in RAM (MCUNetV2's
 * patch-based inference, by rows). The compiler (tinyc/ops/bands.py) lists the steps, one
 * (layer, output row) each, in an order where every row a step reads is already computed,
 * and sizes each intermediate's ring of rows so no row is overwritten before its last read.
 * Each step runs the public kernels (tinyc_qconv.h, tinyc_qelementwise.h) on one row, so a
 * target's variants of those serve here too, with the same bits: a convolution row gets its
 * input rows gathered into a band and the layer's parameters with h, oh and pad_top of that
 * band (the float-boundary kernels' bands, tinyc_qboundary.c); an add row is a flat add of
 * c * w elements; a final whole-plane average pool adds each row to per-channel sums and
 * writes Y after the last.
 *
 * Tensors: the node's inputs (whole [c][h][w] arrays), then one per layer; the last is the
 * output Y (whole), the others are rings in `work`: row r of ring t is the [c][w] block at
 * slot r % ring. `work` (8-byte aligned): the conv kernels' workspace (kernel_work bytes),
 * then the rings, then the band (c * rows * w bytes) and the row buffers (one [c][w] row
 * each: the output's, and an add operand's only where one is a whole tensor), then a
 * pool's sums and the band's conv parameters.
 *
 * With band_rows > 1 (narrow rows: one call per row would cost more than its MACs), a plain
 * chain runs up to band_rows output rows a step instead (tinyc/ops/bands.py
 * chain_schedule): each step is (layer, row, rows, halo_in, new_in, halo_out, stash). A
 * step's source window is the halo_in rows kept of its source (at tensors[src].offset,
 * [c][halo_in][w]) followed by the new_in rows the step before wrote; layer 0 reads the
 * node's input (a one-channel input in place). The window is assembled in the buffer at
 * `band` (in place when the new rows are there); before the layer runs, the window's last
 * halo_out rows become the source's halo. A layer with an overlapping form (`stream`:
 * depthwise, 1x1) then writes its rows over its window, with the stream scratch at row_b;
 * another writes them into the other buffer (band <-> row_a). A depthwise layer with a
 * `halo` form (the compiler sets it where that form takes every step of the layer) reads
 * its window in place instead, the halo rows at the source's halo and the new rows where
 * the step before wrote them in `band`, and writes its rows over the new ones; the halo
 * form keeps the next halo_out rows itself, and the window buffer only holds the new rows
 * (tinyc/ops/qbanded.py chain_layout). A step whose reader does not
 * come next (the first rounds) has stash >= 0: its rows are appended to the stash rows its
 * reader's halo holds. So only the halos stay between steps, and the whole chain shares
 * one window buffer. */
#ifndef TINYC_QBAND_H
#define TINYC_QBAND_H

#include "tinyc_qconv.h"
#include "tinyc_qelementwise.h"
#include "tinyc_rt.h"

#define TINYC_QBAND_CONV 0
#define TINYC_QBAND_DEPTHWISE 1
#define TINYC_QBAND_ADD 2
#define TINYC_QBAND_POOL 3
/* tinyc_qband_layer.stream: the overlapping form a conv layer may run in place */
#define TINYC_QBAND_STREAM_NONE 0
#define TINYC_QBAND_STREAM_DW 1 /* tinyc_dwconv2d_stream_s8 */
#define TINYC_QBAND_STREAM_1X1 2 /* tinyc_conv1x1_stream_s8 */
/* bytes of work that hold a band's copy of a layer's tinyc_qconv_params (20 int32 and three
 * pointers: 104 on a 64-bit host), kept in the arena, not on the stack */
#define TINYC_QBAND_CONV_PARAMS 104

/* A whole-plane average pool ending the chain: per channel, the sum of (x + input_offset)
 * over every row, then tinyc_requantize_one with the pool's multiplier (s_x / (s_y * h * w)),
 * as tinyc_global_avgpool_s8 computes it; or, when `divisor` > 0 (TFLite's AVERAGE_POOL_2D),
 * the raw sum divided by `divisor` rounding half away from zero, then clamped. */
typedef struct {
  int32_t input_offset, output_offset; /* -zp_x, zp_y */
  int32_t multiplier, shift;
  int32_t act_min, act_max;
  int32_t divisor;
} tinyc_qband_pool;

typedef struct {
  int32_t c, h, w;
  int32_t ring;   /* rows kept as [ring][c][w] at work + offset; 0: a whole [c][h][w] tensor
                   * (multi-row chain: the most rows its halo keeps, as [c][rows][w]) */
  int32_t offset; /* bytes into work (rings and halos only) */
} tinyc_qband_tensor;

typedef struct {
  int32_t kind;                    /* TINYC_QBAND_* */
  int32_t src0, src1;              /* tensors read (src1: add only, else -1) */
  const tinyc_qconv_params *conv;  /* conv: the whole layer */
  const int8_t *w;                 /* conv: weights */
  const int32_t *b;                /* conv: bias or NULL */
  const tinyc_qbinary_params *add; /* add: one row, c * w elements */
  const tinyc_qband_pool *pool;    /* pool */
  int32_t stream;                  /* conv: TINYC_QBAND_STREAM_* (multi-row chain form) */
  /* a depthwise stream's split-window form (tinyc_dwconv2d_halo_s8, called directly where
   * TINYC_QBAND_HALO says the model has one, so the stack bound sees the call): its walk
   * constants, 6 a channel (qbanded.py), or NULL for no such form */
  const int32_t *halo_k;
} tinyc_qband_layer;

typedef struct {
  int32_t n_inputs, n_layers, n_steps;
  const tinyc_qband_tensor *tensors; /* n_inputs + n_layers */
  const tinyc_qband_layer *layers;
  const int16_t *steps; /* n_steps (layer, row) pairs, in execution order (chain: 7 each) */
  int32_t kernel_work;  /* bytes of work the conv kernels take first (a multiple of 8) */
  int32_t band;         /* offset of the gathered band (multi-row chain: the window buffer) */
  int32_t row_a, row_b; /* offsets of an add's operand rows gathered from a whole tensor
                         * (multi-row chain: the second buffer, the stream scratch) */
  int32_t row_y;        /* offset of the output row before it is scattered into Y */
  int32_t sums;         /* offset of a pool's int32 sums (8-byte aligned) */
  int32_t conv_params;  /* offset of the band's tinyc_qconv_params (8-byte aligned) */
  int32_t band_rows;    /* > 1: the multi-row chain form (steps of 7, see above) */
} tinyc_qband_params;

/* The Cortex-M4 kernels' halo form (their tinyc_qconv.c; declared here, where the band
 * uses it, since no other variant defines it): tinyc_dwconv2d_stream_s8 on a band window
 * whose first halo_in rows of each channel are at H ([c][halo_in][w]), the other
 * p->h - halo_in at X, its output written over X; each channel's last halo_out window rows
 * are copied to H ([c][halo_out][w]) once that channel is read (halos: halo_in |
 * halo_out << 16). K (or NULL): per channel the column walk's constants u0, u1, u2, v01,
 * v2 (bit 16 set: the channel takes the assembly) and the bias, as its set-up computes
 * them (tinyc/ops/qbanded.py walk_constants), so no band call computes them again.
 * Returns 0, with nothing done, when the layer takes another path than the column walk
 * (or the halos would overlap unread rows): the caller then assembles the window. */
int32_t tinyc_dwconv2d_halo_s8(int8_t *X, int8_t *H, int32_t halos, const int8_t *W,
                               const int32_t *B, const int32_t *K, int32_t *work,
                               const tinyc_qconv_params *p);

/* inputs[n_inputs] -> Y [m][oh][ow]; work as above */
void tinyc_qband_s8(const int8_t *const *inputs, int8_t *Y, int8_t *work,
                    const tinyc_qband_params *p);

#endif /* TINYC_QBAND_H */
