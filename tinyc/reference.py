"""The outputs `verify` and `validate` compare the generated C with, and which reference
gave them. One place, so both commands choose the same reference and say the same thing
when they cannot use onnxruntime (never a silent switch to tinyc's own interpreter)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from tinyc.display import shown

if TYPE_CHECKING:
    from tinyc.compiler import Options
    from tinyc.ir import Graph

ONNXRUNTIME = "onnxruntime"
TFLITE_MICRO = "TFLite Micro"
INTERPRETER = "tinyc's interpreter"
MISSING_ONNXRUNTIME = f"tinyc: onnxruntime is not installed: comparing with {INTERPRETER}"
MISSING_TFLITE_MICRO = f"tinyc: tflite-micro is not installed: comparing with {INTERPRETER}"


def semantic_model(model: str, graph: Graph, options: Options) -> str:
    """The model file whose outputs the C must match, or "" when only the compiled graph
    holds its semantics: a quantized model (by tinyc, or an imported QDQ one), whose
    integer C the interpreter matches bit for bit, and a pruned one (the file holds the
    unpruned weights). `verify` and `validate` both ask here."""
    from tinyc.passes.quantize_int8 import QUANTIZED_KEY

    if options.quantize or options.prune or QUANTIZED_KEY in graph.metadata:
        return ""
    return model


def reference_outputs(
    model: str, graph: Graph, inputs: Sequence[np.ndarray], options: Options | None = None,
    *, say: Callable[[str], None] = print,
) -> tuple[str, list[np.ndarray]]:
    """(reference name, outputs): onnxruntime on `model` when it is an .onnx file, TFLite
    Micro's interpreter when it is a .tflite file, else the interpreter on the compiled
    graph (the caller passes `semantic_model`'s answer). `say` gets one line whenever
    onnxruntime or TFLite Micro was wanted but could not be used. onnxruntime also gets the
    `--const` values."""
    if model.endswith(".onnx"):
        outputs = _onnxruntime_outputs(model, graph, inputs, options, say)
        if outputs is not None:
            return ONNXRUNTIME, outputs
    if model.endswith(".tflite"):
        outputs = _tflite_micro_outputs(model, graph, inputs, say)
        if outputs is not None:
            return TFLITE_MICRO, outputs
    from tinyc.interp import run_graph

    feeds = {v.name: x for v, x in zip(graph.inputs, inputs, strict=True)}
    return INTERPRETER, [np.asarray(o) for o in run_graph(graph, feeds)]


def _onnxruntime_outputs(model: str, graph: Graph, inputs: Sequence[np.ndarray],
                         options: Options | None,
                         say: Callable[[str], None]) -> list[np.ndarray] | None:
    try:
        import onnxruntime as ort
    except ImportError:
        say(MISSING_ONNXRUNTIME)
        return None
    from tinyc.compiler import Options
    from tinyc.frontend.consts import model_feeds

    options = options or Options()
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    feeds = model_feeds(model, [v.name for v in graph.inputs], list(inputs), options.consts,
                        options.shapes)
    try:
        sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
        return [np.asarray(o) for o in sess.run(None, feeds)]
    except Exception as exc:  # onnxruntime refuses some models tinyc compiles
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        say(f"tinyc: onnxruntime cannot run the model ({shown(why[:160])}); "
            f"comparing with {INTERPRETER}")
        return None


def _tflite_micro_outputs(model: str, graph: Graph, inputs: Sequence[np.ndarray],
                          say: Callable[[str], None]) -> list[np.ndarray] | None:
    """TFLite Micro's outputs (the `tflite-micro` package, a test extra), in the model's
    order, which is the compiled graph's (tinyc.frontend.tflite keeps it)."""
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError:
        say(MISSING_TFLITE_MICRO)
        return None
    try:
        interp = runtime.Interpreter.from_file(model)
        for i, x in enumerate(inputs):
            interp.set_input(np.asarray(x), i)
        interp.invoke()
        return [np.asarray(interp.get_output(i)) for i in range(len(graph.outputs))]
    except Exception as exc:  # TFLite Micro refuses some models tinyc compiles
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        say(f"tinyc: TFLite Micro cannot run the model ({shown(why[:160])}); "
            f"comparing with {INTERPRETER}")
        return None
