"""Benchmark: the same networks as different exporters write them, on a Cortex-M4.

For every row of the exporter registry (`tests/models/exporters/registry.json`: network,
exporter, model file, clean twin), float and int8 (`--quantize int8`, calibrated on eight
seeded N(0, 1) samples; a QDQ model as it is, int8 only), the model is compiled for
`--target cortex-m4` and run bare metal on QEMU's mps2-an386 board. Printed per export:
arena bytes, weight bytes, instructions per inference (QEMU `-icount`, deterministic), and
for a pattern export how far each figure is from its clean twin's. Every QEMU output is
checked against the host build of the same C before a figure is printed.

    python examples/bench_exports.py                       # -O1, all rows
    python examples/bench_exports.py --without fold-pad    # -O1 but fold-pad
    python examples/bench_exports.py --network mbv3-tiny --no-qemu

`--without` drops passes from the -O1 pipeline: the "before" figures of the exporter
passes are `--without div-to-mul,recognize-activations,recognize-global-pools,fold-pad`.
The default run uses the same explicit pipeline with nothing dropped, so both runs get
the same weight-storage policy.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyc.compiler import Options, compile_graph, load_model, optimize
from tinyc.mcu.harness import missing_tools
from tinyc.mcu.validate import run_on_mcu
from tinyc.passes.manager import pipeline_without

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = ROOT / "tests" / "models" / "exporters" / "registry.json"
PRECISIONS = ("float", "int8")


@dataclass(frozen=True)
class Export:
    network: str
    exporter: str
    pattern: str
    model: Path
    twin: Path | None
    #: int8 already (a QDQ model): compiled as it is, and only as int8
    quantized: bool

    @property
    def precisions(self) -> tuple[str, ...]:
        return ("int8",) if self.quantized else PRECISIONS


def load_registry(path: Path = REGISTRY) -> list[Export]:
    rows = json.loads(path.read_text())["exports"]
    return [Export(r["network"], r["exporter"], r["pattern"], ROOT / r["model"],
                   ROOT / r["twin"] if r["twin"] else None, r.get("quantized", False))
            for r in rows]


@dataclass
class Figures:
    arena: int
    weights: int
    instructions: int | None


def calibration_file(shape: tuple[int, ...], tmp: Path) -> str:
    path = tmp / f"calib_{'x'.join(map(str, shape))}.npy"
    data = np.random.default_rng(7).standard_normal((8, *shape[1:])).astype(np.float32)
    np.save(path, data)
    return str(path)


def measure(model: Path, quantize: bool, passes: str, qemu: bool, tmp: Path) -> Figures:
    """Figures of `model`, float or (`quantize`) calibrated int8."""
    shape = load_model(model, Options()).inputs[0].shape
    options = Options(target="cortex-m4", passes=passes, quantize="int8" if quantize else None,
                      calib=calibration_file(shape, tmp) if quantize else None)
    graph, _ = optimize(load_model(model, options), options)
    if not qemu:
        compiled = compile_graph(graph, options, "model")
        return Figures(compiled.plan.size, compiled.code.weight_bytes, None)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    work = tmp / f"{model.stem}-{'q' if quantize else 'as-is'}"
    result, host = run_on_mcu(graph, options, "model", [x], work, host_check=True)
    assert host is not None
    for got, h in zip(result.run.outputs, host, strict=True):
        if got.dtype.kind == "f":
            np.testing.assert_allclose(got, h, rtol=1e-4, atol=1e-5)
        else:
            np.testing.assert_array_equal(got, h)
    return Figures(result.compiled.plan.size, result.compiled.code.weight_bytes,
                   result.measurement.instructions)


def relative(value: int | None, base: int | None) -> str:
    if value is None or not base:
        return ""
    return f"{100.0 * (value - base) / base:+.1f}%"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--without", default="", help="comma list of passes to drop from -O1")
    ap.add_argument("--network", action="append", help="only these networks (repeatable)")
    ap.add_argument("--no-qemu", action="store_true", help="arena and weights only")
    args = ap.parse_args(argv)
    qemu = not args.no_qemu
    if qemu and missing_tools():
        print(f"missing {', '.join(missing_tools())} (or use --no-qemu)", file=sys.stderr)
        return 1
    dropped = frozenset(filter(None, (s.strip() for s in args.without.split(","))))
    passes = pipeline_without(1, None, dropped)
    assert passes is not None
    rows = [r for r in load_registry() if not args.network or r.network in args.network]
    print(f"pipeline: -O1{' without ' + ', '.join(sorted(dropped)) if dropped else ''}; "
          "target cortex-m4 (QEMU mps2-an386)")
    wn = max(len("network"), *(len(r.network) for r in rows))
    we = max(len("exporter"), *(len(r.exporter) for r in rows))
    header = (f"{'network':{wn}s} {'exporter':{we}s} {'prec':5s} {'arena B':>8s} {'weights B':>9s} "
              f"{'M4 instr':>10s}  {'vs twin: arena':>14s} {'instr':>7s}")
    print(header)
    print("-" * len(header))
    cache: dict[tuple[Path, bool], Figures] = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)

        def figures(model: Path, quantize: bool) -> Figures:
            key = (model, quantize)
            if key not in cache:
                cache[key] = measure(model, quantize, passes, qemu, tmp)
            return cache[key]

        for row in rows:
            for precision in row.precisions:
                quantize = precision == "int8" and not row.quantized
                f = figures(row.model, quantize)
                twin = figures(row.twin, quantize) if row.twin else None
                instr = f"{f.instructions:10d}" if f.instructions is not None else f"{'-':>10s}"
                versus = (f"{relative(f.arena, twin.arena):>14s} "
                          f"{relative(f.instructions, twin.instructions):>7s}") if twin else ""
                print(f"{row.network:{wn}s} {row.exporter:{we}s} {precision:5s} {f.arena:8d} "
                      f"{f.weights:9d} {instr}  {versus}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
