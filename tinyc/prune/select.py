"""Which weights pruning may touch, and magnitude masks over them.

A *layer* is a Conv, Gemm or MatMul node whose weight (input 1) is a compile-time constant.
Layers are named by their node name (the ONNX node name, e.g. `/conv1/Conv`); a pattern
list chooses some of them by shell-style wildcards matched against the node name, the
weight's value name and the output's value name, so `conv2*`, `*fc*` and `/conv1/Conv`
all work. A pattern starting with `!` excludes (`*,!/fc/Gemm`: everything but the
classifier); with no include pattern everything is included.

Masks are boolean arrays shaped like the weight, True where the weight is kept, keyed by
the weight's value name. Ties in magnitude break by flat position (stable sort), so the
same weights and sparsity always give the same mask.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tinyc.errors import UsageError
from tinyc.ir import Graph, Node, Value

#: ops whose input 1 is a weight pruning understands
WEIGHT_OPS = ("Conv", "Gemm", "MatMul")
SCOPES = ("global", "layer")
#: global pruning never takes more than this fraction of one layer's weights
MAX_LAYER_SPARSITY = 0.95

Masks = dict[str, np.ndarray]


@dataclass(frozen=True)
class LayerFilter:
    """Include/exclude wildcard patterns over layer names (see the module docstring)."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    @classmethod
    def parse(cls, spec: str | Sequence[str] | None) -> LayerFilter:
        """From `"conv*,!fc*"` (`|` and `;` also separate, for pass-option strings) or a
        list of such strings."""
        if spec is None:
            return cls()
        items = [spec] if isinstance(spec, str) else list(spec)
        words: list[str] = []
        for item in items:
            for sep in "|;":
                item = item.replace(sep, ",")
            words += [w.strip() for w in item.split(",") if w.strip()]
        inc = tuple(w for w in words if not w.startswith("!"))
        exc = tuple(w[1:] for w in words if w.startswith("!"))
        return cls(inc, exc)

    def spec(self) -> str:
        """The inverse of `parse`, with `|` separators (safe inside a pass option)."""
        return "|".join([*self.include, *(f"!{p}" for p in self.exclude)])

    def accepts(self, names: Iterable[str]) -> bool:
        names = [n for n in names if n]

        def hit(patterns: tuple[str, ...]) -> bool:
            return any(fnmatch.fnmatchcase(n, p) for n in names for p in patterns)

        if self.include and not hit(self.include):
            return False
        return not hit(self.exclude)


@dataclass(frozen=True)
class Layer:
    """A prunable node and its constant weight."""

    node: Node
    weight: Value

    @property
    def name(self) -> str:
        return self.node.name or self.node.outputs[0].name

    def names(self) -> tuple[str, ...]:
        return (self.node.name, self.weight.name, self.node.outputs[0].name)


def weight_layers(graph: Graph, layers: LayerFilter | str | None = None) -> list[Layer]:
    """The layers in graph order whose float weight is a constant and not a graph output;
    a weight shared by several nodes is listed once (at its first user)."""
    filt = layers if isinstance(layers, LayerFilter) else LayerFilter.parse(layers)
    outputs = {id(v) for v in graph.outputs}
    seen: set[int] = set()
    found: list[Layer] = []
    for node in graph.nodes:
        w = node.input(1)
        if node.op not in WEIGHT_OPS or w is None or w.const is None:
            continue
        if not w.dtype.is_float or id(w) in outputs or id(w) in seen:
            continue
        if node.op == "MatMul" and w.type.rank != 2:
            continue
        layer = Layer(node, w)
        if filt.accepts(layer.names()):
            seen.add(id(w))
            found.append(layer)
    return found


def check_sparsity(sparsity: float) -> float:
    if not 0.0 <= sparsity < 1.0:
        raise UsageError(f"sparsity must be in [0, 1), got {sparsity}")
    return float(sparsity)


def _keep_largest(magnitude: np.ndarray, n_prune: int) -> np.ndarray:
    """Mask that drops the `n_prune` smallest entries (ties: lower flat index first)."""
    flat = np.ones(magnitude.size, dtype=bool)
    if n_prune > 0:
        order = np.argsort(magnitude.reshape(-1), kind="stable")
        flat[order[:n_prune]] = False
    return flat.reshape(magnitude.shape)


