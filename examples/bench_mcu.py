"""Benchmark: the example models on a Cortex-M4, measured on QEMU.

For every `examples/models/*.onnx` (or the files given), float and int8 (`--quantize int8`,
calibrated on the digits training set for the digits CNN and on seeded noise for the
others), the model is compiled twice -- with this target's kernels (`--target cortex-m4`:
FPU-blocked float, SMLAD int8) and with the portable ones (`--target generic`) -- and each
build runs bare metal on QEMU's mps2-an386 board. Printed per run: instructions per
inference (QEMU `-icount`, deterministic), instructions per MAC (MACs from each op's rule),
flash (what the model adds: code, weights, tables) and RAM (arena + other static data + the
stack high-water of the inference), and the speedup of the target kernels. Every output is
checked against the host build of the same C before a figure is printed.

    python examples/bench_mcu.py [MODEL.onnx ...] [--target cortex-m7] [--precision int8]
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


@dataclass
class Run:
    model: str
    precision: str
    kernels: str
    m: Measurement


def calibration(path: Path, shape: tuple[int, ...], tmp: Path) -> str:
    if path.stem.startswith("digits"):
        data = np.load(MODELS / "digits_train_x.npy")[:64].astype(np.float32)
    else:
        data = np.random.default_rng(7).standard_normal((8, *shape[1:])).astype(np.float32)
    out = tmp / f"{path.stem}_calib.npy"
    np.save(out, data)
    return str(out)


def is_prequantized(path: Path, tmp: Path) -> bool:
    """A QDQ model (quantization-aware trained): int8 as it is, no --quantize."""
    graph = tinyc.compile(path, tmp / f"{path.stem}-as-is").graph
    return any(v.type.quant is not None for n in graph.nodes for v in n.outputs)


def measure(path: Path, precision: str, kernels: str, board: str, tmp: Path) -> Run:
    shape = tinyc.load(path).inputs[0].shape
    quantize = precision == "int8" and not is_prequantized(path, tmp)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    result = tinyc.validate(path, [x], target=kernels, board=board,
                            quantize="int8" if quantize else None,
                            calib=calibration(path, shape, tmp) if quantize else None)
    bad = [c.name for c in result.host_outputs if not c.ok]
    if bad:  # the board and the host build of the same C must agree (rtol 1e-4, atol 1e-5)
        raise SystemExit(f"bench_mcu: {path.stem} {precision} {kernels}: {bad} differ on "
                         f"{board} from the host build")
    return Run(path.stem, precision, kernels, result.measurement)


def table(runs: list[Run], board: str) -> str:
    head = ("| model | precision | kernels | instr/inference | instr/MAC | flash (B) | "
            "RAM (B) = arena + static + stack | speedup |")
    lines = [f"Cortex-M4 class core: QEMU {TARGETS[board].machine} ({board})", "", head,
             "|---|---|---|---:|---:|---:|---:|---:|"]
    by_key = {(r.model, r.precision, r.kernels): r for r in runs}
    for r in runs:
        m = r.m
        generic = by_key.get((r.model, r.precision, "generic"))
        speedup = (f"{generic.m.instructions / m.instructions:.1f}x"
                   if generic and r.kernels != "generic" else "")
        ram = f"{m.ram:,} = {m.arena:,} + {m.other_static:,} + {m.stack:,}"
        lines.append(f"| {r.model} | {r.precision} | {r.kernels} | {m.instructions:,} | "
                     f"{m.instr_per_mac:.2f} | {m.flash:,} | {ram} | {speedup} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="*", type=Path)
    parser.add_argument("--target", default="cortex-m4",
                        choices=[n for n, t in TARGETS.items() if t.is_mcu])
    parser.add_argument("--precision", choices=["float", "int8", "both"], default="both")
    args = parser.parse_args(argv)
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
                for kernels in (args.target, "generic"):
                    run = measure(path, precision, kernels, args.target, Path(tmp))
                    runs.append(run)
                    print(f"{run.model:>16} {precision:>5} {kernels:>10}: "
                          f"{run.m.instructions:>12,} instructions, "
                          f"{run.m.instr_per_mac:6.2f}/MAC", file=sys.stderr)
    print(table(runs, args.target))
    return 0


if __name__ == "__main__":
    sys.exit(main())
