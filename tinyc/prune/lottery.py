"""Iterative magnitude pruning with weight rewinding (the lottery-ticket procedure).

tinyc does not train; the user's training function does, through a callback:

    def train(state: dict[str, np.ndarray], masks: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        ...  # load `state` (IR constant name -> array) into the model, train it while
        ...  # keeping weight * mask, return the trained state under the same names

The procedure (Frankle & Carbin 2019; rewinding to an early iterate, Frankle et al. 2020):

1. start from trained weights (the graph's constants) and an early *rewind* state
   (the same parameters after a few training steps; default: the graph's own values,
   which makes it iterative pruning with fine-tuning);
2. each round prunes the smallest-magnitude surviving weights of the selected layers
   (global or per-layer ranking) to the next sparsity of the schedule, rewinds every
   parameter of the state to its rewind value (pruned weights to zero), and retrains
   through the callback; tinyc re-applies the masks to what the callback returns;
3. the schedule removes about `rate` of the surviving weights per round, spread so that
   every requested sparsity is hit exactly; those rounds are recorded (state, masks,
   metric).

`one_shot` is the baseline: prune the trained weights once, then fine-tune from them.
`apply_state` puts a result back into a graph (then compile or export it) and
`save_masks` writes the masks as an `.npz`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinyc.errors import UsageError
from tinyc.ir import Graph
from tinyc.prune.select import (
    LayerFilter,
    Masks,
    check_sparsity,
    layer_weights,
    magnitude_masks,
    weight_layers,
)

State = dict[str, np.ndarray]
TrainFn = Callable[[State, Masks], State]
EvalFn = Callable[[State], float]


@dataclass
class PruningRound:
    """One recorded point: the state after training at `sparsity` and its masks."""

    sparsity: float
    masks: Masks
    state: State
    metric: float | None = None


@dataclass
class ImpResult:
    rounds: list[PruningRound] = field(default_factory=list)

    def at(self, sparsity: float) -> PruningRound:
        for r in self.rounds:
            if abs(r.sparsity - sparsity) < 1e-9:
                return r
        raise KeyError(f"no round at sparsity {sparsity}")


def schedule(targets: Sequence[float], rate: float = 0.2) -> list[float]:
    """Increasing sparsities that hit every target exactly: between two targets, the
    number of rounds whose geometric rate is closest to `rate` (at least one), each round
    removing the same fraction of the surviving weights."""
    if not 0 < rate < 1:
        raise UsageError(f"pruning rate per round must be in (0, 1), got {rate}")
    goals = sorted({check_sparsity(t) for t in targets} - {0.0})
    steps: list[float] = []
    current = 0.0
    for goal in goals:
        keep = (1 - goal) / (1 - current)
        rounds = max(1, round(math.log(keep) / math.log(1 - rate)))
        per_round = keep ** (1 / rounds)
        for i in range(1, rounds):
            steps.append(round(1 - (1 - current) * per_round**i, 6))
        steps.append(goal)
        current = goal
    return steps


def graph_state(graph: Graph, names: Sequence[str] | None = None) -> State:
    """Copies of the graph's float constants (all of them, or the named ones)."""
    by_name = {c.name: c for c in graph.constants if c.const is not None}
    if names is None:
        names = [n for n, c in by_name.items() if c.dtype.is_float]
    missing = [n for n in names if n not in by_name]
    if missing:
        raise UsageError(f"no constant(s) {', '.join(missing)} in graph {graph.name}")
    return {n: by_name[n].const.copy() for n in names}  # type: ignore[union-attr]


def apply_state(graph: Graph, state: Mapping[str, np.ndarray], copy_graph: bool = True) -> Graph:
    """The graph with its constants replaced by `state` (same names, shapes and dtypes)."""
    g = copy.deepcopy(graph) if copy_graph else graph
    by_name = {c.name: c for c in g.constants}
    for name, data in state.items():
        value = by_name.get(name)
        if value is None:
            raise UsageError(f"state entry '{name}': no such constant in graph {g.name}")
        data = np.asarray(data)
        if data.shape != value.shape:
            raise UsageError(f"state entry '{name}': shape {list(data.shape)}, "
                             f"constant {list(value.shape)}")
        value.const = np.ascontiguousarray(data.astype(value.dtype.np))
    return g


def _masked(state: Mapping[str, np.ndarray], masks: Masks) -> State:
    out = {}
    for name, data in state.items():
        data = np.asarray(data)
        if name in masks:
            out[name] = np.where(masks[name], data, 0).astype(data.dtype)
        else:
            out[name] = data.copy()
    return out


def iterative_magnitude_pruning(
    graph: Graph,
    train: TrainFn,
    sparsities: Sequence[float],
    rewind: Mapping[str, np.ndarray] | None = None,
    rate: float = 0.2,
    scope: str = "global",
    layers: LayerFilter | str | None = None,
    evaluate: EvalFn | None = None,
) -> ImpResult:
    """Lottery-ticket IMP with rewinding (module docstring). The graph is not modified."""
    prunable = [layer.weight.name for layer in weight_layers(graph, layers)]
    if not prunable:
        raise UsageError("no prunable layer selected")
    trained = graph_state(graph, list(rewind) if rewind is not None else None)
    start = {k: np.asarray(v).copy() for k, v in (rewind or trained).items()}
    missing = [n for n in prunable if n not in start]
    if missing:
        raise UsageError(f"rewind state lacks the pruned weight(s) {', '.join(missing)}")
    targets = {round(float(s), 6) for s in sparsities}
    result = ImpResult()
    masks: Masks | None = None
    for step in schedule(sparsities, rate):
        masks = magnitude_masks({n: trained[n] for n in prunable}, step, scope, masks)
        trained = _masked(train(_masked(start, masks), masks), masks)
        if step in targets:
            metric = evaluate(trained) if evaluate is not None else None
            result.rounds.append(PruningRound(step, dict(masks), dict(trained), metric))
    return result


def one_shot(
    graph: Graph,
    train: TrainFn,
    sparsity: float,
    scope: str = "global",
    layers: LayerFilter | str | None = None,
    state: Mapping[str, np.ndarray] | None = None,
    evaluate: EvalFn | None = None,
) -> PruningRound:
    """Prune the trained weights once to `sparsity`, then fine-tune them (no rewinding)."""
    prunable = [layer.weight.name for layer in weight_layers(graph, layers)]
    current = dict(state) if state is not None else graph_state(graph)
    masks = magnitude_masks(layer_weights(weight_layers(apply_state(graph, current), layers)),
                            sparsity, scope)
    masks = {n: masks[n] for n in prunable}
    tuned = _masked(train(_masked(current, masks), masks), masks)
    metric = evaluate(tuned) if evaluate is not None else None
    return PruningRound(sparsity, masks, tuned, metric)


def save_masks(path: str | Path, masks: Mapping[str, np.ndarray]) -> None:
    """Masks as an `.npz` keyed by weight name (bool arrays)."""
    np.savez_compressed(Path(path), **{k: np.asarray(v, dtype=bool) for k, v in masks.items()})


def load_masks(path: str | Path) -> Masks:
    with np.load(Path(path)) as data:
        return {k: data[k].astype(bool) for k in data.files}
