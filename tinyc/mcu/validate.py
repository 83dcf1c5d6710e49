"""`tinyc validate` and `tinyc.validate`: build a model for a Cortex-M core, run it on
QEMU, check and measure it.

The outputs from the board are compared with a semantic reference (onnxruntime for a float
model, the IR interpreter for a quantized one, which the integer C matches bit for bit)
and with the same generated C built for the host (so a target-only difference, say a
kernel variant's bug, is told apart from a compiler bug). The measurements are the ones
the benchmark prints: instructions per inference and per MAC, data reads and estimated
Cortex-M4 cycles (the counting plugin and tinyc/mcu/cyclemodel.py), flash and RAM.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyc.backend.generate import node_comment
from tinyc.compiler import Compiled, Options, compile_graph
from tinyc.display import shown
from tinyc.errors import UsageError
from tinyc.harness import build_host, run_host
from tinyc.hostverify import OutputCheck, check_output
from tinyc.ir import Graph
from tinyc.mcu.harness import (
    GCC,
    McuBuild,
    McuRun,
    Sections,
    build_mcu,
    profile_label,
    run_qemu,
)
from tinyc.mcu.targets import Target, get_target
from tinyc.ops import get_op
from tinyc.progress import progress
from tinyc.reference import reference_outputs as outputs_of_reference
from tinyc.reference import semantic_model


def count_macs(graph: Graph) -> int:
    """Multiply-accumulates of one inference, from each op's `macs` rule."""
    return sum(get_op(node.op).macs(node) for node in graph.nodes)


@dataclass(frozen=True)
class Measurement:
    """What one model costs on one core."""

    target: str
    machine: str
    #: executed by one inference: exact (counting plugin), else from -icount (to 40)
    instructions: int
    macs: int
    #: flash and static RAM the model adds to a firmware (weights, kernels, arena, ...)
    model: Sections
    arena: int
    stack: int
    #: bytes of the inputs and outputs (the caller's buffers)
    io: int = 0
    #: memory read accesses of one inference (None: the counting plugin did not run)
    data_reads: int | None = None
    #: estimated Cortex-M4 cycles at zero wait states (cortex-m4 only; None otherwise)
    cycles: int | None = None

    @property
    def instr_per_mac(self) -> float:
        return self.instructions / self.macs if self.macs else float("nan")

    @property
    def reads_per_mac(self) -> float:
        return _per(self.data_reads, self.macs)

    @property
    def cycles_per_mac(self) -> float:
        return _per(self.cycles, self.macs)

    @property
    def flash(self) -> int:
        return self.model.flash

    @property
    def ram(self) -> int:
        """Static RAM (arena, other .data/.bss) plus the stack high-water of one inference."""
        return self.model.ram + self.stack

    @property
    def other_static(self) -> int:
        """Static RAM besides the arena (.data and .bss of the kernels and the library)."""
        return self.model.ram - self.arena


def _per(count: int | None, macs: int) -> float:
    return count / macs if count is not None and macs else float("nan")


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
    steps = progress(options.progress)
    with steps.step(f"generating the C of {shown(name)} for {options.target}"):
        compiled = compile_graph(graph, options, name)
    compiled.code.write(workdir)
    with steps.step(f"building for {target.name} with {GCC}"):
        build = build_mcu(workdir, graph, compiled.code.name, target, profile=profile)
    with steps.step(f"running on QEMU {target.machine}"):
        run = run_qemu(build, graph, inputs)
    host = None
    if host_check:
        with steps.step("building and running the same C with the host cc"):
            exe = build_host(workdir, graph, compiled.code.name)
            host = run_host(exe, graph, inputs)
    cost = run.cost
    measurement = Measurement(
        target=target.name,
        machine=target.machine,
        instructions=cost.instructions if cost else run.instructions,
        macs=count_macs(graph),
        model=build.model,
        arena=compiled.plan.size,
        stack=run.stack,
        io=sum(v.type.nbytes for v in (*graph.inputs, *graph.outputs)),
        data_reads=cost.data_reads if cost else None,
        cycles=cost.cycles if cost and target.cycle_estimate else None,
    )
    return McuResult(compiled, build, run, measurement), host


