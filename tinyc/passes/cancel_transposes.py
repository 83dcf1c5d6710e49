"""cancel-transposes: compose consecutive Transposes; a Transpose that keeps memory order
becomes a Reshape."""

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
)


def compose(inner: list[int], outer: list[int]) -> list[int]:
    """transpose(transpose(x, inner), outer) == transpose(x, compose(inner, outer))."""
    return [inner[p] for p in outer]


def keeps_memory_order(shape: tuple[int, ...], perm: list[int]) -> bool:
    """True when only size-1 axes move, so the bytes are already in the output order."""
    moved = [p for p in perm if shape[p] != 1]
    return moved == sorted(moved)


class ComposeTransposes(Rule):
    """``Transpose{q}(Transpose{p}(x)) -> Transpose{p o q}(x)``, or ``x`` when p o q is the
    identity. The inner Transpose stays only if something else reads it."""

    pattern = Op("Transpose", Op("Transpose", Var("x"), name="inner"))

    def rewrite(self, graph: Graph, m: Match, rw: Rewriter) -> None:
        x, y = m.value("x"), m.root.outputs[0]
        perm = compose(list(m.node("inner").attrs["perm"]), list(m.root.attrs["perm"]))
        if perm == sorted(perm) and x.type == y.type:
            rw.replace(y, x)
            return
        new = rw.add("Transpose", [x], {"perm": perm}, before=m.root, name=m.root.name,
                     hint=y.name + "_t")
        rw.replace(y, new)


class TransposeToReshape(Rule):
    """``Transpose{perm}(x) -> Reshape(x)`` when perm only moves size-1 axes (no data
    moves, and the Reshape can then cancel with its neighbours)."""

    pattern = Op("Transpose", Var("x"))

    def check(self, graph: Graph, m: Match) -> MatchResult:
        perm = list(m.root.attrs["perm"])
        if perm == sorted(perm):
            return MatchResult.fail("identity permutation (eliminate-no-ops removes it)")
        if not keeps_memory_order(m.value("x").shape, perm):
            return MatchResult.fail(f"perm {perm} moves data")
        return OK

    def rewrite(self, graph: Graph, m: Match, rw: Rewriter) -> None:
        y = m.root.outputs[0]
        new = rw.add("Reshape", [m.value("x")], {"shape": list(y.shape)}, before=m.root,
                     defaults=False, name=m.root.name, hint=y.name + "_r")
        rw.replace(y, new)


RULES = RuleSet([ComposeTransposes(), TransposeToReshape()])


@register_pass
@dataclass(frozen=True)
class CancelTransposes(RewritePass):
    """Compose chains of Transposes into one (removed when the composition is the
    identity), and turn a Transpose that only moves size-1 axes into a Reshape, which is a
    plain copy (or nothing, once reshapes collapse) instead of a strided gather.

    Preconditions: none. Never refuses a chain: the composed Transpose replaces the outer
    one, and the inner one stays only while another node reads it, so the node count never
    grows. Moves no arithmetic, so results are bit-identical.
    """

    name = "cancel-transposes"
    summary = "compose consecutive Transposes; layout-preserving Transpose -> Reshape"

    def rules(self) -> RuleSet:
        return RULES
