"""The `tinyc` command line.

    tinyc MODEL -o OUT [--name N] [--shape NAME=1x3x96x96]   compile to standalone C
        [--const NAME=VALUE]                                 (an input fixed at compile time)
    tinyc ir MODEL                                           print the text IR
    tinyc verify MODEL [--input x.npy]                       build, run, compare with onnxruntime
    tinyc validate MODEL [--target cortex-m4]                run on QEMU, compare, measure
    tinyc plan MODEL [--explain]                             the memory plan and its timeline
    tinyc export MODEL -o OUT.onnx [--prune channels:0.5]    write the (pruned) IR as ONNX
    tinyc prune-report MODEL --eval X.npy Y.npy              accuracy per layer vs sparsity

Exit codes: 0 success; 1 other user error; 2 bad command line or missing file; 3 malformed
model or invalid IR; 4 unsupported model feature (op, opset, dtype, dynamic shape); 5
`verify` found a mismatch or the C did not build; 70 internal error (a bug in tinyc).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import numpy as np

from tinyc import __version__
from tinyc.backend.generate import ARENA_MODES
from tinyc.backend.packages import LAYOUTS, placed
from tinyc.display import shown
from tinyc.errors import TinycError, UnsupportedError, UsageError, VerifyError
from tinyc.hostverify import tolerances
from tinyc.mcu.targets import TARGETS
from tinyc.prune.cli import COMMANDS as PRUNE_COMMANDS
from tinyc.prune.cli import add_prune_args
from tinyc.prune.cli import add_subcommands as add_prune_subcommands
from tinyc.prune.cli import command_options as prune_command_options
from tinyc.prune.cli import run as run_prune_command
from tinyc.quant.driver import parse_layer_precision

EXIT_INTERNAL = 70
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a reader that left
SUBCOMMANDS = ("compile", "ir", "verify", "validate", "plan", "passes", "export", "prune-report",
               "quantize-report")

EPILOG = """\
exit codes:
  0   success
  1   other user error
  2   bad command line or missing input file
  3   malformed model or invalid IR
  4   unsupported model feature (op, opset, dtype, dynamic shape)
  5   verify: outputs differ from the reference, or the C did not build
  70  internal error in tinyc (please report it)
