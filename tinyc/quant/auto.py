"""`--quantize auto`: choose each layer's precision on evaluation data.

A graph has one activation mode and a precision per layer within it
(`driver.MODE_PRECISIONS`): int8 activations with float32, float16 (the layer stays float
with IEEE half weights), int8 or int4 (4-bit weights) layers, or int16 activations with
float32, float16 or int16x8 layers; int4 is for the ops with an int4 kernel
(`driver.takes`: not the recurrent ones). A mix with an int16x8 layer is an int16x8 graph,
any other an int8 one. The search runs on the float graph after the `-O` pipeline and
pruning, calibrated once per mode (`--calib`, `--calib-method`: int16 ranges are not int8
ones); accuracy is top-1 of output 0 against the integer labels, computed by the reference
interpreter, which the generated integer C matches bit for bit (and its float layers to
rounding). A mix is within budget when its accuracy is at most `max_drop` percentage
points under the float model's.

1. layers: the nodes with a constant weight (`driver.LAYER_OPS`);
2. every layer at one precision, for each precision (a layer without that precision's
   kernel at the next more precise one of the mode: a GRU stays int8 in "every layer int4");
3. sensitivity: for every layer and every precision below float32 it takes, the accuracy
   with only that layer lowered (the others float32);
4. repair: when every layer at a precision P is out of budget, its most sensitive layers
   (by their drop alone at P) are raised, one more at a time, to each higher precision of
   P's mode, until within budget: "all int4 but the two most sensitive at int8" keeps the
   kernel families few;
5. descent, per mode: from the cheapest mix within budget that the mode can express, the
   cheapest one-layer change within the mode that stays within budget and lowers the
   objective, until none does; the cheaper of the two ends is chosen.

A mix whose objective is no lower than the best found so far is not evaluated (it cannot
be chosen). When no mix is within budget and cheaper than the float model, the model
stays float. A uniform precision can be the answer (the report says what the next mix
would have saved and cost).

Objectives, each measured on the graph as `compiler.after_quantization` leaves it (so
sparse storage counts): `flash`, what the device stores, the weights and the code of every
kernel the mix links, compiled for `--target` by its compiler (`tinyc.mcu.codesize`: a mix
that adds the int4 kernels to the int8 ones pays for both); `ram`, the planned arena; and
`latency`, Cortex-M4 or portable instructions of the Conv/Gemm/MatMul layers from the
pruning cost model (`tinyc.prune.sparse`; other ops are not counted). The caller confirms
the chosen mix with the generated C (`c_accuracy`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from tinyc.display import shown
from tinyc.errors import UsageError
from tinyc.ir import Graph
from tinyc.passes import PassContext
from tinyc.progress import progress
from tinyc.quant.driver import (
    LAYER_OPS,
    LAYER_PRECISIONS,
    MODE_PRECISIONS,
    STATIC_MODES,
    calibrated_ranges,
    quantize_static,
    takes,
)

OBJECTIVES = ("flash", "ram", "latency")
FLOAT = LAYER_PRECISIONS[0]


def mix_mode(mix: dict[str, str]) -> str:
    """The static mode of a mix: int16x8 when a layer is int16x8, else int8 (a mix of float
    layers only runs its other ops in int8)."""
    return "int16x8" if "int16x8" in mix.values() else "int8"


def family(precision: str) -> tuple[str, ...]:
    """The precisions of `precision`'s mode, most precise first (float ones: int8's)."""
    return next(ps for ps in MODE_PRECISIONS.values() if precision in ps)


@dataclass
class LayerChoice:
    name: str
    op: str
    #: precision -> accuracy with only this layer at that precision (float32: the float
    #: model; a precision the layer has no kernel for is absent)
    accuracy: dict[str, float] = field(default_factory=dict)
    #: precision -> objective decrease with only this layer at that precision (negative when
    #: the precision's kernels cost more code than its weights save)
    gain: dict[str, int] = field(default_factory=dict)
    precision: str = FLOAT


@dataclass
class Candidate:
    """One mix the search measured."""

    #: layer name -> precision
    mix: dict[str, str]
    #: None: not evaluated, its objective was no lower than the best mix's at the time
    accuracy: float | None
    cost: int
    #: the generated C's weight bytes (with the flash objective the rest of `cost` is code)
    weights: int
    #: how the search came to it ("every layer int8", "/conv3/Conv -> int4", ...)
    origin: str
    #: within `max_drop` of the float model
    within: bool = False


@dataclass
class AutoResult:
    objective: str
    max_drop: float
    samples: int
    float_accuracy: float
    float_cost: int
    float_weights: int
    layers: list[LayerChoice]
    #: the chosen mix (the float model's figures when `quantized` is False)
    chosen: Candidate
    #: precision -> every layer at it
    uniform: dict[str, Candidate]
    #: every mix measured, in the order the search measured them
    candidates: list[Candidate]
    #: False when no mix stays within `max_drop` and costs less than float: float it is
    quantized: bool = True
    #: the chosen mix run as the generated C on the host (`confirm_with_c`)
    c_accuracy: float | None = None

    @property
    def accuracy(self) -> float:
        assert self.chosen.accuracy is not None  # the chosen mix was evaluated
        return self.chosen.accuracy

    @property
    def cost(self) -> int:
        return self.chosen.cost

    @property
    def mode(self) -> str:
        """The chosen mix's `--quantize` mode (int8 or int16x8)."""
        return mix_mode(self.chosen.mix)

    @property
    def layer_precision(self) -> tuple[tuple[str, str], ...]:
        """The choice as `Options.layer_precision` (exact node names)."""
        return tuple((_literal(c.name), c.precision) for c in self.layers)

    def as_dict(self) -> dict[str, object]:
        return {
            "objective": self.objective, "max_drop_pp": self.max_drop, "samples": self.samples,
            "float": {"accuracy": self.float_accuracy, "cost": self.float_cost,
                      "weights": self.float_weights},
            "quantized": self.quantized, "mode": self.mode, "c_accuracy": self.c_accuracy,
            "chosen": vars(self.chosen),
            "uniform": {p: vars(c) for p, c in self.uniform.items()},
            "layers": [{"name": c.name, "op": c.op, "precision": c.precision,
                        "accuracy": c.accuracy, "gain": c.gain} for c in self.layers],
            "candidates": [vars(c) for c in self.candidates],
        }


