/* int8 pooling: MaxPool, AveragePool, GlobalAveragePool (NCHW, one plane per n*c).
 *
 * Max: m = max over the window (padding ignored); Y = requant(m + input_offset).
 * Average: s = sum over the window of (X + input_offset). With divisor > 0 every window
 *   counts divisor taps and the multiplier already divides by it: Y = requant(s), one
 *   rounding (onnxruntime's QLinearAveragePool rounds once too). With divisor 0, s is
 *   divided by the window's count (valid taps, or the padded extent with
 *   count_include_pad) rounding half away from zero, then Y = requant(avg). Global average: Y = requant(sum over the plane of (X + input_offset))
 *   with the 1/count folded into the multiplier (one rounding).
 * requant(v) = clamp(tinyc_mbqm(v, multiplier, shift) + output_offset, act_min, act_max);
 * the identity when input and output parameters agree. */
#ifndef TINYC_QPOOL_H
#define TINYC_QPOOL_H

#include "tinyc_rt.h"

typedef struct {
  int32_t nc, h, w, oh, ow;
  int32_t kh, kw, stride_h, stride_w, dil_h, dil_w;
  int32_t pad_top, pad_left, pad_bottom, pad_right;
  int32_t count_include_pad;
  int32_t input_offset, output_offset, multiplier, shift, act_min, act_max;
  int32_t divisor; /* average pools: see above */
  /* average pool in onnxruntime semantics when y_scale_bits != 0 (s_x, s_y as float32 bits,
   * code_offset 128 for a uint8 model): tinyc_avgpool2d_onnxruntime (tinyc_onnxruntime.h) */
  int32_t x_scale_bits, y_scale_bits, code_offset;
} tinyc_qpool2d_params;

/* `work`: the node's planned workspace (tinyc/ops/qwork.py qpool_work_bytes: the Cortex-M4
 * row buffer), or NULL; the portable kernels ignore it. */
void tinyc_maxpool2d_s8(const int8_t *restrict X, int8_t *restrict Y, int32_t *restrict work,
                        const tinyc_qpool2d_params *p);
void tinyc_avgpool2d_s8(const int8_t *restrict X, int8_t *restrict Y, int32_t *restrict work,
                        const tinyc_qpool2d_params *p);
/* Uses nc and the plane size h * w only. */
void tinyc_global_avgpool_s8(const int8_t *restrict X, int8_t *restrict Y,
                             const tinyc_qpool2d_params *p);

#endif /* TINYC_QPOOL_H */