def reference_outputs(
    model: str, graph: Graph, inputs: Sequence[np.ndarray], options: Options | None = None,
    *, say: Callable[[str], None] = print,
) -> tuple[str, list[np.ndarray]]:
    """The outputs `validate` compares the board's with (tinyc.reference chooses, and `say`s
    so when onnxruntime cannot be used)."""
    options = options or Options()
    return outputs_of_reference(semantic_model(model, graph, options), graph, inputs, options,
                                say=say)


def format_measurement(m: Measurement, target: Target) -> list[str]:
    s = m.model
    how = "counted" if m.data_reads is not None else "-icount"
    lines = [
        f"instructions/inference {m.instructions:>12,}  (QEMU {target.machine}, {how})",
        f"MACs                   {m.macs:>12,}",
        f"instructions/MAC       {m.instr_per_mac:>12.2f}",
    ]
    if m.data_reads is not None:
        lines.append(f"data reads/inference   {m.data_reads:>12,}  ({m.reads_per_mac:.2f} per MAC)")
    if m.cycles is not None:
        lines.append(f"est. cycles/inference  {m.cycles:>12,}  ({m.cycles_per_mac:.2f} per MAC, "
                     f"CPI {m.cycles / max(m.instructions, 1):.2f}; Cortex-M4 TRM timing, "
                     "zero wait states)")
    return [
        *lines,
        f"flash                  {m.flash:>12,} B  (code {s.text:,} + constants {s.rodata:,} "
        f"+ data {s.data:,})",
        f"RAM                    {m.ram:>12,} B  (arena {m.arena:,} + other static "
        f"{m.other_static:,} + stack {m.stack:,})",
        f"I/O buffers            {m.io:>12,} B  (the inputs and outputs, the caller's)",
    ]


@dataclass(frozen=True)
class NodeCost:
    """One node of a profiled run (`validate --profile`)."""

    #: "Conv /net/0/Conv": the op and the node's name
    label: str
    instructions: int
    macs: int
    #: memory read accesses (None: the counting plugin did not run)
    data_reads: int | None = None
    #: estimated Cortex-M4 cycles (cortex-m4 only)
    cycles: int | None = None
    #: stack high-water while the node ran (bytes; at least a lap frame's depth + 64)
    stack: int | None = None


@dataclass(frozen=True)
class ValidateResult:
    """What `tinyc validate` found: the board's outputs against the reference and against
    the same C built for the host, and what one inference costs on the core."""

    #: the C name prefix
    name: str
    #: instructions, MACs, flash and RAM parts (`Measurement`'s fields and properties)
    measurement: Measurement
    #: "onnxruntime" or "tinyc's interpreter"
    reference: str
    #: each output of the board against the reference
    outputs: tuple[OutputCheck, ...]
    #: each output of the board against the host build of the same C
    host_outputs: tuple[OutputCheck, ...]
    #: lines saying why the reference is not onnxruntime when it was wanted
    notes: tuple[str, ...] = ()
    #: with `profile`: instructions per node, in execution order
    profile: tuple[NodeCost, ...] = ()

    @property
    def ok(self) -> bool:
        return all(c.ok for c in (*self.outputs, *self.host_outputs))

    @property
    def target(self) -> str:
        return self.measurement.target

    @property
    def machine(self) -> str:
        return self.measurement.machine

    @property
    def instructions(self) -> int:
        return self.measurement.instructions

    @property
    def macs(self) -> int:
        return self.measurement.macs

    @property
    def instr_per_mac(self) -> float:
        return self.measurement.instr_per_mac

    @property
    def flash(self) -> int:
        return self.measurement.flash

    @property
    def ram(self) -> int:
        return self.measurement.ram

    @property
    def data_reads(self) -> int | None:
        return self.measurement.data_reads

    @property
    def cycles(self) -> int | None:
        return self.measurement.cycles

    @property
    def cycles_per_mac(self) -> float:
        return self.measurement.cycles_per_mac

    def lines(self) -> list[str]:
        """The report `tinyc validate` prints: the notes, the board, one line per output,
        the measurement, and the profile when there is one."""
        m = self.measurement
        lines = [*self.notes, f"tinyc: {shown(self.name)} on {m.target} (QEMU {m.machine})"]
        for vs_ref, vs_host in zip(self.outputs, self.host_outputs, strict=True):
            lines.append(
                f"{shown(vs_ref.name)}: max abs err {vs_ref.max_abs_err:.3g} vs {self.reference} "
                f"({vs_ref.tolerance}): {'ok' if vs_ref.ok else 'MISMATCH'}; "
                f"{vs_host.max_abs_err:.3g} vs the host build: "
                f"{'ok' if vs_host.ok else 'MISMATCH'}"
            )
        lines += format_measurement(m, get_target(m.target))
        if self.profile:
            lines.append(format_profile(self.profile))
        return lines


