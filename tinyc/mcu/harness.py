"""Build a generated model for a Cortex-M target and run it on QEMU, bare metal.

The harness is three small C files (`runtime/`: startup, semihosting + tick counter, a
calibration loop), a linker script filled in from the `Target`, and a generated `main.c`
that reads the inputs from host files, runs `NAME_run`, and writes the outputs back; for
a batch (`run_qemu_batch`), once per sample, all in one QEMU run, measuring the first.
It never goes into a model's output directory.

Measurements, all deterministic:

- instructions: QEMU runs with `-icount shift=0`, so virtual time advances exactly one ns
  per guest instruction and the SysTick (clocked from virtual time) counts instructions
  divided by the board's ns per tick. A spin loop of known length, timed the same way,
  gives the ratio, so no board clock is hard-coded. Resolution: one tick (40 instructions
  on the 25 MHz MPS2 boards).
- exact counts: the QEMU plugin of `tbcount.py` counts every executed block between the
  `tinyc_mcu_mark()` calls around `NAME_run` (and at each lap); `cyclemodel.py` turns the
  blocks, decoded from the ELF, into instructions, data reads and estimated Cortex-M4
  cycles, leaving the harness's own functions out.
- stack: the unused stack is painted before the call and scanned after it (and, in a
  profiling build, at each lap, which repaints what the node used).
- flash and static RAM: the ELF is linked twice, once with a stub `NAME_run`; the section
  size difference is what the model costs (weights, kernels, library code it pulls in,
  arena), after `--gc-sections`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from tinyc.backend.cnames import c_comment
from tinyc.backend.writer import CWriter
from tinyc.errors import TinycError, VerifyError
from tinyc.harness import STRICT_FLAGS
from tinyc.ir import Graph, Value
from tinyc.ir.types import from_storage, to_storage
from tinyc.mcu.cyclemodel import Estimate, Program, program_of
from tinyc.mcu.targets import Target
from tinyc.mcu.tbcount import (
    FIRST_API,
    BlockRuns,
    host_cc,
    plugin,
    plugin_args,
    read_regions,
    wanted_api,
)

GCC = "arm-none-eabi-gcc"
SIZE = "arm-none-eabi-size"
QEMU = "qemu-system-arm"
#: apt packages that provide the tools above (Debian/Ubuntu)
APT_PACKAGES = ("gcc-arm-none-eabi", "libnewlib-arm-none-eabi", "qemu-system-arm")

OPT_FLAGS = ("-O2", "-ffunction-sections", "-fdata-sections")
STACK_SIZE = 64 * 1024
SPIN_LOOPS = 1_000_000
RUNTIME_SOURCES = ("startup.c", "tinyc_mcu.c", "tinyc_mcu_spin.S")
RUNTIME_FLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror")
_REPORT = re.compile(
    r"TINYC-MCU rc=(?P<rc>\d+) ticks=(?P<ticks>\d+) spin_ticks=(?P<spin>\d+) "
    r"stack=(?P<stack>\d+) runs=(?P<runs>\d+)"
)


_LAP = re.compile(r"TINYC-MCU lap \d+ (\d+) (\d+) (\d+)")


class ToolMissingError(TinycError):
    """The ARM toolchain or QEMU is not installed."""

    exit_code = 1


def runtime_dir() -> Path:
    return Path(str(resources.files("tinyc.mcu"))) / "runtime"


def missing_tools() -> list[str]:
    """The executables `tinyc validate` needs that are not on PATH."""
    return [tool for tool in (GCC, SIZE, QEMU) if shutil.which(tool) is None]


def require_tools() -> None:
    missing = missing_tools()
    if missing:
        raise ToolMissingError(
            f"{', '.join(missing)} not found; install the Debian/Ubuntu packages "
            f"{' '.join(APT_PACKAGES)}"
        )


def linker_script(target: Target, stack_size: int = STACK_SIZE) -> str:
    text = (runtime_dir() / target.linker_template).read_text()
    for key, value in (
        ("FLASH_ORIGIN", target.flash_origin),
        ("FLASH_SIZE", target.flash_size),
        ("RAM_ORIGIN", target.ram_origin),
        ("RAM_SIZE", target.ram_size),
        ("STACK_SIZE", stack_size),
    ):
        text = text.replace(f"@{key}@", f"0x{value:08X}")
    return text


def _io_values(graph: Graph) -> list[tuple[str, int, Value]]:
    values: list[tuple[str, int, Value]] = [("in", i, v) for i, v in enumerate(graph.inputs)]
    values += [("out", i, v) for i, v in enumerate(graph.outputs)]
    return values


def _measured_call(cname: str, args: str) -> list[str]:
    """The first sample's call, measured: stack painted below main's frame, counting
    marks and SysTick ticks around it, the stack high-water after it."""
    return [
        "TINYC_MCU_SP(sp);",
        "tinyc_mcu_paint_below(sp);",
        "tinyc_mcu_mark();",
        "t0 = tinyc_mcu_ticks();",
        f"rc = {cname}_run({args});",
        "t1 = tinyc_mcu_ticks();",
        "tinyc_mcu_mark();",
        "stack = tinyc_mcu_stack_used(sp);",
    ]


def harness_main(graph: Graph, cname: str) -> str:
    """main.c: calibrate, then for each of the `count.bin` samples read its inputs (sample k
    of `inK.bin`), run, append its outputs (`outK.bin`); only the first call is measured
    (the later ones run after the last counting mark), then report."""
    w = CWriter()
    w.lines(["#include <stdint.h>", "", '#include "tinyc_mcu.h"', f'#include "{cname}.h"', ""])
    for kind, i, v in _io_values(graph):
        numel = max(v.type.numel, 1)
        ctype = v.dtype.c_type
        w.line(f"static {ctype} {kind}{i}[{numel}] __attribute__((aligned(8)));")
    w.line("static uint32_t count;")
    w.line("")
    args = ", ".join(f"{k}{i}" for k, i, _ in _io_values(graph))
    with w.block("int main(void)"):
        w.line("uint64_t spin0, spin1, t0 = 0, t1 = 0;")
        w.line("uint32_t sp, stack = 0, k;")
        w.line("int rc = 0;")
        w.line('if (tinyc_mcu_read_file("count.bin", &count, sizeof count) != 0 || count == 0) {')
        w.line('  tinyc_mcu_puts("TINYC-MCU cannot read count.bin\\n");')
        w.line("  return 2;")
        w.line("}")
        w.line("tinyc_mcu_counter_start();")
        w.line("spin0 = tinyc_mcu_ticks();")
        w.line(f"tinyc_mcu_spin({SPIN_LOOPS}u);")
        w.line("spin1 = tinyc_mcu_ticks();")
        with w.block("for (k = 0; k < count; k++)"):
            for kind, i, v in _io_values(graph):
                if kind == "in" and v.type.nbytes:
                    w.line(f'if (tinyc_mcu_read_sample("in{i}.bin", in{i}, sizeof in{i}, k) '
                           "!= 0) {")
                    w.line(f'  tinyc_mcu_puts("TINYC-MCU cannot read in{i}.bin\\n");')
                    w.line("  return 2;")
                    w.line("}")
            with w.block("if (k == 0)", "} else {"):
                w.lines(_measured_call(cname, args))
            w.line(f"  rc = {cname}_run({args});")
            w.line("}")
            for kind, i, v in _io_values(graph):
                if kind == "out" and v.type.nbytes:
                    w.line(f'if (tinyc_mcu_write_sample("out{i}.bin", out{i}, sizeof out{i}, k) '
                           "!= 0) {")
                    w.line(f'  tinyc_mcu_puts("TINYC-MCU cannot write out{i}.bin\\n");')
                    w.line("  return 3;")
                    w.line("}")
            w.line("if (rc != 0) break;")
        w.line('tinyc_mcu_puts("TINYC-MCU rc=");')
        w.line("tinyc_mcu_put_u64((uint64_t)(rc < 0 ? -rc : rc));")
        w.line('tinyc_mcu_puts(" ticks=");')
        w.line("tinyc_mcu_put_u64(t1 - t0);")
        w.line('tinyc_mcu_puts(" spin_ticks=");')
        w.line("tinyc_mcu_put_u64(spin1 - spin0);")
        w.line('tinyc_mcu_puts(" stack=");')
        w.line("tinyc_mcu_put_u64(stack);")
        w.line('tinyc_mcu_puts(" runs=");')
        w.line("tinyc_mcu_put_u64(k);")
        w.line('tinyc_mcu_puts("\\n");')
        w.line("tinyc_mcu_print_laps();")
        w.line("return rc != 0 ? 4 : 0;")
    return w.text()


def stub_source(graph: Graph, cname: str) -> str:
    """A `NAME_run` that does nothing: the baseline for the flash/RAM difference."""
    params = [f"const {v.dtype.c_type} *input{i}" for i, v in enumerate(graph.inputs)]
    params += [f"{v.dtype.c_type} *output{i}" for i, v in enumerate(graph.outputs)]
    w = CWriter()
    w.line(f'#include "{cname}.h"')
    with w.block(f"int {cname}_run({', '.join(params) or 'void'})"):
        for i in range(len(graph.inputs)):
            w.line(f"(void)input{i};")
        for i in range(len(graph.outputs)):
            w.line(f"(void)output{i};")
        w.line("return 0;")
    return w.text()


_NODE_COMMENT = re.compile(r"^(\s+)/\* (.*?)(?:: .*)? \*/$")


def profile_label(comment: str) -> str:
    """The label `instrument` reads from a node's comment text (`generate.node_comment`)."""
    match = _NODE_COMMENT.match(f"  /* {c_comment(comment)} */")
    assert match is not None
    return match[2]


