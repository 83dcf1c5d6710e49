"""int4 weights (`--weight-bits 4`) of the integer conv and fully connected ops.

`QConv` and `QGemm` carry `weight_bits` (8 by default). With 4, their weight constant still
holds int8 values, all in [-8, 7] (the quantizer writes [-7, 7]), so `reference` -- and the
interpreter -- are the int8 ones, unchanged and exact. Only the C differs: the weights are
packed two per byte into flash (`tinyc.quant.packing`) and the `*_w4` kernels unpack them
(`codegen/kernels/tinyc_qconv_w4.h`, `tinyc_qdwconv_w4.h`, `tinyc_qfc_w4.h`). The nodes do
not stream in place (the int8 kernels' overlapping forms read int8 rows), and
`fuse-qboundary` and `sparsify-weights` leave them alone.

The attribute belongs to the node, not to the activation type, so an integer op with other
activations (int16) can take the same packed layouts and this module's helpers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinyc.errors import ModelError
from tinyc.ir import DType, Graph, Node
from tinyc.ops.qwork import ConvGeometry, qconv_work_bytes, round8, uses_m4_kernels
from tinyc.ops.registry import Attr
from tinyc.quant.packing import pack_rows, pack_stream

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext

WEIGHT_BITS = "weight_bits"
WEIGHT_BITS_ATTR = {WEIGHT_BITS: Attr("int", 8, min=4, max=8)}
#: cortex-m4/tinyc_qconv_w4.c TINYC_QCONV_W4_COLUMN: longest reduction (rounded up to 8)
#: gathered as a column; longer ones unpack each row and take the plain loop.
QCONV_W4_COLUMN = 1024
#: TINYC_QCONV_W4_QUAD: longest reduction (rounded up to 8) computed four pixels a pass
#: (longer: two)
QCONV_W4_QUAD = 256
#: cortex-m4/tinyc_qfc_w4.c TINYC_QFC_W4_ROW: longest input row widened (longer: none)
QFC_W4_ROW = 1024


def weight_bits(node: Node) -> int:
    """The bits of the node's weights as stored in flash: 8, or 4 (packed)."""
    bits = int(node.attrs.get(WEIGHT_BITS, 8))
    if bits not in (4, 8):
        raise ModelError(f"{node.op} node '{node.name}': weight_bits {bits}: use 4 or 8")
    return bits


def packs_int4(node: Node) -> bool:
    """True for a QConv/QGemm whose weights are stored as packed int4."""
    return node.op in ("QConv", "QGemm") and weight_bits(node) == 4


def store_int4_weights(graph: Graph) -> list[Node]:
    """`--weight-bits 4` on a model that came quantized (QDQ, QOperator; e.g. trained with
    4-bit fake quantization): every QConv/QGemm whose integer weights all fit a nibble is
    stored packed. Returns the layers whose weights do not fit, which stay int8."""
    kept = []
    for node in graph.nodes:
        w = node.inputs[1] if node.op in ("QConv", "QGemm") else None
        if w is None or w.const is None:
            continue
        if w.const.size and (int(w.const.min()) < -8 or int(w.const.max()) > 7):
            kept.append(node)
        else:
            node.attrs[WEIGHT_BITS] = 4
    return kept


def check_int4_values(node: Node, w: np.ndarray) -> None:
    """Refuse int4-packed weights outside [-8, 7] (they would not fit a nibble)."""
    if weight_bits(node) == 4 and w.size and (int(w.min()) < -8 or int(w.max()) > 7):
        raise ModelError(f"{node.op} node '{node.name}': weight_bits 4 needs weights in [-8, 7]")


def _blocks8(k: int) -> int:
    return (k + 7) // 8 * 8


