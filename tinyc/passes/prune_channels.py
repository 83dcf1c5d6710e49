"""prune-channels: remove the lowest-norm output channels and shrink every consumer."""

from __future__ import annotations

from dataclasses import dataclass

from tinyc.ir import Graph
from tinyc.passes.base import Pass, PassContext, PassResult, register_pass
from tinyc.prune.channels import prune_channels

METADATA_KEY = "tinyc prune-channels"


@register_pass
@dataclass(frozen=True)
class PruneChannels(Pass):
    """Remove the fraction `ratio` of the output channels of every selected Conv (group 1),
    Gemm and 2-D MatMul, those with the smallest filter norm (`norm`: l1 or l2), and
    propagate the removal: biases, BatchNormalization parameters, depthwise convolutions
    (their groups), the next layer's input channels (a Gemm after Flatten loses whole
    column blocks), constants of elementwise ops; the two sides of a residual Add lose
    the same channels, a Concat's branches their own. The result is a smaller dense model.

    Refuses (keeps) channels that reach a graph output, a grouped non-depthwise Conv, a
    Softmax, Transpose, reduction or any op it does not know (see
    `tinyc.prune.channels`). With `ratio=0` the graph is not touched. The options are
    recorded in the graph metadata (`tinyc prune-channels`, also printed in the generated
    C's provenance comment), and a graph already pruned with the same options is left
    alone, so the pass is idempotent inside a fixed-point pipeline."""

    name = "prune-channels"
    summary = "remove the lowest-norm Conv/Gemm output channels and shrink their consumers"
    ratio: float = 0.5
    """fraction of each layer's output channels removed, in [0, 1)"""
    norm: str = "l1"
    """l1 or l2 norm of each channel's filter"""
    layers: str = ""
    """include/exclude patterns, `|`-separated (see tinyc.prune.select.LayerFilter)"""
    min_channels: int = 1
    """never keep fewer channels than this in a layer"""
    round_to: int = 1
    """round each kept channel count up to a multiple of this (SIMD-friendly widths)"""

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        stamp = (f"ratio={self.ratio} norm={self.norm} layers={self.layers or '*'} "
                 f"min-channels={self.min_channels} round-to={self.round_to}")
        if graph.metadata.get(METADATA_KEY) == stamp:
            return PassResult(graph, False)
        result = prune_channels(graph, self.ratio, self.norm, self.layers, self.min_channels,
                                self.round_to)
        for name, (before, after) in sorted(result.layers.items()):
            ctx.count(f"prune-channels:{name}", before - after)
        if result.modified:
            graph.metadata[METADATA_KEY] = stamp
        return PassResult(graph, result.modified)
