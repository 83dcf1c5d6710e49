"""Calibration: run the float graph on sample inputs and choose every activation's range.

The reference interpreter evaluates the graph sample by sample; an observer per float
activation value (graph inputs and node outputs) records what it sees. Three methods:

- `minmax`: the smallest and largest value seen (one pass);
- `percentile`: the `percentile` / `100 - percentile` points of the value distribution,
  which ignores rare outliers (two passes: min-max, then a histogram over that range);
- `mse`: the range [a * min, a * max] whose int8 quantization has the smallest expected
  squared error over the histogram, with a searched in (0, 1] (two passes).

Ranges always include 0 (see `tinyc.quant.params.params_from_range`). Each LSTM's int16
cell state, which is no graph value, gets its min-max bound under `cell_state_key`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from tinyc.errors import UsageError
from tinyc.inputfiles import read_input_arrays
from tinyc.ir import DType, Graph, Value
from tinyc.ops import get_op
from tinyc.ops.rnn import LSTM
from tinyc.progress import QUIET, Progress
from tinyc.quant.lower_rnn import cell_state_key
from tinyc.quant.params import (
    act_limits,
    dequantize_array,
    params_from_range,
    quantize_array,
    symmetric_params,
)

METHODS = ("minmax", "percentile", "mse")
HISTOGRAM_BINS = 2048
DEFAULT_PERCENTILE = 99.99

Sample = dict[str, np.ndarray]
Ranges = dict[str, tuple[float, float]]


def load_samples(path: str | Path, graph: Graph) -> list[Sample]:
    """Calibration samples from a `.npy` (one input: [N, *shape], or [N, *shape[1:]] when the
    batch is 1) or a `.npz` keyed by input name (the same rule per input, equal N)."""
    p = Path(path)
    arrays = read_input_arrays(p, graph, "calibration file")
    per_input = {v.name: _split(arrays[v.name], v, p) for v in graph.inputs}
    counts = {len(s) for s in per_input.values()}
    if len(counts) != 1:
        raise UsageError(f"{p}: inputs have different sample counts {sorted(counts)}")
    n = counts.pop()
    if n == 0:
        raise UsageError(f"{p}: no calibration samples")
    return [{name: s[i] for name, s in per_input.items()} for i in range(n)]


def _split(arr: np.ndarray, value: Value, path: Path) -> list[np.ndarray]:
    shape = value.shape
    if arr.dtype.kind not in "biuf":
        raise UsageError(
            f"{path}: input '{value.name}' needs real numbers, got {arr.dtype} samples"
        )
    if arr.ndim == len(shape) + 1 and tuple(arr.shape[1:]) == shape:
        samples = arr
    elif shape and shape[0] == 1 and arr.ndim == len(shape) and tuple(arr.shape[1:]) == shape[1:]:
        samples = arr.reshape((arr.shape[0],) + shape)
    else:
        raise UsageError(
            f"{path}: input '{value.name}' needs samples shaped [N, {', '.join(map(str, shape))}]"
            + (f" or [N, {', '.join(map(str, shape[1:]))}]" if shape and shape[0] == 1 else "")
            + f", got {list(arr.shape)}"
        )
    with np.errstate(over="ignore", invalid="ignore"):  # checked just below
        converted = [np.asarray(s, value.dtype.np) for s in samples]
    if value.dtype.is_float and not all(np.isfinite(s).all() for s in converted):
        raise UsageError(
            f"{path}: the samples for input '{value.name}' hold NaN or infinity "
            f"(as {value.dtype.value})"
        )
    return converted


def float_activations(graph: Graph) -> list[Value]:
    """The values calibration observes: float graph inputs and float node outputs."""
    values = [v for v in graph.inputs if v.dtype.is_float]
    values += [o for n in graph.nodes for o in n.outputs if o.dtype.is_float]
    return values


def evaluate_all(graph: Graph, feeds: Mapping[str, np.ndarray],
                 cells: dict[str, float] | None = None) -> dict[str, np.ndarray]:
    """Every value's data for one sample (the interpreter's loop, keeping intermediates).
    With `cells`, also each LSTM's largest |cell state| (`cell_state_key`): the cell state
    is no value of the graph, yet the int8 LSTM kernels need its range."""
    env: dict[int, np.ndarray] = {}
    named: dict[str, np.ndarray] = {}
    for v in graph.inputs:
        env[id(v)] = np.asarray(feeds[v.name]).reshape(v.shape).astype(v.dtype.np)
        named[v.name] = env[id(v)]

    def get(v: Value | None) -> np.ndarray | None:
        if v is None:
            return None
        return v.const if v.const is not None else env[id(v)]

    for node in graph.nodes:
        op = get_op(node.op)
        inputs = [get(v) for v in node.inputs]
        if cells is not None and isinstance(op, LSTM):
            seen = [0.0]
            results = op.run(node, inputs, seen)
            cells[cell_state_key(node)] = max(seen)
        else:
            results = op.reference(node, inputs)
        for out, data in zip(node.outputs, results, strict=False):
            arr = np.asarray(data).reshape(out.shape).astype(out.dtype.np, copy=False)
            env[id(out)] = arr
            named[out.name] = arr
    return named


def _minmax_pass(graph: Graph, samples: Sequence[Sample], names: list[str],
                 tick: Callable[[], None]) -> Ranges:
    lo = {n: np.inf for n in names}
    hi = {n: -np.inf for n in names}
    cells: dict[str, float] = {}
    for i, sample in enumerate(samples):
        seen: dict[str, float] = {}
        values = _evaluate_checked(graph, sample, i, seen)
        for n in names:
            x = values[n]
            finite = x[np.isfinite(x)] if x.size else x
            if finite.size:
                lo[n] = min(lo[n], float(finite.min()))
                hi[n] = max(hi[n], float(finite.max()))
        for key, bound in seen.items():
            cells[key] = max(cells.get(key, 0.0), bound)
        tick()
    ranges = {n: (lo[n] if np.isfinite(lo[n]) else 0.0, hi[n] if np.isfinite(hi[n]) else 0.0)
              for n in names}
    return {**ranges, **{key: (-bound, bound) for key, bound in cells.items()}}


def _evaluate_checked(graph: Graph, sample: Sample, index: int,
                      cells: dict[str, float]) -> dict[str, np.ndarray]:
    """`evaluate_all`, refusing a sample that drives the model out of float32's range
    (scales computed from it would be meaningless). Infinities the model itself holds
    (an attention mask of -inf) propagate without overflowing and are fine."""
    try:
        with np.errstate(over="raise", invalid="ignore", divide="ignore", under="ignore"):
            return evaluate_all(graph, sample, cells)
    except FloatingPointError:
        raise UsageError(
            f"calibration sample {index} overflows float32 inside the model: the "
            f"calibration data is out of range"
        ) from None


def _histograms(graph: Graph, samples: Sequence[Sample], ranges: Ranges, names: list[str],
                tick: Callable[[], None]) -> dict[str, np.ndarray]:
    hists = {n: np.zeros(HISTOGRAM_BINS, np.int64) for n in names}
    for sample in samples:
        values = evaluate_all(graph, sample)
        for n in names:
            lo, hi = ranges[n]
            if hi > lo:
                h, _ = np.histogram(values[n], bins=HISTOGRAM_BINS, range=(lo, hi))
                hists[n] += h
        tick()
    return hists


def _percentile_range(hist: np.ndarray, lo: float, hi: float, pct: float) -> tuple[float, float]:
    if hi <= lo or hist.sum() == 0:
        return lo, hi
    edges = np.linspace(lo, hi, HISTOGRAM_BINS + 1)
    cdf = np.cumsum(hist) / hist.sum()
    low_q, high_q = (100.0 - pct) / 100.0, pct / 100.0
    i_lo = int(np.searchsorted(cdf, low_q, side="left"))
    i_hi = int(np.searchsorted(cdf, high_q, side="left"))
    return float(edges[i_lo]), float(edges[min(i_hi + 1, HISTOGRAM_BINS)])


def _mse_range(hist: np.ndarray, lo: float, hi: float,
               activations: DType = DType.I8) -> tuple[float, float]:
    """The clipped range (a fraction of [lo, hi]) whose quantization to `activations` (int8
    asymmetric, int16 symmetric) has the least squared error over the histogram."""
    if hi <= lo or hist.sum() == 0:
        return lo, hi
    edges = np.linspace(lo, hi, HISTOGRAM_BINS + 1)
    centers = ((edges[:-1] + edges[1:]) / 2).astype(np.float32)
    weights = hist.astype(np.float64)
    best, best_err = (lo, hi), np.inf
    for alpha in np.linspace(1.0, 0.2, 81):
        if activations is DType.I16:
            p = symmetric_params(lo * alpha, hi * alpha)
        else:
            p = params_from_range(lo * alpha, hi * alpha)
        s, z = p.scale[0], p.zero_point[0]
        back = dequantize_array(quantize_array(centers, s, z, *act_limits(activations)), s, z)
        err = float(np.sum(weights * (back.astype(np.float64) - centers) ** 2))
        if err < best_err - 1e-12 * abs(best_err):
            best, best_err = (lo * float(alpha), hi * float(alpha)), err
    return best


def calibrate(
    graph: Graph,
    samples: Sequence[Sample],
    method: str = "minmax",
    percentile: float = DEFAULT_PERCENTILE,
    progress: Progress = QUIET,
    activations: DType = DType.I8,
) -> Ranges:
    """Observed range of every float activation of `graph` over `samples` (`mse` chooses
    it for the `activations` dtype's quantization: int8 or int16)."""
    if method not in METHODS:
        raise UsageError(f"unknown calibration method '{method}' (use {', '.join(METHODS)})")
    names = [v.name for v in float_activations(graph)]
    passes = 1 if method == "minmax" else 2
    what = f"calibrating ({method}) on {len(samples)} samples"
    with progress.step(what, total=passes * len(samples)) as tick:
        ranges = _minmax_pass(graph, samples, names, tick)
        if method == "minmax":
            return ranges
        hists = _histograms(graph, samples, ranges, names, tick)
    pick: Callable[[np.ndarray, float, float], tuple[float, float]]
    if method == "percentile":
        def pick(h: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
            return _percentile_range(h, lo, hi, percentile)
    else:
        def pick(h: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
            return _mse_range(h, lo, hi, activations)
    picked = {n: pick(hists[n], *ranges[n]) for n in names}
    return {**ranges, **picked}  # with the LSTM cell-state bounds, kept as min-max
