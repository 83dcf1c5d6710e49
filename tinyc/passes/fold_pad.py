"""fold-pad: a constant Pad before a Conv or pool becomes the window op's own padding."""

from __future__ import annotations

import math
from dataclasses import dataclass

from tinyc.ir import DType, Graph, Node, Value
from tinyc.passes.base import register_pass
from tinyc.passes.rewrite import (
    OK,
    Match,
    MatchResult,
    Op,
    RewritePass,
    Rewriter,
    Rule,
    RuleSet,
    Var,
)
from tinyc.quant.params import QMIN

#: window ops whose padding is x's zero (the zero point for int8): Pad{value=0} folds
_ZERO_PADDED = ("Conv", "QConv")
_AVERAGES = ("AveragePool", "QAveragePool")
#: pools whose padding never wins the max
_MAXES = ("MaxPool", "QMaxPool")


def spatial_pads(pad: Node, rank: int) -> list[int] | None:
    """The Pad's [begins..., ends...] over the spatial axes, or None when it pads the batch
    or channel axis, crops (negative pads), or is not a constant-mode Pad with static pads
    and value."""
    pads = list(pad.attrs["pads"])
    if pad.attrs["mode"] != "constant" or not pads or any(v is not None for v in pad.inputs[1:]):
        return None
    if any(p < 0 for p in pads) or any(pads[i] or pads[i + rank] for i in (0, 1)):
        return None
    return pads[2:rank] + pads[rank + 2:]


def padded_value(x: Value) -> float:
    """The value a window op pads `x` with, in x's own numbers: 0.0 for float, the zero
    point for int8."""
    if x.dtype is DType.I8 and x.type.quant is not None:
        return float(x.type.quant.zero_point[0])
    return 0.0


def lower_bound(x: Value) -> float:
    """A value no element of `x` is below, from the clamp that produced it (-inf when
    nothing is known; for int8, -128 or the producer's `act_min`)."""
    node = x.producer
    if x.dtype is DType.I8:
        return float(max(QMIN, int(node.attrs.get("act_min", QMIN)) if node else QMIN))
    if node is None:
        return -math.inf
    if node.op == "Relu":
        return 0.0
    if node.op == "Clip" and not any(v is not None for v in node.inputs[1:]):
        return float(node.attrs["min"])
    act = node.attrs.get("activation", "")
    if act == "Relu":
        return 0.0
    if act == "Clip":
        return float(node.attrs["activation_params"][0])
    return -math.inf


def every_window_reads_x(node: Node, x: Value, pads: list[int]) -> bool:
    """True when, with `pads` as the node's padding, every output's window has at least one
    tap inside x on every spatial axis (so the max never sees only padding)."""
    a = node.attrs
    n = x.type.rank - 2
    out = node.outputs[0].shape[2:]
    for i in range(n):
        size, k, s, d, begin = x.shape[2 + i], a["kernel_shape"][i], a["strides"][i], \
            a["dilations"][i], pads[i]
        for j in range(out[i]):
            if not any(0 <= j * s - begin + t * d < size for t in range(k)):
                return False
    return True


class PadIntoWindow(Rule):
    """``Conv(Pad{pads=p, value=0}(x), w) -> Conv{pads+=p}(x, w)``; likewise QConv (value =
    x's zero point), AveragePool where counting the padding makes it equal, and MaxPool
    where the padding can never be the maximum."""

    pattern = Op(_ZERO_PADDED + _AVERAGES + _MAXES, Op("Pad", Var("x"), name="pad"), ...)

    def check(self, graph: Graph, m: Match) -> MatchResult:
        pad, x, node = m.node("pad"), m.value("x"), m.root
        if x.type.rank < 3 or pad.outputs[0].type.quant != x.type.quant:
            return MatchResult.fail("not a spatial tensor, or the Pad changes its type")
        extra = spatial_pads(pad, x.type.rank)
        if extra is None:
            return MatchResult.fail("the Pad is not a constant, non-negative, spatial-only pad")
        value = float(pad.attrs["value"])
        if node.op in _ZERO_PADDED + _AVERAGES and value != padded_value(x):
            return MatchResult.fail(f"pad value {value} is not the {node.op}'s padding "
                                    f"{padded_value(x)}")
        if node.op in _AVERAGES:
            if node.attrs["ceil_mode"]:
                return MatchResult.fail("ceil_mode windows may run past the padding")
            if any(node.attrs["pads"]) and not node.attrs["count_include_pad"]:
                return MatchResult.fail("own padding not counted, explicit padding counted")
        if node.op in _MAXES:
            if node.attrs.get("indices"):
                return MatchResult.fail("MaxPool's Indices would index the unpadded tensor")
            if value > lower_bound(x):
                return MatchResult.fail(f"pad value {value} may exceed %{x.name}")
            if not every_window_reads_x(node, x, self.merged(node, extra)):
                return MatchResult.fail("a window would read padding only")
        return OK

    @staticmethod
    def merged(node: Node, extra: list[int]) -> list[int]:
        return [p + q for p, q in zip(node.attrs["pads"], extra, strict=True)]

    def rewrite(self, graph: Graph, m: Match, rw: Rewriter) -> None:
        pad, node = m.node("pad"), m.root
        extra = spatial_pads(pad, m.value("x").type.rank)
        assert extra is not None
        attrs: dict[str, object] = {"pads": self.merged(node, extra)}
        if node.op in _AVERAGES:
            attrs["count_include_pad"] = 1
        rw.set_attrs(node, **attrs)
        rw.set_input(node, 0, m.value("x"))


RULES = RuleSet([PadIntoWindow()])


@register_pass
@dataclass(frozen=True)
class FoldPad(RewritePass):
    """Fold a constant Pad (Keras/tf2onnx write one before each stride-2 convolution) into
    the padding of the Conv, AveragePool or MaxPool that reads it, so the padded copy, its
    arena bytes and its pass over memory disappear and in-place reuse applies as in the
    clean export. Results are unchanged: a Conv pads with zeros (int8: the zero point), an
    AveragePool with count_include_pad divides by the whole window, padded or not.

    Preconditions: none. Refuses pads on the batch or channel axis, negative (cropping) or
    run-time pads, non-constant modes; for Conv/AveragePool a value other than 0 (int8: the
    input's zero point); for AveragePool ceil_mode, or own padding left out of the count;
    for MaxPool a value that is not provably <= every input element (-inf, or <= the lower
    bound of the Relu/Clip that produced the input; int8: -128 or the producer's act_min),
    a window that would read padding only, and a used Indices output.
    """

    name = "fold-pad"
    summary = "Pad{constant} -> Conv/AveragePool/MaxPool padding (when provably equal)"

    def rules(self) -> RuleSet:
        return RULES