def _literal(name: str) -> str:
    """`name` as an fnmatch pattern that matches only itself."""
    return "".join(f"[{ch}]" if ch in "*?[" else ch for ch in name)


def check_options(options) -> tuple[str, str, float]:  # noqa: ANN001
    """(eval X path, eval Y path, max drop) of `--quantize auto`, or a UsageError."""
    if options.objective not in OBJECTIVES:
        raise UsageError(f"--objective {shown(options.objective)}: use one of "
                         f"{', '.join(OBJECTIVES)}")
    if not options.eval_data or len(options.eval_data) != 2:
        raise UsageError("--quantize auto needs evaluation data: --eval X.npy Y.npy")
    if options.max_drop is None:
        raise UsageError("--quantize auto needs --max-drop P (accuracy drop allowed, "
                         "percentage points)")
    if not 0 <= options.max_drop <= 100:
        raise UsageError(f"--max-drop {options.max_drop}: use a number of percentage "
                         "points from 0 to 100")
    if not options.calib:
        raise UsageError("--quantize auto needs calibration samples: --calib DATA.npy")
    if options.io != "float":
        raise UsageError("--quantize auto needs the float interface (--io float): the "
                         "evaluation data is float")
    if options.layer_precision:
        raise UsageError("--layer-precision and --quantize auto: auto chooses the precisions")
    return options.eval_data[0], options.eval_data[1], float(options.max_drop)


def float_graph(model: str | Path, options) -> Graph:  # noqa: ANN001
    """The model after the `-O` pipeline and pruning, unquantized and dense (the passes
    that need the final interface run per candidate)."""
    from tinyc.compiler import load_model, optimize
    from tinyc.passes.manager import AFTER_QUANTIZATION, pipeline_without

    passes = pipeline_without(options.opt_level, options.passes, AFTER_QUANTIZATION)
    base = replace(options, quantize=None, calib=None, io="float", layer_precision=(),
                   passes=passes, sparse="never", progress=False)
    return optimize(load_model(model, base), base)[0]


def load_eval(graph: Graph, x_path: str, y_path: str) -> tuple[list[np.ndarray], np.ndarray]:
    """Evaluation samples (one array per inference) and their integer labels."""
    from tinyc.inputfiles import read_input_arrays
    from tinyc.prune.sensitivity import samples

    if len(graph.inputs) != 1:
        raise UsageError("--quantize auto: evaluation needs a model with exactly one input")
    x = read_input_arrays(Path(x_path), graph, "evaluation file")[graph.inputs[0].name]
    y = np.load(y_path, allow_pickle=False).reshape(-1)
    if not np.issubdtype(y.dtype, np.integer):
        raise UsageError(f"{y_path}: labels must be integers (class indices), got {y.dtype}")
    feeds = samples(graph, x)
    if len(feeds) != len(y):
        raise UsageError(f"--eval: {len(feeds)} samples but {len(y)} labels")
    if not feeds:
        raise UsageError(f"{x_path}: no evaluation samples")
    return feeds, y


