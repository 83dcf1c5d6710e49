"""fold-constants: evaluate nodes whose inputs are all constants."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyc.ir import Graph, Node
from tinyc.ops import get_op
from tinyc.ops.registry import folds_as_table
from tinyc.passes.base import Pass, PassContext, PassResult, register_pass


def freed_bytes(graph: Graph, node: Node) -> int:
    """Flash released if `node` is folded: its constant inputs that nothing else reads."""
    outputs = {id(v) for v in graph.outputs}
    seen: set[int] = set()
    total = 0
    for v in node.inputs:
        if v is None or v.const is None or id(v) in seen or id(v) in outputs:
            continue
        seen.add(id(v))
        if all(u.node is node for u in v.uses):
            total += v.type.nbytes
    return total


def fold_node(graph: Graph, node: Node, results: list[np.ndarray]) -> None:
    """Replace `node` by constants holding `results` (graph outputs are kept as outputs)."""
    for out, data in zip(node.outputs, results, strict=False):
        data = np.asarray(data).astype(out.dtype.np).reshape(out.shape)
        const = graph.add_const(graph.unique_name(out.name + "_folded"), data)
        out.replace_all_uses_with(const)
        graph.outputs = [const if v is out else v for v in graph.outputs]
    graph.erase(node)


@register_pass
@dataclass(frozen=True)
class FoldConstants(Pass):
    """Replace a node whose inputs are all constants (or whose result is known from static
    shapes, like Shape) by constants computed with the op's numpy `reference`, so the
    result is bit-identical to running the node.

    Preconditions: none beyond a verified graph. Refuses (except for a table of an op
    marked `always_fold`: Shape, the window generators, MelWeightMatrix;
    `registry.folds_as_table`) when folding would grow flash:
    the folded result may exceed the constants it frees (inputs nothing else reads) by at
    most `max_growth_bytes`, so an Expand/Tile/broadcast of a small constant, or a result
    computed from weights that stay in use elsewhere, stays a node. Repeats until nothing
    folds, so one run reaches its fixed point (idempotent).
    """

    name = "fold-constants"
    summary = "evaluate nodes with constant inputs (never grows flash beyond a small slack)"
    max_growth_bytes: int = 256
    """bytes a folded result may exceed the constant inputs it frees (0: strict)"""

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        modified = False
        changed = True
        while changed:
            changed = False
            for node in list(graph.nodes):
                op = get_op(node.op)
                out_bytes = sum(v.type.nbytes for v in node.outputs)
                if not folds_as_table(op, out_bytes) and \
                        out_bytes > freed_bytes(graph, node) + self.max_growth_bytes:
                    continue
                results = op.fold(node)
                if results is None:
                    continue
                fold_node(graph, node, results)
                ctx.count("fold-constants")
                changed = modified = True
        if modified:
            graph.remove_unused_constants()
        return PassResult(graph, modified)
