/* Packed int4 weights ("rows" layout of tinyc/quant/packing.py), read by the int4-weight
 * kernels of every target: output channel / feature r's K weights, padded with zeros to a
 * multiple of 8, as blocks of 4 bytes whose byte j holds weight 8b + j in its low nibble
 * and weight 8b + j + 4 in its high nibble (two's complement). */
#ifndef TINYC_W4_H
#define TINYC_W4_H

#include "tinyc_rt.h"

/* bytes of one packed row of k weights */
#define TINYC_W4_ROW_BYTES(k) ((((size_t)(k) + 7u) / 8u) * 4u)

/* the low nibble of v as a signed value in [-8, 7] */
TINYC_INLINE int32_t tinyc_w4_nibble(uint32_t v) {
  return (int32_t)(v & 0xFu) - (int32_t)((v & 8u) << 1);
}

/* The int4 weight at index k of a packed row. */
TINYC_INLINE int32_t tinyc_w4_row_at(const uint8_t *row, int32_t k) {
  const uint32_t byte = row[(k >> 3) * 4 + (k & 3)];
  return tinyc_w4_nibble((k & 4) ? byte >> 4 : byte);
}

/* sum over k < n of (x[k] + offset) * w[k], w a packed row: block by block, each byte's
 * two nibbles decoded once */
TINYC_INLINE int32_t tinyc_w4_dot(const uint8_t *row, const int8_t *x, int32_t n,
                                  int32_t offset) {
  int32_t acc = 0, k = 0, j;
  for (; k + 8 <= n; k += 8, row += 4) {
    for (j = 0; j < 4; ++j) {
      const uint32_t byte = row[j];
      acc += ((int32_t)x[k + j] + offset) * tinyc_w4_nibble(byte);
      acc += ((int32_t)x[k + j + 4] + offset) * tinyc_w4_nibble(byte >> 4);
    }
  }
  for (j = 0; k + j < n; ++j) { /* the last, partial block */
    const uint32_t byte = j < 4 ? row[j] : (uint32_t)row[j - 4] >> 4;
    acc += ((int32_t)x[k + j] + offset) * tinyc_w4_nibble(byte);
  }
  return acc;
}

#endif /* TINYC_W4_H */
