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

from tinyc.compiler import Options, compile_graph, load_model, optimize
from tinyc.harness import build_host, run_host
from tinyc.interp import run_graph
from tinyc.ir import Graph
from tinyc.ops import get_op
from tinyc.prune.report import table

MODELS = Path(__file__).resolve().parent / "models"
NAMES = ("kws_dscnn", "resnet8", "vww_mobilenet", "ad_autoencoder", "digits_cnn")


def macs(graph: Graph) -> int:
    return sum(get_op(n.op).macs(n) for n in graph.nodes)


def measure(model: str, opts: Options, mcu: bool) -> dict[str, object]:
    graph, _ = optimize(load_model(MODELS / f"{model}.onnx", opts), opts)
    compiled = compile_graph(graph, opts, model)
    x = np.random.default_rng(0).standard_normal(graph.inputs[0].shape).astype(np.float32)
    row: dict[str, object] = {"macs": macs(graph), "arena": compiled.plan.size,
                              "weights": compiled.code.weight_bytes}
    with tempfile.TemporaryDirectory(prefix="prune-structured-") as tmp:
        out = Path(tmp)
        compiled.code.write(out)
        (got,) = run_host(build_host(out, graph, model), graph, [x])
        (want,) = run_graph(graph, {graph.inputs[0].name: x})
        row["match"] = bool(np.allclose(got, want, rtol=1e-4, atol=1e-5))
    row["m4_instr"], row["m4_flash"] = _cortex_m4(model, opts, x) if mcu else (None, None)
    return row


def _cortex_m4(model: str, opts: Options, x: np.ndarray) -> tuple[int | None, int | None]:
    from tinyc.mcu.harness import build_mcu, missing_tools, run_qemu
    from tinyc.mcu.targets import get_target

    if missing_tools():
        return None, None
    m4 = Options(target="cortex-m4", prune=opts.prune)
    graph, _ = optimize(load_model(MODELS / f"{model}.onnx", m4), m4)
    compiled = compile_graph(graph, m4, model)
    with tempfile.TemporaryDirectory(prefix="prune-structured-m4-") as tmp:
        out = Path(tmp)
        compiled.code.write(out)
        build = build_mcu(out, graph, model, get_target("cortex-m4"))
        return run_qemu(build, graph, [x]).instructions, build.model.flash


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ratio", type=float, default=0.5)
    parser.add_argument("--no-mcu", action="store_true")
    parser.add_argument("--models", nargs="*", default=list(NAMES))
    args = parser.parse_args()
    rows = []
    for model in args.models:
        dense = measure(model, Options(), not args.no_mcu)
        pruned = measure(model, Options(prune=f"channels:{args.ratio}"), not args.no_mcu)

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