def format_profile(profile: Sequence[NodeCost]) -> str:
    """Instructions, data reads, estimated cycles (and per MAC where the node has MACs)
    and stack per node, in execution order; columns the run did not measure are left out."""
    reads = any(n.data_reads is not None for n in profile)
    cycles = any(n.cycles is not None for n in profile)
    head = f"{'instructions':>12}"
    head += f" {'data reads':>11}" if reads else ""
    head += f" {'est. cycles':>12}" if cycles else ""
    head += f" {'MACs':>10} {'instr/MAC':>9}"
    head += f" {'cyc/MAC':>8}" if cycles else ""
    stacks = any(n.stack is not None for n in profile)
    head += f" {'stack':>6}" if stacks else ""
    lines = [f"{head}  node"]
    for node in profile:
        row = f"{node.instructions:>12,}"
        row += f" {node.data_reads or 0:>11,}" if reads else ""
        row += f" {node.cycles or 0:>12,}" if cycles else ""
        row += f" {node.macs:>10,} "
        row += f"{node.instructions / node.macs:9.2f}" if node.macs else " " * 9
        if cycles:
            row += f" {(node.cycles or 0) / node.macs:8.2f}" if node.macs else " " * 9
        row += f" {node.stack or 0:>6,}" if stacks else ""
        lines.append(f"{row}  {shown(node.label)}")
    return "\n".join(lines)


def node_costs(result: McuResult, macs: dict[str, int]) -> tuple[NodeCost, ...]:
    """The profile of a profiling run: exact counts from the counting plugin when it ran,
    else the -icount laps."""
    run = result.run
    stacks = list(run.node_stacks) + [None] * (len(run.profile) - len(run.node_stacks))
    if run.node_costs:
        with_cycles = get_target(result.measurement.target).cycle_estimate
        return tuple(NodeCost(label, c.instructions, macs.get(label, 0), c.data_reads,
                              c.cycles if with_cycles else None, stack)
                     for (label, c), stack in zip(run.node_costs, stacks, strict=False))
    return tuple(NodeCost(label, count, macs.get(label, 0), stack=stack)
                 for (label, count), stack in zip(run.profile, stacks, strict=True))


def validate_on_mcu(
    model: str,
    graph: Graph,
    options: Options,
    name: str,
    inputs: Sequence[np.ndarray],
    rtol: float = 1e-4,
    atol: float = 1e-5,
    *,
    board: str | None = None,
    profile: bool = False,
) -> ValidateResult:
    """Build the optimized `graph` for `options.target`, run it on QEMU (on `board`'s
    machine when given), and compare its outputs with the reference and with the host
    build. A mismatch is a result (`.ok`); a failed build or run raises VerifyError."""
    with tempfile.TemporaryDirectory(prefix="tinyc-validate-") as tmp:
        result, host = run_on_mcu(graph, options, name, inputs, Path(tmp), host_check=True,
                                  board=board, profile=profile)
    assert host is not None
    notes: list[str] = []
    with progress(options.progress).step("computing the reference outputs"):
        ref_name, expected = reference_outputs(model, graph, inputs, options, say=notes.append)
    vs_ref = tuple(check_output(v.name, got, np.asarray(e), rtol, atol)
                   for v, got, e in zip(graph.outputs, result.run.outputs, expected, strict=True))
    vs_host = tuple(check_output(v.name, got, h, rtol, atol)
                    for v, got, h in zip(graph.outputs, result.run.outputs, host, strict=True))
    macs = {profile_label(node_comment(n)): get_op(n.op).macs(n) for n in graph.nodes}
    costs = node_costs(result, macs)
    return ValidateResult(result.compiled.code.name, result.measurement, ref_name, vs_ref,
                          vs_host, tuple(notes), costs)
