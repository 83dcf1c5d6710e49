"""Sensitivity analysis: how much each layer can be pruned before the metric drops.

For every selected layer and every sparsity, only that layer is pruned (unstructured:
magnitude within the layer; channels: its lowest-norm output channels, propagated) and the
model is evaluated with the reference interpreter on the user's data. One more row prunes
all layers together (global magnitude, or every layer's channels), which is what
`--prune` does. The metric is top-1 accuracy for integer labels and mean squared error
otherwise (then lower is better).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from tinyc.display import shown
from tinyc.errors import TinycError, UsageError
from tinyc.interp import run_graph
from tinyc.ir import Graph, TensorType
from tinyc.ops import get_op
from tinyc.progress import QUIET, Progress
from tinyc.prune.channels import analyze, apply_plan, choose
from tinyc.prune.select import (
    LayerFilter,
    apply_masks,
    layer_weights,
    magnitude_masks,
    weight_layers,
)

KINDS = ("unstructured", "channels")
DEFAULT_SPARSITIES = (0.0, 0.25, 0.5, 0.7, 0.8, 0.9, 0.95)
ALL_LAYERS = "(all layers)"


@dataclass
class Sensitivity:
    """metric[layer][i] is the metric with that layer pruned to sparsities[i]."""

    kind: str
    metric_name: str
    sparsities: list[float]
    baseline: float
    metric: dict[str, list[float]] = field(default_factory=dict)

    @property
    def higher_is_better(self) -> bool:
        return self.metric_name == "accuracy"

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "metric": self.metric_name,
            "sparsities": self.sparsities,
            "baseline": self.baseline,
            "layers": self.metric,
        }


def samples(graph: Graph, x: np.ndarray) -> list[np.ndarray]:
    """Split `x` into one array per inference, shaped like the single graph input."""
    if len(graph.inputs) != 1:
        raise UsageError("evaluation needs a model with exactly one input")
    value = graph.inputs[0]
    n = x.shape[0]
    if x.size != n * value.type.numel:
        raise UsageError(f"eval data {list(x.shape)}: each sample must have "
                         f"{value.type.numel} values for input {list(value.shape)}")
    return [x[i].reshape(value.shape).astype(value.dtype.np) for i in range(n)]


def rebatch(graph: Graph, n: int) -> Graph | None:
    """A copy of a batch-1 graph that runs `n` samples at once in the interpreter (batch
    axis 0 everywhere, Reshape shapes with a leading 1 follow), or None when the graph's
    shapes do not allow it. Only for evaluation: numpy does one pass instead of n."""
    if len(graph.inputs) != 1 or not graph.inputs[0].shape or graph.inputs[0].shape[0] != 1:
        return None
    g = copy.deepcopy(graph)
    x = g.inputs[0]
    x.type = x.type.with_shape((n,) + x.shape[1:])
    try:
        for node in g.nodes:
            if node.op == "Reshape" and node.attrs["shape"] and node.attrs["shape"][0] == 1:
                node.attrs["shape"] = [n] + list(node.attrs["shape"][1:])
            types = get_op(node.op).infer(node)
            for out, t in zip(node.outputs, types, strict=False):
                if t.shape[:1] != (n,):
                    return None
                out.type = TensorType(t.dtype, t.shape, out.type.quant)
    except TinycError:
        return None
    return g


def evaluator(
    graph_inputs: Sequence[np.ndarray], y: np.ndarray
) -> tuple[str, Callable[[Graph], float]]:
    """(metric name, function graph -> metric) over the given samples."""
    classify = np.issubdtype(y.dtype, np.integer)

    def outputs(graph: Graph) -> np.ndarray:
        name = graph.inputs[0].name
        batched = rebatch(graph, len(graph_inputs)) if len(graph_inputs) > 1 else None
        if batched is not None:
            stacked = np.concatenate(graph_inputs, axis=0)
            outs = run_graph(batched, {name: stacked})[0].reshape(len(graph_inputs), -1)
            one = run_graph(graph, {name: graph_inputs[0]})[0].reshape(-1)
            if np.allclose(outs[0], one, rtol=1e-4, atol=1e-5):
                return outs
        return np.stack([run_graph(graph, {name: s})[0].reshape(-1) for s in graph_inputs])

    def run(graph: Graph) -> float:
        outs = outputs(graph)
        if classify:
            return float(np.mean(outs.argmax(axis=1) == y.reshape(-1)))
        return float(np.mean((outs - y.reshape(outs.shape)) ** 2))

    return ("accuracy" if classify else "mse"), run


def _prune_copy(graph: Graph, kind: str, sparsity: float, layers: LayerFilter,
                scope: str) -> Graph:
    g = copy.deepcopy(graph)
    if sparsity <= 0:
        return g
    if kind == "unstructured":
        chosen = weight_layers(g, layers)
        apply_masks(g, magnitude_masks(layer_weights(chosen), sparsity, scope))
    else:
        apply_plan(g, choose(analyze(g, layers), sparsity))
    return g


def sensitivity(
    graph: Graph,
    x: np.ndarray,
    y: np.ndarray,
    kind: str = "unstructured",
    sparsities: Sequence[float] = DEFAULT_SPARSITIES,
    layers: LayerFilter | str | None = None,
    limit: int | None = None,
    progress: Progress = QUIET,
) -> Sensitivity:
    """Prune each selected layer alone, then all together, at every sparsity; evaluate.
    Each layer is one step of `progress`."""
    if kind not in KINDS:
        raise UsageError(f"sensitivity kind must be one of {', '.join(KINDS)}, not '{kind}'")
    filt = layers if isinstance(layers, LayerFilter) else LayerFilter.parse(layers)
    if limit is not None:
        x, y = x[:limit], y[:limit]
    if len(x) != len(y):
        raise UsageError(f"eval data: {len(x)} inputs but {len(y)} labels")
    name, evaluate = evaluator(samples(graph, x), y)
    sp = [float(s) for s in sparsities]
    result = Sensitivity(kind, name, sp, evaluate(graph))
    if kind == "unstructured":
        names = [layer.name for layer in weight_layers(graph, filt)]
    else:
        an = analyze(graph, filt)
        names = [p.name for p in an.producers if an.removable(p)]
    for layer in names + [ALL_LAYERS]:
        how, which = ("global", filt) if layer == ALL_LAYERS else ("layer", LayerFilter((layer,)))
        with progress.step(f"evaluating {shown(layer)} pruned at {len(sp)} sparsities",
                           total=len(sp)) as tick:
            result.metric[layer] = []
            for s in sp:
                result.metric[layer].append(evaluate(_prune_copy(graph, kind, s, which, how)))
                tick()
    return result