"""


def _add_model_args(p: argparse.ArgumentParser, eval_arg: bool = False) -> None:
    p.add_argument("model", help="an .onnx file, a .tflite file, or a .tir text IR file")
    p.add_argument(
        "--shape",
        action="append",
        default=[],
        metavar="NAME=DIMS",
        help="bind an input's symbolic dimensions, e.g. --shape input=1x3x96x96 (repeatable)",
    )
    p.add_argument(
        "--const",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="make an input a constant: a number, a comma list or a .npy file, e.g. "
        "--const sr=16000; what depends on it folds, an If on it keeps one branch (repeatable)",
    )
    opt = p.add_mutually_exclusive_group()
    for level in (0, 1, 2):
        opt.add_argument(
            f"-O{level}",
            dest="opt_level",
            action="store_const",
            const=level,
            help={0: "only what code generation needs", 1: "default optimizations",
                  2: "also the costlier passes"}[level],
        )
    opt.add_argument("--passes", metavar="A,B{opt=v},C", help="run exactly this pass pipeline")
    p.add_argument(
        "--print-ir-after",
        action="append",
        default=[],
        metavar="PASS|all",
        help="print the text IR to stderr after this pass (repeatable)",
    )
    p.add_argument(
        "--verify-each", action="store_true", help="run the IR verifier after every pass"
    )
    p.add_argument(
        "-q", "--quiet", action="store_true",
        help="no progress on stderr (by default each slow step -- calibration, C builds, QEMU "
        "runs -- is shown: redrawn in place on a terminal, one line per step otherwise)",
    )
    q = p.add_argument_group("quantization")
    q.add_argument(
        "--quantize", choices=["int8", "int16x8", "dynamic", "float16", "auto"],
        help="int8: static int8 kernels from calibration data (--calib); int16x8: the same "
        "with int16 activations (TFLite's 16x8 mode); dynamic: int8 weights, activations "
        "quantized on every inference; float16: Conv/Gemm/MatMul weights stored as IEEE half, "
        "float32 arithmetic; auto: int8 or int16x8 and each layer's precision chosen on "
        "--eval data within --max-drop of float (minimising --objective)",
    )
    q.add_argument("--calib", metavar="DATA.npy|.npz",
                   help="calibration samples: [N, *input_shape] (.npz: one array per input name)")
    q.add_argument("--calib-method", choices=["minmax", "percentile", "mse"], default="minmax",
                   help="how activation ranges are chosen from the calibration run")
    q.add_argument("--weight-bits", type=int, choices=[8, 4], default=8,
                   help="with --quantize int8: conv/fc weights as int8 (default) or int4, "
                   "packed two per byte in flash")
    q.add_argument("--weight-clip", choices=["max", "mse"], default=None,
                   help="per-channel weight scale: from max |w| (default for int8 weights) "
                   "or the clip with the least squared rounding error (default for int4)")
    q.add_argument("--layer-precision", action="append", default=[],
                   metavar="NODE=PRECISION",
                   help="with --quantize int8 or int16x8: keep the matching nodes (shell "
                   "wildcards over node names) at this precision: float32, float16 (float, half "
                   "weights), or the mode's integer layer: int8 or int4 (4-bit weights; not "
                   "RNN/GRU/LSTM) with int8, int16x8 with int16x8 (repeatable)")
    q.add_argument("--max-drop", type=float, metavar="P",
                   help="--quantize auto: accuracy drop allowed against float, in "
                   "percentage points")
    q.add_argument("--objective", choices=["flash", "ram", "latency"], default="flash",
                   help="--quantize auto: what the per-layer choice minimises (default flash: "
                   "weights and linked kernel code, compiled for --target)")
    q.add_argument("--io", choices=["float", "int8"], default="float",
                   help="interface of a quantized model: float (default) or the raw int8 "
                   "tensors, with their scales and zero points in NAME.h")
    if eval_arg:
        q.add_argument("--eval", nargs=2, metavar=("X.npy", "Y.npy"),
                       help="--quantize auto: evaluation samples and their integer labels")
    add_prune_args(p)
    p.add_argument(
        "--target",
        choices=list(TARGETS),
        help="kernel variants and alignment for this core (default: generic portable C; "
        "validate: cortex-m4)",
    )
    p.add_argument(
        "--weight-layout",
        choices=["speed", "flash"],
        default="speed",
        help="speed (default): on the Cortex-M4, dense int8 conv weights stored widened to "
        "int16 in the kernels' load order (about 2x their flash, ~15%% fewer cycles); "
        "flash: stored as int8",
    )


def _add_arena_arg(p: argparse.ArgumentParser) -> None:
    """`--arena`, shared by compile and verify so verify can check what compile writes."""
    p.add_argument(
        "--arena",
        choices=ARENA_MODES,
        default="static",
        help="static: the arena is a static array in NAME.c (default); external: the caller "
        "passes it to NAME_run_with_arena(void *arena, ...)",
    )


def _add_tolerance_args(p: argparse.ArgumentParser) -> None:
    """`--rtol`/`--atol`, shared by verify and validate (integer outputs compare exactly)."""
    p.add_argument("--rtol", type=float, default=1e-4,
                   help="relative tolerance for float outputs (default 1e-4): an output "
                   "passes when |got - want| <= atol + rtol * |want|")
    p.add_argument("--atol", type=float, default=1e-5,
                   help="absolute tolerance for float outputs (default 1e-5)")


class _Parser(argparse.ArgumentParser):
    """argparse, but a command-line error is one line like every other error (exit 2)."""

    def error(self, message: str) -> NoReturn:
        _print_error(f"{message} (see tinyc --help)")
        raise SystemExit(2)


def _print_error(message: str) -> None:
    print(f"tinyc: error: {shown(message)}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tinyc",
        description="Compile an ONNX model into standalone C99 for microcontrollers.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"tinyc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "compile",
        help="compile MODEL into OUT/NAME.c, OUT/NAME.h and the kernels they use (default)",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_model_args(p, eval_arg=True)
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output directory")
    p.add_argument("--name", help="C name prefix of every file and symbol: a lower-case C "
                   "identifier of at most 40 characters, without 'tinyc' at its start or "
                   "after a '_' (default: the model file's stem, sanitized)")
    _add_arena_arg(p)
    p.add_argument(
        "--report", action="store_true",
        help="also write OUT/report.html (the memory plan, drawn) and OUT/report.json",
    )
    p.add_argument(
        "--layout", choices=LAYOUTS, default="plain",
        help="plain: the C with CMakeLists.txt and NAME.mk (default); arduino: an Arduino "
        "library (library.properties, src/); zephyr: a Zephyr module (zephyr/module.yml, "
        "CMakeLists.txt, Kconfig)",
    )

    p = sub.add_parser(
        "plan", help="print MODEL's memory plan: arena, bounds, schedule and what is live"
    )
    _add_model_args(p, eval_arg=True)
    p.add_argument("--explain", action="store_true",
                   help="print the timeline: one row per step, one column per arena slice")
    p.add_argument("--json", action="store_true", help="print the plan as JSON instead")

    p = sub.add_parser("ir", help="print the text IR of MODEL (or save it with -o)")
    _add_model_args(p, eval_arg=True)
    p.add_argument(
        "-o", "--output", metavar="FILE.tir",
        help="write FILE.tir and, for large constants, FILE.npz beside it",
    )

    p = sub.add_parser(
        "verify",
        help="compile MODEL, build it with the host cc, run it, compare with onnxruntime",
    )
    _add_model_args(p, eval_arg=True)
    p.add_argument("--input", metavar="X.npy", help="input data (.npy, or .npz keyed by name)")
    _add_tolerance_args(p)
    p.add_argument("--sanitize", action="store_true", help="build with ASan/UBSan")
    _add_arena_arg(p)

    p = sub.add_parser(
        "validate",
        help="build MODEL for a Cortex-M core, run it on QEMU, compare with the reference "
        "and the host build, report instructions, flash and RAM",
    )
    _add_model_args(p, eval_arg=True)
    p.add_argument("--input", metavar="X.npy", help="input data (.npy, or .npz keyed by name)")
    _add_tolerance_args(p)
    p.add_argument("--profile", action="store_true",
                   help="also count the instructions of each node")
    p.set_defaults(default_target="cortex-m4")

    add_prune_subcommands(sub, _add_model_args)

    p = sub.add_parser(
        "quantize-report",
        help="float vs int8 (or --quantize int16x8) accuracy (per --calib-method) and "
        "per-layer SNR of MODEL; with --quantize auto, the per-layer sensitivity and the "
        "precision chosen",
    )
    _add_model_args(p)
    p.add_argument("--eval", nargs="+", required=True, metavar=("X_TEST.npy", "Y_TEST.npy"),
                   help="evaluation samples, and optionally their integer labels")
    p.add_argument("--methods", default=None, metavar="M1,M2",
                   help="calibration methods to compare (default: --calib-method)")
    p.add_argument("--limit", type=int, help="use the first N evaluation samples")
    p.add_argument("--run-c", action="store_true",
                   help="measure int8 accuracy by building and running the C (host cc)")
    p.add_argument("--svg", metavar="FILE.svg",
                   help="--quantize auto: also draw the per-layer sensitivity")

    sub.add_parser("passes", help="list the optimization passes and the -O pipelines")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    original = list(sys.argv[1:] if argv is None else argv)
    args_list = list(original)
    if args_list and args_list[0] not in SUBCOMMANDS and not args_list[0].startswith("-"):
        args_list.insert(0, "compile")
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help()
        return 2
    with warnings.catch_warnings():  # stderr carries errors only, never library warnings
        warnings.simplefilter("ignore")
        return _run(args, original)


def _run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Dispatch, and turn every failure into one line and its exit code."""
    try:
        code = _dispatch(args, argv)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except TinycError as exc:
        _print_error(str(exc))
        return exc.exit_code
    except BrokenPipeError:  # the reader left (`tinyc plan m.onnx | head`): stop quietly
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as exc:  # the system refused: permissions, full or read-only disk, names
        _print_error(f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc))
        return 1
    except MemoryError:
        _print_error("out of memory: the model or its data is too large to compile")
        return UnsupportedError.exit_code
    except RecursionError:
        _print_error("the model is too deeply nested to compile (recursion limit)")
        return UnsupportedError.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: say so, keep the traceback out of the user's way
        print(f"tinyc: internal error: {type(exc).__name__}: {shown(str(exc))} "
              "(please report this)", file=sys.stderr)
        return EXIT_INTERNAL


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _options(args: argparse.Namespace, argv: Sequence[str]):  # noqa: ANN202
    from tinyc.compiler import Options
    from tinyc.frontend.consts import parse_const_bindings
    from tinyc.frontend.onnx import parse_shape_bindings

    command = "tinyc " + " ".join(shlex.quote(a) for a in argv)
    return Options(
        name=getattr(args, "name", None),
        shapes=parse_shape_bindings(args.shape),
        consts=parse_const_bindings(args.const),
        command=command,
        target=args.target or getattr(args, "default_target", "generic"),
        opt_level=1 if args.opt_level is None else args.opt_level,
        passes=args.passes,
        print_ir_after=frozenset(args.print_ir_after),
        verify_each=args.verify_each,
        arena=getattr(args, "arena", "static"),
        report=getattr(args, "report", False),
        layout=getattr(args, "layout", "plain"),
        quantize=args.quantize,
        layer_precision=parse_layer_precision(args.layer_precision),
        eval_data=tuple(args.eval) if getattr(args, "eval", None) else None,
        max_drop=args.max_drop,
        objective=args.objective,
        calib=args.calib,
        calib_method=args.calib_method,
        weight_bits=args.weight_bits,
        weight_clip=args.weight_clip,
        io=args.io,
        progress=not args.quiet,
        prune=args.prune,
        prune_layers=tuple(args.prune_layers),
        sparse=prune_command_options(args.command, args.sparse),
        weight_layout=args.weight_layout,
    )


