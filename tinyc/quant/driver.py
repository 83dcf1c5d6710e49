"""The compiler's quantization stage: `--quantize int8|int16x8|dynamic`, `--calib`, `--io`.

It runs after the float pass pipeline (so batch norms are folded and activations fused
before anything is calibrated) and before memory planning.
"""

from __future__ import annotations

from typing import Protocol

from tinyc.errors import UsageError
from tinyc.ir import DType, Graph
from tinyc.passes.base import PassContext
from tinyc.passes.quantize_dynamic import QuantizeDynamic
from tinyc.passes.quantize_int8 import (
    QUANTIZED_KEY,
    QuantizeInt8,
    expose_int8_io,
    prepare_for_quantization,
)
from tinyc.progress import progress
from tinyc.quant.calibration import METHODS, calibrate, load_samples
from tinyc.quant.lower import float_ops

#: the static modes and their activation dtype (weights are int8 in both)
STATIC_MODES = {"int8": DType.I8, "int16x8": DType.I16}


class QuantOptions(Protocol):
    """The fields of `tinyc.compiler.Options` this stage reads."""

    quantize: str | None
    calib: str | None
    calib_method: str
    io: str
    progress: bool


def quantize_graph(graph: Graph, options: QuantOptions, ctx: PassContext) -> Graph:
    """Quantize `graph` as the options ask, then set its interface dtype."""
    mode = options.quantize
    if mode not in (None, "", *STATIC_MODES, "dynamic"):
        raise UsageError(f"--quantize {mode}: use int8, int16x8 or dynamic")
    if options.calib_method not in METHODS:
        raise UsageError(f"--calib-method {options.calib_method}: use {', '.join(METHODS)}")
    if options.io not in ("float", "int8"):
        raise UsageError(f"--io {options.io}: use float or int8")
    if mode in STATIC_MODES:
        if not options.calib:
            raise UsageError(f"--quantize {mode} needs calibration samples: --calib DATA.npy")
        if QUANTIZED_KEY in graph.metadata:
            raise UsageError(f"--quantize {mode}: the model is already quantized")
        samples = load_samples(options.calib, graph)
        prepare_for_quantization(graph)
        ranges = calibrate(graph, samples, options.calib_method,
                           progress=progress(options.progress), activations=STATIC_MODES[mode])
        how = f"{mode} static ({options.calib_method}, {len(samples)} calibration samples)"
        graph = QuantizeInt8(ranges=ranges, description=how,
                             activations=STATIC_MODES[mode])(graph, ctx).graph
    elif mode == "dynamic":
        if options.calib:
            raise UsageError("--calib is for --quantize int8 (dynamic needs no data)")
        graph = QuantizeDynamic()(graph, ctx).graph
    elif options.calib:
        raise UsageError("--calib needs --quantize int8 or int16x8")
    if options.io == "int8":
        if mode != "int8":
            raise UsageError("--io int8 needs a model quantized with --quantize int8")
        expose_int8_io(graph)
    return graph


def float_ops_message(graph: Graph) -> str | None:
    """One line naming the ops of a quantized graph that run in float, or None."""
    ops = float_ops(graph)
    if QUANTIZED_KEY not in graph.metadata or not ops:
        return None
    return f"tinyc: {len(ops)} op(s) without an integer kernel run in float: {', '.join(ops)}"
