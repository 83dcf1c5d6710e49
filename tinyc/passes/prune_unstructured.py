"""prune-unstructured: zero the smallest-magnitude weights of Conv/Gemm/MatMul layers."""

from __future__ import annotations

from dataclasses import dataclass

from tinyc.ir import Graph
from tinyc.passes.base import Pass, PassContext, PassResult, register_pass
from tinyc.prune.select import apply_masks, layer_weights, magnitude_masks, weight_layers


@register_pass
@dataclass(frozen=True)
class PruneUnstructured(Pass):
    """Set the fraction `sparsity` of the selected layers' weights with the smallest
    magnitude to zero: ranked over all selected layers together (`scope=global`) or within
    each layer (`scope=layer`). Biases, BatchNorm parameters and activations are never
    touched, and neither is the graph interface.

    Preconditions: weights are float constants (input 1 of Conv, Gemm, 2-D MatMul). A
    weight that is also a graph output is skipped; one shared by several layers is pruned
    once. Zeros alone save nothing: `sparsify-weights` (run last by the compiler) then
    stores the weights compactly where the cost model says it pays. Running the pass twice
    changes nothing the second time (zeros rank first)."""

    name = "prune-unstructured"
    summary = "zero the smallest-magnitude Conv/Gemm weights (global or per-layer sparsity)"
    sparsity: float = 0.5
    """fraction of the selected weights set to zero, in [0, 1)"""
    scope: str = "global"
    """global: one magnitude threshold for all layers; layer: the same sparsity per layer"""
    layers: str = ""
    """include/exclude patterns, `|`-separated (see tinyc.prune.select.LayerFilter)"""

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        layers = weight_layers(graph, self.layers)
        masks = magnitude_masks(layer_weights(layers), self.sparsity, self.scope)
        modified = apply_masks(graph, masks)
        if modified:
            ctx.count("prune-unstructured:layers", len(masks))
        return PassResult(graph, modified)
