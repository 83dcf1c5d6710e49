"""Normalization-like ops: BatchNormalization (inference) and Softmax."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.layout import split_axis
from tinyc.ops.registry import Attr, OpDef, const_input, input_type, normalize_axis, register_op

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext


def batchnorm_scale_shift(node: Node) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (scale, shift) with y = x * scale + shift, computed in float64 from the
    four constant parameters and rounded once to float32."""
    gamma, beta, mean, var = (
        const_input(node, i, what).astype(np.float64)
        for i, what in ((1, "scale"), (2, "bias"), (3, "mean"), (4, "variance"))
    )
    scale = gamma / np.sqrt(var + node.attrs["epsilon"])
    shift = beta - mean * scale
    return scale.astype(np.float32), shift.astype(np.float32)


@register_op
class BatchNormalization(OpDef):
    """Inference mode only: the four parameters are constants folded into scale and shift."""

    name = "BatchNormalization"
    attrs = {
        "epsilon": Attr("float", 1e-5),
        "momentum": Attr("float", 0.9),
        "training_mode": Attr("int", 0),
        "spatial": Attr("int", 1),
    }

    def normalize(self, node: Node, opset: int) -> None:
        if node.attrs.pop("training_mode", 0) or len(node.outputs) > 1:
            raise UnsupportedError(
                f"BatchNormalization node '{node.name}': training mode is not supported"
            )
        node.attrs.pop("momentum", None)
        node.attrs.pop("spatial", None)

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        if x.rank < 2:
            raise ModelError(f"BatchNormalization node '{node.name}': input rank {x.rank} < 2")
        for i in range(1, 5):
            if input_type(node, i).shape != (x.shape[1],):
                raise ModelError(
                    f"BatchNormalization node '{node.name}': parameter {i} is not [{x.shape[1]}]"
                )
        return [x]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x, gamma, beta, mean, var = inputs
        assert x is not None and gamma is not None and beta is not None
        assert mean is not None and var is not None
        shape = (1, -1) + (1,) * (x.ndim - 2)
        y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + x.dtype.type(node.attrs["epsilon"]))
        return [(y * gamma.reshape(shape) + beta.reshape(shape)).astype(x.dtype)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        if x.dtype is not DType.F32:
            raise UnsupportedError(f"op BatchNormalization (node '{node.name}') on {x.dtype.value}")
        scale, shift = batchnorm_scale_shift(node)
        s = ctx.table(DType.F32, scale, f"bn_scale_{y.name}")
        t = ctx.table(DType.F32, shift, f"bn_shift_{y.name}")
        outer, c, inner = split_axis(x.shape, 1)
        ctx.call("norm", "tinyc_channel_affine_f32", ctx.ptr(x), s, t, ctx.ptr(y), outer, c, inner)


@register_op
class Softmax(OpDef):
    """Opset >= 13: over one axis. Older opsets flatten at `axis` into a 2-D softmax; the
    frontend records that as `flatten=1` and the kernel sees [outer, len, 1]."""

    name = "Softmax"
    attrs = {"axis": Attr("int", -1)}

    def normalize(self, node: Node, opset: int) -> None:
        rank = input_type(node, 0).rank
        if opset < 13:
            node.attrs.setdefault("axis", 1)
            node.attrs["flatten"] = 1
        node.attrs["axis"] = normalize_axis(node.attrs.get("axis", -1), rank, node)

    def infer(self, node: Node) -> list[TensorType]:
        return [input_type(node, 0)]

    def _geometry(self, shape: tuple[int, ...], node: Node) -> tuple[int, int, int]:
        axis = node.attrs["axis"]
        if node.attrs.get("flatten"):
            outer, _, _ = split_axis(shape, axis)
            return outer, int(np.prod(shape[axis:])), 1
        return split_axis(shape, axis)

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        outer, length, inner = self._geometry(x.shape, node)
        v = x.reshape(outer, length, inner)
        e = np.exp(v - v.max(axis=1, keepdims=True))
        return [(e / e.sum(axis=1, keepdims=True)).reshape(x.shape).astype(x.dtype)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        if x.dtype is not DType.F32:
            raise UnsupportedError(f"op Softmax (node '{node.name}') on {x.dtype.value}")
        outer, length, inner = self._geometry(x.shape, node)
        ctx.call("softmax", "tinyc_softmax_f32", ctx.ptr(x), ctx.ptr(y), outer, length, inner)