class _Search:
    """The state of one search: the float graph, its calibration per mode, the evaluator and
    every mix measured so far (a mix reached twice is measured once)."""

    def __init__(self, graph: Graph, options, feeds: list[np.ndarray], y: np.ndarray) -> None:  # noqa: ANN001
        from tinyc.prune.sensitivity import evaluator

        self.graph = graph
        self.options = options
        self.calibration = {mode: calibrated_ranges(graph, options, mode)
                            for mode in STATIC_MODES}
        self.evaluate: Callable[[Graph], float] = evaluator(feeds, y)[1]
        self.layers = [n.name for n in graph.nodes if n.op in LAYER_OPS and n.input(1) is not None
                       and n.input(1).const is not None]  # type: ignore[union-attr]
        if len(set(self.layers)) != len(self.layers) or not all(self.layers):
            raise UsageError("--quantize auto: the model's layers need distinct node names")
        self.ops = {n.name: n.op for n in graph.nodes}
        self.measured: dict[tuple[str, ...], Candidate] = {}
        self.limit = 0.0  # the lowest accuracy within budget (set once float is measured)

    def precisions(self, name: str, mode: str | None = None) -> tuple[str, ...]:
        """The precisions layer `name` has kernels for (within `mode`), most precise first."""
        return tuple(p for p in (LAYER_PRECISIONS if mode is None else MODE_PRECISIONS[mode])
                     if takes(self.ops[name], p))

    def quantized(self, mix: dict[str, str]) -> Graph:
        g = copy.deepcopy(self.graph)
        pairs = [(_literal(name), p) for name, p in mix.items()]
        mode = mix_mode(mix)
        ranges, how = self.calibration[mode]
        return quantize_static(g, ranges, how, pairs, PassContext(),
                               activations=STATIC_MODES[mode])

    def measure(self, mix: dict[str, str], origin: str, bound: int | None = None) -> Candidate:
        """Objective and accuracy of the graph with `mix`; the accuracy only when the
        objective is below `bound` (a dearer mix than the best found cannot be chosen)."""
        key = tuple(mix[name] for name in self.layers)
        if key not in self.measured:
            objective, weights = cost(self.quantized(mix), self.options)
            self.measured[key] = Candidate(dict(mix), None, objective, weights, origin)
        c = self.measured[key]
        if c.accuracy is None and (bound is None or c.cost < bound):
            c.accuracy = self.evaluate(self.quantized(mix))
            c.within = c.accuracy >= self.limit
        return c

    def best(self, mode: str | None = None) -> Candidate | None:
        """The cheapest mix within budget so far (that `mode` can express; ties: the more
        accurate)."""
        within = [c for c in self.measured.values() if c.within and (
            mode is None or set(c.mix.values()) <= set(MODE_PRECISIONS[mode]))]
        return min(within, key=lambda c: (c.cost, -c.accuracy)) if within else None  # type: ignore[operator]

    def uniform(self, precision: str) -> dict[str, str]:
        """Every layer at `precision`, or at the next more precise one of its mode that the
        layer has a kernel for."""
        ps = family(precision)
        return {name: [p for p in ps[:ps.index(precision) + 1] if takes(self.ops[name], p)][-1]
                for name in self.layers}


def cost(graph: Graph, options) -> tuple[int, int]:  # noqa: ANN001
    """(objective, weight bytes) of a quantized (or float) graph, after the
    post-quantization stages."""
    from tinyc.compiler import after_quantization, compile_graph
    from tinyc.mcu.codesize import flash_bytes
    from tinyc.passes.sparsify_weights import layer_costs
    from tinyc.prune.driver import sparse_policy

    g = after_quantization(copy.deepcopy(graph), options, PassContext(target=options.target))
    compiled = compile_graph(g, replace(options, report=False), "candidate")
    weights = compiled.code.weight_bytes
    if options.objective == "latency":
        return sum(c.sparse_cycles if c.choice == "sparse" else c.dense_cycles for c in
                   layer_costs(g, sparse_policy(options), target=options.target)), weights
    if options.objective == "flash":
        return flash_bytes(compiled.code, options.target), weights
    return compiled.plan.size, weights


