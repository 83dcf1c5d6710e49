"""The compiler's quantization stage: `--quantize int8|int16x8|dynamic|float16`, `--calib`,
`--io`, `--weight-bits`, `--layer-precision`.

It runs after the float pass pipeline (so batch norms are folded and activations fused
before anything is calibrated) and before memory planning. `--quantize auto` is resolved
before the pipeline runs (`tinyc.quant.auto` chooses the per-layer precisions, then this
stage quantizes with them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from tinyc.display import shown
from tinyc.errors import UsageError
from tinyc.ir import DType, Graph
from tinyc.ops.qint4 import store_int4_weights
from tinyc.passes.base import PassContext
from tinyc.passes.quantize_dynamic import QuantizeDynamic
from tinyc.passes.quantize_float16 import QuantizeFloat16
from tinyc.passes.quantize_int8 import (
    QUANTIZED_KEY,
    QuantizeInt8,
    expose_int8_io,
    prepare_for_quantization,
)
from tinyc.progress import progress
from tinyc.quant.calibration import METHODS, calibrate, load_samples
from tinyc.quant.lower import float_ops
from tinyc.quant.params import WEIGHT_CLIPS, default_weight_clip

#: graph metadata: the layers `--weight-bits 4` kept at int8 (an imported model's)
INT4_KEPT_KEY = "tinyc int4 weights kept int8"

#: the static modes and their activation dtype (weights are int8 in both)
STATIC_MODES = {"int8": DType.I8, "int16x8": DType.I16}

#: the precisions a layer of a statically quantized graph can take, most precise first, per
#: static mode (`--layer-precision`, and the candidates `--quantize auto` chooses among):
#: float32, float with IEEE half weights, and the mode's integer layers: int8 activations
#: with 8- or 4-bit weights, or int16 activations with 8-bit weights. One graph has one
#: activation dtype: an int8/int16 boundary would need a requantize op between the two,
#: which the integer ops do not have (`Lowering.finish` refuses mixed dtypes), and a float
#: round trip there costs more than the layer saves.
MODE_PRECISIONS = {"int8": ("float32", "float16", "int8", "int4"),
                   "int16x8": ("float32", "float16", "int16x8")}
LAYER_PRECISIONS = ("float32", "float16", "int16x8", "int8", "int4")
#: the per-layer precisions that keep the layer in float, and the weight bits of the others
FLOAT_PRECISIONS = ("float32", "float16")
WEIGHT_BITS = {"int16x8": 8, "int8": 8, "int4": 4}
#: the ops a layer precision applies to (a constant weight), and those with int4-weight
#: kernels (the recurrent ones have none)
LAYER_OPS = ("Conv", "Gemm", "MatMul", "RNN", "GRU", "LSTM")
INT4_OPS = ("Conv", "Gemm", "MatMul")


def mode_of(activations: DType) -> str:
    """The static mode whose activations are `activations`."""
    return next(m for m, d in STATIC_MODES.items() if d is activations)


def takes(op: str, precision: str) -> bool:
    """Whether a layer of `op` has kernels for `precision` (int4: not the recurrent ops)."""
    return precision != "int4" or op in INT4_OPS


class QuantOptions(Protocol):
    """The fields of `tinyc.compiler.Options` this stage reads."""

    quantize: str | None
    calib: str | None
    calib_method: str
    weight_bits: int
    weight_clip: str | None
    io: str
    progress: bool
    layer_precision: tuple[tuple[str, str], ...]


def quantize_graph(graph: Graph, options: QuantOptions, ctx: PassContext) -> Graph:
    """Quantize `graph` as the options ask, then set its interface dtype."""
    mode = options.quantize
    if mode == "auto":
        raise UsageError("--quantize auto needs the model file and --eval data "
                         "(tinyc.quant.auto resolves it before compiling)")
    if mode not in (None, "", *STATIC_MODES, "dynamic", "float16"):
        raise UsageError(f"--quantize {mode}: use int8, int16x8, dynamic, float16 or auto")
    if options.calib_method not in METHODS:
        raise UsageError(f"--calib-method {options.calib_method}: use {', '.join(METHODS)}")
    if options.weight_bits not in (4, 8):
        raise UsageError(f"--weight-bits {options.weight_bits}: use 8 or 4")
    clip = options.weight_clip or default_weight_clip(options.weight_bits)
    if clip not in WEIGHT_CLIPS:
        raise UsageError(f"--weight-clip {options.weight_clip}: use {', '.join(WEIGHT_CLIPS)}")
    imported = mode is None and any(n.op in ("QConv", "QGemm") for n in graph.nodes)
    if options.weight_bits == 4 and mode != "int8" and not imported:
        raise UsageError("--weight-bits 4 needs --quantize int8 or a quantized model")
    if options.weight_clip and mode != "int8":
        raise UsageError("--weight-clip needs --quantize int8")
    if options.io not in ("float", "int8"):
        raise UsageError(f"--io {options.io}: use float or int8")
    if mode in STATIC_MODES:
        if not options.calib:
            raise UsageError(f"--quantize {mode} needs calibration samples: --calib DATA.npy")
        if QUANTIZED_KEY in graph.metadata:
            raise UsageError(f"--quantize {mode}: the model is already quantized")
        # bad flags fail before calibrating
        layer_precisions(graph, options.layer_precision, STATIC_MODES[mode])
        ranges, how = calibrated_ranges(graph, options)
        if options.weight_bits == 4:
            how += f", int4 weights ({clip} clip)"
        graph = quantize_static(graph, ranges, how, options.layer_precision, ctx,
                                weight_bits=options.weight_bits, weight_clip=options.weight_clip,
                                activations=STATIC_MODES[mode])
    elif options.layer_precision:
        raise UsageError("--layer-precision needs --quantize int8 or int16x8 (or auto)")
    elif mode == "dynamic":
        if options.calib:
            raise UsageError("--calib is for --quantize int8 (dynamic needs no data)")
        graph = QuantizeDynamic()(graph, ctx).graph
    elif mode == "float16":
        if options.calib:
            raise UsageError("--calib is for --quantize int8 (float16 needs no data)")
        graph = QuantizeFloat16()(graph, ctx).graph
    elif options.calib:
        raise UsageError("--calib needs --quantize int8 or int16x8")
    if options.weight_bits == 4 and imported:
        kept = store_int4_weights(graph)
        if kept:
            graph.metadata[INT4_KEPT_KEY] = ", ".join(f"'{n.name}'" for n in kept)
    if options.io == "int8":
        if mode in ("dynamic", "float16", "int16x8"):
            raise UsageError("--io int8 needs an int8 model (--quantize int8 or a quantized "
                             "file)")
        expose_int8_io(graph)
    return graph


def int4_message(graph: Graph) -> str | None:
    """One line naming the conv/fc layers `--weight-bits 4` left at int8 (an imported model's
    weights outside [-8, 7]), or None."""
    kept = graph.metadata.get(INT4_KEPT_KEY)
    if not kept:
        return None
    return f"tinyc: note: weights outside [-8, 7] stay int8: {kept}"


def calibrated_ranges(graph: Graph, options: QuantOptions,
                      mode: str | None = None) -> tuple[dict, str]:
    """Prepare `graph` for static quantization and calibrate it on `options.calib` for
    `mode`'s activations (default: `options.quantize`'s, int8 when it is not static):
    (value name -> range, the description recorded in the graph's metadata)."""
    mode = mode or (options.quantize if options.quantize in STATIC_MODES else "int8")
    samples = load_samples(options.calib, graph)  # type: ignore[arg-type]
    prepare_for_quantization(graph)
    ranges = calibrate(graph, samples, options.calib_method,
                       progress=progress(options.progress), activations=STATIC_MODES[mode])
    return ranges, f"{mode} static ({options.calib_method}, {len(samples)} calibration samples)"


def quantize_static(graph: Graph, ranges: Mapping[str, tuple[float, float]], how: str,
                    precisions: Iterable[tuple[str, str]], ctx: PassContext, *,
                    weight_bits: int = 8, weight_clip: str | None = None,
                    activations: DType = DType.I8) -> Graph:
    """Static quantization (int8 or int16 `activations`) of a prepared, calibrated graph,
    with per-layer precision: `precisions` pairs node-name patterns (shell wildcards, the
    last match wins) with one of the mode's MODE_PRECISIONS. A layer at float32 or float16
    stays float between its DequantizeLinear and QuantizeLinear (float16: its weights then
    become IEEE half); int16x8, int8 and int4 set that layer's weight bits (the others take
    `weight_bits`; no `weight_clip`: each layer's bits choose their default clip)."""
    chosen = layer_precisions(graph, precisions, activations)
    kept = {p: frozenset(n for n, c in chosen.items() if c == p) for p in FLOAT_PRECISIONS}
    bits = {n: WEIGHT_BITS[c] for n, c in chosen.items() if c in WEIGHT_BITS}
    for p in LAYER_PRECISIONS:  # the layers off the graph's own mode, in its description
        odd = sorted(n for n, c in chosen.items() if c == p and bits.get(n) != weight_bits)
        if odd:
            how += f", {p} layers: {', '.join(odd)}"
    graph = QuantizeInt8(ranges=ranges, description=how,
                         float_layers=kept["float32"] | kept["float16"],
                         weight_bits=weight_bits, weight_clip=weight_clip,
                         layer_weight_bits=bits, activations=activations)(graph, ctx).graph
    if kept["float16"]:
        graph = QuantizeFloat16(layers=kept["float16"])(graph, ctx).graph
    return graph


def layer_precisions(graph: Graph, precisions: Iterable[tuple[str, str]],
                     activations: DType = DType.I8) -> dict[str, str]:
    """Node name -> precision for the nodes the (pattern, precision) pairs match (the last
    match wins), refusing a precision the graph's mode or the layer's op has no kernel for."""
    import fnmatch

    mode = mode_of(activations)
    chosen: dict[str, str] = {}
    source: dict[str, str] = {}  # node name -> the pattern that chose its precision
    for pattern, precision in precisions:
        if precision not in LAYER_PRECISIONS:
            raise UsageError(f"--layer-precision {shown(pattern)}={shown(precision)}: "
                             f"use one of {', '.join(LAYER_PRECISIONS)}")
        if precision not in MODE_PRECISIONS[mode]:
            needs = next(m for m, ps in MODE_PRECISIONS.items() if precision in ps)
            raise UsageError(f"--layer-precision {shown(pattern)}={precision} needs "
                             f"--quantize {needs} (one activation dtype per graph: with "
                             f"--quantize {mode} a layer is "
                             f"{', '.join(MODE_PRECISIONS[mode])})")
        hits = [n.name for n in graph.nodes if fnmatch.fnmatchcase(n.name, pattern)]
        if not hits:
            raise UsageError(f"--layer-precision {shown(pattern)}: no node of the model "
                             "matches (see tinyc ir MODEL for the node names)")
        chosen.update((name, precision) for name in hits)
        source.update((name, pattern) for name in hits)
    for node in graph.nodes:
        if node.name in chosen and node.op in LAYER_OPS and not takes(node.op, chosen[node.name]):
            raise UsageError(f"--layer-precision {shown(source[node.name])}="
                             f"{chosen[node.name]}: {shown(node.name)} is a {node.op}, which "
                             f"has no {chosen[node.name]} kernel (int4 weights are for "
                             f"{', '.join(INT4_OPS)})")
    return chosen


def parse_layer_precision(items: list[str]) -> tuple[tuple[str, str], ...]:
    """`--layer-precision PATTERN=PRECISION` values (repeatable, comma-separated)."""
    out: list[tuple[str, str]] = []
    for item in items:
        for word in (w.strip() for w in item.split(",")):
            pattern, eq, precision = word.rpartition("=")
            if not eq or not pattern or not precision:
                raise UsageError(f"--layer-precision {shown(word)}: use NODE=PRECISION "
                                 f"(PRECISION one of {', '.join(LAYER_PRECISIONS)})")
            out.append((pattern, precision))
    return tuple(out)


def float_ops_message(graph: Graph) -> str | None:
    """One line naming the ops of a quantized graph that run in float, or None."""
    ops = float_ops(graph)
    if QUANTIZED_KEY not in graph.metadata or not ops:
        return None
    return f"tinyc: {len(ops)} op(s) without an integer kernel run in float: {', '.join(ops)}"