def _list_passes() -> int:
    from tinyc.passes import PASSES, PIPELINES

    width = max(len(n) for n in PASSES)
    for name in sorted(PASSES):
        print(f"{name:<{width}}  {PASSES[name].summary}")
    print()
    for level, spec in sorted(PIPELINES.items()):
        print(f"-O{level}: {spec or '(none)'}")
    return 0


def _dispatch(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from tinyc.compiler import compile_into, load_model, model_name, optimize

    if args.command == "passes":
        return _list_passes()
    if args.command == "quantize-report":
        return _quantize_report(args, argv)
    options = _options(args, argv)
    name = model_name(options, args.model)
    auto = None
    if options.quantize == "auto":
        from tinyc.quant.auto import resolved, search

        auto = search(args.model, options)
        options = resolved(options, auto)
    graph = load_model(args.model, options)
    graph, pass_ctx = optimize(graph, options)
    for dump in pass_ctx.dump:
        sys.stderr.write(dump)
    if args.command == "ir":
        from tinyc.ir.text import print_graph, save_text_ir

        if args.output:
            for path in save_text_ir(graph, Path(args.output)):
                print(f"tinyc: wrote {shown(str(path))}")
        else:
            sys.stdout.write(print_graph(graph))
        return 0
    if args.command == "validate":
        return _validate(args, graph, options, name)
    if args.command == "plan":
        return _plan(args, graph, options, name)
    if args.command in PRUNE_COMMANDS:
        return run_prune_command(args, graph, options)
    if args.command == "compile":
        compiled = compile_into(graph, options, name, args.output)
        pruning = compiled.sparsity
        source = Path(args.output) / placed(options.layout, f"{compiled.code.name}.c")
        print(
            f"tinyc: wrote {shown(str(source))}: arena {compiled.plan.size} B, "
            f"weights {compiled.code.weight_bytes} B, {len(graph.nodes)} nodes"
        )
        from tinyc.frontend.onnx import CONSTANT_INPUTS
        from tinyc.quant.driver import float_ops_message, int4_message

        if CONSTANT_INPUTS in graph.metadata:
            print(f"tinyc: note: {CONSTANT_INPUTS} (their initializers): "
                  f"{shown(graph.metadata[CONSTANT_INPUTS])}")

        for message in (float_ops_message(graph), int4_message(graph)):
            if message:
                print(shown(message))
        if pruning is not None:
            sys.stdout.write(pruning[0])
        if auto is not None:
            _confirm_auto(auto, graph, options)
        return 0
    return _verify(args, graph, options, name)


def _confirm_auto(auto, graph, options) -> None:  # noqa: ANN001
    """Run the chosen mix as the generated C on the evaluation set; print the choice."""
    from tinyc.quant.auto import confirm_with_c
    from tinyc.quant.auto_report import print_choice

    assert options.eval_data is not None
    auto.c_accuracy = confirm_with_c(graph, options, *options.eval_data)
    print_choice(auto, sys.stdout)


def _quantize_report(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """`tinyc quantize-report`: accuracy float vs int8 and per-layer SNR (tinyc.quant.report)."""
    from tinyc.quant.report import build_report, print_report

    if len(args.eval) > 2:
        raise UsageError("--eval takes X_TEST.npy and optionally Y_TEST.npy")
    options = _options(args, argv)
    if options.quantize == "auto":
        return _auto_report(args, options)
    methods = (args.methods or args.calib_method).split(",")
    report = build_report(args.model, options, methods, args.eval[0],
                          args.eval[1] if len(args.eval) > 1 else None, args.limit, args.run_c)
    print_report(report, sys.stdout)
    return 0


def _auto_report(args: argparse.Namespace, options) -> int:  # noqa: ANN001
    """`tinyc quantize-report --quantize auto`: the sensitivity that drives the choice."""
    from dataclasses import replace

    from tinyc.quant.auto import search
    from tinyc.quant.auto_report import (
        print_candidates,
        print_choice,
        print_sensitivity,
        sensitivity_svg,
    )

    if len(args.eval) != 2:
        raise UsageError("--quantize auto: --eval takes X_TEST.npy and Y_TEST.npy")
    result = search(args.model, replace(options, eval_data=tuple(args.eval)))
    print_sensitivity(result, sys.stdout)
    print_candidates(result, sys.stdout)
    print_choice(result, sys.stdout)
    if args.svg:
        sensitivity_svg(result, args.svg, title=Path(args.model).name)
        print(f"tinyc: wrote {shown(args.svg)}")
    return 0


def _plan(args: argparse.Namespace, graph, options, name: str) -> int:  # noqa: ANN001
    """`tinyc plan`: the memory plan without generating C."""
    import json

    from tinyc.mcu.targets import get_target, kernel_dirs
    from tinyc.memory import plan_memory
    from tinyc.memory.report import band_lines, render_ascii, report_data

    plan = plan_memory(graph, align=options.align or get_target(options.target).align,
                       kernel_dirs=kernel_dirs(options.target))
    data = report_data(graph, plan, name)
    if args.json:
        print(json.dumps(data, indent=1, sort_keys=True))
    elif args.explain:
        sys.stdout.write(render_ascii(data))
    else:
        print(f"{shown(name)}: arena {plan.size} B ({plan.variant}/{plan.algorithm}); lower bound "
              f"without in-place {data['lower_bound_bytes']} B; greedy-by-size "
              f"{data['greedy_by_size_bytes']} B; no reuse {data['activations_bytes']} B")
        print(f"peak at step {data['peak_step']}: {shown(', '.join(data['peak_buffers']))}")
        for line in band_lines(data):
            print(shown(line))
    return 0


def _load_inputs(path: str | None, graph) -> list[np.ndarray]:  # noqa: ANN001
    from tinyc.hostverify import default_inputs, shaped_inputs
    from tinyc.inputfiles import read_input_arrays

    if path is None:
        return default_inputs(graph)
    arrays = read_input_arrays(Path(path), graph)
    return shaped_inputs(graph, [arrays[v.name] for v in graph.inputs])


def _validate(args: argparse.Namespace, graph, options, name: str) -> int:  # noqa: ANN001
    from tinyc.mcu.validate import validate_on_mcu

    result = validate_on_mcu(args.model, graph, options, name, _load_inputs(args.input, graph),
                             args.rtol, args.atol, profile=args.profile)
    for line in result.lines():
        print(line)
    if not result.ok:
        raise VerifyError(f"outputs on {result.target} differ "
                          f"({tolerances(args.rtol, args.atol)})")
    print("tinyc: validate ok")
    return 0


def _verify(args: argparse.Namespace, graph, options, name: str) -> int:  # noqa: ANN001
    from tinyc.hostverify import verify_on_host

    result = verify_on_host(args.model, graph, options, name, _load_inputs(args.input, graph),
                            args.rtol, args.atol, sanitize=args.sanitize)
    for line in result.lines():
        print(line)
    if not result.ok:
        raise VerifyError(f"outputs differ from {result.reference} "
                          f"({tolerances(args.rtol, args.atol)})")
    print(f"tinyc: verify ok against {result.reference} (arena {result.arena_bytes} B)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
