"""`tinyc validate`: build a model for a Cortex-M core, run it on QEMU, check and measure it.

The outputs from the board are compared with a semantic reference (onnxruntime for a float
model, the IR interpreter for a quantized one, which the integer C matches bit for bit)
and with the same generated C built for the host (so a target-only difference, say a
kernel variant's bug, is told apart from a compiler bug). The measurements are the ones
the benchmark prints: instructions per inference and per MAC, flash and RAM.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyc.compiler import Compiled, Options, compile_graph
from tinyc.display import shown
from tinyc.errors import UsageError, VerifyError
from tinyc.harness import build_host, run_host
from tinyc.hostverify import check_output
from tinyc.ir import Graph
from tinyc.mcu.harness import McuBuild, McuRun, Sections, build_mcu, run_qemu
from tinyc.mcu.targets import Target, get_target
from tinyc.ops import get_op


def count_macs(graph: Graph) -> int:
    """Multiply-accumulates of one inference, from each op's `macs` rule."""
    return sum(get_op(node.op).macs(node) for node in graph.nodes)


def is_quantized(graph: Graph) -> bool:
    """True when some tensor computed at run time is quantized (integer kernels run)."""
    return any(v.type.quant is not None for node in graph.nodes for v in node.outputs)


@dataclass(frozen=True)
class Measurement:
    """What one model costs on one core."""

    target: str
    machine: str
    instructions: int
    macs: int
    #: flash and static RAM the model adds to a firmware (weights, kernels, arena, ...)
    model: Sections
    arena: int
    stack: int

    @property
    def instr_per_mac(self) -> float:
        return self.instructions / self.macs if self.macs else float("nan")

    @property
    def flash(self) -> int:
        return self.model.flash

    @property
    def ram(self) -> int:
        """Static RAM (arena, other .data/.bss) plus the stack high-water of one inference."""
        return self.model.ram + self.stack


@dataclass(frozen=True)
class McuResult:
    compiled: Compiled
    build: McuBuild
    run: McuRun
    measurement: Measurement


def run_on_mcu(
    graph: Graph,
    options: Options,
    name: str,
    inputs: Sequence[np.ndarray],
    workdir: Path,
    host_check: bool = False,
    board: str | None = None,
    profile: bool = False,
) -> tuple[McuResult, list[np.ndarray] | None]:
    """Compile `graph` for `options.target` into `workdir`, run it on QEMU once; with
    `host_check`, also build and run the same C on the host and return its outputs.
    `board` runs the code on another core's board (e.g. `--target generic` kernels on the
    Cortex-M4, for comparison); `profile` also counts instructions per node."""
    target = get_target(board or options.target)
    if not target.is_mcu:
        raise UsageError(
            f"target '{target.name}' has no board to run on; use --target cortex-m0plus, "
            "cortex-m4, cortex-m7 or cortex-m33"
        )
    compiled = compile_graph(graph, options, name)
    compiled.code.write(workdir)
    build = build_mcu(workdir, graph, compiled.code.name, target, profile=profile)
    run = run_qemu(build, graph, inputs)
    host = None
    if host_check:
        exe = build_host(workdir, graph, compiled.code.name)
        host = run_host(exe, graph, inputs)
    measurement = Measurement(
        target=target.name,
        machine=target.machine,
        instructions=run.instructions,
        macs=count_macs(graph),
        model=build.model,
        arena=compiled.plan.size,
        stack=run.stack,
    )
    return McuResult(compiled, build, run, measurement), host


def reference_outputs(
    model: str, graph: Graph, inputs: Sequence[np.ndarray], options: Options | None = None
) -> tuple[str, list[np.ndarray]]:
    """onnxruntime on the model file for a float model; the interpreter on the compiled
    graph for a quantized one, whose integer semantics the C matches bit for bit
    (tinyc.reference chooses, and says so when onnxruntime cannot be used)."""
    from tinyc.reference import reference_outputs as outputs_of_reference

    return outputs_of_reference("" if is_quantized(graph) else model, graph, inputs, options)


def format_measurement(m: Measurement, target: Target) -> list[str]:
    s = m.model
    return [
        f"instructions/inference {m.instructions:>12,}  (QEMU {target.machine}, -icount)",
        f"MACs                   {m.macs:>12,}",
        f"instructions/MAC       {m.instr_per_mac:>12.2f}",
        f"flash                  {m.flash:>12,} B  (code {s.text:,} + constants {s.rodata:,} "
        f"+ data {s.data:,})",
        f"RAM                    {m.ram:>12,} B  (arena {m.arena:,} + other static "
        f"{s.ram - m.arena:,} + stack {m.stack:,})",
    ]


def format_profile(run: McuRun, graph: Graph) -> str:
    """Instructions per node (and per MAC where the node has MACs), in execution order."""
    macs = {f"{n.op} {n.name}": get_op(n.op).macs(n) for n in graph.nodes}
    lines = [f"{'instructions':>12} {'MACs':>10} {'instr/MAC':>9}  node"]
    for label, count in run.profile:
        m = macs.get(label, 0)
        ratio = f"{count / m:9.2f}" if m else " " * 9
        lines.append(f"{count:>12,} {m:>10,} {ratio}  {label}")
    return "\n".join(lines)


def validate(
    model: str,
    graph: Graph,
    options: Options,
    name: str,
    inputs: Sequence[np.ndarray],
    rtol: float = 1e-4,
    atol: float = 1e-5,
    profile: bool = False,
) -> int:
    """The `tinyc validate` command: prints a report, raises VerifyError on a mismatch."""
    target = get_target(options.target)
    with tempfile.TemporaryDirectory(prefix="tinyc-validate-") as tmp:
        result, host = run_on_mcu(graph, options, name, inputs, Path(tmp), host_check=True,
                                  profile=profile)
    assert host is not None
    ref_name, expected = reference_outputs(model, graph, inputs, options)
    print(f"tinyc: {shown(name)} on {target.name} (QEMU {target.machine})")
    ok = True
    for value, got, e, h in zip(graph.outputs, result.run.outputs, expected, host, strict=True):
        vs_ref = check_output(value.name, got, np.asarray(e), rtol, atol)
        vs_host = check_output(value.name, got, h, rtol, atol)
        ok &= vs_ref.ok and vs_host.ok
        print(
            f"{shown(value.name)}: max abs err {vs_ref.max_abs_err:.3g} vs {ref_name} "
            f"({vs_ref.tolerance}): {'ok' if vs_ref.ok else 'MISMATCH'}; "
            f"{vs_host.max_abs_err:.3g} vs the host build: {'ok' if vs_host.ok else 'MISMATCH'}"
        )
    for line in format_measurement(result.measurement, target):
        print(line)
    if profile:
        print(format_profile(result.run, graph))
    if not ok:
        raise VerifyError(f"outputs on {target.name} differ (rtol {rtol}, atol {atol})")
    print("tinyc: validate ok")
    return 0