def instrument(source: str, cname: str) -> tuple[str, list[str]]:
    """`NAME.c` with a `tinyc_mcu_lap()` before each node of `NAME_run` and before its
    return, and the node labels ("Conv /net/0/Conv", ...) in lap order."""
    out: list[str] = ["void tinyc_mcu_lap(void);"]
    labels: list[str] = []
    inside = False
    for line in source.split("\n"):
        if line.startswith(f"int {cname}_run("):
            inside = True
        elif inside:
            match = _NODE_COMMENT.match(line)
            if match:
                out.append(f"{match[1]}tinyc_mcu_lap();")
                labels.append(match[2])
            elif line.strip() == "return 0;" and line.startswith("  return"):
                out.append("  tinyc_mcu_lap();")
                inside = False
        out.append(line)
    return "\n".join(out), labels


@dataclass(frozen=True)
class Sections:
    """Byte sizes of the loadable sections of an ELF (or a difference of two)."""

    text: int = 0
    rodata: int = 0
    data: int = 0
    bss: int = 0

    @property
    def flash(self) -> int:
        return self.text + self.rodata + self.data

    @property
    def ram(self) -> int:
        return self.data + self.bss

    def __sub__(self, other: Sections) -> Sections:
        return Sections(
            self.text - other.text,
            self.rodata - other.rodata,
            self.data - other.data,
            self.bss - other.bss,
        )


