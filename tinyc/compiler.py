"""The compile driver: file -> IR -> passes -> memory plan -> C. One function per stage, so
the CLI, `tinyc verify`, the tests and the benchmarks all run the same pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tinyc import outdir
from tinyc.backend.cnames import check_model_name, default_model_name
from tinyc.backend.generate import GeneratedC, generate_c, reserved_names
from tinyc.backend.packages import package_files
from tinyc.errors import UsageError
from tinyc.frontend.consts import ConstBinding
from tinyc.frontend.onnx import load_onnx
from tinyc.ir import Graph
from tinyc.ir.verify import verify
from tinyc.mcu.targets import get_target, kernel_dirs
from tinyc.memory import ArenaPlan, plan_memory
from tinyc.passes import PassContext, PassManager, pipeline_for
from tinyc.passes.manager import split_after_quantization


@dataclass
class Options:
    """Everything that changes the generated code (no hidden globals)."""

    name: str | None = None
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    #: graph inputs fixed at compile time (`--const NAME=VALUE`, tinyc.frontend.consts)
    consts: dict[str, ConstBinding] = field(default_factory=dict)
    #: kernel variants and alignment: host, generic, cortex-m0plus|m4|m7|m33 (tinyc.mcu)
    target: str = "generic"
    #: arena alignment in bytes; None takes the target's
    align: int | None = None
    command: str = ""
    opt_level: int = 1
    #: explicit pipeline string; overrides opt_level when set
    passes: str | None = None
    print_ir_after: frozenset[str] = frozenset()
    verify_each: bool = False
    #: "static" (the arena is a static array in NAME.c) or "external" (the caller passes
    #: it to NAME_run_with_arena)
    arena: str = "static"
    #: also write report.html and report.json (the memory plan, drawn) into the output
    report: bool = False
    #: how OUT is laid out for a build system: plain, arduino or zephyr
    #: (tinyc.backend.packages)
    layout: str = "plain"
    #: "int8" or "int16x8" (static, need `calib`), "dynamic", "float16", or "auto" (the
    #: static mode and per-layer precision chosen on `eval_data`, tinyc.quant.auto); None
    #: keeps the model's precision
    quantize: str | None = None
    #: (node-name pattern, precision) pairs of a statically quantized model, e.g.
    #: ("/conv1/*", "float32") (the mode's tinyc.quant.driver.MODE_PRECISIONS)
    layer_precision: tuple[tuple[str, str], ...] = ()
    #: --quantize auto: evaluation samples and integer labels (.npy paths)
    eval_data: tuple[str, str] | None = None
    #: --quantize auto: the accuracy drop allowed against float, in percentage points
    max_drop: float | None = None
    #: --quantize auto: what the choice minimises: flash, ram or latency
    objective: str = "flash"
    #: calibration samples for --quantize int8 (.npy, or .npz keyed by input name)
    calib: str | None = None
    #: minmax, percentile or mse (tinyc.quant.calibration)
    calib_method: str = "minmax"
    #: conv/fc weight bits with --quantize int8: 8, or 4 (packed two per byte)
    weight_bits: int = 8
    #: per-channel weight scale: "max" (max |w|) or "mse" (MSE-optimal clip); None: mse
    #: for int4 weights, max for int8 (tinyc.quant.params.default_weight_clip)
    weight_clip: str | None = None
    #: interface of a quantized model: "float" (quantize/dequantize in C) or "int8"
    io: str = "float"
    #: report slow steps (calibration, C builds, QEMU runs) on stderr (tinyc.progress)
    progress: bool = False
    #: "unstructured:0.8[:global|layer]" or "channels:0.5[:l1|l2]" (tinyc.prune.driver)
    prune: str | None = None
    #: layer include/exclude patterns for pruning (`conv*`, `!/fc/Gemm`)
    prune_layers: tuple[str, ...] = ()
    #: dense/sparse weight storage policy: auto, flash, speed, always, never; None: auto
    #: at -O1/-O2 or with --prune, never at -O0 or with an explicit --passes pipeline
    sparse: str | None = None
    #: "speed": on the Cortex-M4, dense int8 conv weights in the tiles' packed int16 records
    #: (tinyc.ops.qpack: about 2x their flash, ~15 % fewer cycles); "flash": int8 as stored
    weight_layout: str = "speed"


def load_model(path: str | Path, options: Options) -> Graph:
    """An ONNX file, a TFLite flatbuffer (`.tflite`) or a text IR (`.tir`) file, as a
    verified IR graph."""
    path = Path(path)
    if path.suffix == ".tflite":
        from tinyc.frontend.tflite import load_tflite

        if options.consts:
            raise UsageError("--const applies to ONNX models, not to TFLite models")
        graph = load_tflite(path, options.shapes)
    elif path.suffix == ".tir":
        from tinyc.ir.text import load_text_ir

        if options.consts:
            raise UsageError("--const applies to ONNX models, not to text IR")
        graph = load_text_ir(path)
    else:
        graph = load_onnx(path, options.shapes, options.consts)
    verify(graph)
    return graph


def optimize(graph: Graph, options: Options) -> tuple[Graph, PassContext]:
    """Run the pass pipeline chosen by the options; the context holds IR dumps and stats."""
    ctx = PassContext(verify_each=options.verify_each, print_ir_after=options.print_ir_after,
                      target=options.target)
    passes, _ = split_after_quantization(pipeline_for(options.opt_level, options.passes))
    graph = PassManager(passes).run(graph, ctx)
    from tinyc.prune.driver import prune_graph

    graph = prune_graph(graph, options, ctx)
    if (options.quantize or options.calib or options.io != "float" or options.weight_bits != 8
            or options.weight_clip or options.layer_precision):
        from tinyc.quant.driver import quantize_graph

        graph = quantize_graph(graph, options, ctx)
    graph = after_quantization(graph, options, ctx)
    verify(graph)
    return graph, ctx


def after_quantization(graph: Graph, options: Options, ctx: PassContext) -> Graph:
    """The stages `optimize` runs after quantization: per-layer dense or sparse weights,
    then the pipeline's passes that need the final interface (fuse-qboundary)."""
    from tinyc.prune.driver import sparsify_graph

    graph = sparsify_graph(graph, options, ctx)
    late = split_after_quantization(pipeline_for(options.opt_level, options.passes))[1]
    if late:
        graph = PassManager(late).run(graph, ctx)
    return graph


