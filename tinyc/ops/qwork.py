"""Arena workspace of the int8 convolution, fully connected and pooling kernels.

The Cortex-M4 kernels (`codegen/kernels/cortex-m4/tinyc_qconv.c`, `tinyc_qfc.c`,
`tinyc_qpool.c`) stage int16 columns, widened input rows, padded depthwise planes and
pooled rows; they take that scratch from
the node's planned workspace (`OpDef.workspace`), not from the stack, so the whole RAM of a
model is known at compile time. Every target's variant of a kernel has the same signature
(tinyc/mcu/targets.py), so the workspace is sized for the largest variant's need: the
M4's, exactly for this node. The portable kernels ignore it.

The functions below mirror the kernels' choice of path; the constants are theirs
(`tests/mcu/test_qkernels_host.py` runs the M4 kernels under ASan with exactly these
sizes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: tinyc_qfc.c TINYC_QFC_ROW: longest int8 input row the M4 kernel widens (longer: no
#: scratch, widened in registers; a 1 KB buffer would be the arena peak of a small model)
QFC_ROW = 512
#: tinyc_qfc.c TINYC_QFC_FLOAT_ROW: longest float input row it quantizes into the buffer
#: (longer: each input quantized once per output)
QFC_FLOAT_ROW = 1024
#: tinyc_qconv.c TINYC_QCONV_COLUMN / TINYC_QCONV_PAIRS: column words, pixel pairs
QCONV_COLUMN = 576
QCONV_PAIRS = 4
#: bytes of a workspace copy of `tinyc_qconv_params` (20 int32 and three pointers: 104 on
#: a 64-bit host) that a band loop keeps off the stack: tinyc_qband.h
#: TINYC_QBAND_CONV_PARAMS, tinyc_qboundary.h TINYC_QB_CONV_PARAMS
QCONV_PARAMS_BYTES = 104
#: tinyc_qconv.c TINYC_QDW_ROW, TINYC_QDW_PLANE, TINYC_QDW_ACC, TINYC_QDW_NARROW,
#: TINYC_QDW_WIDE, TINYC_QDW_STAGE (3x3 depthwise paths)
QDW_ROW = 128
QDW_PLANE = 512
QDW_ACC = 64
QDW_NARROW = 8
QDW_WIDE = 16
QDW_STAGE = 256
#: tinyc_qpool.c TINYC_QPOOL_ROW: longest padded row of the pooling row path
QPOOL_ROW = 256

#: the `EmitContext.kernel_paths` entry of a dense int8 conv that needs more than the short
#: form of the column path (`dense_short_only`)
QCONV_GENERAL = "qconv-general"
#: the `EmitContext.kernel_paths` entry of a dense int8 conv without packed records
#: (`qpack.packs_dense`); a model with none defines TINYC_QCONV_PACKED_ONLY
QCONV_UNPACKED = "qconv-unpacked"
#: the `EmitContext.kernel_paths` entry of a band chain with a depthwise layer in the M4's
#: split-window form: TINYC_QBAND_HALO (tinyc_qband.c calls tinyc_dwconv2d_halo_s8 directly)
QBAND_HALO = "qband-halo"
#: tinyc_qconv.c TINYC_QCONV_TRIPLE_MG / TINYC_QCONV_TRIPLE_K: the smallest layer (output
#: channels a group, reduction length) whose column holds pixel triples (the 2 x 3 tile)
QCONV_TRIPLE_MG = 64
QCONV_TRIPLE_K = 40
#: the `EmitContext.kernel_paths` entry of a dense int8 conv that may take the 2 x 3 tile
#: (`dense_takes_triples`); a model with none leaves it out (TINYC_QCONV_NO_TRIPLES)
QCONV_TRIPLES = "qconv-triples"

def uses_m4_kernels(kernel_dirs: tuple[str, ...] | None) -> bool:
    """Whether a target with these kernel variants links the Cortex-M4 kernels, the only
    ones that take this scratch (None: any target may)."""
    return kernel_dirs is None or "cortex-m4" in kernel_dirs


def round8(nbytes: int) -> int:
    """`nbytes` rounded up to the workspace alignment (so what follows stays aligned)."""
    return (nbytes + 7) // 8 * 8


def qfc_work_bytes(in_features: int, float_row: bool = False) -> int:
    """Bytes the M4 fully connected kernels widen one input row into: two int16 per int32
    word for each group of four inputs, then the last in % 4 as int32 words. `float_row`:
    the float-input form (tinyc_fully_connected_f32_s8) quantizes the row into it."""
    if in_features > (QFC_FLOAT_ROW if float_row else QFC_ROW):
        return 0
    return 4 * (2 * (in_features // 4) + in_features % 4)


@dataclass(frozen=True)
class ConvGeometry:
    """The leading fields of `tinyc_qconv_params` (`quant.conv_geometry`'s order)."""

    n: int
    c: int
    h: int
    w: int
    m: int
    oh: int
    ow: int
    kh: int
    kw: int
    group: int
    stride_h: int
    stride_w: int
    dil_h: int
    dil_w: int
    pad_top: int
    pad_left: int

    @classmethod
    def of(cls, fields: list[int]) -> ConvGeometry:
        return cls(*fields[:16])


def dense_work_bytes(g: ConvGeometry) -> int:
    """The int16 column of tinyc_conv2d_s8 and its streaming forms: K words per pixel pair,
    min(COLUMN / K, PAIRS) pairs; reductions longer than COLUMN take the plain loop."""
    k = g.c // g.group * g.kh * g.kw
    if k > QCONV_COLUMN:
        return 0
    return 4 * k * min(QCONV_COLUMN // k, QCONV_PAIRS)


def dense_short_only(g: ConvGeometry, shifts: Sequence[int], act: tuple[int, int]) -> bool:
    """Whether tinyc_conv2d_s8 and its streaming forms run this dense layer on the column
    path's short requantization form alone (`TINYC_QCONV_SHORT_ONLY`): one image, one group,
    K <= COLUMN, no activation clamp beyond int8's own, output channels in pairs and every
    shift in the short form (-21 <= shift <= -2: tinyc_qconv.c `short_form`). A model whose
    dense layers all do leaves out the grouped loop and channels_rest, and their frames."""
    k = g.c // g.group * g.kh * g.kw
    return (g.n == 1 and g.group == 1 and k <= QCONV_COLUMN and act == (-128, 127)
            and g.m % 2 == 0 and all(-21 <= s <= -2 for s in shifts))


def dense_takes_triples(g: ConvGeometry) -> bool:
    """Whether tinyc_conv2d_s8 and its streaming forms may run this dense layer on pixel
    triples (tinyc_qconv.c `triples_of`, given the layer has packed records,
    `qpack.packs_dense`): K % 4 == 0, K >= TRIPLE_K, a full column (K <= COLUMN / PAIRS)
    and at least TRIPLE_MG output channels a group."""
    k = g.c // g.group * g.kh * g.kw
    return (k % 4 == 0 and QCONV_TRIPLE_K <= k <= QCONV_COLUMN // QCONV_PAIRS
            and g.m // g.group >= QCONV_TRIPLE_MG)


def _dw3_fits(g: ConvGeometry) -> bool:
    return (g.kh == 3 and g.kw == 3 and g.dil_h == 1 and g.dil_w == 1
            and g.stride_w in (1, 2) and g.pad_left <= 2
            and (g.ow - 1) * g.stride_w + 3 <= QDW_ROW)


def _dw3_small_words(g: ConvGeometry, oh: int) -> int | None:
    """Words of dw3_small_plane's sums and padded plane for `oh` output rows, or None when
    that plane takes another path (size conditions of dw3_small_fits). The column walk
    (stride 1, rows of at most QDW_WIDE bytes, padded to QDW_NARROW or QDW_WIDE) takes a
    plane of QDW_STAGE bytes, then its staged outputs."""
    stride = (g.ow - 1) * g.stride_w + 3
    rows = (oh - 1) * g.stride_h + 3
    if g.stride_h == 1 and g.stride_w == 1 and stride <= QDW_WIDE:
        walk = QDW_NARROW if stride <= QDW_NARROW else QDW_WIDE
        if rows * walk + 4 <= QDW_STAGE:
            return (QDW_STAGE + oh * walk) // 4
    row = 2 * ((g.ow + 1) // 2) if g.stride_w == 1 else g.ow
    band = QDW_ACC // row
    if band < 1 or rows * stride > QDW_PLANE:
        return None
    return min(band, oh) * row + (rows * stride + 3) // 4 + 1


def depthwise_work_bytes(g: ConvGeometry, band_rows: int | None = None) -> int:
    """tinyc_depthwise_conv2d_s8 / tinyc_dwconv2d_stream_s8: a small 3x3 plane's sums and
    padded copy (dw3_small_plane), else a row's sums and three padded rows (dw3_plane);
    other windows need none. `band_rows`: the kernel is called on bands of up to that many
    output rows instead (the float-boundary kernels), each taking either 3x3 path."""
    if not _dw3_fits(g):
        return 0
    length = (g.ow - 1) * g.stride_w + 3
    rows_words = g.ow + (3 * (length + 4) + 3) // 4  # dw3_plane
    if band_rows:
        smalls = [_dw3_small_words(g, oh) for oh in range(1, min(band_rows, g.oh) + 1)]
        return 4 * max([rows_words] + [w for w in smalls if w is not None])
    small = _dw3_small_words(g, g.oh) if 0 <= g.pad_top <= 2 and g.pad_left >= 0 else None
    return 4 * (rows_words if small is None else small)


def qconv_work_bytes(g: ConvGeometry, depthwise: bool, band_rows: int | None = None) -> int:
    """Workspace of an int8 conv node: `depthwise` when it runs the depthwise kernels
    (`qinteger.qconv_depthwise`); a single-channel conv (c == m == group == 1) may stream
    through the depthwise form too, so it gets the larger of both."""
    dense = 0 if depthwise else dense_work_bytes(g)
    if depthwise or g.group == g.c == g.m:
        return max(dense, depthwise_work_bytes(g, band_rows))
    return dense


def qpool_work_bytes(kind: str, fields: list[int]) -> int:
    """The row buffer of tinyc_qpool.c's row path (`row_path`): span + 3 bytes for a max
    pool, span int16 sums for an average pool whose windows overlap and that keeps
    integer arithmetic. `fields`: `tinyc_qpool2d_params` in order."""
    (_, _, _, _, ow, kh, kw, sh, sw, dh, dw, _, pad_left, *_rest) = fields
    y_scale_bits = fields[24] if len(fields) > 24 else 0  # onnxruntime's float windows
    span = (ow - 1) * sw + kw
    if not (dh == 1 and dw == 1 and kh <= 255 and span <= QPOOL_ROW and pad_left < span):
        return 0
    if kind == "max":
        return round8(span + 3)
    if y_scale_bits != 0 or (sh >= kh and sw >= kw):
        return 0
    return round8(2 * span)
