"""fuse-matmul-add: MatMul + Add(constant) becomes one Gemm with a bias."""

from __future__ import annotations

from dataclasses import dataclass

from tinyc.ir import Graph
from tinyc.passes.base import register_pass
from tinyc.passes.rewrite import (
    OK,
    Const,
    Match,
    MatchResult,
    Op,
    RewritePass,
    Rewriter,
    Rule,
    RuleSet,
    Var,
    all_of,
    is_float32,
    move_activation,
    no_activation,
    single_use,
)


def _bias_check(graph: Graph, m: Match, producer: str) -> MatchResult:
    node = m.node(producer)
    y = node.outputs[0]
    result = all_of(single_use(graph, y), no_activation(node), is_float32(y))
    if not result:
        return result
    if m.root.outputs[0].shape != y.shape:
        return MatchResult.fail("the Add broadcasts the product to a bigger shape")
    if m.value("c").type.rank > 2:
        return MatchResult.fail("the bias has rank > 2")
    return OK


class MatMulAddToGemm(Rule):
    """``Add(MatMul(a, b), c) -> Gemm(a, b, c)`` for 2-D a and b, constant c."""

    pattern = Op("Add", Op("MatMul", Var("a"), Var("b"), name="mm"), Const("c"), commute=True)

    def check(self, graph: Graph, m: Match) -> MatchResult:
        if m.value("a").type.rank != 2 or m.value("b").type.rank != 2:
            return MatchResult.fail("MatMul operands are not both 2-D")
        return _bias_check(graph, m, "mm")

    def rewrite(self, graph: Graph, m: Match, rw: Rewriter) -> None:
        y = rw.add("Gemm", [m.value("a"), m.value("b"), m.value("c")], before=m.root,
                   name=m.node("mm").name, hint=m.root.outputs[0].name + "_gemm")
        assert y.producer is not None
        move_activation(rw, m.root, y.producer)
        rw.replace(m.root.outputs[0], y)


class AddIntoGemmBias(Rule):
    """``Add(Gemm(a, b), c) -> Gemm{beta=1}(a, b, c)`` when the Gemm has no C yet."""

    pattern = Op("Add", Op("Gemm", Var("a"), Var("b"), name="gemm"), Const("c"), commute=True)

    def check(self, graph: Graph, m: Match) -> MatchResult:
        return _bias_check(graph, m, "gemm")

    def rewrite(self, graph: Graph, m: Match, rw: Rewriter) -> None:
        gemm = m.node("gemm")
        rw.set_input(gemm, 2, m.value("c"))
        rw.set_attrs(gemm, beta=1.0)
        move_activation(rw, m.root, gemm)
        rw.replace(m.root.outputs[0], gemm.outputs[0])


RULES = RuleSet([MatMulAddToGemm(), AddIntoGemmBias()])


@register_pass
@dataclass(frozen=True)
class FuseMatmulAdd(RewritePass):
    """Turn a 2-D MatMul followed by an Add of a constant into one Gemm with that bias (and
    give a bias-less Gemm its bias the same way). Bit-identical in the reference: Gemm
    computes 1 * (a @ b) + 1 * c in float32, as the pair did.

    Preconditions: none. Refuses when an operand is not 2-D (Gemm is 2-D only), when the
    product has another use or is a graph output, when it carries an activation (the add
    would come after it), when the Add broadcasts beyond the product's shape, when the
    added tensor is computed at run time, and for non-float32 tensors.
    """

    name = "fuse-matmul-add"
    summary = "MatMul + Add(constant) -> Gemm; Gemm + Add(constant) -> Gemm bias"

    def rules(self) -> RuleSet:
        return RULES
