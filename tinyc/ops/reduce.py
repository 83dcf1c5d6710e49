"""Reductions over a set of axes: ReduceMean (and the kernel's other kinds)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinyc.errors import UnsupportedError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.layout import c_int_list, merge_dims, strides
from tinyc.ops.registry import Attr, OpDef, input_type, normalize_axis, register_op

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext


class _Reduce(OpDef):
    """Axes come as an attribute (older opsets) or a constant input (newer); the IR keeps
    them as the sorted attribute `axes` with every axis listed (an empty `axes` input with
    noop_with_empty_axes=0 means all axes)."""

    kind = ""
    axes_input_since = 18
    attrs = {"keepdims": Attr("int", 1), "noop_with_empty_axes": Attr("int", 0)}

    def normalize(self, node: Node, opset: int) -> None:
        rank = input_type(node, 0).rank
        axes = node.attrs.get("axes")
        if len(node.inputs) > 1 and node.inputs[1] is not None:
            value = node.inputs[1]
            if value.const is None:
                raise UnsupportedError(f"{node.op} node '{node.name}': run-time axes")
            axes = [int(a) for a in value.const.reshape(-1)]
        node.set_inputs(node.inputs[:1])
        if not axes:
            axes = [] if node.attrs.get("noop_with_empty_axes") else list(range(rank))
        node.attrs["axes"] = sorted({normalize_axis(a, rank, node) for a in axes})
        node.attrs.pop("noop_with_empty_axes", None)

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        axes = node.attrs["axes"]
        if node.attrs["keepdims"]:
            shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
        else:
            shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
        return [x.with_shape(shape)]

    def np_reduce(self, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        raise NotImplementedError

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        axes = tuple(node.attrs["axes"])
        if not axes:
            return [x.copy()]
        out = self.np_reduce(x, axes)
        return [np.asarray(out).astype(x.dtype).reshape(node.outputs[0].shape)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        if x.dtype is not DType.F32:
            raise UnsupportedError(f"op {node.op} (node '{node.name}') on {x.dtype.value}")
        axes = node.attrs["axes"]
        if not axes:
            ctx.copy(y, x)
            return
        kept = [d if i not in axes else 1 for i, d in enumerate(x.shape)]
        out_st = [0 if i in axes else s for i, s in enumerate(strides(kept))]
        dims, (in_st, o_st) = merge_dims(x.shape, strides(x.shape), out_st)
        count = int(np.prod([x.shape[a] for a in axes]))
        init = (f"{{{len(dims)}, {c_int_list(dims)}, {c_int_list(o_st)}, {y.type.numel}, "
                f"{count}, TINYC_REDUCE_{self.kind}}}")
        del in_st
        params = ctx.params("tinyc_reduce_params", init, f"reduce_{y.name}")
        ctx.call("reduce", "tinyc_reduce_f32", ctx.ptr(x), ctx.ptr(y), params)


@register_op
class ReduceMean(_Reduce):
    name, kind = "ReduceMean", "MEAN"

    def np_reduce(self, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        return x.mean(axis=axes, dtype=np.float64)
