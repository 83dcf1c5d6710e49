"""`verify`: build the generated C with the host cc, run it, and compare its outputs with a
reference (tinyc.reference), saying which reference and which tolerances decided. The CLI
prints the result; `tinyc.verify` returns it."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tinyc.display import shown

if TYPE_CHECKING:
    from tinyc.compiler import Options
    from tinyc.ir import Graph


@dataclass(frozen=True)
class OutputCheck:
    """One output of the C against the reference."""

    name: str
    max_abs_err: float
    max_rel_err: float
    #: "rtol R, atol A" for a float output; "exact" for an integer one
    tolerance: str
    ok: bool


@dataclass(frozen=True)
class VerifyResult:
    #: "onnxruntime" or "tinyc's interpreter"
    reference: str
    outputs: tuple[OutputCheck, ...]
    arena_bytes: int
    #: lines saying why the reference is not onnxruntime when it was wanted
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outputs)

    def lines(self) -> list[str]:
        """The notes, then one line per output: errors, reference, tolerances, verdict."""
        return [*self.notes, *(
            f"{shown(o.name)}: max abs err {o.max_abs_err:.3g}, max rel err {o.max_rel_err:.3g} "
            f"vs {self.reference} ({o.tolerance}): {'ok' if o.ok else 'MISMATCH'}"
            for o in self.outputs)]


def default_inputs(graph: Graph) -> list[np.ndarray]:
    """Inputs when the user gives none: seeded, so a run is repeatable."""
    rng = np.random.default_rng(0)
    return [
        rng.standard_normal(v.shape).astype(v.dtype.np)
        if v.dtype.is_float
        else rng.integers(0, 3, v.shape).astype(v.dtype.np)
        for v in graph.inputs
    ]


def shaped_inputs(graph: Graph, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    """User input arrays (a file's or the API caller's), one per model input, as the
    model's shapes and types; any array holding the right number of values will do."""
    from tinyc.errors import UsageError

    if len(arrays) != len(graph.inputs):
        raise UsageError(f"{len(arrays)} input arrays for {len(graph.inputs)} model inputs")
    out = []
    for value, data in zip(graph.inputs, arrays):
        array = np.asarray(data)
        if array.size != value.type.numel:
            raise UsageError(
                f"input '{value.name}': {array.size} values, the model needs {list(value.shape)}"
            )
        out.append(array.reshape(value.shape).astype(value.dtype.np))
    return out


def verify_on_host(model: str, graph: Graph, options: Options, name: str,
                   inputs: Sequence[np.ndarray], rtol: float, atol: float,
                   sanitize: bool = False) -> VerifyResult:
    """Compile the optimized `graph`, run it on `inputs`, compare with the reference
    `tinyc.reference.semantic_model` names (the interpreter for a quantized or pruned
    model). Raises VerifyError when the C does not build or run. Each step is reported
    as `options.progress` asks."""
    from tinyc.compiler import compile_graph
    from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
    from tinyc.progress import progress
    from tinyc.reference import reference_outputs, semantic_model

    steps = progress(options.progress)
    with steps.step(f"generating the C of {shown(name)}"):
        compiled = compile_graph(graph, options, name)
    with tempfile.TemporaryDirectory(prefix="tinyc-verify-") as tmp:
        out = Path(tmp)
        compiled.code.write(out)
        flags = SANITIZE_FLAGS if sanitize else []
        with steps.step("building the C with the host cc" + (" (ASan/UBSan)" if sanitize else "")):
            exe = build_host(out, graph, compiled.code.name, flags, arena=options.arena)
        with steps.step("running the C"):
            got = run_host(exe, graph, inputs)
    notes: list[str] = []
    with steps.step("computing the reference outputs"):
        reference, expected = reference_outputs(semantic_model(model, graph, options),
                                                graph, inputs, options, say=notes.append)
    checks = tuple(check_output(value.name, g, np.asarray(e), rtol, atol)
                   for value, g, e in zip(graph.outputs, got, expected, strict=True))
    return VerifyResult(reference, checks, compiled.plan.size, tuple(notes))


def check_output(name: str, got: np.ndarray, want: np.ndarray, rtol: float,
                 atol: float) -> OutputCheck:
    """One output against its reference: allclose for floats, exact for integers (`verify`
    and `validate` both judge with this)."""
    if got.shape != want.shape and got.size == want.size:
        want = want.reshape(got.shape)
    if got.dtype.kind == "f":
        diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
        rel = diff / np.maximum(np.abs(want.astype(np.float64)), 1e-30)
        good = bool(np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True))
        return OutputCheck(name, _max(diff), _max(rel), tolerances(rtol, atol), good)
    diff = np.abs(got.astype(np.int64) - want.astype(np.int64))
    return OutputCheck(name, _max(diff), 0.0, "exact", bool(np.array_equal(got, want)))


def tolerances(rtol: float, atol: float) -> str:
    return f"rtol {rtol:g}, atol {atol:g}"


def _max(values: np.ndarray) -> float:
    return float(values.max()) if values.size else 0.0
