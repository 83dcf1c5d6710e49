"""tinyc's own sparse-weight forms of Conv and Gemm, float32 and int8 (not ONNX ops).

`SparseConv(X, values, deltas, row_nnz, B?)` and `SparseGemm(A, values, deltas, row_nnz,
B?)` hold their weight in the delta-coded CSR form of `tinyc.prune.sparse` (three constant
inputs) and its dense shape in `weight_shape`. The `sparsify-weights` pass creates them
from Conv, Gemm and MatMul when the cost model says the sparse kernel pays; the ONNX
exporter turns them back into the dense ops. Their `reference` decodes the weight and runs
the dense semantics, so the interpreter is the oracle for the C kernels
(codegen/kernels/tinyc_sparse.h), which sum the same products in the same order.

`SparseQConv` and `SparseQGemm` are the same for tinyc's int8 `QConv` / `QGemm`, with the
weight's per-channel scales in the attribute `weight_scales`.

SparseGemm is always `A [M,K]` times the `[N,K]` weight transposed (the pass transposes a
`transB=0` weight at compile time), `alpha` kept, and its bias already multiplied by beta
and broadcast to `[N]`.
"""

from __future__ import annotations

from math import prod
from typing import TYPE_CHECKING

import numpy as np

from tinyc.backend.cliterals import c_scalar
from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, QuantParams, TensorType
from tinyc.ops.activation import act_c_init, apply_activation
from tinyc.ops.conv import conv_reference
from tinyc.ops.registry import (
    GROUP,
    WINDOW_PADS,
    WINDOW_STEP,
    Attr,
    OpDef,
    const_input,
    input_type,
    register_op,
)
from tinyc.ops.window import output_size

#: tinyc_sparse.h TINYC_SPARSE_BLOCK: output sums per block of the int8 sparse conv
SPARSE_BLOCK = 64

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext

_ACT = {"activation": Attr("string", ""), "activation_params": Attr("floats", [])}
_INDEX_TYPES = (DType.U8, DType.U16)


def _check_storage(node: Node, rows: int) -> None:
    values, deltas, row_nnz = (input_type(node, i) for i in (1, 2, 3))
    if values.rank != 1 or deltas.shape != values.shape:
        raise ModelError(f"{node.op} node '{node.name}': values and deltas must be 1-D, same size")
    if deltas.dtype not in _INDEX_TYPES:
        raise ModelError(f"{node.op} node '{node.name}': deltas must be u8 or u16")
    if row_nnz.dtype is not DType.U16 or row_nnz.shape != (rows,):
        raise ModelError(f"{node.op} node '{node.name}': row_nnz must be u16[{rows}]")
    b = node.input(4)
    if b is not None and b.shape != (rows,):
        raise ModelError(f"{node.op} node '{node.name}': bias must be [{rows}]")


def dense_weight(node: Node) -> np.ndarray:
    """The weight as a dense `weight_shape` array, decoded from the three constants."""
    from tinyc.prune.sparse import decode

    shape = tuple(node.attrs["weight_shape"])
    values = const_input(node, 1, "values")
    deltas = const_input(node, 2, "deltas")
    row_nnz = const_input(node, 3, "row_nnz")
    try:
        return decode(values, deltas, row_nnz, prod(shape[1:])).reshape(shape)
    except ValueError as exc:
        raise ModelError(f"{node.op} node '{node.name}': {exc}") from None


def _index_bits(node: Node) -> int:
    deltas = node.inputs[2]
    assert deltas is not None
    return 8 * deltas.dtype.itemsize


