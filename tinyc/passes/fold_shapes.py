"""fold-shapes: turn shape arithmetic on static shapes into constants."""

from __future__ import annotations

from dataclasses import dataclass

from tinyc.ir import Graph, Node
from tinyc.ops import get_op
from tinyc.passes.base import Pass, PassContext, PassResult, register_pass
from tinyc.passes.fold_constants import fold_node


def _is_shape_math(node: Node, max_bytes: int) -> bool:
    """A Shape node, or a node computing small integer tensors from constants only."""
    if node.op == "Shape":
        return True
    if any(not v.dtype.is_int for v in node.outputs):
        return False
    if sum(v.type.nbytes for v in node.outputs) > max_bytes:
        return False
    return all(v is None or v.const is not None for v in node.inputs)


@register_pass
@dataclass(frozen=True)
class FoldShapes(Pass):
    """Fold `Shape -> Gather -> Concat/Unsqueeze/Cast/...` chains: every Shape becomes a
    constant (shapes are static), then any node whose inputs are all constant and whose
    results are small integer tensors (at most `max_bytes`) is evaluated.

    The ONNX frontend already folds these chains while importing (which is why the example
    models arrive without Shape nodes); this pass does the same for IR that comes from text
    or from other passes, and is cheaper and narrower than fold-constants: it never touches
    float data, so it cannot grow flash by materializing weights. Refuses float results and
    integer results larger than `max_bytes`.
    """

    name = "fold-shapes"
    summary = "fold Shape and the small integer arithmetic on static shapes"
    max_bytes: int = 1024
    """largest integer result folded, in bytes"""

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        folded = 0
        for node in list(graph.nodes):
            if not _is_shape_math(node, self.max_bytes):
                continue
            results = get_op(node.op).fold(node)
            if results is None:
                continue
            fold_node(graph, node, results)
            folded += 1
        if folded:
            graph.remove_unused_constants()
            ctx.count("fold-shapes", folded)
        return PassResult(graph, folded > 0)
