"""eliminate-no-ops: drop nodes that copy their input unchanged."""

from __future__ import annotations

from dataclasses import dataclass

from tinyc.ir import Graph
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
    is_output,
)

RESHAPES = ("Reshape", "Flatten", "Squeeze", "Unsqueeze")


def _same_type(m: Match) -> MatchResult:
    x, y = m.value("x"), m.root.outputs[0]
    if x.type != y.type:
        return MatchResult.fail(f"%{y.name} is {y.type}, %{x.name} is {x.type}")
    return OK


class _Forward(Rule):
    """Base: the root's first output is its input `x`; replace it by `x`."""

    def check(self, graph: Graph, m: Match) -> MatchResult:
        return _same_type(m)

    def rewrite(self, graph: Graph, m: Match, rw: Rewriter) -> None:
        rw.replace(m.root.outputs[0], m.value("x"))


class DropIdentity(_Forward):
    """``Identity(x) -> x``"""

    pattern = Op("Identity", Var("x"))


class DropDropout(_Forward):
    """``Dropout(x) -> x`` (inference), when the mask output is not used."""

    pattern = Op("Dropout", Var("x"))

    def check(self, graph: Graph, m: Match) -> MatchResult:
        for mask in m.root.outputs[1:]:
            if mask.uses or is_output(graph, mask):
                return MatchResult.fail(f"the Dropout mask %{mask.name} is used")
        return _same_type(m)


class DropNoOpReshape(_Forward):
    """``Reshape(x) -> x`` (also Flatten/Squeeze/Unsqueeze) when the shape is unchanged."""

    pattern = Op(RESHAPES, Var("x"))


class DropNoOpCast(_Forward):
    """``Cast{to=dtype(x)}(x) -> x``"""

    pattern = Op("Cast", Var("x"))


class DropNoOpTranspose(_Forward):
    """``Transpose{perm=[0, 1, ..]}(x) -> x``"""

    pattern = Op("Transpose", Var("x"))

    def check(self, graph: Graph, m: Match) -> MatchResult:
        perm = list(m.root.attrs["perm"])
        if perm != sorted(perm):
            return MatchResult.fail(f"perm {perm} moves data")
        return _same_type(m)


class DropNoOpPad(_Forward):
    """``Pad{pads=[0, ..]}(x) -> x``"""

    pattern = Op("Pad", Var("x"))

    def check(self, graph: Graph, m: Match) -> MatchResult:
        if any(m.root.attrs["pads"]):
            return MatchResult.fail("pads are not all zero")
        return _same_type(m)


class DropSingleConcat(_Forward):
    """``Concat(x) -> x`` (one input)"""

    pattern = Op("Concat", Var("x"))


RULES = RuleSet(
    [
        DropIdentity(),
        DropDropout(),
        DropNoOpReshape(),
        DropNoOpCast(),
        DropNoOpTranspose(),
        DropNoOpPad(),
        DropSingleConcat(),
    ]
)


@register_pass
@dataclass(frozen=True)
class EliminateNoOps(RewritePass):
    """Remove nodes whose result equals their input: Identity, Dropout (inference mode),
    Reshape/Flatten/Squeeze/Unsqueeze to the same shape, Cast to the same dtype, Transpose
    by the identity permutation, Pad by zeros, Concat of one tensor.

    Preconditions: none. Refuses when the types differ in any way (quantization params
    included) and when a Dropout's mask output is read. A removed node's graph output is
    served by its input (the backend copies graph inputs and constants to outputs).
    """

    name = "eliminate-no-ops"
    summary = "remove Identity, Dropout and no-op Reshape/Cast/Transpose/Pad/Concat"

    def rules(self) -> RuleSet:
        return RULES
