"""Losses: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (float32, `tinyc_loss`).

IR form: `reduction` ("none", "sum", "mean") and, when the model sets it, `ignore_index`.
A target outside [0, C) that is not ignored makes NAME_run return 1 (the reference raises).
SoftmaxCrossEntropyLoss computes each target's log-softmax on the fly; its optional second
output (the log-probabilities) is a LogSoftmax over axis 1 (`tinyc_log_softmax_f32`)."""

from __future__ import annotations

from math import prod
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from tinyc.errors import ModelError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.ewbase import refuse
from tinyc.ops.registry import Attr, OpDef, input_type, register_op

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext

_REDUCTIONS = {"none": 0, "sum": 1, "mean": 2}


def _log_softmax(x: np.ndarray) -> np.ndarray:
    v = x.astype(np.float64)
    shifted = v - v.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


class _Loss(OpDef):
    """Input 0 [N, C, d...] float32, input 1 the targets [N, d...], input 2 the optional
    class weights [C]."""

    log_softmax: ClassVar[bool] = False
    attrs = {"reduction": Attr("string", "mean")}
    min_opset = 12

    def normalize(self, node: Node, opset: int) -> None:
        if node.attrs["reduction"] not in _REDUCTIONS:
            raise ModelError(f"{node.op} node '{node.name}': reduction {node.attrs['reduction']}")

    def infer(self, node: Node) -> list[TensorType]:
        x, t = input_type(node, 0), input_type(node, 1)
        if x.rank < 2 or t.shape != x.shape[:1] + x.shape[2:]:
            raise ModelError(f"{node.op} node '{node.name}': targets {list(t.shape)} do not "
                             f"fit input {list(x.shape)}")
        if t.dtype not in (DType.I32, DType.I64):
            raise ModelError(f"{node.op} node '{node.name}': targets must be int32 or int64")
        if node.input(2) is not None and input_type(node, 2).shape != (x.shape[1],):
            raise ModelError(f"{node.op} node '{node.name}': weights must be [{x.shape[1]}]")
        shape = t.shape if node.attrs["reduction"] == "none" else ()
        return [TensorType(x.dtype, shape)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x, t = inputs[0], inputs[1]
        w = inputs[2] if len(inputs) > 2 else None
        assert x is not None and t is not None
        n, c = x.shape[0], x.shape[1]
        logp = _log_softmax(x) if self.log_softmax else x.astype(np.float64)
        v = logp.reshape(n, c, -1)
        tt = t.reshape(n, -1).astype(np.int64)
        ignored = np.zeros(tt.shape, bool)
        if "ignore_index" in node.attrs:
            ignored = tt == int(node.attrs["ignore_index"])
        if ((tt < 0) | (tt >= c))[~ignored].any():
            raise ModelError(f"{node.op} node '{node.name}': a target is outside [0, {c})")
        safe = np.where(ignored, 0, tt)
        picked = np.take_along_axis(v, safe[:, None, :], axis=1)[:, 0, :]
        weight = np.ones(c) if w is None else w.astype(np.float64)
        wt = np.where(ignored, 0.0, weight[safe])
        loss = -picked * wt
        reduction = node.attrs["reduction"]
        if reduction == "none":
            out = loss.reshape(t.shape)
        elif reduction == "sum":
            out = loss.sum()
        else:
            with np.errstate(all="ignore"):
                out = loss.sum() / wt.sum()
        outs = [np.asarray(out).astype(x.dtype)]
        if len(node.outputs) > 1:
            outs.append(_log_softmax(x).astype(x.dtype))
        return outs

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, t = node.inputs[0], node.inputs[1]
        w = node.input(2)
        y = node.outputs[0]
        assert x is not None and t is not None
        if x.dtype is not DType.F32 or (w is not None and w.dtype is not DType.F32):
            raise refuse(node, f"on {x.dtype.value} tensors")
        n, c, d = x.shape[0], x.shape[1], prod(x.shape[2:])
        if n * d == 0:
            if y.type.numel:
                raise refuse(node, "with no targets")
            return
        ignore = node.attrs.get("ignore_index")
        ignore_c = f"INT64_C({int(ignore)})" if ignore is not None else "INT64_C(0)"
        init = (f"{{{n}, {c}, {d}, {ignore_c}, {int(ignore is not None)}, "
                f"{_REDUCTIONS[node.attrs['reduction']]}, {int(self.log_softmax)}}}")
        params = ctx.params("tinyc_nll_params", init, f"loss_{y.name}")
        fn = f"tinyc_nll_loss_{t.dtype.value}_f32"
        weights = ctx.ptr(w) if w is not None else "NULL"
        ctx.checked_call("loss", fn, ctx.ptr(x), ctx.ptr(t), weights, ctx.ptr(y), params)
        if len(node.outputs) > 1 and node.outputs[1].type.numel:
            ctx.call("reduce", "tinyc_log_softmax_f32", ctx.ptr(x), ctx.ptr(node.outputs[1]),
                     n, c, d)


@register_op
class NegativeLogLikelihoodLoss(_Loss):
    name = "NegativeLogLikelihoodLoss"


@register_op
class SoftmaxCrossEntropyLoss(_Loss):
    name, log_softmax = "SoftmaxCrossEntropyLoss", True

    def infer(self, node: Node) -> list[TensorType]:
        out = super().infer(node)
        return out + [input_type(node, 0)]