def _repair(state: _Search, choices: list[LayerChoice], low: str) -> None:
    """Every layer at `low` loses too much: raise its most sensitive layers (by their drop
    alone at `low`), one more at a time, to each higher precision of its mode, until within
    budget."""
    start = state.uniform(low)
    order = sorted(choices, key=lambda c: c.accuracy[start[c.name]])
    ps = family(low)
    for high in ps[:ps.index(low)]:
        for k in range(1, len(order)):
            raised = {c.name for c in order[:k]}
            mix = {c.name: high if c.name in raised else start[c.name] for c in choices}
            best = state.best()
            if state.measure(mix, f"every layer {low}, the {k} most sensitive {high}",
                             None if best is None else best.cost).within:
                break


def _descend(state: _Search, best: Candidate, mode: str) -> Candidate:
    """From `best`, take the cheapest single-layer change within `mode` and the budget
    while one lowers the objective."""
    while True:
        trials = [state.measure({**best.mix, name: p}, f"{name} -> {p}", best.cost)
                  for name in state.layers for p in state.precisions(name, mode)
                  if p != best.mix[name]]
        better = [t for t in trials if t.within and t.cost < best.cost]
        if not better:
            return best
        best = min(better, key=lambda t: (t.cost, -t.accuracy))  # type: ignore[operator]


def search(model: str | Path, options) -> AutoResult:  # noqa: ANN001
    """Choose the per-layer precisions (module docstring)."""
    x_path, y_path, max_drop = check_options(options)
    graph = float_graph(model, options)
    feeds, y = load_eval(graph, x_path, y_path)
    steps = progress(options.progress)
    state = _Search(graph, options, feeds, y)
    if not state.layers:
        raise UsageError("--quantize auto: the model has no layer with constant weights")
    with steps.step(f"evaluating float and uniform precisions on {len(y)} samples"):
        float_acc = state.evaluate(graph)
        float_cost, float_weights = cost(graph, options)
        state.limit = float_acc - max_drop / 100.0 - 1e-12
        uniform = {p: state.measure(state.uniform(p), f"every layer {p}")
                   for p in LAYER_PRECISIONS}
    choices = [LayerChoice(name, state.ops[name]) for name in state.layers]
    base = uniform[FLOAT]
    with steps.step(f"measuring {len(choices)} layers' sensitivity", total=len(choices)) as tick:
        for choice in choices:
            choice.accuracy[FLOAT] = float_acc
            for p in state.precisions(choice.name)[1:]:
                alone = state.measure({**base.mix, choice.name: p}, f"only {choice.name} {p}")
                assert alone.accuracy is not None  # measured without a bound
                choice.accuracy[p] = alone.accuracy
                choice.gain[p] = base.cost - alone.cost
            tick()
    with steps.step("choosing the mix"):
        for p in LAYER_PRECISIONS[1:]:
            if not uniform[p].within:
                _repair(state, choices, p)
        ends = [_descend(state, start, mode) for mode in MODE_PRECISIONS
                if (start := state.best(mode)) is not None]
        best = min(ends, key=lambda c: (c.cost, -c.accuracy)) if ends else None  # type: ignore[operator]
    quantized = best is not None and best.cost < float_cost
    chosen = best if quantized else Candidate(
        {name: FLOAT for name in state.layers}, float_acc, float_cost, float_weights,
        "the float model", True)
    for choice in choices:
        choice.precision = chosen.mix[choice.name]
    return AutoResult(options.objective, max_drop, len(y), float_acc, float_cost,
                      float_weights, choices, chosen, uniform, list(state.measured.values()),
                      quantized)


def resolved(options, result: AutoResult):  # noqa: ANN001, ANN201
    """`options` with the chosen mix: its static mode (int8 or int16x8) with per-layer
    precision, or the float model when no mix stays within the allowed drop."""
    if not result.quantized:
        return replace(options, quantize=None, calib=None, layer_precision=())
    return replace(options, quantize=result.mode, layer_precision=result.layer_precision)


def confirm_with_c(graph: Graph, options, x_path: str, y_path: str) -> float:  # noqa: ANN001
    """Top-1 accuracy of the compiled `graph` on the evaluation set, run as the generated C
    (host cc, every sample in one process)."""
    import tempfile

    from tinyc.compiler import compile_graph
    from tinyc.harness import build_host, run_host_batch

    feeds, y = load_eval(graph, x_path, y_path)
    compiled = compile_graph(graph, replace(options, report=False, arena="static"), "candidate")
    with tempfile.TemporaryDirectory(prefix="tinyc-auto-") as tmp:
        compiled.code.write(Path(tmp))
        exe = build_host(Path(tmp), graph, compiled.code.name)
        outs = run_host_batch(exe, graph, [[f] for f in feeds])
    pred = np.array([int(o[0].reshape(-1).argmax()) for o in outs])
    return float(np.mean(pred == y))
