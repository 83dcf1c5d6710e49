"""collapse-reshapes: a chain of shape-only ops becomes one Reshape."""

from __future__ import annotations

from dataclasses import dataclass

from tinyc.ir import Graph
from tinyc.passes.base import register_pass
from tinyc.passes.rewrite import (
    Match,
    MatchResult,
    Op,
    RewritePass,
    Rewriter,
    Rule,
    RuleSet,
    Var,
)

#: ops that keep the bytes and change only the shape
RESHAPES = ("Reshape", "Flatten", "Squeeze", "Unsqueeze")


class CollapseChain(Rule):
    """``Reshape(Flatten(x)) -> Reshape(x)`` (any two of Reshape/Flatten/Squeeze/Unsqueeze),
    or ``x`` when the chain ends in x's own shape."""

    pattern = Op(RESHAPES, Op(RESHAPES, Var("x"), name="inner"))

    def check(self, graph: Graph, m: Match) -> MatchResult:
        x, y = m.value("x"), m.root.outputs[0]
        if x.type.quant != y.type.quant:
            return MatchResult.fail("quantization parameters differ")
        return MatchResult.success()

    def rewrite(self, graph: Graph, m: Match, rw: Rewriter) -> None:
        x, y = m.value("x"), m.root.outputs[0]
        if x.shape == y.shape:
            rw.replace(y, x)
            return
        new = rw.add("Reshape", [x], {"shape": list(y.shape)}, before=m.root, defaults=False,
                     name=m.root.name, hint=y.name + "_r")
        rw.replace(y, new)


RULES = RuleSet([CollapseChain()])


@register_pass
@dataclass(frozen=True)
class CollapseReshapes(RewritePass):
    """Collapse chains of Reshape, Flatten, Squeeze and Unsqueeze (all "same bytes, new
    shape") into a single Reshape to the final shape, or into nothing when the chain
    returns to its input's shape. Single shape-only ops are left as they are (a lone
    Flatten reads better than a Reshape); eliminate-no-ops removes those that change
    nothing.

    Preconditions: none. Refuses only when quantization parameters differ along the
    chain. The inner op stays while another node reads it. Bit-identical.
    """

    name = "collapse-reshapes"
    summary = "collapse Reshape/Flatten/Squeeze/Unsqueeze chains into one Reshape"

    def rules(self) -> RuleSet:
        return RULES
