"""Pruning: fewer weights in flash and fewer MACs.

- `select`: which layers, magnitude masks (global or per layer), applying masks;
- `channels`: structured channel pruning with propagation through the consumers;
- `sparse`: compact CSR storage with small delta indices, and the per-layer cost model
  that chooses dense or sparse kernels;
- `lottery`: iterative magnitude pruning with weight rewinding around a user's training
  callback;
- `sensitivity` and `report`: accuracy per layer and sparsity, tables, JSON and SVG.

The passes `prune-unstructured`, `prune-channels` and `sparsify-weights` wrap these for
the pipeline and the CLI (`--prune`, `--prune-layers`, `--sparse`).
"""

from tinyc.prune.channels import ChannelPruneResult, prune_channels
from tinyc.prune.select import (
    Layer,
    LayerFilter,
    apply_masks,
    magnitude_masks,
    sparsity_of,
    weight_layers,
)

__all__ = [
    "ChannelPruneResult",
    "Layer",
    "LayerFilter",
    "apply_masks",
    "magnitude_masks",
    "prune_channels",
    "sparsity_of",
    "weight_layers",
]
