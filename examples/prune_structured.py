"""Structured pruning of the MLPerf Tiny example models: MACs, arena, flash, instructions.

Dev-only benchmark. For each model it compiles the dense model and the model with
`--prune channels:RATIO` (lowest-L1 output channels removed, consumers shrunk), checks that
the pruned C (host build) matches the interpreter, and prints MACs, planned arena, weight
bytes and, when arm-none-eabi-gcc and qemu-system-arm are installed, Cortex-M4
instructions per inference and model flash. Pruning without fine-tuning changes the
outputs; this measures cost, not accuracy (see prune_digits.py for that).

    python examples/prune_structured.py [--ratio 0.5] [--no-mcu]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

import tinyc
from tinyc.mcu.harness import missing_tools
from tinyc.mcu.validate import count_macs
from tinyc.prune.report import table

MODELS = Path(__file__).resolve().parent / "models"
NAMES = ("kws_dscnn", "resnet8", "vww_mobilenet", "ad_autoencoder", "digits_cnn")


def measure(model: str, prune: str | None, mcu: bool) -> dict[str, object]:
    """MACs, arena and weights of one compile; for a pruned one, whether its C matches the
    interpreter on the pruned graph (tinyc.verify); Cortex-M4 instructions and flash
    (tinyc.validate)."""
    path = MODELS / f"{model}.onnx"
    with tempfile.TemporaryDirectory(prefix="prune-structured-") as tmp:
        result = tinyc.compile(path, Path(tmp) / "out", name=model, prune=prune)
    x = np.random.default_rng(0).standard_normal(result.graph.inputs[0].shape)
    x = x.astype(np.float32)
    row: dict[str, object] = {"macs": count_macs(result.graph), "arena": result.arena_bytes,
                              "weights": result.weight_bytes}
    row["match"] = None
    if prune:  # the pruned C against the interpreter on the pruned graph
        check = tinyc.verify(path, [x], prune=prune)
        assert check.reference == "tinyc's interpreter"
        row["match"] = check.ok
    row["m4_instr"], row["m4_flash"] = None, None
    if mcu and not missing_tools():
        board = tinyc.validate(path, [x], target="cortex-m4", prune=prune)
        row["m4_instr"], row["m4_flash"] = board.instructions, board.flash
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ratio", type=float, default=0.5)
    parser.add_argument("--no-mcu", action="store_true")
    parser.add_argument("--models", nargs="*", default=list(NAMES))
    args = parser.parse_args()
    rows = []
    for model in args.models:
        dense = measure(model, None, not args.no_mcu)
        pruned = measure(model, f"channels:{args.ratio}", not args.no_mcu)

        def cut(key: str, d: dict = dense, p: dict = pruned) -> str:
            if d[key] is None or p[key] is None:
                return "-"
            return f"{p[key]} ({1 - p[key] / d[key]:.0%} less)"  # type: ignore[operator]

        rows.append([model, dense["macs"], cut("macs"), dense["arena"], cut("arena"),
                     dense["weights"], cut("weights"), dense["m4_instr"] or "-",
                     cut("m4_instr"), "yes" if pruned["match"] else "NO"])
        print(f"{model}: done", flush=True)
    print()
    print(table(["model", "MACs", f"MACs, {args.ratio:.0%} channels", "arena B", "arena B, pruned",
                 "weights B", "weights B, pruned", "M4 instr", "M4 instr, pruned",
                 "C = interp"], rows))


if __name__ == "__main__":
    main()
