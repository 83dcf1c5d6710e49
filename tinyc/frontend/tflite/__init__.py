"""The TFLite frontend: a `.tflite` flatbuffer -> the ONNX form tinyc already imports ->
tinyc's IR. The flatbuffer is read with the `tflite` package (`reader`); each builtin op
becomes the ONNX ops that mean the same (`ops`), in NCHW with quantized tensors kept as
integers between DequantizeLinear/QuantizeLinear (`builder`), so the ONNX importer, the
passes (`qdq-lower` makes the integer ops), the planner and the kernels serve both."""

from __future__ import annotations

from pathlib import Path

import onnx

from tinyc.errors import UnsupportedError, UsageError
from tinyc.frontend.tflite.builder import NHWC, OnnxBuilder
from tinyc.frontend.tflite.constants import fold_constant_dequantize
from tinyc.frontend.tflite.ops import CONVERTERS, check_operator
from tinyc.frontend.tflite.reader import Subgraph, read_tflite
from tinyc.ir import Graph
from tinyc.quant import semantics

SUFFIX = ".tflite"


def load_tflite(path: str | Path, shapes: dict[str, tuple[int, ...]] | None = None) -> Graph:
    """A .tflite file as an IR graph (not yet verified), or a one-line error naming the
    first unsupported operator and its index."""
    from tinyc.frontend.onnx import import_model

    path = Path(path)
    sub = read_tflite(path)
    if shapes:
        raise UsageError("--shape applies to ONNX models: a TFLite model's shapes are fixed")
    b = tflite_builder(sub, path.stem)
    # the integer ops compute what TFLite Micro's kernels compute (`semantics.TFLITE`)
    graph = import_model(b.model(), {}, name=path.stem, quant_semantics=semantics.TFLITE)
    for node in graph.nodes:
        node.attrs.update(b.ir_attrs.get(node.name, {}))
    graph.metadata["source"] = f"TFLite ({path.name})"
    return graph


def tflite_to_onnx(sub: Subgraph, name: str) -> onnx.ModelProto:
    """The subgraph as an onnx.ModelProto (opset 14, QDQ form for quantized tensors)."""
    return tflite_builder(sub, name).model()


def tflite_builder(sub: Subgraph, name: str) -> OnnxBuilder:
    """The builder holding the subgraph's ONNX form (and its IR-only attributes)."""
    b = OnnxBuilder(fold_constant_dequantize(sub), name)
    for t in sub.inputs:
        b.alias(t, b.tensor_name(t, NHWC))
    for op in sub.operators:
        convert = CONVERTERS.get(op.name)
        if convert is None:
            kind, _, custom = op.name.partition("CUSTOM:")
            what = f"custom operator {op.index} ({custom})" if custom else \
                f"operator {op.index} ({kind})"
            raise UnsupportedError(f"TFLite {what} is not supported")
        check_operator(b, op)
        b.label = f"{op.name.lower()}_{op.index}"
        convert(b, op)
    return b