def elf_sections(elf: Path) -> Sections:
    """Section sizes from `arm-none-eabi-size -A` (SysV format: name, size, address)."""
    out = _run([SIZE, "-A", str(elf)], "arm-none-eabi-size").stdout
    sizes = {"text": 0, "rodata": 0, "data": 0, "bss": 0}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2 or not parts[1].isdigit():
            continue
        name = parts[0]
        if name == ".ARM.exidx":
            name = ".rodata"
        key = name.lstrip(".")
        if key in sizes:
            sizes[key] += int(parts[1])
    return Sections(**sizes)


@dataclass(frozen=True)
class McuBuild:
    target: Target
    elf: Path
    #: what the model adds to the firmware (model ELF minus stub ELF)
    model: Sections
    #: node labels of a profiling build, in lap order (empty otherwise)
    labels: tuple[str, ...] = ()


def _run(cmd: Sequence[str], what: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(cmd), capture_output=True, text=True, cwd=cwd)
    if proc.returncode != 0:
        raise VerifyError(f"{what} failed:\n{' '.join(cmd)}\n{proc.stderr.strip()[-4000:]}")
    return proc


def mcu_cflags(
    target: Target,
    include_dirs: Sequence[Path],
    opt_flags: Sequence[str] = OPT_FLAGS,
    extra_flags: Sequence[str] = (),
) -> list[str]:
    """The flags every file of a bare-metal build shares: the core, optimization, the
    model directories' and the runtime's include paths."""
    includes = [flag for d in [*include_dirs, runtime_dir()] for flag in ("-I", str(d))]
    return [*target.cpu_flags, *opt_flags, *extra_flags, *includes]


