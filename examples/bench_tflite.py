"""Benchmark: .tflite models, TFLite Micro's arena against what tinyc's C needs on a Cortex-M4.

For each model (by default the four MLPerf Tiny reference models and the converter-built
ones in tests/models/tflite/), printed as a table:

- TFLite Micro's arena, as its RecordingMicroAllocator reports it (the `tflite-micro`
  package's interpreter; it holds the input and output tensors too). "refused" when TFLite
  Micro cannot run the model (hybrid kernels, float16 DEQUANTIZE).
- tinyc on QEMU's Cortex-M4 board (`tinyc.validate`, `--target cortex-m4`): the arena, the
  other static RAM, the stack high-water of one inference, the input and output buffers
  (the caller owns them), their total next to TFLite Micro's arena, flash (code, weights,
  tables), instructions and estimated Cortex-M4 cycles per inference (QEMU's counting
  plugin, tinyc/mcu/cyclemodel.py; zero wait states). The board's outputs are checked
  against the host build of the same C before a figure is printed.

    python examples/bench_tflite.py [MODEL.tflite ...]

Needs the test extras (`tflite-micro`), arm-none-eabi-gcc and qemu-system-arm.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import tinyc
from tinyc.ir import Graph
from tinyc.mcu.harness import missing_tools
from tinyc.mcu.validate import Measurement

MODELS = Path(__file__).resolve().parent.parent / "tests" / "models" / "tflite"
DEFAULT = ["kws_ref_model", "pretrainedResnet_quant", "pretrainedResnet", "ad01_int8",
           "mobile_int8", "mobile_float", "lstm_int8", "lstm_float", "conv1d_int8",
           "conv1d_float", "wide_hybrid", "wide_fp16"]


@dataclass
class Row:
    model: str
    tflm_arena: int | None
    m: Measurement
    io: int

    @property
    def ram(self) -> int:
        return self.m.ram + self.io


def tflm_arena(path: Path) -> int | None:
    """TFLite Micro's arena for `path` in bytes, or None when TFLite Micro refuses the
    model. Its allocator prints the figures from C (on stderr), so it runs in a child
    process whose output is read."""
    run = subprocess.run([sys.executable, "-c", _PRINT_ALLOCATIONS, str(path)],
                         capture_output=True, text=True, check=False)
    if run.returncode != 0:
        if "failed to allocate" in run.stderr:
            return None
        raise SystemExit(f"bench_tflite: {path.name}: TFLite Micro: {run.stderr.strip()}")
    found = re.search(r"Arena allocation total (\d+) bytes", run.stdout + run.stderr)
    if found is None:
        raise SystemExit(f"bench_tflite: {path.name}: no arena total in TFLite Micro's report")
    return int(found.group(1))


_PRINT_ALLOCATIONS = """
import sys
from tflite_micro.python.tflite_micro import runtime
runtime.Interpreter.from_file(sys.argv[1]).print_allocations()
"""


def random_input(graph: Graph) -> np.ndarray:
    v = graph.inputs[0]
    rng = np.random.default_rng(0)
    if v.dtype.np in (np.int8, np.uint8):
        info = np.iinfo(v.dtype.np)
        return rng.integers(info.min, info.max + 1, v.shape).astype(v.dtype.np)
    return rng.standard_normal(v.shape).astype(np.float32)


def measure(path: Path) -> Row:
    graph = tinyc.load(path)
    result = tinyc.validate(path, [random_input(graph)], target="cortex-m4")
    bad = [c.name for c in result.host_outputs if not c.ok]
    if bad:
        raise SystemExit(f"bench_tflite: {path.stem}: {bad} differ on the board from the "
                         "host build")
    io = sum(v.type.nbytes for v in (*graph.inputs, *graph.outputs))
    return Row(path.stem, tflm_arena(path), result.measurement, io)


def table(rows: list[Row]) -> str:
    lines = ["| model | TFLite Micro arena (B) | tinyc arena + static + stack + I/O (B) | "
             "tinyc RAM (B) | ratio | flash (B) | instr/inference | est. M4 cycles |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        m = r.m
        arena = "refused" if r.tflm_arena is None else f"{r.tflm_arena:,}"
        ratio = "" if r.tflm_arena is None else f"{r.ram / r.tflm_arena:.2f}"
        parts = f"{m.arena:,} + {m.other_static:,} + {m.stack:,} + {r.io:,}"
        cycles = "" if m.cycles is None else f"{m.cycles:,}"
        lines.append(f"| {r.model} | {arena} | {parts} | {r.ram:,} | {ratio} | "
                     f"{m.flash:,} | {m.instructions:,} | {cycles} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="*", type=Path,
                    default=[MODELS / f"{stem}.tflite" for stem in DEFAULT])
    args = ap.parse_args()
    missing = missing_tools()
    if missing:
        raise SystemExit(f"bench_tflite: needs {', '.join(missing)}")
    rows = []
    for path in args.models:
        print(f"{path.stem} ...", file=sys.stderr, flush=True)
        rows.append(measure(path))
    print(table(rows))


if __name__ == "__main__":
    main()
