"""int8 layers fused with a quantized model's float boundary (the `fuse-qboundary` pass).

With the default float interface a quantized model starts with a QuantizeLinear of its
float input and ends with a DequantizeLinear of its int8 output. Each stages an int8 copy
of a whole tensor in the arena, which can be the largest thing there. `QConvBoundary` and
`QGemmBoundary` are `QConv` / `QGemm` that read the float input (attribute `x_quant`,
quantized on the fly) and/or write the float output (attribute `y_quant`, dequantized in
the epilogue). Their `reference` is exactly QuantizeLinear -> the int8 op ->
DequantizeLinear, so the interpreter stays the bit-exact reference of the C.

`tile` sets how much the kernel stages at once in its workspace (`OpDef.workspace`,
planned by `tinyc.memory`): for a conv with a float input, output rows per band; for a
conv with only a float output, output channels per chunk; for a fully connected layer
with a float output, output features per chunk. `stage` (fully connected, float input)
quantizes a whole input row into the workspace first; without it every input element is
quantized on the fly and the node needs no workspace for its input. The kernels are
`codegen/kernels/tinyc_qboundary.h`, built on the public int8 conv and fc kernels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinyc.errors import ModelError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.qinteger import (
    ACT_ATTRS,
    CONV_ATTRS,
    QConv,
    QGemm,
    qconv_depthwise,
    qconv_geometry,
    qconv_int8,
    qconv_params_init,
    qconv_weights,
    qfc_params_init,
    qgemm_int8,
    scale_zp,
)
from tinyc.ops.quant import conv_geometry
from tinyc.ops.qwork import (
    QCONV_PARAMS_BYTES,
    QCONV_UNPACKED,
    qconv_work_bytes,
    qfc_work_bytes,
    round8,
    uses_m4_kernels,
)
from tinyc.ops.registry import Attr, MemoryBehavior, OpDef, input_type, register_op
from tinyc.quant.params import QMAX, QMIN, dequantize_array, quantize_array

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext

BOUNDARY_ATTRS = {
    # [scale, zero_point] of the int8 quantization of a float input 0; [] when it is int8
    "x_quant": Attr("floats", []),
    # [scale, zero_point] of the int8 result dequantized into a float output; [] for int8
    "y_quant": Attr("floats", []),
    "tile": Attr("int", 1),
}


def _pair(node: Node, key: str) -> tuple[float, int] | None:
    q = node.attrs.get(key) or []
    if not q:
        return None
    if len(q) != 2:
        raise ModelError(f"{node.op} node '{node.name}': {key} must be [scale, zero_point]")
    return float(q[0]), int(q[1])


class _Boundary(OpDef):
    """Shared by the two fused ops: which side is float, and the boundary arithmetic."""

    int_op: OpDef
    family_fn = ""

    def x_params(self, node: Node) -> tuple[float, int]:
        x = node.inputs[0]
        assert x is not None
        return _pair(node, "x_quant") or scale_zp(x, node)

    def y_params(self, node: Node) -> tuple[float, int]:
        return _pair(node, "y_quant") or scale_zp(node.outputs[0], node)

    def float_in(self, node: Node) -> bool:
        return _pair(node, "x_quant") is not None

    def float_out(self, node: Node) -> bool:
        return _pair(node, "y_quant") is not None

    def infer(self, node: Node) -> list[TensorType]:
        fin, fout = self.float_in(node), self.float_out(node)
        if not (fin or fout):
            raise ModelError(f"{node.op} node '{node.name}': no float side (x_quant, y_quant)")
        want = DType.F32 if fin else DType.I8
        if input_type(node, 0).dtype is not want:
            raise ModelError(f"{node.op} node '{node.name}': input 0 must be {want.value}")
        if node.attrs.get("tile", 1) < 1:
            raise ModelError(f"{node.op} node '{node.name}': tile must be positive")
        (shape,) = [t.shape for t in self.int_op.infer(node)]
        return [TensorType(DType.F32 if fout else DType.I8, shape)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        """QuantizeLinear (float input) -> the int8 op -> DequantizeLinear (float output),
        each with the numpy arithmetic of its own op."""
        x = inputs[0]
        assert x is not None
        sx, zx = self.x_params(node)
        sy, zy = self.y_params(node)
        if self.float_in(node):
            x = quantize_array(x, np.float32(sx), zx, QMIN, QMAX).astype(np.int8)
        y = self.int8(node, [x, *inputs[1:]], (sx, zx), (sy, zy))
        if self.float_out(node):
            return [dequantize_array(y, np.float32(sy), zy)]
        return [y.astype(np.int8)]

    def int8(self, node: Node, inputs: list[np.ndarray | None], xq: tuple[float, int],
             yq: tuple[float, int]) -> np.ndarray:
        raise NotImplementedError

    def macs(self, node: Node) -> int:
        return self.int_op.macs(node)

    def memory_behavior(self, node: Node) -> list[MemoryBehavior]:
        return []  # one side is a caller's float buffer: nothing to overlap

    def boundary_fields(self, node: Node) -> str:
        """x_scale, x_zero_point, y_scale, y_zero_point as C initializer fields."""
        from tinyc.backend.cliterals import c_scalar

        sx, zx = self.x_params(node)
        sy, zy = self.y_params(node)
        return f"{c_scalar(sx, DType.F32)}, {zx}, {c_scalar(sy, DType.F32)}, {zy}"

    def kernel(self, node: Node) -> str:
        xs = "f32" if self.float_in(node) else "s8"
        ys = "f32" if self.float_out(node) else "s8"
        return f"tinyc_qb_{self.family_fn}_{xs}_{ys}"


def conv_band_rows(node: Node, tile: int) -> int:
    """Input rows a band of `tile` output rows reads (the kernel's `band_rows`)."""
    x, w, y = node.inputs[0], node.inputs[1], node.outputs[0]
    assert x is not None and w is not None
    g = conv_geometry(x.shape, w.shape, y.shape, node.attrs)
    h, kh, sh, dh = g[2], g[7], g[10], g[12]
    return min(h, (tile - 1) * sh + (kh - 1) * dh + 1)


def conv_workspace(node: Node, tile: int, float_in: bool, float_out: bool) -> int:
    """Workspace bytes of a QConvBoundary with this tile (see tinyc_qboundary.h)."""
    x, w, y = node.inputs[0], node.inputs[1], node.outputs[0]
    assert x is not None and w is not None
    g = conv_geometry(x.shape, w.shape, y.shape, node.attrs)
    c, width, m, oh, ow = g[1], g[3], g[4], g[5], g[6]
    if not float_in:
        return tile * oh * ow
    tile = min(tile, oh)
    band_out = 0 if (tile == oh and not float_out) else m * tile * ow
    return c * conv_band_rows(node, tile) * width + band_out


@register_op
class QConvBoundary(_Boundary):
    """QConv reading a float input (`x_quant`) and/or writing a float output (`y_quant`):
    exactly QuantizeLinear -> QConv -> DequantizeLinear, without the int8 copies."""

    name = "QConvBoundary"
    attrs = {**CONV_ATTRS, **ACT_ATTRS, **BOUNDARY_ATTRS}
    int_op = QConv()
    family_fn = "conv2d"

    def int8(self, node: Node, inputs: list[np.ndarray | None], xq: tuple[float, int],
             yq: tuple[float, int]) -> np.ndarray:
        return qconv_int8(node, inputs, xq, yq)

    def kernel_work(self, node: Node, kernel_dirs: tuple[str, ...] | None = None) -> int:
        """Bytes at the start of the workspace for the int8 kernel's own (`qwork`; none for
        the portable kernels): a float input runs it on bands of up to `tile` output rows."""
        if not uses_m4_kernels(kernel_dirs):
            return 0
        bands = int(node.attrs["tile"]) if self.float_in(node) else None
        return round8(qconv_work_bytes(qconv_geometry(node), qconv_depthwise(node), bands))

    def workspace(self, node: Node, kernel_dirs: tuple[str, ...] | None = None) -> int:
        """The int8 kernel's, then (float input) the band's conv parameters, then the
        staging (`conv_workspace`)."""
        band_params = QCONV_PARAMS_BYTES if self.float_in(node) else 0
        return self.kernel_work(node, kernel_dirs) + band_params + conv_workspace(
            node, int(node.attrs["tile"]), self.float_in(node), self.float_out(node))

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, w = node.inputs[0], node.inputs[1]
        b, y = node.input(2), node.outputs[0]
        assert x is not None and w is not None
        conv = qconv_params_init(node, ctx, self.x_params(node), self.y_params(node))
        y_shape = node.outputs[0].shape
        tile = int(node.attrs["tile"])
        weights = qconv_weights(node, ctx, conv)
        if (not self.float_in(node) and self.float_out(node) and tile % 2 and len(y_shape) > 1
                and tile < y_shape[1]):
            # chunks of an odd number of channels run without their records, on the int8
            # weights (tinyc_qboundary.c tinyc_qb_conv2d_s8_f32)
            ctx.kernel_paths.add(QCONV_UNPACKED)
            weights = ctx.ptr(w)
        init = (f"{{{conv}, {int(qconv_depthwise(node))}, {int(node.attrs['tile'])}, "
                f"{self.boundary_fields(node)}, {self.kernel_work(node, ctx.kernel_dirs)}}}")
        params = ctx.params("tinyc_qbconv_params", init, f"qbconv_{y.name}")
        bias = ctx.ptr(b) if b is not None else "NULL"
        ctx.call("qboundary", self.kernel(node), ctx.ptr(x), weights, bias, ctx.ptr(y),
                 ctx.workspace(node, DType.I8), params)


def gemm_workspace(node: Node, stage: bool, tile: int, float_in: bool, float_out: bool) -> int:
    """Workspace bytes of a QGemmBoundary (see tinyc_qboundary.h)."""
    w = node.inputs[1]
    assert w is not None
    n, k = w.shape
    if float_in and not stage:
        return 0
    return (k if float_in else 0) + (min(tile, n) if float_out else 0)


@register_op
class QGemmBoundary(_Boundary):
    """QGemm reading a float input (`x_quant`) and/or writing a float output (`y_quant`):
    exactly QuantizeLinear -> QGemm -> DequantizeLinear, without the int8 copies."""

    name = "QGemmBoundary"
    attrs = {**ACT_ATTRS, **BOUNDARY_ATTRS, "stage": Attr("int", 0)}
    int_op = QGemm()
    family_fn = "fully_connected"

    def int8(self, node: Node, inputs: list[np.ndarray | None], xq: tuple[float, int],
             yq: tuple[float, int]) -> np.ndarray:
        return qgemm_int8(node, inputs, xq, yq)

    def kernel_work(self, node: Node, kernel_dirs: tuple[str, ...] | None = None) -> int:
        """Bytes at the start of the workspace for the int8 kernel's own (`qwork`; none for
        the portable kernels)."""
        if not uses_m4_kernels(kernel_dirs):
            return 0
        float_row = self.float_in(node) and not node.attrs["stage"]  # the f32_s8 form
        return round8(qfc_work_bytes(input_type(node, 1).shape[1], float_row))

    def workspace(self, node: Node, kernel_dirs: tuple[str, ...] | None = None) -> int:
        return self.kernel_work(node, kernel_dirs) + gemm_workspace(
            node, bool(node.attrs["stage"]), int(node.attrs["tile"]), self.float_in(node),
            self.float_out(node))

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, w = node.inputs[0], node.inputs[1]
        b, y = node.input(2), node.outputs[0]
        assert x is not None and w is not None
        fc = qfc_params_init(node, ctx, self.x_params(node), self.y_params(node))
        stage = int(bool(node.attrs["stage"])) if self.float_in(node) else 0
        init = (f"{{{fc}, {stage}, {int(node.attrs['tile'])}, {self.boundary_fields(node)}, "
                f"{self.kernel_work(node, ctx.kernel_dirs)}}}")
        params = ctx.params("tinyc_qbfc_params", init, f"qbfc_{y.name}")
        bias = ctx.ptr(b) if b is not None else "NULL"
        ctx.call("qboundary", self.kernel(node), ctx.ptr(x), ctx.ptr(w), bias, ctx.ptr(y),
                 ctx.workspace(node, DType.I8), params)
