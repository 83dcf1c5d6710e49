"""Benchmark: per example model, what the compiled C costs.

Prints, for every `examples/models/*.onnx` (or the files given), the parameter count, MACs
per inference, weight bytes (flash), arena bytes (RAM), lines of generated C and compile
seconds; then what the optimization passes buy: node count, weights and arena at -O0 and
-O1, and the op histograms before and after; and the memory plan (bytes): all activations
added up (no reuse), the lower bound (lowest peak of live bytes over all schedules, without
in-place), TFLite Micro's greedy-by-size on the same schedule, and our arena. Figures come
from the compiler's own IR and plan, measured on each run; nothing is hard-coded.

    python examples/bench.py [MODEL.onnx ...]
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import tinyc
from tinyc.ir import Graph
from tinyc.memory.report import memory_columns
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


def bench_model(path: Path) -> Row:
    """Compile `path` (tinyc.compile, -O1) into a scratch OUT, timing the whole compile."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = tinyc.compile(path, Path(tmp) / "out")
        seconds = time.perf_counter() - start
        lines = sum(p.read_text().count("\n") for p in result.files)
    return Row(
        model=path.name,
        params=count_params(result.graph),
        macs=count_macs(result.graph),
        weight_bytes=result.weight_bytes,
        arena_bytes=result.arena_bytes,
        c_lines=lines,
        compile_s=seconds,
        extra=dict(memory_columns(result.plan)),
    )


def bench_passes(path: Path) -> tuple[dict[str, object], str]:
    """What the -O1 passes buy: node count, weights (flash) and arena (RAM) at -O0 and -O1,
    as `extra` columns, plus a line with both op histograms."""
    figures: dict[int, tuple[Graph, int, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for level in (0, 1):
            result = tinyc.compile(path, Path(tmp) / f"O{level}", opt_level=level)
            figures[level] = (result.graph, result.weight_bytes, result.arena_bytes)
    (g0, w0, a0), (g1, w1, a1) = figures[0], figures[1]
    extra: dict[str, object] = {
        "nodes O0>O1": f"{len(g0.nodes)}>{len(g1.nodes)}",
        "weights O0>O1": f"{w0}>{w1}",
        "arena O0>O1": f"{a0}>{a1}",
    }

    def hist(g: Graph) -> str:
        return " ".join(f"{op}:{n}" for op, n in g.op_histogram().items())

    return extra, f"{path.name}\n  -O0 {hist(g0)}\n  -O1 {hist(g1)}"


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
    histograms = []
    for row, path in zip(rows, paths, strict=True):
        extra, histogram = bench_passes(path)
        row.extra.update(extra)
        histograms.append(histogram)
    print_table(rows)
    print("\nop histograms before/after the -O1 passes:")
    print("\n".join(histograms))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
