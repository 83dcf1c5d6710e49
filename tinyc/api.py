"""The Python API: what `tinyc MODEL -o OUT` does, callable from a script.

A thin layer over tinyc.compiler (the one pipeline the CLI also runs) that takes Python
values instead of command-line strings. Errors raise the tinyc.errors classes, whose
`exit_code` is the CLI's. Heavy modules load on the first call, so `import tinyc` stays cheap.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tinyc.errors import UsageError

if TYPE_CHECKING:
    import numpy as np

    from tinyc.hostverify import VerifyResult
    from tinyc.ir import Graph
    from tinyc.mcu.validate import ValidateResult
    from tinyc.memory import ArenaPlan
    from tinyc.quant.auto import AutoResult

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class CompileResult:
    """What one compile wrote, and the numbers `tinyc MODEL -o OUT` prints."""

    #: the C name prefix: OUT/NAME.c, OUT/NAME.h, NAME_run
    name: str
    #: the output directory (absolute, symlinks resolved)
    out_dir: Path
    #: every generated file in OUT, sorted (the manifest lists them)
    files: tuple[Path, ...]
    #: bytes of the one static arena (activations and scratch)
    arena_bytes: int
    #: bytes of the constant weights (flash)
    weight_bytes: int
    #: the memory plan: where each tensor lives in the arena
    plan: ArenaPlan
    #: the optimized graph the C was generated from
    graph: Graph
    #: `quantize="auto"`: the per-layer choice, its accuracy (also as the generated C) and
    #: objective (tinyc.quant.auto); None otherwise
    auto: AutoResult | None = None

    @property
    def source(self) -> Path:
        return self._file(f"{self.name}.c")

    @property
    def header(self) -> Path:
        return self._file(f"{self.name}.h")

    def _file(self, name: str) -> Path:
        """OUT/name, or OUT/src/name in an Arduino layout."""
        return next(f for f in self.files if f.name == name)


def load(model: PathLike, shapes: Mapping[str, Sequence[int]] | None = None) -> Graph:
    """An .onnx or .tir file as a verified IR graph, symbolic dimensions bound by `shapes`
    (input name -> dims), as `tinyc ir MODEL --shape ...` reads it (before optimization)."""
    from tinyc.compiler import Options, load_model

    return load_model(_model_path(model), Options(shapes=_shapes(shapes)))


def compile(  # noqa: A001 (the API's name for the one thing tinyc does)
    model: PathLike,
    out_dir: PathLike,
    *,
    name: str | None = None,
    target: str = "generic",
    shapes: Mapping[str, Sequence[int]] | None = None,
    quantize: str | None = None,
    calib: PathLike | None = None,
    calib_method: str = "minmax",
    weight_bits: int = 8,
    weight_clip: str | None = None,
    io: str = "float",
    layer_precision: Mapping[str, str] | None = None,
    eval_data: tuple[PathLike, PathLike] | None = None,
    max_drop: float | None = None,
    objective: str = "flash",
    prune: str | None = None,
    opt_level: int = 1,
    arena: str = "static",
    report: bool = False,
    consts: Mapping[str, object] | None = None,
    layout: str = "plain",
    progress: bool = False,
    weight_layout: str = "speed",
) -> CompileResult:
    """Compile `model` into `out_dir`, as `tinyc MODEL -o OUT` with the same-named flags.
    `consts` is `--const`: input name -> a number, a list of numbers or a numpy array.
    `layer_precision` is `--layer-precision`: node-name pattern -> precision.
    `quantize="auto"` chooses each layer's precision on `eval_data` (samples .npy, labels
    .npy) within `max_drop` percentage points of float, minimising `objective` (flash:
    weights and linked kernel code compiled for `target`; ram or latency), and confirms
    the choice by running the generated C on the host: see `CompileResult.auto`.
    `layout` is `--layout`: plain, arduino or zephyr (tinyc.backend.packages).
    `progress` reports calibration on stderr as the CLI does (tinyc.progress).
    `weight_layout` is `--weight-layout`: speed or flash.

    OUT is written as one transaction (tinyc.outdir): on any error it is left as it was.
    Raises UsageError (bad argument), ModelError, UnsupportedError or another TinycError."""
    from dataclasses import replace

    from tinyc.compiler import compile_into, load_model, model_name, optimize

    path = _model_path(model)
    options = _options(path, name=name, target=target, shapes=shapes, quantize=quantize,
                       calib=calib, calib_method=calib_method, weight_bits=weight_bits,
                       weight_clip=weight_clip, io=io, prune=prune,
                       opt_level=opt_level, arena=arena, report=report, consts=consts,
                       layout=layout, progress=progress, layer_precision=layer_precision,
                       weight_layout=weight_layout)
    options = replace(
        options, eval_data=None if eval_data is None else (os.fspath(eval_data[0]),
                                                  os.fspath(eval_data[1])),
        max_drop=max_drop, objective=objective)
    cname = model_name(options, path)
    auto = None
    if options.quantize == "auto":
        from tinyc.quant.auto import resolved, search

        auto = search(path, options)
        options = resolved(options, auto)
    graph, _ = optimize(load_model(path, options), options)
    compiled = compile_into(graph, options, cname, out_dir)
    if auto is not None:
        from tinyc.quant.auto import confirm_with_c

        auto.c_accuracy = confirm_with_c(compiled.graph, options, *options.eval_data)
    out = Path(os.path.realpath(out_dir))
    return CompileResult(
        name=compiled.code.name,
        out_dir=out,
        files=tuple(out / f for f in sorted(compiled.files)),
        arena_bytes=compiled.plan.size,
        weight_bytes=compiled.code.weight_bytes,
        plan=compiled.plan,
        graph=compiled.graph,
        auto=auto,
    )


def verify(
    model: PathLike,
    inputs: Sequence[np.ndarray] | None = None,
    *,
    rtol: float = 1e-4,
    atol: float = 1e-5,
    sanitize: bool = False,
    target: str = "generic",
    shapes: Mapping[str, Sequence[int]] | None = None,
    quantize: str | None = None,
    calib: PathLike | None = None,
    calib_method: str = "minmax",
    weight_bits: int = 8,
    weight_clip: str | None = None,
    io: str = "float",
    layer_precision: Mapping[str, str] | None = None,
    prune: str | None = None,
    opt_level: int = 1,
    arena: str = "static",
    consts: Mapping[str, object] | None = None,
    progress: bool = False,
) -> VerifyResult:
    """`tinyc verify`: compile `model`, build it with the host cc, run it on `inputs` (one
    array per model input; None: seeded random ones) and compare with onnxruntime, or with
    tinyc's interpreter for a quantized or pruned model or without onnxruntime. `consts`
    as in `compile` (onnxruntime is fed the same values); `progress` reports each step on
    stderr.

    Returns the comparison (`.ok`, `.reference`, per-output errors and tolerances, `.notes`
    saying why the reference is not onnxruntime); a mismatch is a result, not an exception.
    Raises VerifyError when the C does not build or run, and the other TinycErrors as
    `compile` does."""
    from tinyc.compiler import load_model, model_name, optimize
    from tinyc.hostverify import default_inputs, shaped_inputs, verify_on_host

    path = _model_path(model)
    options = _options(path, target=target, shapes=shapes, quantize=quantize, calib=calib,
                       calib_method=calib_method, weight_bits=weight_bits,
                       weight_clip=weight_clip, io=io, prune=prune, opt_level=opt_level,
                       arena=arena, consts=consts, progress=progress,
                       layer_precision=layer_precision)
    graph, _ = optimize(load_model(path, options), options)
    feeds = default_inputs(graph) if inputs is None else shaped_inputs(graph, inputs)
    return verify_on_host(str(path), graph, options, model_name(options, path), feeds,
                          rtol, atol, sanitize=sanitize)


def validate(
    model: PathLike,
    inputs: Sequence[np.ndarray] | None = None,
    *,
    target: str = "cortex-m4",
    rtol: float = 1e-4,
    atol: float = 1e-5,
    profile: bool = False,
    board: str | None = None,
    shapes: Mapping[str, Sequence[int]] | None = None,
    quantize: str | None = None,
    calib: PathLike | None = None,
    calib_method: str = "minmax",
    weight_bits: int = 8,
    weight_clip: str | None = None,
    io: str = "float",
    layer_precision: Mapping[str, str] | None = None,
    prune: str | None = None,
    opt_level: int = 1,
    consts: Mapping[str, object] | None = None,
    progress: bool = False,
    weight_layout: str = "speed",
) -> ValidateResult:
    """`tinyc validate`: compile `model` for the Cortex-M core `target`, build it with
    arm-none-eabi-gcc, run it once on QEMU on `inputs` (None: seeded random ones), and
    compare the board's outputs with the reference (as `verify` chooses it) and with the
    same C built for the host. `board` runs the `target` kernels on another core's board
    (`target="generic"`, `board="cortex-m4"`: the portable C on the M4); `profile` also
    counts instructions per node; `progress` reports each step on stderr; `weight_layout`
    is `--weight-layout`.

    Returns a `ValidateResult`: `.ok`, `.reference`, per-output checks (`.outputs` vs the
    reference, `.host_outputs` vs the host build), `.instructions`, `.macs`,
    `.instr_per_mac`, `.flash`, `.ram` and the parts in `.measurement`; a mismatch is a
    result, not an exception. Raises VerifyError when the build or the run fails, a
    ToolMissingError (exit 1) without the ARM toolchain or QEMU, and the other
    TinycErrors as `compile` does."""
    from tinyc.compiler import load_model, model_name, optimize
    from tinyc.hostverify import default_inputs, shaped_inputs
    from tinyc.mcu.validate import validate_on_mcu

    path = _model_path(model)
    options = _options(path, target=target, shapes=shapes, quantize=quantize, calib=calib,
                       calib_method=calib_method, weight_bits=weight_bits,
                       weight_clip=weight_clip, io=io, prune=prune, opt_level=opt_level,
                       arena="static", consts=consts, progress=progress,
                       layer_precision=layer_precision, weight_layout=weight_layout)
    graph, _ = optimize(load_model(path, options), options)
    feeds = default_inputs(graph) if inputs is None else shaped_inputs(graph, inputs)
    return validate_on_mcu(str(path), graph, options, model_name(options, path), feeds,
                           rtol, atol, board=board, profile=profile)


def _options(path: Path, *, name: str | None = None, target: str,
             shapes: Mapping[str, Sequence[int]] | None, quantize: str | None,
             calib: PathLike | None, calib_method: str, io: str, prune: str | None,
             weight_bits: int = 8, weight_clip: str | None = None,
             opt_level: int, arena: str, report: bool = False,
             consts: Mapping[str, object] | None, layout: str = "plain",
             progress: bool = False,
             layer_precision: Mapping[str, str] | None = None,
             weight_layout: str = "speed"):  # noqa: ANN202
    """The compiler Options of an API call, its arguments checked like the CLI's flags."""
    from tinyc.backend.generate import ARENA_MODES
    from tinyc.backend.packages import check_layout
    from tinyc.compiler import Options

    if arena not in ARENA_MODES:
        raise UsageError(f"arena={arena!r}: use one of {', '.join(ARENA_MODES)}")
    if opt_level not in (0, 1, 2):
        raise UsageError(f"opt_level={opt_level!r}: use 0, 1 or 2")
    if weight_layout not in ("speed", "flash"):
        raise UsageError(f"weight_layout={weight_layout!r}: use speed or flash")
    return Options(
        name=name, shapes=_shapes(shapes), target=target, opt_level=opt_level, arena=arena,
        report=report, quantize=quantize, calib=None if calib is None else os.fspath(calib),
        calib_method=calib_method, weight_bits=weight_bits, weight_clip=weight_clip, io=io,
        prune=prune, consts=_const_bindings(consts),
        progress=progress, layer_precision=tuple((layer_precision or {}).items()),
        command=_call_text(path, name=name, target=target, quantize=quantize, prune=prune),
        layout=check_layout(layout), weight_layout=weight_layout,
    )