def conv_w4_work_bytes(g: ConvGeometry, depthwise: bool,
                       kernel_dirs: tuple[str, ...] | None) -> int:
    """Workspace of the QConv int4 kernels (the largest variant the target may link): a
    single-channel conv (c == m == group == 1) may stream through the depthwise form too,
    so it gets the larger of both, as in `qwork.qconv_work_bytes`."""
    need = 0
    if depthwise or g.group == g.c == g.m:
        dm = g.m // g.c
        one = ConvGeometry(1, 1, g.h, g.w, dm, g.oh, g.ow, g.kh, g.kw, 1, g.stride_h,
                           g.stride_w, g.dil_h, g.dil_w, g.pad_top, g.pad_left)
        int8_work = qconv_work_bytes(one, True) if uses_m4_kernels(kernel_dirs) else 0
        need = round8(dm * g.kh * g.kw) + int8_work  # unpacked channel, then the int8 kernel's
    if not depthwise:
        k = g.c // g.group * g.kh * g.kw
        need = max(need, round8(k))  # the portable kernels' unpacked row or pixel
        if uses_m4_kernels(kernel_dirs) and _blocks8(k) <= QCONV_W4_COLUMN:
            pixels = 4 if _blocks8(k) <= QCONV_W4_QUAD else 2
            need = max(need, (2 * pixels + 1) * _blocks8(k))  # int16 columns, raw bytes
    return need


def fc_w4_work_bytes(in_features: int, kernel_dirs: tuple[str, ...] | None) -> int:
    """Workspace of tinyc_fully_connected_s8_w4: the M4 kernel's widened input row."""
    if not uses_m4_kernels(kernel_dirs) or in_features > QFC_W4_ROW:
        return 0
    return 2 * _blocks8(in_features)


def _packed_weights(node: Node, ctx: EmitContext, stream: bool) -> str:
    w = node.inputs[1]
    assert w is not None and w.const is not None
    check_int4_values(node, w.const)
    rows = w.const.reshape(w.shape[0], -1)
    packed = pack_stream(rows) if stream else pack_rows(rows)
    return ctx.packed_const(w, packed, f"w4_{w.name}")


def emit_conv_w4(node: Node, ctx: EmitContext, params: str, depthwise: bool,
                 stream: str | None) -> None:
    """The call of a QConv with packed int4 weights (`params`: its tinyc_qconv_params;
    `stream`: the overlapping kernel the plan chose, "dwconv2d" or "conv1x1", or None)."""
    b = node.input(2)
    x, y = node.inputs[0], node.outputs[0]
    assert x is not None
    depthwise = depthwise or stream == "dwconv2d"  # (a 1-channel conv streams as depthwise)
    w = _packed_weights(node, ctx, stream=depthwise)
    bias = ctx.ptr(b) if b is not None else "NULL"
    family = "qdwconv_w4" if depthwise else "qconv_w4"
    work = ctx.workspace(node, DType.I32)
    if stream is not None:  # the planner placed y over x (`QConv.stream_kernel`)
        ctx.call(family, f"tinyc_{stream}_stream_s8_w4", ctx.ptr(x), w, bias, ctx.ptr(y),
                 ctx.scratch(node, DType.I8), work, params)
        return
    fn = "tinyc_depthwise_conv2d_s8_w4" if depthwise else "tinyc_conv2d_s8_w4"
    ctx.call(family, fn, ctx.ptr(x), w, bias, ctx.ptr(y), work, params)


def emit_fc_w4(node: Node, ctx: EmitContext, params: str) -> None:
    """The call of a QGemm with packed int4 weights (`params`: its tinyc_qfc_params)."""
    b = node.input(2)
    x, y = node.inputs[0], node.outputs[0]
    assert x is not None
    w = _packed_weights(node, ctx, stream=False)
    bias = ctx.ptr(b) if b is not None else "NULL"
    ctx.call("qfc_w4", "tinyc_fully_connected_s8_w4", ctx.ptr(x), w, bias, ctx.ptr(y),
             ctx.workspace(node, DType.I32), params)
