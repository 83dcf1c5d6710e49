"""Benchmark: per example model, what the compiled C costs.

Prints, for every `examples/models/*.onnx` (or the files given), the parameter count, MACs
per inference, weight bytes (flash), arena bytes (RAM), lines of generated C and compile
seconds. Figures come from the compiler's own IR and plan, measured on each run; nothing
is hard-coded.

    python examples/bench.py [MODEL.onnx ...]
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tinyc.compiler import Options, compile_graph, default_name, load_model, optimize
from tinyc.ir import Graph
from tinyc.ops import get_op

MODELS = Path(__file__).resolve().parent / "models"


def count_macs(graph: Graph) -> int:
    return sum(get_op(n.op).macs(n) for n in graph.nodes)


def count_params(graph: Graph) -> int:
    return sum(c.type.numel for c in graph.constants if c.uses)


@dataclass
class Row:
    """One model's figures; other benchmark sections add columns to `extra`."""

    model: str
    params: int
    macs: int
    weight_bytes: int
    arena_bytes: int
    c_lines: int
    compile_s: float
    extra: dict[str, object] = field(default_factory=dict)


def bench_model(path: Path, options: Options | None = None) -> Row:
    options = options or Options()
    start = time.perf_counter()
    graph = load_model(path, options)
    graph, _ = optimize(graph, options)
    compiled = compile_graph(graph, options, default_name(path))
    with tempfile.TemporaryDirectory() as tmp:
        compiled.code.write(Path(tmp))
    seconds = time.perf_counter() - start
    lines = sum(text.count("\n") for text in compiled.code.files.values())
    return Row(
        model=path.name,
        params=count_params(graph),
        macs=count_macs(graph),
        weight_bytes=compiled.code.weight_bytes,
        arena_bytes=compiled.plan.size,
        c_lines=lines,
        compile_s=seconds,
    )


def print_table(rows: list[Row]) -> None:
    head = ["model", "params", "MACs", "weights B", "arena B", "C lines", "compile s"]
    extra_keys = sorted({k for r in rows for k in r.extra})
    head += extra_keys
    table = [
        [r.model, r.params, r.macs, r.weight_bytes, r.arena_bytes, r.c_lines, f"{r.compile_s:.2f}"]
        + [r.extra.get(k, "") for k in extra_keys]
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *table)]
    print("  ".join(str(h).ljust(w) for h, w in zip(head, widths)))
    for line in table:
        print("  ".join(str(x).rjust(w) if i else str(x).ljust(w)
                        for i, (x, w) in enumerate(zip(line, widths))))


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted(MODELS.glob("*.onnx"))
    rows = [bench_model(p) for p in paths]
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
