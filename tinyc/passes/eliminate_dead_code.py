"""eliminate-dead-code: remove nodes, constants and nothing else that no output needs."""

from __future__ import annotations

from dataclasses import dataclass

from tinyc.ir import Graph, Node
from tinyc.ops import get_op
from tinyc.passes.base import Pass, PassContext, PassResult, register_pass


def _dead(node: Node, outputs: set[int]) -> bool:
    """All results unused and the op pure: the two predicates of dead code."""
    return get_op(node.op).pure and all(not o.uses and id(o) not in outputs for o in node.outputs)


@register_pass
@dataclass(frozen=True)
class EliminateDeadCode(Pass):
    """Erase pure nodes whose results are unused (walking backwards, so chains die in one
    run, which makes the pass idempotent) and constants nothing reads (unused
    initializers). Preconditions: none. Refuses impure ops (none so far) and graph inputs,
    which stay even when unused: they are the C interface."""

    name = "eliminate-dead-code"
    summary = "remove unused nodes and constants"

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        outputs = {id(v) for v in graph.outputs}
        removed = 0
        for node in reversed(list(graph.nodes)):
            if _dead(node, outputs):
                graph.erase(node)
                removed += 1
        removed += graph.remove_unused_constants()
        if removed:
            ctx.count("eliminate-dead-code", removed)
        return PassResult(graph, removed > 0)