def _const_bindings(consts: Mapping[str, object] | None) -> dict:  # noqa: ANN401
    """`--const` bindings from Python values: a number or a list of numbers reads as the
    flag's text does, an array as a `.npy` file does (tinyc.frontend.consts)."""
    import numpy as np

    from tinyc.frontend.consts import ConstBinding

    out = {}
    for input_name, value in (consts or {}).items():
        if isinstance(value, np.ndarray):
            out[input_name] = ConstBinding(input_name, f"an array of shape {list(value.shape)}",
                                           value)
        elif isinstance(value, (list, tuple)):
            out[input_name] = ConstBinding(input_name, ",".join(str(v) for v in value))
        elif isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
            out[input_name] = ConstBinding(input_name, str(value))
        else:
            raise UsageError(f"consts[{input_name!r}]: expected a number, a list of numbers "
                             f"or a numpy array, not {type(value).__name__}")
    return out


def _model_path(model: PathLike) -> Path:
    path = Path(model)
    if not path.is_file():
        raise UsageError(f"no such model file: {path}")
    return path


def _shapes(shapes: Mapping[str, Sequence[int]] | None) -> dict[str, tuple[int, ...]]:
    out: dict[str, tuple[int, ...]] = {}
    for input_name, dims in (shapes or {}).items():
        try:
            out[input_name] = tuple(int(d) for d in dims)
        except (TypeError, ValueError):
            raise UsageError(f"shapes[{input_name!r}]: expected a sequence of integers, "
                             f"got {dims!r}") from None
        if any(d < 0 for d in out[input_name]):
            raise UsageError(f"shapes[{input_name!r}]: negative dimension in {dims!r}")
    return out


def _call_text(path: Path, **keywords: object) -> str:
    """The call, for the generated files' provenance comment (only what was given)."""
    given = "".join(f", {k}={v!r}" for k, v in keywords.items() if v is not None
                    and not (k == "target" and v == "generic"))
    return f"tinyc.compile({str(path)!r}{given})"
