"""fold-constants: evaluate nodes whose inputs are all constants."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyc.ir import Graph
from tinyc.ops import get_op
from tinyc.passes.base import Pass, PassContext, PassResult, register_pass


@register_pass
@dataclass(frozen=True)
class FoldConstants(Pass):
    """Replace a node whose inputs are all constants (or whose result is known from static
    shapes, like Shape) by constants computed with the op's numpy `reference`.

    Refuses to fold when the result is more than `max_growth_bytes` bigger than the constant
    inputs it replaces: an Expand or Tile of a small constant stays a node, so folding never
    grows flash by more than that. Graph outputs that become constants are kept as outputs.
    """

    name = "fold-constants"
    summary = "evaluate nodes with constant inputs (never grows flash beyond a small slack)"
    max_growth_bytes: int = 256
    """how many bytes a folded result may exceed the constants it replaces"""

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        modified = False
        for node in list(graph.nodes):
            op = get_op(node.op)
            in_bytes = sum(v.type.nbytes for v in node.inputs if v is not None)
            out_bytes = sum(v.type.nbytes for v in node.outputs)
            if node.op != "Shape" and out_bytes > in_bytes + self.max_growth_bytes:
                continue
            results = op.fold(node)
            if results is None:
                continue
            for out, data in zip(node.outputs, results):
                data = np.asarray(data).astype(out.dtype.np).reshape(out.shape)
                const = graph.add_const(graph.unique_name(out.name + "_folded"), data)
                out.replace_all_uses_with(const)
                graph.outputs = [const if v is out else v for v in graph.outputs]
            graph.erase(node)
            ctx.count("fold-constants")
            modified = True
        if modified:
            graph.remove_unused_constants()
        return PassResult(graph, modified)
