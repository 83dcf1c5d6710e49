"""How the compiler runs pruning: `--prune KIND:AMOUNT[:OPTION]`, `--prune-layers`, `--sparse`.

`tinyc.compiler.optimize` calls `prune_graph` right after the optimization pipeline (so
BatchNorm is folded and activations fused: magnitudes and channel norms are those of the
weights the C will hold), then quantization, and `sparsify_graph` last (the sparse ops take
no further rewriting). Both are thin: the work is in the registered passes
`prune-unstructured`, `prune-channels` and `sparsify-weights`.

Spec forms: `unstructured:0.8` (global magnitude ranking), `unstructured:0.8:layer` (the
same sparsity in every layer), `channels:0.5` (L1 norm), `channels:0.5:l2`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tinyc.errors import UsageError
from tinyc.ir import Graph
from tinyc.passes.base import Pass, PassContext
from tinyc.passes.prune_channels import PruneChannels
from tinyc.passes.prune_unstructured import PruneUnstructured
from tinyc.passes.sparsify_weights import SparsifyWeights
from tinyc.prune.channels import NORMS
from tinyc.prune.select import SCOPES, LayerFilter
from tinyc.prune.sparse import POLICIES

if TYPE_CHECKING:
    from tinyc.compiler import Options

KINDS = ("unstructured", "channels")


@dataclass(frozen=True)
class PruneSpec:
    kind: str
    amount: float
    option: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.amount:g}:{self.option}"


def parse_prune_spec(text: str) -> PruneSpec:
    """`KIND:AMOUNT[:OPTION]` (module docstring); UsageError with the valid forms."""
    parts = text.split(":")
    usage = ("--prune takes unstructured:SPARSITY[:global|layer] or channels:RATIO[:l1|l2], "
             f"e.g. unstructured:0.8 (got '{text}')")
    if len(parts) not in (2, 3) or parts[0] not in KINDS:
        raise UsageError(usage)
    try:
        amount = float(parts[1])
    except ValueError:
        raise UsageError(usage) from None
    if not 0.0 <= amount < 1.0:
        raise UsageError(f"--prune {text}: the amount must be in [0, 1)")
    allowed = SCOPES if parts[0] == "unstructured" else NORMS
    option = parts[2] if len(parts) == 3 else allowed[0]
    if option not in allowed:
        raise UsageError(usage)
    return PruneSpec(parts[0], amount, option)


def prune_pass(spec: PruneSpec, layers: Sequence[str] = ()) -> Pass:
    """The pass instance that implements `spec` on the selected layers."""
    filt = LayerFilter.parse(list(layers)).spec()
    if spec.kind == "unstructured":
        return PruneUnstructured(sparsity=spec.amount, scope=spec.option, layers=filt)
    return PruneChannels(ratio=spec.amount, norm=spec.option, layers=filt)


def prune_graph(graph: Graph, options: Options, ctx: PassContext) -> Graph:
    """Apply `options.prune` (no-op when unset)."""
    if not options.prune:
        return graph
    p = prune_pass(parse_prune_spec(options.prune), options.prune_layers)
    return p(graph, ctx).graph


def sparse_policy(options: Options) -> str:
    """`--sparse`; by default auto with --prune or at -O1/-O2, never at -O0 or with an
    explicit `--passes` pipeline (which runs exactly what it names)."""
    if options.sparse is not None:
        if options.sparse not in POLICIES:
            raise UsageError(f"--sparse must be one of {', '.join(POLICIES)}")
        return options.sparse
    if options.prune:
        return "auto"
    if options.passes is not None or options.opt_level < 1:
        return "never"
    return "auto"


def sparsify_graph(graph: Graph, options: Options, ctx: PassContext) -> Graph:
    """Choose dense or sparse storage per layer with the cost model (`sparsify-weights`)."""
    policy = sparse_policy(options)
    if policy == "never":
        return graph
    return SparsifyWeights(policy=policy, target=options.target)(graph, ctx).graph
