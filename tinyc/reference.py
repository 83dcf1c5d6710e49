"""The outputs `verify` and `validate` compare the generated C with, and which reference
gave them. One place, so both commands choose the same reference and say the same thing
when they cannot use onnxruntime, TFLite Micro or LiteRT (never a silent switch to tinyc's
own interpreter)."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from tinyc.display import shown

if TYPE_CHECKING:
    from tinyc.compiler import Options
    from tinyc.ir import Graph

ONNXRUNTIME = "onnxruntime"
TFLITE_MICRO = "TFLite Micro"
LITERT = "LiteRT"
INTERPRETER = "tinyc's interpreter"
MISSING_ONNXRUNTIME = f"tinyc: onnxruntime is not installed: comparing with {INTERPRETER}"
MISSING_TFLITE_MICRO = f"tinyc: tflite-micro is not installed: comparing with {INTERPRETER}"


def semantic_model(model: str, graph: Graph, options: Options) -> str:
    """The model file whose outputs the C must match, or "" when only the compiled graph
    holds its semantics: a quantized model (by tinyc, or an imported QDQ one), whose
    integer C the interpreter matches bit for bit, and a pruned one (the file holds the
    unpruned weights). A dynamic-range ("hybrid") .tflite model keeps its file: its
    activations are float, and LiteRT defines them. `verify` and `validate` both ask here."""
    from tinyc.passes.quantize_int8 import QUANTIZED_KEY

    if options.quantize or options.prune:
        return ""
    if QUANTIZED_KEY in graph.metadata and not (model.endswith(".tflite")
                                                and _dynamic_range(graph)):
        return ""
    return model


def _dynamic_range(graph: Graph) -> bool:
    """Whether the only integer tensors the graph computes are its activations quantized at
    run time (DynamicQuantizeLinear), as in a TFLite hybrid model."""
    return not any(v.dtype.is_int for n in graph.nodes if n.op != "DynamicQuantizeLinear"
                   for v in n.outputs if v is not None)


def reference_outputs(
    model: str, graph: Graph, inputs: Sequence[np.ndarray], options: Options | None = None,
    *, say: Callable[[str], None] = print,
) -> tuple[str, list[np.ndarray]]:
    """(reference name, outputs): onnxruntime on `model` when it is an .onnx file, TFLite
    Micro's interpreter when it is a .tflite file (LiteRT when TFLite Micro refuses it:
    hybrid kernels, float16 weights), else the interpreter on the compiled graph (the
    caller passes `semantic_model`'s answer). `say` gets one line whenever onnxruntime or
    TFLite Micro was wanted but could not be used. onnxruntime also gets the `--const`
    values."""
    if model.endswith(".onnx"):
        outputs = _onnxruntime_outputs(model, graph, inputs, options, say)
        if outputs is not None:
            return ONNXRUNTIME, outputs
    if model.endswith(".tflite"):
        found = _tflite_outputs(model, graph, inputs, say)
        if found is not None:
            return found
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
        say(f"tinyc: onnxruntime cannot run the model ({_why(exc)}); "
            f"comparing with {INTERPRETER}")
        return None


def _tflite_outputs(model: str, graph: Graph, inputs: Sequence[np.ndarray],
                    say: Callable[[str], None]) -> tuple[str, list[np.ndarray]] | None:
    """TFLite Micro's outputs (the `tflite-micro` package, a test extra), in the model's
    order, which is the compiled graph's (tinyc.frontend.tflite keeps it); LiteRT's
    (`ai-edge-litert`) when TFLite Micro refuses the model."""
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError:
        say(MISSING_TFLITE_MICRO)
        return None
    with tempfile.TemporaryFile() as log:
        try:
            with _stderr_to(log):
                interp = runtime.Interpreter.from_file(model)
                for i, x in enumerate(inputs):
                    interp.set_input(np.asarray(x), i)
                interp.invoke()
            return TFLITE_MICRO, [np.asarray(interp.get_output(i))
                                  for i in range(len(graph.outputs))]
        except Exception as exc:  # TFLite Micro refuses some models tinyc compiles
            why = _why(exc)
        log.seek(0)
        said = [ln for ln in log.read().decode(errors="replace").splitlines() if ln.strip()]
    refused = f"tinyc: TFLite Micro cannot run the model ({shown(said[0][:160]) if said else why})"
    outputs = _litert_outputs(model, inputs, say, refused)
    return None if outputs is None else (LITERT, outputs)


def _litert_outputs(model: str, inputs: Sequence[np.ndarray], say: Callable[[str], None],
                    refused: str) -> list[np.ndarray] | None:
    """LiteRT's outputs with its builtin kernels (no XNNPACK delegate, which also prints
    a line), in the model's order; `refused` says why TFLite Micro was not used."""
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:
        say(f"{refused}, and ai-edge-litert is not installed: comparing with {INTERPRETER}")
        return None
    try:
        lite = Interpreter(model_path=model, experimental_op_resolver_type=(
            OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES))
        lite.allocate_tensors()
        for detail, x in zip(lite.get_input_details(), inputs, strict=True):
            lite.set_tensor(detail["index"], np.asarray(x, dtype=detail["dtype"]))
        lite.invoke()
        outputs = [np.asarray(lite.get_tensor(d["index"])) for d in lite.get_output_details()]
    except Exception as exc:  # LiteRT refuses it too
        say(f"{refused}, nor can LiteRT ({_why(exc)}); comparing with {INTERPRETER}")
        return None
    say(f"{refused}: comparing with {LITERT}")
    return outputs


@contextmanager
def _stderr_to(log: BinaryIO) -> Iterator[None]:
    """File descriptor 2 into `log` for a while: TFLite Micro's C++ prints why it refuses a
    model there, which becomes part of tinyc's one line instead of stray lines."""
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _why(exc: Exception) -> str:
    """The first line of a reference runtime's exception, shown safely and short."""
    why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return shown(why[:160])