def magnitude_masks(
    weights: Mapping[str, np.ndarray],
    sparsity: float,
    scope: str = "global",
    previous: Mapping[str, np.ndarray] | None = None,
    max_layer_sparsity: float = MAX_LAYER_SPARSITY,
) -> Masks:
    """Keep the largest-|w| weights so that a fraction `sparsity` of them is zero.

    `scope="global"` ranks all weights together (layers with small weights lose more), but
    no layer loses more than `max_layer_sparsity` of its weights (raised to `sparsity` if
    lower): a layer that would (a classifier with small weights, typically) stays at that
    cap and the others make up the difference, so global pruning cannot disconnect the
    network. `"layer"` prunes every weight tensor to the same sparsity. Weights already
    removed by `previous` masks stay removed (iterative pruning only ever adds zeros)."""
    check_sparsity(sparsity)
    if scope not in SCOPES:
        raise UsageError(f"pruning scope must be one of {', '.join(SCOPES)}, not '{scope}'")
    names = list(weights)
    mags = {}
    for name in names:
        mag = np.abs(np.asarray(weights[name], dtype=np.float64))
        if previous is not None and name in previous:
            mag = np.where(previous[name], mag, -1.0)  # pruned before: always first to go
        mags[name] = mag
    if scope == "layer":
        return {n: _keep_largest(mags[n], int(round(sparsity * mags[n].size))) for n in names}
    if not names:
        return {}
    cap = max(max_layer_sparsity, sparsity)
    limit = {n: int(cap * mags[n].size) for n in names}
    budget = int(round(sparsity * sum(m.size for m in mags.values())))
    capped: dict[str, int] = {}
    while True:  # water-filling: rank the uncapped layers together, cap any that overflow
        free = [n for n in names if n not in capped]
        counts = _global_counts({n: mags[n] for n in free}, budget - sum(capped.values()))
        over = [n for n in free if counts[n] > limit[n]]
        if not over:
            break
        for n in over:
            capped[n] = limit[n]
    counts.update(capped)
    return {n: _keep_largest(mags[n], counts[n]) for n in names}


def _global_counts(mags: Mapping[str, np.ndarray], n_prune: int) -> dict[str, int]:
    """How many of each layer's weights fall among the `n_prune` smallest of all of them
    (ties: earlier layer, then lower flat index)."""
    names = list(mags)
    if not names:
        return {}
    flat = np.concatenate([mags[n].reshape(-1) for n in names])
    owner = np.repeat(np.arange(len(names)), [mags[n].size for n in names])
    order = np.argsort(flat, kind="stable")[: max(n_prune, 0)]
    hist = np.bincount(owner[order], minlength=len(names))
    return {n: int(hist[i]) for i, n in enumerate(names)}


def layer_weights(layers: Sequence[Layer]) -> dict[str, np.ndarray]:
    out = {}
    for layer in layers:
        assert layer.weight.const is not None
        out[layer.weight.name] = layer.weight.const
    return out


def apply_masks(graph: Graph, masks: Mapping[str, np.ndarray]) -> bool:
    """Zero the masked-out entries of the named constants in place; True when any changed.

    Unknown names are an error (a mask for a weight that is not in this graph is a
    mismatch between the mask file and the model, not something to ignore)."""
    by_name = {c.name: c for c in graph.constants}
    changed = False
    for name, mask in masks.items():
        value = by_name.get(name)
        if value is None or value.const is None:
            raise UsageError(f"mask for '{name}': no such constant in graph {graph.name}")
        if tuple(mask.shape) != value.shape:
            raise UsageError(
                f"mask for '{name}': shape {list(mask.shape)}, weight {list(value.shape)}"
            )
        data = value.const
        new = np.where(mask, data, np.zeros((), data.dtype)).astype(data.dtype)
        if not np.array_equal(new, data):
            value.const = np.ascontiguousarray(new)
            changed = True
    return changed


def sparsity_of(arrays: Iterable[np.ndarray]) -> float:
    """Fraction of exact zeros over all the arrays."""
    total = zeros = 0
    for a in arrays:
        total += a.size
        zeros += int(a.size - np.count_nonzero(a))
    return zeros / total if total else 0.0
