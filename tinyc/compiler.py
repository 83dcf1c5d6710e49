"""The compile driver: file -> IR -> passes -> memory plan -> C. One function per stage, so
the CLI, `tinyc verify`, the tests and the benchmarks all run the same pipeline."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tinyc.backend.generate import GeneratedC, generate_c
from tinyc.backend.context import c_ident
from tinyc.errors import UsageError
from tinyc.frontend.onnx import load_onnx
from tinyc.ir import Graph
from tinyc.ir.verify import verify
from tinyc.memory import ArenaPlan, plan_memory
from tinyc.passes import PassContext, PassManager, pipeline_for


@dataclass
class Options:
    """Everything that changes the generated code (no hidden globals)."""

    name: str | None = None
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    target: str = "generic"
    align: int = 16
    command: str = ""
    opt_level: int = 1
    #: explicit pipeline string; overrides opt_level when set
    passes: str | None = None
    print_ir_after: frozenset[str] = frozenset()
    verify_each: bool = False


def load_model(path: str | Path, options: Options) -> Graph:
    """An ONNX file or a text IR (`.tir`) file, as a verified IR graph."""
    path = Path(path)
    if path.suffix == ".tir":
        from tinyc.ir.text import load_text_ir

        graph = load_text_ir(path)
    else:
        graph = load_onnx(path, options.shapes)
    verify(graph)
    return graph


def optimize(graph: Graph, options: Options) -> tuple[Graph, PassContext]:
    """Run the pass pipeline chosen by the options; the context holds IR dumps and stats."""
    ctx = PassContext(verify_each=options.verify_each, print_ir_after=options.print_ir_after)
    passes = pipeline_for(options.opt_level, options.passes)
    graph = PassManager(passes).run(graph, ctx)
    verify(graph)
    return graph, ctx


def default_name(path: str | Path) -> str:
    return c_ident(Path(path).stem).lower() or "model"


@dataclass
class Compiled:
    graph: Graph
    plan: ArenaPlan
    code: GeneratedC


def compile_graph(graph: Graph, options: Options, name: str) -> Compiled:
    plan = plan_memory(graph, align=options.align)
    code = generate_c(graph, plan, name, command=options.command, target=options.target)
    return Compiled(graph, plan, code)


def write_output_dir(code: GeneratedC, out_dir: str | Path) -> None:
    """Write all files or none: they are staged in a sibling temporary directory first,
    then moved into place (a fresh directory is renamed in one step)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"-o {out}: exists and is not a directory")
    parent = out.resolve().parent
    if not parent.is_dir():
        raise UsageError(f"-o {out}: parent directory {parent} does not exist")
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
    try:
        code.write(stage)
        if not out.exists():
            os.replace(stage, out)
            return
        for item in sorted(stage.iterdir()):
            os.replace(item, out / item.name)
    finally:
        if stage.exists():
            shutil.rmtree(stage)
