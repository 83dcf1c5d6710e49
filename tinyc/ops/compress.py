"""Compress: the slices of X along an axis (or of X flattened) whose condition is true.

How many slices survive depends on the condition's values. With a constant condition the
count is known; with a run-time one the node compiles for the output shape the model
declares (refused when it declares none), and the kernel (`tinyc_compress.h`) returns an
error, so `NAME_run` returns 1, when the condition selects another number of slices.
Condition entries past the axis must be false (numpy and onnxruntime reject them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinyc.errors import ModelError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.layout import split_axis
from tinyc.ops.registry import (
    Attr,
    OpDef,
    declared_shape,
    input_type,
    normalize_axis,
    register_op,
)
from tinyc.ops.shape import check_failed

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext


def _selected(node: Node, cond: np.ndarray, length: int) -> np.ndarray:
    flags = cond.reshape(-1).astype(bool)
    if flags[length:].any():
        raise ModelError(f"Compress node '{node.name}': condition selects past the axis "
                         f"length {length}")
    return np.flatnonzero(flags[:length])


@register_op
class Compress(OpDef):
    """IR form: `axis` resolved (`flatten=1` when the model gives none, axis 0 of X
    flattened) and `count`, the number of slices kept."""

    name = "Compress"
    min_opset = 9
    attrs = {"axis": Attr("int", None)}

    def normalize(self, node: Node, opset: int) -> None:
        x, cond = input_type(node, 0), input_type(node, 1)
        if cond.dtype is not DType.BOOL or cond.rank != 1:
            raise ModelError(f"Compress node '{node.name}': condition must be 1-D bool")
        flatten = node.attrs["axis"] is None
        axis = 0 if flatten else normalize_axis(node.attrs["axis"], x.rank, node)
        length = x.numel if flatten else x.shape[axis]
        c = node.inputs[1]
        assert c is not None
        if c.const is not None:
            count = len(_selected(node, c.const, length))
        else:
            count = declared_shape(node, 0, "the number of slices the condition keeps")[axis]
        node.attrs.update(axis=axis, flatten=int(flatten), count=count)

    def _geometry(self, node: Node, shape: tuple[int, ...]) -> tuple[int, int, int]:
        if node.attrs["flatten"]:
            return 1, int(np.prod(shape)), 1
        return split_axis(shape, node.attrs["axis"])

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        axis, count = node.attrs["axis"], node.attrs["count"]
        _, length, _ = self._geometry(node, x.shape)
        if not 0 <= count <= length:
            raise ModelError(f"Compress node '{node.name}': {count} slices of {length}")
        if node.attrs["flatten"]:
            return [x.with_shape((count,))]
        return [x.with_shape(x.shape[:axis] + (count,) + x.shape[axis + 1 :])]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x, cond = inputs
        assert x is not None and cond is not None
        _, length, _ = self._geometry(node, x.shape)
        keep = _selected(node, cond, length)
        if len(keep) != node.attrs["count"]:
            raise check_failed(node, "condition count", len(keep), node.attrs["count"])
        if node.attrs["flatten"]:
            return [x.reshape(-1)[keep]]
        return [np.take(x, keep, axis=node.attrs["axis"])]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, cond = node.inputs
        y = node.outputs[0]
        assert x is not None and cond is not None
        outer, length, inner = self._geometry(node, x.shape)
        ctx.checked_call("compress", "tinyc_compress", ctx.ptr(x), ctx.ptr(cond),
                         cond.type.numel, ctx.ptr(y), x.dtype.itemsize, outer, length, inner,
                         node.attrs["count"])