def compile_object(src: Path, obj: Path, flags: Sequence[str]) -> Path:
    """`arm-none-eabi-gcc -c`; a failure is a VerifyError with the compiler's message."""
    _run([GCC, *flags, "-c", str(src), "-o", str(obj)], f"compiling {src.name}")
    return obj


def runtime_objects(build: Path, cflags: Sequence[str]) -> list[Path]:
    """The harness runtime (startup, semihosting, counter), compiled into `build`."""
    rt = runtime_dir()
    return [
        compile_object(rt / name, build / f"{Path(name).stem}.rt.o", [*RUNTIME_FLAGS, *cflags])
        for name in RUNTIME_SOURCES
    ]


def link_elf(objects: Sequence[Path], target: Target, elf: Path, what: str = "linking") -> Path:
    """Link a bare-metal ELF for the target's QEMU board (linker script beside `elf`)."""
    script = elf.parent / "link.ld"
    script.write_text(linker_script(target))
    ldflags = [*target.cpu_flags, "-nostartfiles", "--specs=nano.specs", "-T", str(script),
               "-Wl,--gc-sections"]
    _run([GCC, *ldflags, *map(str, objects), "-lm", "-o", str(elf)], what)
    return elf


def build_mcu(
    out_dir: Path,
    graph: Graph,
    cname: str,
    target: Target,
    opt_flags: Sequence[str] = OPT_FLAGS,
    extra_flags: Sequence[str] = (),
    profile: bool = False,
) -> McuBuild:
    """Compile `out_dir/*.c` (strict C99) with the harness into `out_dir/mcu/NAME.elf`;
    with `profile`, `NAME_run` also records the tick count between nodes."""
    if not target.is_mcu:
        raise VerifyError(f"target '{target.name}' is not a Cortex-M core")
    require_tools()
    build = out_dir / "mcu"
    build.mkdir(exist_ok=True)
    model_sources = sorted(out_dir.glob("*.c"))
    labels: list[str] = []
    if profile:
        text, labels = instrument((out_dir / f"{cname}.c").read_text(), cname)
        (build / f"{cname}.c").write_text(text)
        model_sources = [build / s.name if s.stem == cname else s for s in model_sources]
    (build / "tinyc_mcu_main.c").write_text(harness_main(graph, cname))
    (build / "tinyc_mcu_stub.c").write_text(stub_source(graph, cname))
    cflags = mcu_cflags(target, [out_dir], opt_flags, extra_flags)
    strict = [*STRICT_FLAGS, *cflags]
    model_objs = [compile_object(s, build / f"{s.stem}.o", strict) for s in model_sources]
    harness_objs = [
        compile_object(build / "tinyc_mcu_main.c", build / "tinyc_mcu_main.o", strict),
        *runtime_objects(build, cflags),
    ]
    stub_obj = compile_object(build / "tinyc_mcu_stub.c", build / "tinyc_mcu_stub.o", strict)
    elf = link_elf([*model_objs, *harness_objs], target, build / f"{cname}.elf")
    stub_elf = link_elf([stub_obj, *harness_objs], target, build / "tinyc_mcu_stub.elf",
                        "linking the stub")
    return McuBuild(target, elf, elf_sections(elf) - elf_sections(stub_elf), tuple(labels))