@register_op
class SparseConv(OpDef):
    """Conv (1-D or 2-D, grouped, fused activation) with a CSR weight."""

    name = "SparseConv"
    attrs = {
        "weight_shape": Attr("ints"),
        "dilations": WINDOW_STEP,
        "group": GROUP,
        "kernel_shape": WINDOW_STEP,
        "pads": WINDOW_PADS,
        "strides": WINDOW_STEP,
        **_ACT,
    }

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        w = tuple(node.attrs["weight_shape"])
        a = node.attrs
        if x.rank not in (3, 4) or len(w) != x.rank or x.shape[1] != w[1] * a["group"]:
            raise ModelError(f"SparseConv node '{node.name}': input {list(x.shape)} and "
                             f"weight {list(w)} (group {a['group']}) do not agree")
        _check_storage(node, w[0])
        n = x.rank - 2
        spatial = tuple(
            output_size(x.shape[2 + i], w[2 + i], a["strides"][i], a["dilations"][i],
                        a["pads"][i], a["pads"][i + n], False)
            for i in range(n)
        )
        return [TensorType(x.dtype, (x.shape[0], w[0]) + spatial)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        b = inputs[4] if len(inputs) > 4 else None
        a = node.attrs
        out = conv_reference(x, dense_weight(node), b, a["strides"], a["dilations"], a["pads"],
                             a["group"], node.outputs[0].shape[2:])
        return [apply_activation(out.astype(x.dtype), a["activation"], a["activation_params"])]

    def macs(self, node: Node) -> int:
        """Multiplies by a nonzero weight (the work the sparse kernel really does)."""
        values = node.inputs[1]
        assert values is not None and values.const is not None
        y = node.outputs[0]
        return int(np.count_nonzero(values.const)) * y.shape[0] * prod(y.shape[2:])

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, v, d, r = node.inputs[:4]
        b = node.input(4)
        y = node.outputs[0]
        assert x is not None and v is not None and d is not None and r is not None
        if x.dtype is not DType.F32:
            raise UnsupportedError(f"op SparseConv (node '{node.name}') on {x.dtype.value}")
        a = node.attrs
        ws = list(a["weight_shape"])
        n_sp = x.type.rank - 2
        xs = (1,) * (2 - n_sp) + x.shape[2:]
        ks = [1] * (2 - n_sp) + ws[2:]
        ys = (1,) * (2 - n_sp) + y.shape[2:]
        st = [1] * (2 - n_sp) + a["strides"]
        dl = [1] * (2 - n_sp) + a["dilations"]
        pads = a["pads"]
        pad_top, pad_left = ([0] + pads[:1]) if n_sp == 1 else pads[:2]
        act, uses_math = act_c_init(a["activation"], a["activation_params"])
        ctx.uses_math |= uses_math
        fields = [x.shape[0], x.shape[1], xs[0], xs[1], ws[0], ys[0], ys[1], ks[0], ks[1],
                  a["group"], st[0], st[1], dl[0], dl[1], pad_top, pad_left, _index_bits(node)]
        params = ctx.params("tinyc_sparse_conv2d_params",
                            "{" + ", ".join(str(f) for f in fields) + f", {act}}}",
                            f"sparse_conv_{y.name}")
        bias = ctx.ptr(b) if b is not None else "NULL"
        ctx.call("sparse", "tinyc_sparse_conv2d_f32", ctx.ptr(x), ctx.ptr(v), ctx.ptr(d),
                 ctx.ptr(r), bias, ctx.ptr(y), params)


@register_op
class SparseGemm(OpDef):
    """Y = act(alpha * A @ W.T + B) with W [N,K] in CSR, A [M,K], B [N] or absent."""

    name = "SparseGemm"
    attrs = {"weight_shape": Attr("ints"), "alpha": Attr("float", 1.0), **_ACT}

    def infer(self, node: Node) -> list[TensorType]:
        a = input_type(node, 0)
        n, k = node.attrs["weight_shape"]
        if a.rank != 2 or a.shape[1] != k:
            raise ModelError(f"SparseGemm node '{node.name}': A {list(a.shape)}, weight [{n},{k}]")
        _check_storage(node, n)
        return [TensorType(a.dtype, (a.shape[0], n))]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        a = inputs[0]
        assert a is not None
        b = inputs[4] if len(inputs) > 4 else None
        y = np.asarray(node.attrs["alpha"], a.dtype) * (a @ dense_weight(node).T)
        if b is not None:
            y = y + b
        y = y.astype(a.dtype)
        return [apply_activation(y, node.attrs["activation"], node.attrs["activation_params"])]

    def macs(self, node: Node) -> int:
        values = node.inputs[1]
        assert values is not None and values.const is not None
        return int(np.count_nonzero(values.const)) * node.outputs[0].shape[0]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, v, d, r = node.inputs[:4]
        b = node.input(4)
        y = node.outputs[0]
        assert x is not None and v is not None and d is not None and r is not None
        if x.dtype is not DType.F32:
            raise UnsupportedError(f"op SparseGemm (node '{node.name}') on {x.dtype.value}")
        n, k = node.attrs["weight_shape"]
        act, uses_math = act_c_init(node.attrs["activation"], node.attrs["activation_params"])
        ctx.uses_math |= uses_math
        alpha = c_scalar(node.attrs["alpha"], DType.F32)
        params = ctx.params(
            "tinyc_sparse_gemm_params",
            f"{{{x.shape[0]}, {n}, {k}, {alpha}, {_index_bits(node)}, {act}}}",
            f"sparse_gemm_{y.name}",
        )
        bias = ctx.ptr(b) if b is not None else "NULL"
        ctx.call("sparse", "tinyc_sparse_gemm_f32", ctx.ptr(x), ctx.ptr(v), ctx.ptr(d),
                 ctx.ptr(r), bias, ctx.ptr(y), params)


# -- int8 -----------------------------------------------------------------------------------

_Q_ACT = {"act_min": Attr("int", -128), "act_max": Attr("int", 127)}


def _weight_multipliers(node: Node, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Per output channel (q, shift) of s_x * s_w[c] / s_y, computed exactly as the dense
    integer ops do (`tinyc.ops.qinteger.channel_multipliers`), from `weight_scales`."""
    from tinyc.ops.qinteger import scale_zp
    from tinyc.quant.fixedpoint import quantize_multipliers
    from tinyc.quant.params import channel_scales

    x, y = node.inputs[0], node.outputs[0]
    assert x is not None
    sx, _ = scale_zp(x, node)
    sy, _ = scale_zp(y, node)
    scales = tuple(float(s) for s in node.attrs["weight_scales"])
    params = QuantParams(scales, (0,) * len(scales), 0 if len(scales) > 1 else None)
    return quantize_multipliers(sx * channel_scales(params, rows) / sy)


def _q_reference(node: Node, acc: np.ndarray, rows: int, axis_shape: tuple[int, ...]) -> np.ndarray:
    from tinyc.ops.qinteger import scale_zp
    from tinyc.quant.fixedpoint import requantize

    if acc.size and (acc.max() >= 2**31 or acc.min() < -(2**31)):
        raise ModelError(f"{node.op} node '{node.name}': int32 accumulator overflow")
    q, s = _weight_multipliers(node, rows)
    _, zy = scale_zp(node.outputs[0], node)
    lo, hi = int(node.attrs["act_min"]), int(node.attrs["act_max"])
    return requantize(acc, q.reshape(axis_shape), s.reshape(axis_shape), zy, lo, hi)


def _q_tables(node: Node, ctx: EmitContext, rows: int) -> tuple[str, str, int, int]:
    from tinyc.ops.qinteger import scale_zp

    y = node.outputs[0]
    q, s = _weight_multipliers(node, rows)
    x = node.inputs[0]
    assert x is not None
    _, zx = scale_zp(x, node)
    _, zy = scale_zp(y, node)
    mult = ctx.table(DType.I32, q, f"mult_{y.name}")
    shift = ctx.table(DType.I32, s, f"shift_{y.name}")
    return mult, shift, -zx, zy


@register_op
class SparseQConv(OpDef):
    """QConv (tinyc.ops.qinteger) with a CSR int8 weight; its per-channel weight scales are
    the attribute `weight_scales` (the 1-D values array has no channel axis)."""

    name = "SparseQConv"
    attrs = {
        "weight_shape": Attr("ints"),
        "weight_scales": Attr("floats"),
        "dilations": WINDOW_STEP,
        "group": GROUP,
        "kernel_shape": WINDOW_STEP,
        "pads": WINDOW_PADS,
        "strides": WINDOW_STEP,
        **_Q_ACT,
    }

    def infer(self, node: Node) -> list[TensorType]:
        (y,) = SparseConv.infer(self, node)  # type: ignore[arg-type]
        return [TensorType(DType.I8, y.shape)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        from tinyc.ops.qinteger import scale_zp

        x = inputs[0]
        xv = node.inputs[0]
        assert x is not None and xv is not None
        b = inputs[4] if len(inputs) > 4 else None
        _, zx = scale_zp(xv, node)
        a = node.attrs
        acc = conv_reference(x.astype(np.int64) - zx, dense_weight(node).astype(np.int64), b,
                             a["strides"], a["dilations"], a["pads"], a["group"],
                             node.outputs[0].shape[2:], acc_dtype=np.int64)
        rows = a["weight_shape"][0]
        return [_q_reference(node, acc, rows, (1, -1) + (1,) * (acc.ndim - 2))]

    def macs(self, node: Node) -> int:
        return SparseConv.macs(self, node)  # type: ignore[arg-type]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        from tinyc.ops.quant import conv_geometry

        x, v, d, r = node.inputs[:4]
        b, y = node.input(4), node.outputs[0]
        assert x is not None and v is not None and d is not None and r is not None
        ws = tuple(node.attrs["weight_shape"])
        mult, shift, in_off, out_off = _q_tables(node, ctx, ws[0])
        lo, hi = node.attrs["act_min"], node.attrs["act_max"]
        fields = conv_geometry(x.shape, ws, y.shape, node.attrs) + [
            _index_bits(node), in_off, out_off, lo, hi]
        init = "{" + ", ".join(str(f) for f in fields) + f", {mult}, {shift}}}"
        params = ctx.params("tinyc_sparse_qconv_params", init, f"sparse_qconv_{y.name}")
        ctx.call("sparse", "tinyc_sparse_conv2d_s8", ctx.ptr(x), ctx.ptr(v), ctx.ptr(d),
                 ctx.ptr(r), ctx.ptr(b) if b is not None else "NULL", ctx.ptr(y),
                 ctx.workspace(node, DType.I32), params)

    def workspace(self, node: Node, kernel_dirs: tuple[str, ...] | None = None) -> int:
        """One block of int32 sums: TINYC_SPARSE_BLOCK (tinyc_sparse.h) outputs, whole
        rows when they fit, at most the output's rows."""
        y = node.outputs[0].shape
        oh, ow = (y[2], y[3]) if len(y) == 4 else (1, y[2])
        cols = min(ow, SPARSE_BLOCK)
        rows = SPARSE_BLOCK // ow if ow < SPARSE_BLOCK else 1
        return 4 * min(rows, oh) * cols


@register_op
class SparseQGemm(OpDef):
    """QGemm (Y[..., n] = requant(sum_k (X[..., k] - zp_x) W[n, k] + B[n])) with W in CSR
    and its per-row scales in `weight_scales`."""

    name = "SparseQGemm"
    attrs = {"weight_shape": Attr("ints"), "weight_scales": Attr("floats"), **_Q_ACT}

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        n, k = node.attrs["weight_shape"]
        if not x.rank or x.shape[-1] != k:
            raise ModelError(f"SparseQGemm node '{node.name}': X {list(x.shape)}, W [{n},{k}]")
        _check_storage(node, n)
        return [TensorType(DType.I8, x.shape[:-1] + (n,))]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        from tinyc.ops.qinteger import scale_zp

        x = inputs[0]
        xv = node.inputs[0]
        assert x is not None and xv is not None
        b = inputs[4] if len(inputs) > 4 else None
        _, zx = scale_zp(xv, node)
        n, k = node.attrs["weight_shape"]
        acc = (x.reshape(-1, k).astype(np.int64) - zx) @ dense_weight(node).astype(np.int64).T
        if b is not None:
            acc = acc + b.astype(np.int64).reshape(1, -1)
        y = _q_reference(node, acc, n, (1, -1))
        return [y.reshape(node.outputs[0].shape)]

    def macs(self, node: Node) -> int:
        values = node.inputs[1]
        assert values is not None and values.const is not None
        n = node.attrs["weight_shape"][0]
        return int(np.count_nonzero(values.const)) * (node.outputs[0].type.numel // max(n, 1))

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, v, d, r = node.inputs[:4]
        b, y = node.input(4), node.outputs[0]
        assert x is not None and v is not None and d is not None and r is not None
        n, k = node.attrs["weight_shape"]
        mult, shift, in_off, out_off = _q_tables(node, ctx, n)
        lo, hi = node.attrs["act_min"], node.attrs["act_max"]
        fields = [x.type.numel // max(k, 1), k, n, _index_bits(node), in_off, out_off, lo, hi]
        init = "{" + ", ".join(str(f) for f in fields) + f", {mult}, {shift}}}"
        params = ctx.params("tinyc_sparse_qfc_params", init, f"sparse_qfc_{y.name}")
        ctx.call("sparse", "tinyc_sparse_fully_connected_s8", ctx.ptr(x), ctx.ptr(v),
                 ctx.ptr(d), ctx.ptr(r), ctx.ptr(b) if b is not None else "NULL", ctx.ptr(y),
                 params)
