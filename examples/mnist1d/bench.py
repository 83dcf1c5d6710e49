"""Benchmark: MNIST-1D accuracy, flash, RAM and Cortex-M4 instructions per precision.

Dev-only (needs the `mnist1d` package: `pip install tinyc[bench]`). It rebuilds the
MNIST-1D split (`dataset.py`), compiles the committed models of `train.py` with each
method, builds the generated C with the host compiler and runs it on all 1000 test
signals in one process per variant (`tinyc.harness.run_host_batch`), and with `--mcu`
measures one inference on a Cortex-M4 under QEMU (`tinyc.validate`): instructions, flash
(weights + code) and RAM (static + stack).

Calibration uses the first 500 training signals. `--quantize auto` chooses (0.5 point
budget, flash objective: weights and kernel code of the Cortex-M4 build) on 1000 fresh
signals that `make_dataset()` draws with another seed: the models fit their training
split (100 %), and the test split is what the table measures; its report (the figures of
each uniform precision and the mix, and the verdict) goes to stderr. A method the
installed tinyc does not have is shown as n/a.

    python examples/mnist1d/bench.py [--mcu] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from dataset import PUBLISHED, load_split  # noqa: E402

import tinyc  # noqa: E402
from tinyc.errors import TinycError, UsageError  # noqa: E402
from tinyc.harness import build_host, run_host_batch  # noqa: E402

MODELS = HERE / "models"
CALIB = slice(0, 500)
#: `--quantize auto`'s evaluation set: the first 1000 signals of another draw
AUTO_SEED, AUTO_EVAL = 1, slice(0, 1000)
MAX_DROP = 0.5
#: the flash auto minimises: weights and kernel code of the Cortex-M4 build the table measures
AUTO_TARGET = "cortex-m4"


@dataclass
class Row:
    model: str
    method: str
    accuracy: float | None = None
    weights: int | None = None
    arena: int | None = None
    m4_instructions: int | None = None
    m4_flash: int | None = None
    m4_ram: int | None = None
    note: str = ""


def methods(model: str, files: dict[str, Path]) -> dict[str, tuple[str, dict]]:
    """label -> (model file stem, tinyc.compile keyword arguments)."""
    calib = {"calib": files["calib"]}
    out: dict[str, tuple[str, dict]] = {
        "float": (model, {}),
        "float16": (model, {"quantize": "float16"}),
        "int8 minmax": (model, {"quantize": "int8", **calib}),
        "int8 percentile": (model, {"quantize": "int8", "calib_method": "percentile", **calib}),
        "int8 mse": (model, {"quantize": "int8", "calib_method": "mse", **calib}),
        "int16x8": (model, {"quantize": "int16x8", **calib}),
        "int8 + int4 weights": (model, {"quantize": "int8", "weight_bits": 4, **calib}),
        f"auto {MAX_DROP} pp": (model, {"quantize": "auto", "max_drop": MAX_DROP,
                                        "eval_data": (files["auto_x"], files["auto_y"]),
                                        "target": AUTO_TARGET, **calib}),
    }
    if model == "mnist1d_cnn":
        out["int8 + int4 weights, 4-bit fine-tuned"] = (
            "mnist1d_cnn_w4", {"quantize": "int8", "weight_bits": 4, **calib})
        out["QAT"] = ("mnist1d_cnn_qat", {})
        for kind, label in (("os", "one-shot"), ("lt", "lottery")):
            for s in (50, 80, 90):
                out[f"pruned {s}% {label}"] = (f"mnist1d_cnn_{kind}{s}", {})
    return out


def host_accuracy(result: tinyc.CompileResult, x: np.ndarray, y: np.ndarray) -> float:
    exe = build_host(result.out_dir, result.graph, result.name)
    outs = run_host_batch(exe, result.graph, [[s[None]] for s in x])
    return float(np.mean(np.array([int(o[0].argmax()) for o in outs]) == y))


def measure(model: str, method: str, stem: str, flags: dict, x: np.ndarray, y: np.ndarray,
            tmp: Path, mcu: bool) -> Row:
    row = Row(model, method)
    path = MODELS / f"{stem}.onnx"
    try:
        result = tinyc.compile(path, tmp / "out", name="m", **flags)
    except TypeError as exc:  # a keyword this tinyc does not have (e.g. weight_bits)
        row.note = f"n/a: {exc}"
        return row
    except UsageError as exc:  # a --quantize mode this tinyc does not have
        row.note = f"n/a: {exc}"
        return row
    row.weights, row.arena = result.weight_bytes, result.arena_bytes
    row.accuracy = host_accuracy(result, x, y)
    if result.auto is not None:
        from tinyc.quant.auto_report import print_choice

        print_choice(result.auto, sys.stderr)
        chosen = {c.precision for c in result.auto.layers}
        row.note = (f"chosen: {', '.join(f'{c.name}={c.precision}' for c in result.auto.layers)}"
                    if len(chosen) > 1 else f"every layer {chosen.pop()}")
        flags = {"quantize": result.auto.mode, "calib": flags["calib"],
                 "layer_precision": dict(result.auto.layer_precision)}
        if not result.auto.quantized:
            flags = {}
    if mcu:
        m4_flags = {k: v for k, v in flags.items() if k != "eval_data"}
        try:
            v = tinyc.validate(path, [x[:1]], target="cortex-m4", **m4_flags)
            row.m4_instructions = v.instructions
            row.m4_flash, row.m4_ram = v.measurement.flash, v.measurement.ram
        except TinycError as exc:
            row.note += f" (M4: {exc})"
    return row


def table(rows: list[Row]) -> str:
    head = ("| model | method | test accuracy | weights B | arena B | M4 instructions | "
            "M4 flash B | M4 RAM B |\n|---|---|---:|---:|---:|---:|---:|---:|\n")

    def cell(v: object, fmt: str = "{:,}") -> str:
        return "n/a" if v is None else fmt.format(v)

    lines = [f"| published | {name} | {100 * acc:.0f} % | | | | | |"
             for name, acc in PUBLISHED.items()]
    for r in rows:
        acc = "n/a" if r.accuracy is None else f"{100 * r.accuracy:.1f} %"
        lines.append(f"| {r.model} | {r.method} | {acc} | {cell(r.weights)} | "
                     f"{cell(r.arena)} | {cell(r.m4_instructions)} | {cell(r.m4_flash)} | "
                     f"{cell(r.m4_ram)} |")
    notes = [f"- {r.model} {r.method}: {r.note}" for r in rows if r.note]
    return head + "\n".join(lines) + "\n" + ("\n" + "\n".join(notes) + "\n" if notes else "")


def selected(spec: str, labels: set[str]) -> set[str]:
    """The labels `--methods` names: comma-separated, the longest known label first (one,
    "int8 + int4 weights, 4-bit fine-tuned", has a comma of its own)."""
    parts = [p.strip() for p in spec.split(",")]
    out: set[str] = set()
    i = 0
    while i < len(parts):
        n = next(n for n in range(len(parts) - i, 0, -1)
                 if n == 1 or ", ".join(parts[i:i + n]) in labels)
        out.add(", ".join(parts[i:i + n]))
        i += n
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mcu", action="store_true", help="also measure on Cortex-M4 (QEMU)")
    ap.add_argument("--models", default="mnist1d_cnn,mnist1d_gru")
    ap.add_argument("--methods", help="only these methods (comma-separated labels)")
    ap.add_argument("--json", help="also write the rows as JSON")
    args = ap.parse_args(argv)
    data = load_split()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="mnist1d-bench-") as tmp_name:
        tmp = Path(tmp_name)
        files = {"calib": tmp / "calib.npy", "auto_x": tmp / "auto_x.npy",
                 "auto_y": tmp / "auto_y.npy"}
        np.save(files["calib"], data.train_x[CALIB])
        fresh = load_split(AUTO_SEED)
        np.save(files["auto_x"], fresh.train_x[AUTO_EVAL])
        np.save(files["auto_y"], fresh.train_y[AUTO_EVAL])
        models = args.models.split(",")
        wanted = None if not args.methods else selected(
            args.methods, {label for model in models for label in methods(model, files)})
        for model in models:
            for method, (stem, flags) in methods(model, files).items():
                if wanted is not None and method not in wanted:
                    continue
                work = tmp / f"{stem}-{len(rows)}"
                work.mkdir()
                row = measure(model, method, stem, flags, data.test_x, data.test_y, work,
                              args.mcu)
                print(f"{model:<12} {method:<22} "
                      f"{'n/a' if row.accuracy is None else f'{100 * row.accuracy:.1f} %'}"
                      f" {row.note}", file=sys.stderr, flush=True)
                rows.append(row)
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in rows], indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
