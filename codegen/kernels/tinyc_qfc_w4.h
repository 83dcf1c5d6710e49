/* int8 fully connected layer with int4 weights packed two per byte (`--weight-bits 4`).
 *
 * tinyc_qfc.h's operation and parameters, with W [out, in] in the "rows" layout of
 * tinyc/quant/packing.py (tinyc_qconv_w4.h): each output feature's in_features weights,
 * padded to a multiple of 8, as blocks of 4 bytes whose byte j holds weight 8b + j in its
 * low nibble and 8b + j + 4 in its high nibble.
 *
 * `work` is the node's planned arena workspace (tinyc/ops/qint4.py): the Cortex-M4 kernel
 * widens each input row into it as int16 pairs; the portable kernel needs none. */
#ifndef TINYC_QFC_W4_H
#define TINYC_QFC_W4_H

#include "tinyc_qfc.h"
#include "tinyc_w4.h"

/* X [batch, in], W packed rows [out], B [out] or NULL, Y [batch, out]; Y must not alias X. */
void tinyc_fully_connected_s8_w4(const int8_t *restrict X, const uint8_t *restrict W,
                                 const int32_t *restrict B, int8_t *restrict Y,
                                 int32_t *restrict work, const tinyc_qfc_params *p);

#endif /* TINYC_QFC_W4_H */
