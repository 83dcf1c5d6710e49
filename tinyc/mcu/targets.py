"""Code-generation targets: which kernel variants a model gets, how the arena is aligned,
and, for Cortex-M cores, how to build and run the code on QEMU's MPS2 boards.

A target never changes the C signatures: every variant of a kernel family implements
the declarations of `codegen/kernels/tinyc_<family>.h`, so any generated `out/` still
compiles for any core. Variants are looked up in `kernel_dirs` order, ending at `ref/`.

QEMU boards (all run with `-icount shift=0`, so one instruction is one virtual ns):

| target        | board      | core modelled | flash (code) / RAM, 4 MiB each       |
| ------------- | ---------- | ------------- | ------------------------------------ |
| cortex-m0plus | mps2-an385 | Cortex-M3     | SSRAM1 0x00000000 / SSRAM2+3 0x20000000 |
| cortex-m4     | mps2-an386 | Cortex-M4F    | SSRAM1 0x00000000 / SSRAM2+3 0x20000000 |
| cortex-m7     | mps2-an500 | Cortex-M7 DP  | SSRAM1 0x00000000 / SSRAM2+3 0x20000000 |
| cortex-m33    | mps2-an505 | Cortex-M33F   | SSRAM1 0x10000000 / SSRAM2+3 0x38000000 |
| cortex-m55    | mps3-an547 | Cortex-M55 MVE | ITCM 0x0 + SRAM 0x01000000 / ISRAM 0x21000000 |

(the M33 runs in the secure state, so it uses the secure aliases of the memories).
Cortex-M0+ code runs on the M3 board: ARMv6-M is a subset of ARMv7-M, and QEMU has no
M0 MPS2 image. The AN547 memory map (QEMU's board model, after Arm's AN547 note) has no
flash: the vectors and code go to the 512 KiB ITCM at 0 (where the core fetches its reset
vector), constants to the 2 MiB SRAM at 0x01000000 (`runtime/link_an547.ld.in`). The
Cortex-M55 reuses the Cortex-M4 DSP kernels (v8.1-M has the DSP extension) where it has
no Helium (MVE) variant of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinyc.errors import UsageError


@dataclass(frozen=True)
class Target:
    """One `--target` value."""

    name: str
    #: kernel variant directories under codegen/kernels/, most specific first
    kernel_dirs: tuple[str, ...]
    #: arena and tensor alignment in bytes
    align: int
    #: arm-none-eabi-gcc flags selecting the core, ISA and float ABI (empty: not a Cortex-M)
    cpu_flags: tuple[str, ...] = ()
    #: qemu-system-arm -M value
    machine: str = ""
    flash_origin: int = 0
    ram_origin: int = 0x20000000
    flash_size: int = 4 << 20
    ram_size: int = 4 << 20
    has_fpu: bool = False
    has_dsp: bool = False
    #: the board's core is the one tinyc/mcu/cyclemodel.py's timing describes, so
    #: `validate` reports estimated cycles (instructions and data reads are exact anywhere)
    cycle_estimate: bool = False
    #: the harness's linker script template under tinyc/mcu/runtime/
    linker_template: str = "link.ld.in"

    @property
    def is_mcu(self) -> bool:
        return bool(self.cpu_flags)


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("host", ("ref",), 16),
        Target("generic", ("ref",), 16),
        Target(
            "cortex-m0plus",
            ("cortex-m0plus", "ref"),
            4,
            ("-mcpu=cortex-m0plus", "-mthumb", "-mfloat-abi=soft"),
            "mps2-an385",
        ),
        Target(
            "cortex-m4",
            ("cortex-m4", "ref"),
            8,
            ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"),
            "mps2-an386",
            has_fpu=True,
            has_dsp=True,
            cycle_estimate=True,
        ),
        Target(
            "cortex-m7",
            ("cortex-m7", "cortex-m4", "ref"),
            8,
            ("-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-d16"),
            "mps2-an500",
            has_fpu=True,
            has_dsp=True,
        ),
        Target(
            "cortex-m33",
            ("cortex-m33", "cortex-m4", "ref"),
            8,
            ("-mcpu=cortex-m33", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16"),
            "mps2-an505",
            flash_origin=0x10000000,
            ram_origin=0x38000000,
            has_fpu=True,
            has_dsp=True,
        ),
        Target(
            "cortex-m55",
            ("cortex-m55", "cortex-m4", "ref"),
            8,
            ("-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard"),
            "mps3-an547",
            flash_size=2 << 20,
            ram_origin=0x21000000,
            has_fpu=True,
            has_dsp=True,
            linker_template="link_an547.ld.in",
        ),
    )
}


def get_target(name: str) -> Target:
    """The target called `name`, or a usage error listing the valid ones."""
    try:
        return TARGETS[name]
    except KeyError:
        raise UsageError(
            f"unknown target '{name}' (choose from {', '.join(TARGETS)})"
        ) from None


def kernel_dirs(name: str) -> tuple[str, ...]:
    """Where the backend looks for a kernel family's .c file, most specific first."""
    target = TARGETS.get(name)
    return target.kernel_dirs if target else (name, "ref")
