"""Gated linear units: SwiGLU (opset 28), Y = A * sigmoid(alpha * A) * B.

A and B have one shape (ONNX applies no broadcasting). float16 is computed in float32 and
rounded once per element, in the reference and in `tinyc_glu.h` alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinyc.backend.cliterals import c_scalar
from tinyc.errors import ModelError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.ewbase import inplace_same_shape, refuse
from tinyc.ops.registry import Attr, MemoryBehavior, OpDef, input_type, register_op

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext

_TYPES = (DType.F32, DType.F64, DType.F16)


@register_op
class SwiGLU(OpDef):
    name = "SwiGLU"
    attrs = {"alpha": Attr("float", 1.0)}

    def infer(self, node: Node) -> list[TensorType]:
        a, b = input_type(node, 0), input_type(node, 1)
        if a.shape != b.shape or a.dtype is not b.dtype:
            raise ModelError(f"SwiGLU node '{node.name}': A {a.dtype.value}{list(a.shape)} and "
                             f"B {b.dtype.value}{list(b.shape)} must have one shape and type")
        return [a]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        a, b = inputs
        assert a is not None and b is not None
        work = np.float64 if a.dtype == np.float64 else np.float32
        a_, b_ = a.astype(work), b.astype(work)
        alpha = work(node.attrs["alpha"])
        with np.errstate(over="ignore"):
            y = a_ / (work(1) + np.exp(-alpha * a_)) * b_
        return [y.astype(a.dtype)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        a, b = node.inputs
        y = node.outputs[0]
        assert a is not None and b is not None
        if a.dtype not in _TYPES:
            raise refuse(node, f"on {a.dtype.value} tensors")
        if y.type.numel:
            ctx.call("glu", f"tinyc_swiglu_{a.dtype.value}", ctx.ptr(a), ctx.ptr(b), ctx.ptr(y),
                     y.type.numel, c_scalar(node.attrs["alpha"], DType.F32))

    def memory_behavior(self, node: Node) -> list[MemoryBehavior]:
        return inplace_same_shape(node)
