"""Unique: the distinct slices of X along an axis (or distinct elements of X flattened),
with the index of each one's first occurrence, the inverse map and the counts.

How many there are depends on the data: the node compiles for the count the model
declares for Y, indices or counts (or, for a constant X, the one it computes) and the
kernel (`tinyc_unique.h`) returns an error, so `NAME_run` returns 1, when the run finds
another. Slices are equal when all their elements compare equal as values (so 0.0 equals
-0.0 and a slice holding NaN equals no other: numpy would merge NaNs). `sorted=1` orders
them lexicographically, NaN after every number, ties by first occurrence; `sorted=0`
keeps first-occurrence order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.ewbase import sfx
from tinyc.ops.layout import split_axis
from tinyc.ops.registry import (
    DECLARED_SHAPES,
    Attr,
    OpDef,
    input_type,
    normalize_axis,
    register_op,
)
from tinyc.ops.shape import check_failed

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext

_TYPES = (DType.F32, DType.F64, DType.I8, DType.U8, DType.I16, DType.U16, DType.I32, DType.U32,
          DType.I64, DType.U64, DType.BOOL)


def _rows(x: np.ndarray, axis: int | None) -> np.ndarray:
    """X as one row per slice: [len, elements per slice]."""
    if axis is None:
        return x.reshape(-1, 1)
    return np.moveaxis(x, axis, 0).reshape(x.shape[axis], -1)


def unique(x: np.ndarray, axis: int | None, sort: bool) -> tuple[np.ndarray, ...]:
    """(Y, indices, inverse_indices, counts) with the semantics the module describes."""
    rows = _rows(x, axis)
    n = rows.shape[0]
    with np.errstate(invalid="ignore"):
        eq = (rows[:, None, :] == rows[None, :, :]).all(axis=-1) | np.eye(n, dtype=bool)
    first_of = eq.argmax(axis=1)  # the earliest equal slice (itself at the latest)
    firsts = np.flatnonzero(first_of == np.arange(n))
    slot = np.searchsorted(firsts, first_of)  # first-occurrence rank of each slice
    if sort and len(firsts):
        keys = rows[firsts].T[::-1]  # lexsort's last key is the primary one
        order = np.lexsort(keys) if keys.size else np.arange(len(firsts))
    else:
        order = np.arange(len(firsts))
    rank = np.empty(len(firsts), np.int64)
    rank[order] = np.arange(len(firsts))
    kept = firsts[order]
    if axis is None:
        y = x.reshape(-1)[kept]
    else:
        y = np.take(x, kept, axis=axis)
    counts = np.bincount(slot, minlength=len(firsts))[order]
    return y, kept.astype(np.int64), rank[slot].astype(np.int64), counts.astype(np.int64)


@register_op
class Unique(OpDef):
    """IR form: `axis` resolved (`flatten=1` when absent) and `count`, the number of
    distinct slices compiled for. Always four outputs."""

    name = "Unique"
    attrs = {"axis": Attr("int", None), "sorted": Attr("int", 1)}

    def normalize(self, node: Node, opset: int) -> None:
        x = input_type(node, 0)
        flatten = node.attrs["axis"] is None
        axis = 0 if flatten else normalize_axis(node.attrs["axis"], x.rank, node)
        node.attrs.update(axis=axis, flatten=int(flatten))
        value = node.inputs[0]
        assert value is not None
        length = x.numel if flatten else x.shape[axis]
        if value.const is not None:
            count = len(unique(value.const, None if flatten else axis, True)[1])
        elif length <= 1:  # nothing to merge
            count = length
        else:
            count = self._declared_count(node, axis, flatten)
        node.attrs["count"] = count

    def _declared_count(self, node: Node, axis: int, flatten: bool) -> int:
        shapes = node.attrs.get(DECLARED_SHAPES) or []
        candidates = [(0, 0 if flatten else axis), (1, 0), (3, 0)]
        for index, dim in candidates:
            if index < len(shapes) and shapes[index] is not None:
                return int(shapes[index][dim])
        raise UnsupportedError(
            f"Unique node '{node.name}': the number of distinct values is only known at run "
            "time and the model declares no static shape for Y, indices or counts")

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        if x.dtype not in _TYPES:
            raise UnsupportedError(f"op Unique (node '{node.name}') on {x.dtype.value}")
        count, axis = node.attrs["count"], node.attrs["axis"]
        length = x.numel if node.attrs["flatten"] else x.shape[axis]
        if not (0 < count <= length or count == length == 0):
            raise ModelError(f"Unique node '{node.name}': {count} distinct of {length}")
        y = (count,) if node.attrs["flatten"] else x.shape[:axis] + (count,) + x.shape[axis + 1:]
        idx = TensorType(DType.I64, (count,))
        return [x.with_shape(y), idx, TensorType(DType.I64, (length,)), idx]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        axis = None if node.attrs["flatten"] else node.attrs["axis"]
        out = unique(x, axis, bool(node.attrs["sorted"]))
        if len(out[1]) != node.attrs["count"]:
            raise check_failed(node, "number of distinct values", len(out[1]),
                               node.attrs["count"])
        return list(out)

    def _geometry(self, node: Node) -> tuple[int, int, int]:
        x = input_type(node, 0)
        if node.attrs["flatten"]:
            return 1, x.numel, 1
        return split_axis(x.shape, node.attrs["axis"])

    def workspace(self, node: Node, kernel_dirs: tuple[str, ...] | None = None) -> int:
        return 8 * (2 * node.attrs["count"] + self._geometry(node)[1])

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x = node.inputs[0]
        assert x is not None
        outer, length, inner = self._geometry(node)
        if not length:
            return
        # passes drop unused trailing outputs: the kernel then skips them
        outs = [ctx.ptr(v) for v in node.outputs] + ["NULL"] * (4 - len(node.outputs))
        ctx.checked_call("unique", f"tinyc_unique_{sfx(x.dtype)}", ctx.ptr(x), *outs,
                         ctx.workspace(node, DType.I64), outer, length, inner,
                         node.attrs["count"], node.attrs["sorted"])
