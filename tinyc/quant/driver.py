"""The compiler's quantization stage: `--quantize int8|dynamic|float16`, `--calib`, `--io`,
`--weight-bits`.

It runs after the float pass pipeline (so batch norms are folded and activations fused
before anything is calibrated) and before memory planning.
"""

from __future__ import annotations

from typing import Protocol

from tinyc.errors import UsageError
from tinyc.ir import Graph
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


class QuantOptions(Protocol):
    """The fields of `tinyc.compiler.Options` this stage reads."""

    quantize: str | None
    calib: str | None
    calib_method: str
    weight_bits: int
    weight_clip: str | None
    io: str
    progress: bool


def quantize_graph(graph: Graph, options: QuantOptions, ctx: PassContext) -> Graph:
    """Quantize `graph` as the options ask, then set its interface dtype."""
    mode = options.quantize
    if mode not in (None, "", "int8", "dynamic", "float16"):
        raise UsageError(f"--quantize {mode}: use int8, dynamic or float16")
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
    if mode == "int8":
        if not options.calib:
            raise UsageError("--quantize int8 needs calibration samples: --calib DATA.npy")
        if QUANTIZED_KEY in graph.metadata:
            raise UsageError("--quantize int8: the model is already quantized")
        samples = load_samples(options.calib, graph)
        prepare_for_quantization(graph)
        ranges = calibrate(graph, samples, options.calib_method,
                           progress=progress(options.progress))
        how = f"int8 static ({options.calib_method}, {len(samples)} calibration samples)"
        if options.weight_bits == 4:
            how += f", int4 weights ({clip} clip)"
        graph = QuantizeInt8(ranges=ranges, description=how, weight_bits=options.weight_bits,
                             weight_clip=clip)(graph, ctx).graph
    elif mode == "dynamic":
        if options.calib:
            raise UsageError("--calib is for --quantize int8 (dynamic needs no data)")
        graph = QuantizeDynamic()(graph, ctx).graph
    elif mode == "float16":
        if options.calib:
            raise UsageError("--calib is for --quantize int8 (float16 needs no data)")
        graph = QuantizeFloat16()(graph, ctx).graph
    elif options.calib:
        raise UsageError("--calib needs --quantize int8")
    if options.weight_bits == 4 and imported:
        kept = store_int4_weights(graph)
        if kept:
            graph.metadata[INT4_KEPT_KEY] = ", ".join(f"'{n.name}'" for n in kept)
    if options.io == "int8":
        if mode in ("dynamic", "float16"):
            raise UsageError("--io int8 needs a statically quantized model")
        expose_int8_io(graph)
    return graph


def int4_message(graph: Graph) -> str | None:
    """One line naming the conv/fc layers `--weight-bits 4` left at int8 (an imported model's
    weights outside [-8, 7]), or None."""
    kept = graph.metadata.get(INT4_KEPT_KEY)
    if not kept:
        return None
    return f"tinyc: note: weights outside [-8, 7] stay int8: {kept}"


def float_ops_message(graph: Graph) -> str | None:
    """One line naming the ops of a quantized graph that run in float, or None."""
    ops = float_ops(graph)
    if QUANTIZED_KEY not in graph.metadata or not ops:
        return None
    return f"tinyc: {len(ops)} op(s) without an integer kernel run in float: {', '.join(ops)}"