@dataclass(frozen=True)
class McuRun:
    outputs: list[np.ndarray]
    #: instructions executed by one NAME_run call
    instructions: int
    #: deepest stack use of the call, bytes
    stack: int
    ticks: int
    spin_ticks: int
    #: profiling build only: (node label, instructions) in execution order
    profile: tuple[tuple[str, int], ...] = ()
    #: profiling build only: each node's stack high-water (bytes below main's stack
    #: pointer, at least the depth of a lap's frame plus 64)
    node_stacks: tuple[int, ...] = ()
    #: exact instructions and data reads, estimated Cortex-M4 cycles of the call (the
    #: counting plugin; None when it could not run)
    cost: Estimate | None = None
    #: profiling build with the counting plugin: (node label, cost) in execution order
    node_costs: tuple[tuple[str, Estimate], ...] = ()


def qemu_command(target: Target, elf: Path) -> list[str]:
    return [
        QEMU, "-M", target.machine, "-nodefaults", "-display", "none",
        "-icount", "shift=0,align=off,sleep=off",
        "-semihosting-config", "enable=on,target=native",
        "-kernel", str(elf),
    ]  # fmt: skip


def harness_functions(program: Program) -> list[str]:
    """The harness's own functions (main and the runtime's tinyc_mcu_*), which the counts
    of what NAME_run executes leave out."""
    return [name for name in program.functions if name == "main" or name.startswith("tinyc_mcu_")]


def _qemu(cmd: list[str], workdir: Path, timeout: float, machine: str) -> tuple[int, str]:
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, cwd=workdir, timeout=timeout,
            stdin=subprocess.DEVNULL, env={**os.environ, "LC_ALL": "C"},
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise VerifyError(f"{machine}: no exit within {timeout:.0f} s") from None
    return proc.returncode, proc.stdout + proc.stderr


def run_counting(
    build: McuBuild, workdir: Path, timeout: float
) -> tuple[int, str, list[list[BlockRuns]] | None]:
    """Run QEMU with the counting plugin (rebuilt once for the API version QEMU asks for);
    without it (regions None) when the host compiler cannot build it or this QEMU cannot
    load it."""
    plain = qemu_command(build.target, build.elf)
    if host_cc() is None:
        return (*_qemu(plain, workdir, timeout, build.target.machine), None)
    counts = workdir / "tbcount.txt"
    mark = program_of(build.elf).address_of("tinyc_mcu_mark")
    api = FIRST_API
    for _ in range(2):
        counts.unlink(missing_ok=True)
        try:
            so = plugin(api)
        except VerifyError:  # the host cc cannot build it: measure without it
            break
        cmd = [*plain, *plugin_args(so, counts, mark)]
        rc, text = _qemu(cmd, workdir, timeout, build.target.machine)
        if _REPORT.search(text) or "plugin" not in text:
            return rc, text, read_regions(counts) if counts.exists() else None
        wanted = wanted_api(text)
        if wanted is None or wanted == api:
            break
        api = wanted
    return (*_qemu(plain, workdir, timeout, build.target.machine), None)


def run_qemu(
    build: McuBuild,
    graph: Graph,
    inputs: Sequence[np.ndarray],
    timeout: float = 600.0,
    count: bool = True,
) -> McuRun:
    """Run the ELF once on the target's QEMU board (`run_qemu_batch` with one sample).
    With `count`, the counting plugin also gives exact instructions, data reads and the
    estimated Cortex-M4 cycles of NAME_run (and of each node in a profiling build)."""
    return run_qemu_batch(build, graph, [inputs], timeout, count)[0]


