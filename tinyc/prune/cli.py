"""The pruning part of the command line (kept here so tinyc/cli.py only wires it in).

    tinyc MODEL -o OUT --prune unstructured:0.8 [--prune-layers 'conv*,!/fc/Gemm']
    tinyc MODEL -o OUT --prune channels:0.5 [--sparse auto|flash|speed|always|never]
    tinyc export MODEL -o pruned.onnx [--prune ...]
    tinyc prune-report MODEL --eval X.npy y.npy [--kind unstructured|channels]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tinyc.display import shown
from tinyc.errors import UsageError
from tinyc.ir import Graph
from tinyc.prune.sparse import POLICIES

if TYPE_CHECKING:
    from tinyc.compiler import Options

COMMANDS = ("export", "prune-report")


def add_prune_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("pruning")
    g.add_argument(
        "--prune", metavar="KIND:AMOUNT",
        help="unstructured:SPARSITY[:global|layer] zeroes the smallest weights (then stored "
        "sparse where it pays); channels:RATIO[:l1|l2] removes the lowest-norm output "
        "channels and shrinks their consumers",
    )
    g.add_argument(
        "--prune-layers", action="append", default=[], metavar="PATTERNS",
        help="comma-separated wildcards over layer (node) or weight names; !PATTERN "
        "excludes, e.g. 'conv*,!/fc/Gemm' (repeatable)",
    )
    g.add_argument(
        "--sparse", choices=POLICIES,
        help="per-layer dense/sparse weights: auto (default from -O1: sparse when smaller "
        "and at most 1.5x the estimated time, or faster), flash, speed, always, never",
    )


def add_subcommands(sub: argparse._SubParsersAction, add_model_args) -> None:  # noqa: ANN001
    p = sub.add_parser(
        "export",
        help="write MODEL (after --prune and the -O pipeline) back to ONNX, for fine-tuning",
    )
    add_model_args(p)
    p.add_argument("-o", "--output", required=True, metavar="OUT.onnx")
    p.add_argument("--no-check", action="store_true",
                   help="skip re-importing the file and comparing it with the IR")
    p = sub.add_parser(
        "prune-report",
        help="accuracy of MODEL with each layer pruned alone, and all together, at several "
        "sparsities: a table, an SVG plot and optionally JSON",
    )
    add_model_args(p)
    p.add_argument("--eval", nargs=2, required=True, metavar=("X.npy", "Y.npy"),
                   help="inputs [N, ...] and labels [N] (integers: accuracy; else MSE)")
    p.add_argument("--kind", choices=("unstructured", "channels"), default="unstructured")
    p.add_argument("--sparsities", default="0,0.25,0.5,0.7,0.8,0.9,0.95",
                   help="comma-separated fractions (default: %(default)s)")
    p.add_argument("--limit", type=int, help="evaluate on the first N samples only")
    p.add_argument("--plot", metavar="FILE.svg",
                   help="where to write the plot (default: MODEL_STEM_sensitivity.svg)")
    p.add_argument("--json", metavar="FILE.json", help="also write the numbers as JSON")


def command_options(command: str, sparse: str | None) -> str | None:
    """Export and the report work on dense weights: no sparse storage there."""
    return "never" if command in COMMANDS else sparse


def run(args: argparse.Namespace, graph: Graph, options: Options) -> int:
    if args.command == "export":
        return _export(args, graph)
    return _report(args, graph, options)


def _export(args: argparse.Namespace, graph: Graph) -> int:
    from tinyc.frontend.onnx_export import check_roundtrip, export_onnx

    out = Path(args.output)
    if not out.resolve().parent.is_dir():
        raise UsageError(f"-o {out}: parent directory does not exist")
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        export_onnx(graph, tmp)
        if not args.no_check:
            check_roundtrip(graph, tmp)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    weights = sum(c.type.nbytes for c in graph.constants if c.uses)
    print(f"tinyc: wrote {shown(str(out))}: {len(graph.nodes)} nodes, {weights} B of weights")
    return 0


def _load_array(path: str) -> np.ndarray:
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"no such file: {p}")
    data = np.load(p)
    if not isinstance(data, np.ndarray):
        raise UsageError(f"{p}: expected a .npy array")
    return data


def _report(args: argparse.Namespace, graph: Graph, options: Options) -> int:
    from tinyc.progress import progress
    from tinyc.prune.report import sensitivity_svg, sensitivity_table
    from tinyc.prune.sensitivity import sensitivity

    x, y = (_load_array(p) for p in args.eval)
    try:
        sparsities = [float(s) for s in args.sparsities.split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"--sparsities: not a list of numbers: {args.sparsities}") from None
    result = sensitivity(
        graph, x, y, kind=args.kind, sparsities=sparsities,
        layers=args.prune_layers or None, limit=args.limit,
        progress=progress(options.progress),
    )
    sys.stdout.write(sensitivity_table(result))
    plot = Path(args.plot) if args.plot else Path(f"{Path(args.model).stem}_sensitivity.svg")
    sensitivity_svg(result, plot, f"{Path(args.model).stem}: {args.kind} pruning sensitivity")
    print(f"tinyc: wrote {shown(str(plot))}")
    if args.json:
        Path(args.json).write_text(json.dumps(result.as_dict(), indent=2) + "\n")
        print(f"tinyc: wrote {shown(str(args.json))}")
    return 0


def compile_report(graph: Graph, options: Options) -> tuple[str, str] | None:
    """After a compile: (the per-layer dense/sparse table, its JSON) when pruning ran or
    any layer is stored sparse, else None. The CLI prints the table and writes the JSON
    as OUT/sparsity.json with the other files."""
    from tinyc.passes.sparsify_weights import layer_costs
    from tinyc.prune.report import sparse_json_text, sparse_table

    costs = layer_costs(graph, "never", target=options.target)
    if not options.prune and all(c.choice == "dense" for c in costs):
        return None
    return sparse_table(costs), sparse_json_text(costs)
