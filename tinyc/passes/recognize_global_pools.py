"""recognize-global-pools: a mean or max over every spatial axis is a global pool."""

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
    is_float32,
)

#: reduction -> the global pool that computes the same thing over axes 2..rank-1
GLOBAL_POOLS = {"ReduceMean": "GlobalAveragePool", "ReduceMax": "GlobalMaxPool"}


class SpatialReduction(Rule):
    """``ReduceMean{axes=[2, .., r-1]}(x) -> GlobalAveragePool(x)`` (ReduceMax:
    GlobalMaxPool); with keepdims=0 a Reshape to [N, C] follows (a view, no copy)."""

    pattern = Op(tuple(GLOBAL_POOLS), Var("x"))

    def check(self, graph: Graph, m: Match) -> MatchResult:
        x, node = m.value("x"), m.root
        if x.type.rank < 3 or "shape" in node.attrs:
            return MatchResult.fail("not a spatial tensor, or run-time axes")
        if list(node.attrs["axes"]) != list(range(2, x.type.rank)):
            return MatchResult.fail(f"axes {node.attrs['axes']} are not exactly the spatial ones")
        return is_float32(x)

    def rewrite(self, graph: Graph, m: Match, rw: Rewriter) -> None:
        x, node, y = m.value("x"), m.root, m.root.outputs[0]
        pooled = rw.add(GLOBAL_POOLS[node.op], [x], {}, before=node, name=node.name,
                        hint=y.name + "_pool")
        if not node.attrs["keepdims"]:
            pooled = rw.add("Reshape", [pooled], {"shape": list(y.shape)}, before=node,
                            defaults=False, name=node.name, hint=y.name + "_flat")
        rw.replace(y, pooled)


RULES = RuleSet([SpatialReduction()])


@register_pass
@dataclass(frozen=True)
class RecognizeGlobalPools(RewritePass):
    """Rewrite ReduceMean / ReduceMax over exactly the spatial axes of an [N, C, ...]
    tensor (torch's dynamo exporter writes ``adaptive_avg_pool2d(x, 1)`` and
    ``x.mean((2, 3))`` this way) into GlobalAveragePool / GlobalMaxPool, which an int8
    build runs as QGlobalAveragePool instead of leaving a float island, as the legacy
    export does.

    Numerics: both sum the window in float32 and divide by its size (the max is exact), so
    results agree to float32 rounding of the sum's order.

    Preconditions: none. Refuses other axes, run-time axes, tensors of rank < 3 and
    non-float32 tensors.
    """

    name = "recognize-global-pools"
    summary = "ReduceMean/ReduceMax over all spatial axes -> GlobalAveragePool/GlobalMaxPool"

    def rules(self) -> RuleSet:
        return RULES
