"""`tinyc quantize-report`: what static int8 (or int16x8, `--quantize int16x8`) quantization
costs a model, layer by layer.

The model is compiled twice from the same float pipeline: in float, and quantized with the
given calibration. Both run on the evaluation samples (the reference interpreter, which the
generated integer C matches bit for bit; `--run-c` builds and runs the C instead for the
accuracy). Reported: float and int8 accuracy (top-1 of output 0 against the labels), and for
every quantized activation its parameters and signal-to-quantization-noise ratio

    SNR = 10 log10( sum f^2 / sum (f - dequantize(q))^2 )   over all evaluation samples

where f is the float model's value and q the integer model's. The layers with the lowest
SNR (the worst quarter, and any below 20 dB), where precision is lost, are flagged.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

import numpy as np

from tinyc.compiler import Options, compile_graph, load_model, optimize
from tinyc.errors import UsageError
from tinyc.ir import Graph
from tinyc.passes.manager import AFTER_QUANTIZATION, pipeline_without
from tinyc.passes.quantize_int8 import prepare_for_quantization
from tinyc.progress import progress
from tinyc.quant.calibration import evaluate_all, float_activations, load_samples
from tinyc.quant.driver import STATIC_MODES
from tinyc.quant.params import dequantize_array

#: a layer below this SNR is flagged even when it is not among the worst three
LOW_SNR_DB = 20.0


@dataclass
class LayerStat:
    name: str
    op: str
    scale: float
    zero_point: int
    signal: float = 0.0
    noise: float = 0.0

    @property
    def snr_db(self) -> float:
        if self.noise == 0.0:
            return float("inf")
        return 10.0 * float(np.log10(max(self.signal, 1e-30) / self.noise))


@dataclass
class Report:
    methods: dict[str, float | None]  # "float" and each calibration method -> accuracy
    layers: list[LayerStat]
    samples: int
    precision: str = "int8"  # how the quantized rows are labelled ("int8+int4w": int4 weights)


def _graph(model: str, options: Options) -> Graph:
    # without fuse-qboundary: the staged boundary keeps the int8 input/output to measure
    passes = pipeline_without(options.opt_level, options.passes, AFTER_QUANTIZATION)
    graph, _ = optimize(load_model(model, options), replace(options, passes=passes))
    return graph


def _accuracy(outputs: list[np.ndarray], labels: np.ndarray | None) -> float | None:
    if labels is None:
        return None
    pred = np.array([int(np.asarray(o).reshape(-1).argmax()) for o in outputs])
    return float(np.mean(pred == labels[: len(pred)]))


def _run_c(
    graph: Graph, options: Options, feeds: list[dict[str, np.ndarray]]
) -> list[np.ndarray]:
    from tinyc.harness import build_host, run_host

    compiled = compile_graph(graph, options, "report")
    with tempfile.TemporaryDirectory(prefix="tinyc-report-") as tmp:
        compiled.code.write(Path(tmp))
        exe = build_host(Path(tmp), graph, compiled.code.name)
        return [run_host(exe, graph, [f[v.name] for v in graph.inputs])[0] for f in feeds]


def build_report(
    model: str,
    options: Options,
    methods: list[str],
    eval_x: str,
    eval_y: str | None,
    limit: int | None = None,
    run_c: bool = False,
) -> Report:
    """Accuracy per calibration method and per-layer SNR of the first method."""
    if not options.calib:
        raise UsageError("quantize-report needs --calib DATA.npy")
    mode = options.quantize or "int8"
    if mode not in STATIC_MODES:
        raise UsageError(f"quantize-report --quantize {mode}: use {' or '.join(STATIC_MODES)}")
    base = replace(options, quantize=None, calib=None, io="float", progress=False,
                   weight_bits=8, weight_clip=None)
    float_graph = _graph(model, base)
    prepare_for_quantization(float_graph)
    feeds = load_samples(eval_x, float_graph)[:limit]
    labels = None
    if eval_y is not None:
        labels = np.load(eval_y).reshape(-1)
        if labels.size < len(feeds):
            raise UsageError(f"{eval_y}: {labels.size} labels for {len(feeds)} samples")
    steps = progress(options.progress)
    with steps.step(f"evaluating the float model on {len(feeds)} samples"):
        float_values = [evaluate_all(float_graph, f) for f in feeds]
    out_name = float_graph.outputs[0].name
    accuracies: dict[str, float | None] = {
        "float": _accuracy([v[out_name] for v in float_values], labels)}
    layers: list[LayerStat] = []
    for i, method in enumerate(methods):
        qopts = replace(options, quantize=mode, calib_method=method, io="float")
        qgraph = _graph(model, qopts)
        how = "building and running the C" if run_c else "evaluating"
        with steps.step(f"{how} {mode} ({method}) on {len(feeds)} samples"):
            if run_c:
                outs = _run_c(qgraph, qopts, feeds)
            else:
                outs = [evaluate_all(qgraph, f)[qgraph.outputs[0].name] for f in feeds]
        accuracies[method] = _accuracy(outs, labels)
        if i == 0:
            with steps.step(f"measuring the SNR of each layer on {len(feeds)} samples"):
                layers = _layer_stats(float_graph, qgraph, feeds, float_values)
    precision = f"{mode}+int4w" if options.weight_bits == 4 else mode
    return Report(accuracies, layers, len(feeds), precision)


def _layer_stats(float_graph: Graph, qgraph: Graph, feeds: list[dict[str, np.ndarray]],
                 float_values: list[dict[str, np.ndarray]]) -> list[LayerStat]:
    qvalues = {v.name: v for v in qgraph.values() if v.type.quant is not None}
    stats: list[LayerStat] = []
    pairs = []
    for v in float_activations(float_graph):
        q = qvalues.get(f"{v.name}_q")
        if q is None or q.type.quant is None or len(q.type.quant.scale) != 1:
            continue
        op = v.producer.op if v.producer is not None else "input"
        stats.append(LayerStat(v.name, op, q.type.quant.scale[0], q.type.quant.zero_point[0]))
        pairs.append(q.name)
    for feed, fvals in zip(feeds, float_values, strict=True):
        qvals = evaluate_all(qgraph, feed)
        for stat, qname in zip(stats, pairs, strict=True):
            if qname not in qvals:
                continue
            f = fvals[stat.name].astype(np.float64)
            d = dequantize_array(qvals[qname], stat.scale, stat.zero_point).astype(np.float64)
            stat.signal += float(np.sum(f * f))
            stat.noise += float(np.sum((f - d) ** 2))
    return stats


def print_report(report: Report, stream: TextIO) -> None:
    stream.write(f"accuracy on {report.samples} samples:\n")
    for method, acc in report.methods.items():
        label = method if method == "float" else f"{report.precision} ({method})"
        shown = "n/a (no labels)" if acc is None else f"{100 * acc:.2f}%"
        stream.write(f"  {label:<20} {shown}\n")
    if not report.layers:
        return
    worst = sorted(report.layers, key=lambda s: s.snr_db)[: max(1, len(report.layers) // 4)]
    flagged = {id(s) for s in worst} | {id(s) for s in report.layers if s.snr_db < LOW_SNR_DB}
    width = max(len(s.name) for s in report.layers)
    stream.write("\nper-layer signal-to-quantization-noise ratio:\n")
    stream.write(f"  {'value':<{width}}  {'op':<18} {'scale':>12} {'zp':>5} {'SNR dB':>8}\n")
    for s in report.layers:
        mark = "  <- loses most" if id(s) in flagged else ""
        stream.write(f"  {s.name:<{width}}  {s.op:<18} {s.scale:>12.6g} {s.zero_point:>5} "
                     f"{s.snr_db:>8.2f}{mark}\n")
