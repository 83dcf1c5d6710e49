"""`--quantize auto`: choose each layer's precision on evaluation data.

The candidates are `driver.LAYER_PRECISIONS`: float32, float16 (the layer stays float with
IEEE half weights), int8, and int4 (int8 activations, 4-bit weights on that layer); a new
precision is one more entry there (int16x8 is a whole-model mode: see there). The search
runs on the float graph after the `-O` pipeline and pruning, calibrated once (`--calib`,
`--calib-method`); accuracy is top-1 of output 0 against the integer labels, computed by
the reference interpreter, which the generated integer C matches bit for bit (and its
float layers to rounding):

1. layers: the nodes with a constant weight (Conv, Gemm, MatMul, RNN, GRU, LSTM);
2. sensitivity: for every layer and every precision below float32, the accuracy with only
   that layer lowered (the others float32), and how much that lowers the objective;
3. greedy: from every layer at float32, the moves (layer -> lower precision) are tried in
   order of objective gain per point of sensitivity (ties: the larger gain first); a move
   is kept when the whole mix, evaluated again, stays within `max_drop` percentage points
   of the float model and lowers the objective (a layer only moves down the list: after
   int4 its int8 move is skipped). When not even every layer at float32
   (int8 activations between the other ops) stays within it, the model stays float.

Objectives: `flash` (the generated C's weight bytes), `ram` (the planned arena) and
`latency` (Cortex-M4 or portable instructions of the Conv/Gemm/MatMul layers from the
pruning cost model, `tinyc.prune.sparse`; other ops are not counted). Each is measured on the
graph as `compiler.after_quantization` leaves it, so sparse storage counts. The caller
confirms the chosen mix with the generated C (`c_accuracy`).
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
from tinyc.quant.driver import LAYER_PRECISIONS, calibrated_ranges, quantize_static

OBJECTIVES = ("flash", "ram", "latency")
#: ops whose constant weight makes them a layer the search assigns a precision
LAYER_OPS = ("Conv", "Gemm", "MatMul", "RNN", "GRU", "LSTM")
FLOAT = LAYER_PRECISIONS[0]


@dataclass
class LayerChoice:
    name: str
    op: str
    #: precision -> accuracy with only this layer at that precision (float32: the float model)
    accuracy: dict[str, float] = field(default_factory=dict)
    #: precision -> objective decrease with only this layer at that precision
    gain: dict[str, int] = field(default_factory=dict)
    precision: str = FLOAT


@dataclass
class Step:
    """One greedy move and what the whole mix measured with it."""

    layer: str
    precision: str
    accuracy: float
    cost: int
    kept: bool


@dataclass
class AutoResult:
    objective: str
    max_drop: float
    samples: int
    float_accuracy: float
    float_cost: int
    layers: list[LayerChoice]
    accuracy: float
    cost: int
    #: precision -> (accuracy, cost) with every layer at it
    uniform: dict[str, tuple[float, int]]
    steps: list[Step]
    #: False when no mix stays within `max_drop`: the model is compiled in float
    quantized: bool = True
    #: the chosen mix run as the generated C on the host (`confirm_with_c`)
    c_accuracy: float | None = None

    @property
    def layer_precision(self) -> tuple[tuple[str, str], ...]:
        """The choice as `Options.layer_precision` (exact node names)."""
        return tuple((_literal(c.name), c.precision) for c in self.layers)

    def as_dict(self) -> dict[str, object]:
        return {
            "objective": self.objective, "max_drop_pp": self.max_drop, "samples": self.samples,
            "float": {"accuracy": self.float_accuracy, "cost": self.float_cost},
            "quantized": self.quantized,
            "chosen": {"accuracy": self.accuracy, "cost": self.cost,
                       "c_accuracy": self.c_accuracy},
            "uniform": {p: {"accuracy": a, "cost": c} for p, (a, c) in self.uniform.items()},
            "layers": [{"name": c.name, "op": c.op, "precision": c.precision,
                        "accuracy": c.accuracy, "gain": c.gain} for c in self.layers],
            "steps": [vars(s) for s in self.steps],
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
    """The state of one search: the float graph, its calibration, the evaluator."""

    def __init__(self, graph: Graph, options, feeds: list[np.ndarray], y: np.ndarray) -> None:  # noqa: ANN001
        from tinyc.prune.sensitivity import evaluator

        self.graph = graph
        self.options = options
        self.ranges, self.how = calibrated_ranges(graph, options)
        self.evaluate: Callable[[Graph], float] = evaluator(feeds, y)[1]
        self.layers = [n.name for n in graph.nodes if n.op in LAYER_OPS and n.input(1) is not None
                       and n.input(1).const is not None]  # type: ignore[union-attr]
        if len(set(self.layers)) != len(self.layers) or not all(self.layers):
            raise UsageError("--quantize auto: the model's layers need distinct node names")

    def quantized(self, mix: dict[str, str]) -> Graph:
        g = copy.deepcopy(self.graph)
        pairs = [(_literal(name), p) for name, p in mix.items()]
        return quantize_static(g, self.ranges, self.how, pairs, PassContext())

    def measure(self, mix: dict[str, str]) -> tuple[float, int]:
        """(accuracy, objective) of the graph with `mix`."""
        g = self.quantized(mix)
        return self.evaluate(g), cost(g, self.options)


def cost(graph: Graph, options) -> int:  # noqa: ANN001
    """The objective of a quantized (or float) graph, after the post-quantization stages."""
    from tinyc.compiler import after_quantization, compile_graph
    from tinyc.passes.sparsify_weights import layer_costs
    from tinyc.prune.driver import sparse_policy

    g = after_quantization(copy.deepcopy(graph), options, PassContext())
    if options.objective == "latency":
        return sum(c.sparse_cycles if c.choice == "sparse" else c.dense_cycles
                   for c in layer_costs(g, sparse_policy(options), target=options.target))
    compiled = compile_graph(g, replace(options, report=False), "candidate")
    return compiled.code.weight_bytes if options.objective == "flash" else compiled.plan.size


def search(model: str | Path, options) -> AutoResult:  # noqa: ANN001
    """Choose the per-layer precisions (module docstring)."""
    x_path, y_path, max_drop = check_options(options)
    graph = float_graph(model, options)
    feeds, y = load_eval(graph, x_path, y_path)
    steps = progress(options.progress)
    state = _Search(graph, options, feeds, y)
    if not state.layers:
        raise UsageError("--quantize auto: the model has no layer with constant weights")
    lower = LAYER_PRECISIONS[1:]
    floor = 1.0 / len(y)  # one sample: the smallest accuracy change that can be seen
    with steps.step(f"evaluating float and uniform precisions on {len(y)} samples"):
        float_acc, float_cost = state.evaluate(graph), cost(graph, options)
        all_float = {name: FLOAT for name in state.layers}
        base_acc, base_cost = state.measure(all_float)
        uniform = {p: state.measure(dict.fromkeys(state.layers, p)) for p in lower}
    ops = {n.name: n.op for n in graph.nodes}
    choices = [LayerChoice(name, ops[name]) for name in state.layers]
    with steps.step(f"measuring {len(choices)} layers' sensitivity", total=len(choices)) as tick:
        for choice in choices:
            choice.accuracy[FLOAT] = float_acc
            for p in lower:
                acc, c = state.measure({**all_float, choice.name: p})
                choice.accuracy[p] = acc
                choice.gain[p] = base_cost - c
            tick()
    moves = [(c, p) for c in choices for p in lower]
    moves.sort(key=lambda m: (-m[0].gain[m[1]] / max(float_acc - m[0].accuracy[m[1]], floor),
                              -m[0].gain[m[1]]))
    mix, acc, current = dict(all_float), base_acc, base_cost
    log: list[Step] = []
    limit = float_acc - max_drop / 100.0 - 1e-12
    with steps.step("choosing the mix", total=len(moves)) as tick:
        for choice, p in moves:
            tick()
            if LAYER_PRECISIONS.index(p) <= LAYER_PRECISIONS.index(mix[choice.name]):
                continue
            trial = {**mix, choice.name: p}
            t_acc, t_cost = state.measure(trial)
            kept = t_acc >= limit and t_cost < current
            log.append(Step(choice.name, p, t_acc, t_cost, kept))
            if kept:
                mix, acc, current = trial, t_acc, t_cost
    quantized = acc >= limit
    if not quantized:  # even float32 layers (int8 between them) lose too much: stay float
        mix, acc, current = all_float, float_acc, float_cost
    for choice in choices:
        choice.precision = mix[choice.name]
    return AutoResult(options.objective, max_drop, len(y), float_acc, float_cost, choices,
                      acc, current, uniform, log, quantized)


def resolved(options, result: AutoResult):  # noqa: ANN001, ANN201
    """`options` with the chosen mix: static int8 with per-layer precision, or the float
    model when no mix stays within the allowed drop."""
    if not result.quantized:
        return replace(options, quantize=None, calib=None, layer_precision=())
    return replace(options, quantize="int8", layer_precision=result.layer_precision)


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
