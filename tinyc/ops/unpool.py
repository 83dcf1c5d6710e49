"""MaxUnpool: scatter pooled values back to the positions MaxPool's indices name.

As the ONNX reference does, the indices are flat positions in the unpooled shape
((in - 1) * stride - pads + kernel per spatial axis); an `output_shape` larger than that
pads the result with zeros at the end of each axis. A run-time `output_shape` must match the
shape the model declares, and the kernel (`tinyc_unpool.h`) checks every index.
"""

from __future__ import annotations

from dataclasses import replace
from math import prod
from typing import TYPE_CHECKING

import numpy as np

from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.layout import MAX_RANK
from tinyc.ops.registry import (
    REQUIRED,
    WINDOW_PADS,
    WINDOW_STEP,
    OpDef,
    declared_shape,
    input_type,
    register_op,
    runtime_input,
)
from tinyc.ops.shape import check_failed, dims_table, shape_operand
from tinyc.ops.window import check_window_lengths

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext


def unpooled_shape(node: Node, x: tuple[int, ...]) -> tuple[int, ...]:
    """The shape MaxPool's flat indices address."""
    k, s, p = node.attrs["kernel_shape"], node.attrs["strides"], node.attrs["pads"]
    spatial = len(k)
    return x[:2] + tuple((x[2 + i] - 1) * s[i] - (p[i] + p[spatial + i]) + k[i]
                         for i in range(spatial))


@register_op
class MaxUnpool(OpDef):
    """IR form: `strides` and `pads` filled in, `shape` the output shape; a run-time
    output_shape input stays input 2 and is checked."""

    name = "MaxUnpool"
    min_opset = 9
    attrs = {"kernel_shape": replace(WINDOW_STEP, default=REQUIRED), "strides": WINDOW_STEP,
             "pads": WINDOW_PADS}

    def normalize(self, node: Node, opset: int) -> None:
        x = input_type(node, 0)
        spatial = len(node.attrs["kernel_shape"])
        if x.rank != spatial + 2:
            raise ModelError(f"MaxUnpool node '{node.name}': kernel_shape of {spatial} axes "
                             f"for a rank-{x.rank} input")
        node.attrs["strides"] = list(node.attrs["strides"] or [1] * spatial)
        node.attrs["pads"] = list(node.attrs["pads"] or [0] * (2 * spatial))
        check_window_lengths(node, spatial)
        out = node.input(2)
        if runtime_input(node, 2):
            shape_operand(node, 2, "output_shape")
            node.attrs["shape"] = list(declared_shape(node, 0, "the output_shape operand"))
            return
        if out is not None:
            node.attrs["shape"] = [int(v) for v in out.const.reshape(-1)]
        else:
            node.attrs["shape"] = list(unpooled_shape(node, x.shape))
        node.set_inputs(node.inputs[:2])

    def infer(self, node: Node) -> list[TensorType]:
        x, idx = input_type(node, 0), input_type(node, 1)
        if x.dtype not in (DType.F32, DType.F64, DType.F16):
            raise UnsupportedError(f"op MaxUnpool (node '{node.name}') on {x.dtype.value}")
        if idx.dtype is not DType.I64 or idx.shape != x.shape:
            raise ModelError(f"MaxUnpool node '{node.name}': indices must be int64 shaped "
                             "like X")
        base, shape = unpooled_shape(node, x.shape), tuple(node.attrs["shape"])
        if len(shape) != x.rank or any(o < b for o, b in zip(shape, base, strict=True)):
            raise ModelError(f"MaxUnpool node '{node.name}': output shape {list(shape)} is "
                             f"smaller than the unpooled {list(base)}")
        if x.rank > MAX_RANK:
            raise UnsupportedError(f"MaxUnpool node '{node.name}': rank {x.rank} > {MAX_RANK}")
        return [x.with_shape(shape)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x, idx = inputs[0], inputs[1]
        assert x is not None and idx is not None
        shape = tuple(node.attrs["shape"])
        if len(inputs) > 2 and inputs[2] is not None and tuple(inputs[2].tolist()) != shape:
            raise check_failed(node, "output_shape", inputs[2].tolist(), list(shape))
        base = unpooled_shape(node, x.shape)
        flat = idx.reshape(-1)
        if ((flat < 0) | (flat >= prod(base))).any():
            raise ModelError(f"MaxUnpool node '{node.name}': index out of range")
        y = np.zeros(prod(base), x.dtype)
        y[flat] = x.reshape(-1)  # numpy: the last of repeated indices wins, as in C
        out = np.zeros(shape, x.dtype)
        out[tuple(slice(0, d) for d in base)] = y.reshape(base)
        return [out]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, idx = node.inputs[0], node.inputs[1]
        y = node.outputs[0]
        assert x is not None and idx is not None
        shape = node.attrs["shape"]
        out = node.input(2)
        if out is not None:
            table = ctx.table(DType.I64, shape, f"shape_{y.name}")
            ctx.checked_call("shape", "tinyc_check_values_i64", ctx.ptr(out), table, len(shape))
        if not y.type.numel:
            return
        base = unpooled_shape(node, x.shape)
        ctx.checked_call("unpool", "tinyc_max_unpool", ctx.ptr(x), ctx.ptr(idx), ctx.ptr(y),
                         x.dtype.itemsize, x.type.numel, x.type.rank,
                         dims_table(ctx, base, f"unpooled_{y.name}"),
                         dims_table(ctx, shape, y.name))
