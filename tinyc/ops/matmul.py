"""Matrix products: Gemm and MatMul (numpy matmul semantics, batched, broadcasting)."""

from __future__ import annotations

from itertools import product
from typing import TYPE_CHECKING

import numpy as np

from tinyc.backend.cliterals import c_scalar
from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.activation import act_c_init, apply_activation
from tinyc.ops.layout import broadcast_shapes, broadcast_strides, merge_dims
from tinyc.ops.registry import Attr, OpDef, input_type, register_op

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext

_ACT_ATTRS = {"activation": Attr("string", ""), "activation_params": Attr("floats", [])}


def _require_f32(node: Node) -> None:
    dtype = input_type(node, 0).dtype
    if dtype is not DType.F32:
        raise UnsupportedError(f"op {node.op} (node '{node.name}') on {dtype.value} has no C kernel")


@register_op
class Gemm(OpDef):
    name = "Gemm"
    attrs = {
        "alpha": Attr("float", 1.0),
        "beta": Attr("float", 1.0),
        "transA": Attr("int", 0),
        "transB": Attr("int", 0),
        **_ACT_ATTRS,
    }

    def _mnk(self, node: Node) -> tuple[int, int, int]:
        a, b = input_type(node, 0), input_type(node, 1)
        if a.rank != 2 or b.rank != 2:
            raise ModelError(f"Gemm node '{node.name}': inputs must be 2-D")
        m, k = a.shape[::-1] if node.attrs["transA"] else a.shape
        kb, n = b.shape[::-1] if node.attrs["transB"] else b.shape
        if k != kb:
            raise ModelError(f"Gemm node '{node.name}': inner dimensions {k} and {kb} differ")
        return m, n, k

    def infer(self, node: Node) -> list[TensorType]:
        m, n, _ = self._mnk(node)
        c = node.input(2)
        if c is not None:
            broadcast_shapes(c.shape, (m, n), where=f"Gemm node '{node.name}'")
        return [TensorType(input_type(node, 0).dtype, (m, n))]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        a, b = inputs[0], inputs[1]
        c = inputs[2] if len(inputs) > 2 else None
        assert a is not None and b is not None
        at = node.attrs
        a = a.T if at["transA"] else a
        b = b.T if at["transB"] else b
        y = np.asarray(at["alpha"], a.dtype) * (a @ b)
        if c is not None:
            y = y + np.asarray(at["beta"], a.dtype) * c
        y = y.astype(a.dtype)
        return [apply_activation(y, at["activation"], at["activation_params"])]

    def macs(self, node: Node) -> int:
        m, n, k = self._mnk(node)
        return m * n * k

    def emit(self, node: Node, ctx: EmitContext) -> None:
        _require_f32(node)
        m, n, k = self._mnk(node)
        a, b, c = node.inputs[0], node.inputs[1], node.input(2)
        y = node.outputs[0]
        assert a is not None and b is not None
        mode = "TINYC_BIAS_NONE"
        if c is not None:
            cs = (1,) * (2 - c.type.rank) + c.shape
            if c.type.numel == 1:
                mode = "TINYC_BIAS_SCALAR"
            elif cs == (m, n):
                mode = "TINYC_BIAS_FULL"
            elif cs[0] == 1:
                mode = "TINYC_BIAS_ROW"
            else:
                mode = "TINYC_BIAS_COL"
        at = node.attrs
        act, uses_math = act_c_init(at["activation"], at["activation_params"])
        ctx.uses_math |= uses_math
        init = (
            f"{{{m}, {n}, {k}, {at['transA']}, {at['transB']}, "
            f"{c_scalar(at['alpha'], DType.F32)}, {c_scalar(at['beta'], DType.F32)}, {mode}, {act}}}"
        )
        params = ctx.params("tinyc_gemm_params", init, f"gemm_{y.name}")
        cptr = ctx.ptr(c) if c is not None else "NULL"
        ctx.call("gemm", "tinyc_gemm_f32", ctx.ptr(a), ctx.ptr(b), cptr, ctx.ptr(y), params)


@register_op
class MatMul(OpDef):
    name = "MatMul"
    attrs = dict(_ACT_ATTRS)

    def _shapes(self, node: Node) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        """Batch shape of the result, and the inputs promoted to >= 2-D."""
        a, b = input_type(node, 0).shape, input_type(node, 1).shape
        if not a or not b:
            raise ModelError(f"MatMul node '{node.name}': scalar operand")
        a2 = (1,) + a if len(a) == 1 else a
        b2 = b + (1,) if len(b) == 1 else b
        if a2[-1] != b2[-2]:
            raise ModelError(f"MatMul node '{node.name}': shapes {list(a)} and {list(b)} mismatch")
        batch = broadcast_shapes(a2[:-2], b2[:-2], where=f"MatMul node '{node.name}'")
        return batch, a2, b2

    def infer(self, node: Node) -> list[TensorType]:
        batch, a2, b2 = self._shapes(node)
        a, b = input_type(node, 0), input_type(node, 1)
        shape = batch + (a2[-2],) * (a.rank > 1) + (b2[-1],) * (b.rank > 1)
        return [TensorType(a.dtype, shape)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        a, b = inputs
        assert a is not None and b is not None
        y = np.matmul(a, b).astype(a.dtype)
        return [apply_activation(y, node.attrs["activation"], node.attrs["activation_params"])]

    def macs(self, node: Node) -> int:
        batch, a2, b2 = self._shapes(node)
        return int(np.prod(batch)) * a2[-2] * a2[-1] * b2[-1]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        _require_f32(node)
        batch, a2, b2 = self._shapes(node)
        a, b = node.inputs
        y = node.outputs[0]
        assert a is not None and b is not None
        m, k, n = a2[-2], a2[-1], b2[-1]
        at = node.attrs
        act_init, uses_math = act_c_init(at["activation"], at["activation_params"])
        ctx.uses_math |= uses_math
        act = ctx.params("tinyc_act", act_init, f"act_{y.name}")
        sa = [s * m * k for s in broadcast_strides(a2[:-2], batch)]
        sb = [s * k * n for s in broadcast_strides(b2[:-2], batch)]
        dims, (sa, sb) = merge_dims(batch, sa, sb)
        pa, pb, py = ctx.ptr(a), ctx.ptr(b), ctx.ptr(y)
        if len(dims) == 1:
            ctx.call("gemm", "tinyc_matmul_f32", pa, pb, py, dims[0], m, k, n, sa[0], sb[0], act)
            return
        # batch broadcasting that does not merge into one stride: one call per outer index
        for idx in product(*(range(d) for d in dims[:-1])):
            oa = sum(i * s for i, s in zip(idx, sa))
            ob = sum(i * s for i, s in zip(idx, sb))
            flat = 0
            for i, d in zip(idx, dims[:-1]):
                flat = flat * d + i
            oy = flat * dims[-1] * m * n
            ctx.call("gemm", "tinyc_matmul_f32", f"{pa} + {oa}", f"{pb} + {ob}", f"{py} + {oy}",
                     dims[-1], m, k, n, sa[-1], sb[-1], act)
