"""The flash layout of int4 weights (`--weight-bits 4`): two per byte, in the order the
kernels read them (`codegen/kernels/tinyc_qconv_w4.h`, `tinyc_qfc_w4.h`).

Values are two's complement nibbles (the quantizer writes [-7, 7]; the layout holds -8 too).

- rows (dense and grouped Conv, Gemm/MatMul): one row per output channel of K weights
  (cg * kh * kw, or in_features), padded with zeros to a multiple of 8 and stored as
  blocks of 4 bytes: byte j of block b holds weight 8b + j in its low nibble and weight
  8b + j + 4 in its high nibble. A row takes 4 * ceil(K / 8) bytes, so every row starts on
  a word. Why this order: on the Cortex-M4 one word load gives 8 weights; `w & 0xF0F0F0F0`
  and `(w << 4) & 0xF0F0F0F0` leave 16 * weight in every byte, and SXTB16 / SXTB16 ROR 8
  of those are the halfword pairs (w0, w2), (w1, w3), (w4, w6), (w5, w7) that SMLAD
  multiplies with the inputs widened in SXTB16 order -- the int8 kernels' input order, at
  5 instructions per 8 weights (the sums are 16x too large, and exactly divisible by 16).
- stream (depthwise Conv, whose rows are kh * kw, often 9, which padding to 8 would grow
  by up to 44 %): weight i of the flattened [m, kh, kw] tensor is the low nibble of byte
  i / 2 when i is even, the high nibble when odd; the last byte is padded with 0.
"""

from __future__ import annotations

import numpy as np

#: weights per block of a packed row (4 bytes)
ROW_BLOCK = 8


def _nibbles(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, np.int64)
    if v.size and (v.min() < -8 or v.max() > 7):
        raise ValueError("int4 weights must lie in [-8, 7]")
    return (v & 0xF).astype(np.uint8)


def row_bytes(k: int) -> int:
    """Bytes of one packed row of `k` weights."""
    return (k + ROW_BLOCK - 1) // ROW_BLOCK * (ROW_BLOCK // 2)


def pack_rows(w: np.ndarray) -> np.ndarray:
    """[rows, K] int4 values -> uint8 [rows * row_bytes(K)] in the row layout."""
    rows, k = w.shape
    padded = np.zeros((rows, row_bytes(k) * 2), np.uint8)
    padded[:, :k] = _nibbles(w)
    blocks = padded.reshape(rows, -1, 2, ROW_BLOCK // 2)  # [rows, block, half, j]
    return (blocks[:, :, 0, :] | (blocks[:, :, 1, :] << 4)).reshape(-1)


def pack_stream(w: np.ndarray) -> np.ndarray:
    """int4 values (any shape, C order) -> uint8 [ceil(n / 2)] in the stream layout."""
    flat = _nibbles(np.asarray(w).reshape(-1))
    if flat.size % 2:
        flat = np.append(flat, np.uint8(0))
    return flat[0::2] | (flat[1::2] << 4)
