/* Matrix products with IEEE half weights (--quantize float16): float32 activations, bias
 * and arithmetic; B holds the weights' binary16 bits in flash, widened as they are read. */
#ifndef TINYC_GEMM_F16W_H
#define TINYC_GEMM_F16W_H

#include "tinyc_gemm.h"
#include "tinyc_rt.h"

/* As tinyc_gemm_f32 (tinyc_gemm.h), B as half bits. */
void tinyc_gemm_f32_f16w(const float *restrict A, const uint16_t *restrict B,
                         const float *restrict C, float *restrict Y, const tinyc_gemm_params *p);

/* As tinyc_matmul_f32 (tinyc_gemm.h), B as half bits. */
void tinyc_matmul_f32_f16w(const float *restrict A, const uint16_t *restrict B,
                           float *restrict Y, int32_t batch, int32_t m, int32_t k, int32_t n,
                           int32_t a_stride, int32_t b_stride, const tinyc_act *act);

#endif /* TINYC_GEMM_F16W_H */
