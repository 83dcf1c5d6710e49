"""fuse-activation: apply an activation inside the kernel that produces its input."""

from __future__ import annotations

import math
from dataclasses import dataclass

from tinyc.ir import Graph, Node
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
    all_of,
    is_float32,
    single_use,
)

#: ops whose f32 kernels take a `tinyc_act` (reference and C)
PRODUCERS = ("Conv", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div")
ACTIVATIONS = ("Relu", "Clip", "LeakyRelu", "HardSwish", "Sigmoid", "HardSigmoid")
_CLAMPS = ("Relu", "Clip")


def activation_of(node: Node) -> tuple[str, list[float]]:
    """The (activation, activation_params) attributes equivalent to an activation node."""
    a = node.attrs
    if node.op == "Clip":
        return "Clip", [float(a["min"]), float(a["max"])]
    if node.op == "LeakyRelu":
        return "LeakyRelu", [float(a["alpha"])]
    if node.op == "HardSigmoid":
        return "HardSigmoid", [float(a["alpha"]), float(a["beta"])]
    return node.op, []


def _interval(name: str, params: list[float]) -> tuple[float, float]:
    return (0.0, math.inf) if name == "Relu" else (params[0], params[1])


def compose_clamps(
    inner: tuple[str, list[float]], outer: tuple[str, list[float]]
) -> tuple[str, list[float]] | None:
    """clamp_outer(clamp_inner(v)) as one clamp, or None when the ranges do not overlap
    (the result would be a constant, not a clamp of v)."""
    lo1, hi1 = _interval(*inner)
    lo2, hi2 = _interval(*outer)
    lo, hi = max(lo1, lo2), min(hi1, hi2)
    if not (lo1 <= hi1 and lo2 <= hi2 and lo <= hi):
        return None
    if lo == 0.0 and hi == math.inf:
        return "Relu", []
    return "Clip", [lo, hi]


class FuseIntoProducer(Rule):
    """``Relu(Conv(x, w)) -> Conv{activation=Relu}(x, w)``, for every fusible activation
    and producer; ``Clip(Conv{activation=Relu}) -> Conv{activation=Clip}`` by composing
    the two clamps."""

    pattern = Op(ACTIVATIONS, Op(PRODUCERS, name="producer"))

    def check(self, graph: Graph, m: Match) -> MatchResult:
        producer = m.node("producer")
        if any(v is not None for v in m.root.inputs[1:]):
            return MatchResult.fail(f"{m.root.op} has run-time operands (e.g. Clip bounds)")
        result = all_of(single_use(graph, producer.outputs[0]), is_float32(producer.outputs[0]))
        if not result:
            return result
        current = producer.attrs.get("activation", "")
        if not current:
            return OK
        if current in _CLAMPS and m.root.op in _CLAMPS:
            inner = (current, list(producer.attrs.get("activation_params", [])))
            if compose_clamps(inner, activation_of(m.root)) is None:
                return MatchResult.fail("the two clamp ranges do not overlap")
            return OK
        return MatchResult.fail(f"{producer.op} already has activation {current}")

    def rewrite(self, graph: Graph, m: Match, rw: Rewriter) -> None:
        producer = m.node("producer")
        act = activation_of(m.root)
        current = producer.attrs.get("activation", "")
        if current:
            composed = compose_clamps((current, list(producer.attrs["activation_params"])), act)
            assert composed is not None
            act = composed
        rw.set_attrs(producer, activation=act[0], activation_params=act[1])
        rw.replace(m.root.outputs[0], producer.outputs[0])


RULES = RuleSet([FuseIntoProducer()])


@register_pass
@dataclass(frozen=True)
class FuseActivation(RewritePass):
    """Fuse Relu, Clip (Relu6 included), LeakyRelu, HardSwish, Sigmoid and HardSigmoid into
    the Conv, Gemm, MatMul or Add/Sub/Mul/Div that produces their input, by setting the
    producer's `activation` and `activation_params` attributes (visible in the text IR).
    The fused kernel applies the activation before storing each result; numerics are
    unchanged (same float32 formula, same rounding).

    Preconditions: none. Refuses when the producer's result has another use or is a graph
    output, when it is not float32 (integer kernels take their range from quantization),
    and when the producer already has an activation, except two clamps (Relu/Clip) with
    overlapping ranges, which compose into one.
    """

    name = "fuse-activation"
    summary = "fuse Relu/Clip/LeakyRelu/HardSwish/Sigmoid/HardSigmoid into their producer"

    def rules(self) -> RuleSet:
        return RULES
