"""Benchmark: the example models on the Cortex-M cores, measured on QEMU.

For every `examples/models/*.onnx` (or the files given), float and int8 (`--quantize int8`,
calibrated on the digits training set for the digits models and on seeded noise for the
others; a QDQ model runs int8 as it is), on each `--targets` core (default: the
Cortex-M4), the model goes through `tinyc.validate`: built with the target's kernels, run
bare metal on the core's QEMU board, its outputs checked against the host build of the same
C before a figure is printed. Per run: instructions (counted exactly by the QEMU plugin),
data reads (memory read accesses), estimated Cortex-M4 cycles at zero wait states (the
Technical Reference Manual's timing, `tinyc/mcu/cyclemodel.py`; M4 only), each per MAC
(MACs from each op's rule); RAM as arena, I/O (the caller's input and output buffers), the
stack high-water of the inference and other static data; flash (what the model adds:
code, weights, tables).

Beside KWS and ResNet-8 int8 on the M4 it prints the figures the issue (#16) gives for
comparison: Arm's CMSIS-NN kernels (commit 99f736a, gcc -O2) measured on the same board and
instruction counter, with the same cost model; X-CUBE-AI 9.0 on the MLPerf Tiny reference
board (STM32L4R5 at 120 MHz, 5 flash wait states, so its cycles are not at zero wait
states). They are quoted from the issue text, not measured here.

    python examples/bench_mcu.py [MODEL.onnx ...] [--targets cortex-m4,cortex-m7]
                                 [--precision float|int8|both]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import tinyc
from tinyc.mcu import TARGETS
from tinyc.mcu.harness import missing_tools
from tinyc.mcu.validate import Measurement

MODELS = Path(__file__).resolve().parent / "models"


@dataclass(frozen=True)
class Quoted:
    """A comparison row quoted from issue #16: per-MAC figures (None: not given) and the
    totals the issue states."""

    name: str
    instr_per_mac: float | None
    reads_per_mac: float | None
    cycles_per_mac: float | None
    stated: str


QUOTED = {
    "kws_dscnn": [
        Quoted("CMSIS-NN (issue #16)", 2.90, 0.63, 3.35,
               "7,695,939 instr; 1.67 M reads; 8.89 M cycles; RAM 16,908 B"),
        Quoted("X-CUBE-AI 9.0 on the board (issue #16)", None, None, 1.95,
               "43.2 ms at 120 MHz, 5 flash wait states"),
    ],
    "resnet8": [
        Quoted("CMSIS-NN (issue #16)", 2.39, 0.60, 2.82, "29.9 M instr"),
        Quoted("X-CUBE-AI 9.0 on the board (issue #16)", None, None, 1.59,
               "165.1 ms at 120 MHz, 5 flash wait states"),
    ],
}


@dataclass
class Run:
    model: str
    precision: str
    target: str
    m: Measurement


def calibration(path: Path, shape: tuple[int, ...], tmp: Path) -> str:
    if path.stem.startswith("digits"):
        data = np.load(MODELS / "digits_train_x.npy")[:64].astype(np.float32)
        data = data.reshape((64, *shape[1:]))
    else:
        data = np.random.default_rng(7).standard_normal((8, *shape[1:])).astype(np.float32)
    out = tmp / f"{path.stem}_calib.npy"
    np.save(out, data)
    return str(out)


def is_prequantized(path: Path, tmp: Path) -> bool:
    """A QDQ model (quantization-aware trained): int8 as it is, no --quantize."""
    graph = tinyc.compile(path, tmp / f"{path.stem}-as-is").graph
    return any(v.type.quant is not None for n in graph.nodes for v in n.outputs)


def measure(path: Path, precision: str, target: str, tmp: Path) -> Run:
    shape = tinyc.load(path).inputs[0].shape
    quantize = precision == "int8" and not is_prequantized(path, tmp)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    result = tinyc.validate(path, [x], target=target,
                            quantize="int8" if quantize else None,
                            calib=calibration(path, shape, tmp) if quantize else None)
    bad = [c.name for c in result.host_outputs if not c.ok]
    if bad:  # the board and the host build of the same C must agree
        raise SystemExit(f"bench_mcu: {path.stem} {precision} {target}: {bad} differ on "
                         "the board from the host build")
    return Run(path.stem, precision, target, result.measurement)


def _per(value: float | None, macs: int, digits: int = 2) -> str:
    return f"{value / macs:.{digits}f}" if value is not None and macs else ""


def _fixed(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else ""


def _count(value: float | None) -> str:
    return f"{value:,.0f}" if value is not None else ""


def table(runs: list[Run]) -> str:
    head = ("| model | precision | target | instructions | instr/MAC | data reads | reads/MAC "
            "| est. M4 cycles | cycles/MAC | RAM = arena + I/O + stack + static (B) "
            "| flash (B) |")
    lines = [head, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        m = r.m
        ram = (f"{m.arena + m.io + m.stack + m.other_static:,} = {m.arena:,} + {m.io:,} + "
               f"{m.stack:,} + {m.other_static:,}")
        lines.append(
            f"| {r.model} | {r.precision} | {r.target} | {m.instructions:,} | "
            f"{m.instr_per_mac:.2f} | {_count(m.data_reads)} | {_per(m.data_reads, m.macs)} | "
            f"{_count(m.cycles)} | {_per(m.cycles, m.macs)} | {ram} | {m.flash:,} |")
        if r.precision == "int8" and r.target == "cortex-m4":
            for q in QUOTED.get(r.model, []):
                lines.append(
                    f"| {r.model} | int8 | {q.name} | | {_fixed(q.instr_per_mac)} | | "
                    f"{_fixed(q.reads_per_mac)} | | {_fixed(q.cycles_per_mac)} | {q.stated} | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="*", type=Path)
    mcus = [n for n, t in TARGETS.items() if t.is_mcu]
    parser.add_argument("--targets", default="cortex-m4",
                        help=f"comma-separated, from {', '.join(mcus)} (default cortex-m4)")
    parser.add_argument("--precision", choices=["float", "int8", "both"], default="both")
    args = parser.parse_args(argv)
    targets = args.targets.split(",")
    unknown = [t for t in targets if t not in mcus]
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}")
    missing = missing_tools()
    if missing:
        print(f"bench_mcu: {', '.join(missing)} not found", file=sys.stderr)
        return 1
    paths = args.models or sorted(p for p in MODELS.glob("*.onnx") if "_raw" not in p.stem)
    precisions = ["float", "int8"] if args.precision == "both" else [args.precision]
    runs = []
    with tempfile.TemporaryDirectory(prefix="tinyc-bench-mcu-") as tmp:
        for path in paths:
            prequantized = is_prequantized(path, Path(tmp))
            for precision in precisions:
                if prequantized and precision == "float":
                    continue  # a QDQ model runs int8 as it is
                for target in targets:
                    run = measure(path, precision, target, Path(tmp))
                    runs.append(run)
                    print(f"{run.model:>16} {precision:>5} {target:>13}: "
                          f"{run.m.instructions:>12,} instructions, "
                          f"{run.m.instr_per_mac:6.2f}/MAC", file=sys.stderr)
    print(table(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
