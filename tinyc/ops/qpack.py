"""Compile-time packed weights of the Cortex-M4 dense int8 tiles (`tinyc_qconv_params.packed`).

The M4 kernel's short-form tiles (codegen/kernels/cortex-m4/tinyc_qconv.c: two output
channels over two or three pixels) read int8 weights and sign-extend each word twice (SXTB16,
even then odd bytes) on every tile, and compute each channel pair's requantization constants
at run time. For a dense layer whose channels all take the short form, all of that is known
when the model compiles, so it is done here once: per output channel pair one record of
int32 words

    bias0, bias1,
    K words of weights: per 4 reduction steps k..k+3 the int16 pairs
        ch0 (w[k], w[k+2]), ch1 (w[k], w[k+2]), ch0 (w[k+1], w[k+3]), ch1 (w[k+1], w[k+3])
        (low halfword first), the order the tiles' loads consume them against the column's
        words p(k, k+2), p(k+1, k+3) (`widen`'s layout);
    q0, round0, rs0, q1, round1, rs1: the short requantization of each channel
        (SMMLA with q, the rounding term with the output zero point in it, shift right by rs;
        exactly `pair_record`'s values),

K + 8 words a pair. The tiles then load each weight word once per pixel group and need no
sign extension, and a record is read front to back (the asm walks them with one pointer).
The table takes twice the int8 weights' flash; a layer's int8 weights are then passed as
NULL and not emitted at all (`qinteger.qconv_weights`): for such a layer (one image, one
group, K <= 576) every path of the M4 kernel reads the records only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinyc.ops.qwork import ConvGeometry, dense_short_only

#: int32 words of a record besides the weights (two biases, six requantization constants)
RECORD_EXTRA = 8


def m4_conv_kernel(kernel_dirs: tuple[str, ...] | None) -> bool:
    """Whether a target with these kernel variants runs its int8 convs with the Cortex-M4
    kernels (the first variant directory holding tinyc_qconv.c), the only ones that read
    packed records (the Cortex-M55's have their own; None: not known, so no)."""
    if kernel_dirs is None:
        return False
    from tinyc.backend.generate import codegen_root  # (the backend imports the ops)

    kernels = codegen_root() / "kernels"
    for d in kernel_dirs:
        if (kernels / d / "tinyc_qconv.c").is_file():
            return d == "cortex-m4"
    return False


def packs_dense(g: ConvGeometry, shifts: Sequence[int], act: tuple[int, int]) -> bool:
    """Whether the M4 kernel runs this dense layer on packed records: every channel in the
    short form (`dense_short_only`: one image, one group, even m, no clamp, short shifts)
    and K % 4 == 0 (the tiles' groups of 4 steps; other K keep the int8 tiles)."""
    k = g.c // g.group * g.kh * g.kw
    return dense_short_only(g, shifts, act) and k % 4 == 0 and k > 0


def pack_records(w: np.ndarray, bias: np.ndarray | None, multipliers: Sequence[int],
                 shifts: Sequence[int], output_zero_point: int) -> np.ndarray:
    """The records (int32, m / 2 * (K + 8) words) of int8 weights `w` [m, K...] (flattened to
    K per channel), int32 `bias` [m] or None, and the per-channel short-form multipliers and
    shifts (-21 <= shift <= -2)."""
    m = w.shape[0]
    wk = np.asarray(w, np.int64).reshape(m, -1)
    k = wk.shape[1]
    assert m % 2 == 0 and k % 4 == 0
    b = np.zeros(m, np.int64) if bias is None else np.asarray(bias, np.int64).reshape(m)
    q = np.asarray(multipliers, np.int64).reshape(m)
    rs = -1 - np.asarray(shifts, np.int64).reshape(m)
    assert ((rs >= 1) & (rs <= 20)).all()
    # round = 2^(rs - 1) + (zp << rs) = ((2 zp + 1) << rs) / 2, exact
    rnd = ((2 * int(output_zero_point) + 1) << rs) >> 1
    # int16 pairs (k, k + 2) and (k + 1, k + 3) of each group of 4 steps, low halfword first
    g = wk.reshape(m, k // 4, 4)
    lo = np.stack([g[:, :, 0], g[:, :, 1]], axis=2) & 0xFFFF  # [m, k/4, 2]
    hi = np.stack([g[:, :, 2], g[:, :, 3]], axis=2) & 0xFFFF
    words = lo | (hi << 16)  # [m, k/4, 2]: (k, k+2), (k+1, k+3)
    pairs = words.reshape(m // 2, 2, k // 4, 2)  # [pair, channel, group, half]
    # per group: ch0 half 0, ch1 half 0, ch0 half 1, ch1 half 1
    weights = pairs.transpose(0, 2, 3, 1).reshape(m // 2, k)
    head = b.reshape(m // 2, 2)
    tail = np.stack([q, rnd, rs], axis=1).reshape(m // 2, 6)
    rec = np.concatenate([head, weights, tail], axis=1)
    return (rec & 0xFFFFFFFF).astype(np.uint32).view(np.int32).reshape(-1)