def run_qemu_batch(
    build: McuBuild,
    graph: Graph,
    samples: Sequence[Sequence[np.ndarray]],
    timeout: float = 600.0,
    count: bool = False,
) -> tuple[McuRun, list[list[np.ndarray]]]:
    """Many inferences in one QEMU run of the ELF: the samples (one array per input) go
    through files in the build directory, one sample after another (semihosting paths are
    relative to QEMU's working directory), and so do the outputs. Returns the measured
    run of the first sample (as `run_qemu`'s) and every sample's outputs. The counting
    plugin (`count`) slows every sample down, so it is off by default here."""
    n = len(samples)
    if n < 1:
        raise ValueError("run_qemu_batch needs at least one sample")
    if build.labels and n > 1:
        raise ValueError("a profiling build runs one sample (its laps would mix the runs)")
    workdir = build.elf.parent
    for i, value in enumerate(graph.inputs):
        with open(workdir / f"in{i}.bin", "wb") as f:
            for sample in samples:
                to_storage(np.asarray(sample[i]), value.dtype).tofile(f)
    np.array([n], dtype="<u4").tofile(workdir / "count.bin")
    for i in range(len(graph.outputs)):
        (workdir / f"out{i}.bin").unlink(missing_ok=True)
    if count:
        returncode, text, regions = run_counting(build, workdir, timeout)
    else:
        cmd = qemu_command(build.target, build.elf)
        returncode, text = _qemu(cmd, workdir, timeout, build.target.machine)
        regions = None
    match = _REPORT.search(text)
    if returncode != 0 or match is None or int(match["runs"]) != n:
        raise VerifyError(
            f"{build.target.machine}: the model did not run (exit {returncode}):\n"
            f"{text.strip()[-2000:]}"
        )
    per_output = [
        from_storage(np.fromfile(workdir / f"out{i}.bin", dtype=v.dtype.storage.np), v.dtype)
        .reshape((n, *v.shape))
        for i, v in enumerate(graph.outputs)
    ]
    outputs = [[o[k] for o in per_output] for k in range(n)]
    return _measured_run(build, text, match, regions, outputs[0]), outputs


def _measured_run(
    build: McuBuild,
    text: str,
    match: re.Match[str],
    regions: list[list[BlockRuns]] | None,
    outputs: list[np.ndarray],
) -> McuRun:
    """The first sample's run: ticks, stack and laps from the report, costs from the
    counting plugin's regions."""
    ticks, spin = int(match["ticks"]), int(match["spin"])
    if spin == 0:
        raise VerifyError("the SysTick did not count; is -icount supported?")
    per_tick = 2 * SPIN_LOOPS / spin
    laps = [(int(t_in), int(t_out), int(stack)) for t_in, t_out, stack in _LAP.findall(text)]
    # node i runs from lap i's exit to lap i + 1's entry, and its stack is lap i + 1's
    profile = tuple(
        (label, round((nxt[0] - lap[1]) * per_tick))
        for label, lap, nxt in zip(build.labels, laps, laps[1:], strict=False)
    )
    node_stacks = tuple(nxt[2] for _, nxt in zip(build.labels, laps[1:], strict=False))
    cost, node_costs = None, ()
    if regions is not None:
        cost, node_costs = _costs(build, regions)
    return McuRun(
        outputs=outputs,
        instructions=round(ticks * per_tick),
        profile=profile,
        stack=int(match["stack"]),
        ticks=ticks,
        spin_ticks=spin,
        cost=cost,
        node_costs=node_costs,
        node_stacks=node_stacks,
    )


def _costs(
    build: McuBuild, regions: list[list[BlockRuns]]
) -> tuple[Estimate, tuple[tuple[str, Estimate], ...]]:
    """NAME_run's cost and, in a profiling build, each node's. The regions are: before the
    first mark, then between consecutive marks (the call in main, split at each lap of a
    profiling build: prologue, one per node, epilogue), then after the last mark."""
    program = program_of(build.elf)
    skip = harness_functions(program)
    measured = [program.estimate(blocks, skip) for blocks in regions[1:-1]]
    total = sum(measured, Estimate())
    nodes = tuple(zip(build.labels, measured[1:-1], strict=False)) if build.labels else ()
    return total, nodes
