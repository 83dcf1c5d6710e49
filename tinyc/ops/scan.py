"""Running sums and products along an axis: CumSum, CumProd.

The axis is input 1; it may be computed at run time (it does not change the output shape),
so the kernel reads it and returns an error when it is out of range.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.registry import Attr, OpDef, input_type, register_op
from tinyc.ops.shape import dims_table

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext

_TYPES = (DType.F32, DType.F64, DType.I32, DType.I64, DType.U32, DType.U64)


class _Cumulative(OpDef):
    attrs = {"exclusive": Attr("int", 0), "reverse": Attr("int", 0)}
    kernel: ClassVar[str] = ""

    def combine(self, x: np.ndarray, axis: int) -> np.ndarray:
        raise NotImplementedError

    def identity(self) -> int:
        raise NotImplementedError

    def infer(self, node: Node) -> list[TensorType]:
        x, axis = input_type(node, 0), input_type(node, 1)
        if axis.dtype not in (DType.I32, DType.I64) or axis.numel != 1:
            raise ModelError(f"{node.op} node '{node.name}': axis must be one int32/int64")
        if x.rank == 0:
            raise ModelError(f"{node.op} node '{node.name}': input is a scalar")
        return [x]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x, axis_in = inputs
        assert x is not None and axis_in is not None
        axis = int(axis_in.reshape(-1)[0])
        if not -x.ndim <= axis < x.ndim:
            raise ModelError(f"{node.op} node '{node.name}': run-time axis {axis} out of range")
        y = np.flip(x, axis) if node.attrs["reverse"] else x
        with np.errstate(over="ignore"):
            out = self.combine(y, axis).astype(x.dtype)
        if node.attrs["exclusive"]:
            out = np.roll(out, 1, axis=axis)
            index = [slice(None)] * x.ndim
            index[axis] = slice(0, 1)
            out[tuple(index)] = self.identity()
        if node.attrs["reverse"]:
            out = np.flip(out, axis)
        return [np.ascontiguousarray(out)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, axis = node.inputs
        y = node.outputs[0]
        assert x is not None and axis is not None
        if x.dtype not in _TYPES:
            raise UnsupportedError(f"op {node.op} (node '{node.name}') on {x.dtype.value}")
        if not y.type.numel:
            return
        ctx.checked_call("seq", f"tinyc_{self.kernel}_{x.dtype.value}", ctx.ptr(x), ctx.ptr(y),
                         dims_table(ctx, x.shape, x.name), x.type.rank,
                         f"(int64_t){ctx.ptr(axis)}[0]", node.attrs["exclusive"],
                         node.attrs["reverse"])


@register_op
class CumSum(_Cumulative):
    name, kernel = "CumSum", "cumsum"

    def combine(self, x: np.ndarray, axis: int) -> np.ndarray:
        return np.cumsum(x, axis=axis, dtype=x.dtype)

    def identity(self) -> int:
        return 0


@register_op
class CumProd(_Cumulative):
    name, kernel = "CumProd", "cumprod"

    def combine(self, x: np.ndarray, axis: int) -> np.ndarray:
        return np.cumprod(x, axis=axis, dtype=x.dtype)

    def identity(self) -> int:
        return 1