def default_name(path: str | Path) -> str:
    """The model's C name when `--name` is not given: from the file stem, made safe."""
    return default_model_name(Path(path).stem, reserved_names())


def model_name(options: Options, path: str | Path) -> str:
    """`--name` when it is a safe C name (else a UsageError), or the default."""
    if options.name is None:
        return default_name(path)
    return check_model_name(options.name, reserved_names())


@dataclass
class Compiled:
    graph: Graph
    plan: ArenaPlan
    code: GeneratedC
    #: (the per-layer dense/sparse table, its JSON) when written (compile_into), else None
    sparsity: tuple[str, str] | None = None
    #: OUT's files as compile_into wrote them (relative path -> text, per Options.layout)
    files: dict[str, str] = field(default_factory=dict)


def compile_graph(graph: Graph, options: Options, name: str) -> Compiled:
    plan = plan_memory(graph, align=options.align or get_target(options.target).align,
                       kernel_dirs=kernel_dirs(options.target))
    code = generate_c(graph, plan, name, command=options.command, target=options.target,
                      arena=options.arena, weight_layout=options.weight_layout)
    if options.report:
        from tinyc.memory.report import report_files

        code.files.update(report_files(graph, plan, name))
    return Compiled(graph, plan, code)


def compile_into(graph: Graph, options: Options, name: str, out_dir: str | Path) -> Compiled:
    """What `tinyc MODEL -o OUT` does after optimizing: generate the C, add sparsity.json
    when layers are pruned or stored sparse, lay the files out with their build-system files
    (Options.layout) and write OUT (the CLI and `tinyc.compile`)."""
    from tinyc.prune.cli import compile_report

    compiled = compile_graph(graph, options, name)
    compiled.sparsity = compile_report(graph, options)
    if compiled.sparsity is not None:
        compiled.code.files["sparsity.json"] = compiled.sparsity[1]
    compiled.files = package_files(compiled.code.files, compiled.code.name, options.layout)
    outdir.write_output_dir(compiled.files, out_dir)
    return compiled
